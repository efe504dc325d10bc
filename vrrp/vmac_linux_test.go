package vrrp_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/vrrp"
)

// TestLANVirtualMAC runs two routers with the virtual MAC (RFC 5798 §7.3):
// each has its macvlan, the master's advertisements leave from the virtual
// MAC and the backup hears them (a frame from the MAC of its own macvlan);
// when the master's interface is deleted and made again, the macvlan,
// which went with it, is made again on the new one and the advertisements
// come from the virtual MAC again; a router stopped removes its macvlan.
func TestLANVirtualMAC(t *testing.T) {
	nodes := lan(t, 2)
	n1, n2 := nodes[0], nodes[1]
	cfg := func(prio uint8) vrrp.Config {
		return vrrp.Config{VRID: 7, Priority: prio, AdvertInterval: 50 * time.Millisecond, VirtualMAC: true,
			VirtualAddresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
	}
	const mac = "00:00:5e:00:01:07"
	n1.start(t, cfg(150))
	waitMaster(t, n1, time.Time{})
	n2.start(t, cfg(100))
	converge(t, nodes, n1, time.Second)
	assert.Equal(t, "vrrp.7", n1.router.AddressInterface())
	for _, n := range nodes {
		assert.Contains(t, n.host.MustRun("ip", "-d", "link", "show", "vrrp.7"), "link/ether "+mac)
	}

	// fromVMAC captures on n2 and reports whether n1's advertisements
	// came from the virtual MAC, and none from its own.
	fromVMAC := func(t *testing.T) {
		t.Helper()
		c := n2.host.Capture(n2.iface.Name(), "ip proto 112 and src host 192.0.2.1")
		time.Sleep(300 * time.Millisecond)
		out := n2.host.MustRun("tcpdump", "-nn", "-e", "-r", c.Stop())
		var lines []string
		for _, l := range strings.Split(out, "\n") {
			if !strings.HasPrefix(l, "reading from file") && strings.TrimSpace(l) != "" {
				lines = append(lines, l)
			}
		}
		require.GreaterOrEqual(t, len(lines), 3, "%s", out)
		for _, l := range lines {
			assert.True(t, strings.Contains(l, mac+" > 01:00:5e:00:00:12") && strings.Contains(l, "vrid 7, prio 150"), "%s", l)
		}
	}
	fromVMAC(t)
	received := n2.router.Stats().AdvertsReceived
	require.Eventually(t, func() bool { return n2.router.Stats().AdvertsReceived >= received+3 }, time.Second, time.Millisecond,
		"the backup hears the master's virtual MAC")

	index := n1.iface.Index()
	n1.iface.Delete()
	for e := nextTransition(t, n1.events); e.To != vrrp.Fault; e = nextTransition(t, n1.events) {
	}
	since := time.Now()
	n1.iface.Make()
	n1.iface.AddAddr(netip.MustParsePrefix("192.0.2.1/24"))
	require.NotEqual(t, index, n1.iface.Index())
	waitMaster(t, n1, since)
	converge(t, nodes, n1, time.Second)
	assert.Contains(t, n1.host.MustRun("ip", "-d", "link", "show", "vrrp.7"), "vrrp.7@"+n1.iface.Name(), "the macvlan is on the new interface")
	fromVMAC(t)

	n1.stop()
	_, err := n1.host.Run("ip", "link", "show", "vrrp.7")
	assert.Error(t, err, "the stopped router's macvlan is still there")
}
