package havip_test

import (
	"context"
	"iter"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/packet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/vipkit/vipkit/garp"
	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// TestNetlinkHost runs a Client on a real interface in a namespace: the
// addresses appear (IPv4 with its label, IPv6 usable at once, without
// duplicate address detection), come back when someone deletes them, and
// go when mastership does; stale ones go at start.
func TestNetlinkHost(t *testing.T) {
	lab := netlab.New(t)
	h := lab.Host("h")
	peer := lab.Host("p")
	ifc, _ := lab.Link(h, peer)
	ifc.AddAddr(netip.MustParsePrefix("192.0.2.1/24"))
	ifc.AddAddr(netip.MustParsePrefix("2001:db8::1/64"))
	v4, v6 := netip.MustParsePrefix("192.0.2.100/24"), netip.MustParsePrefix("2001:db8::100/64")
	ifc.AddAddr(v4) // left over from a crashed run

	c, stop := runClient(t, h, havip.Config{Interface: "eth0", Addresses: []netip.Prefix{v4, v6}, Label: "eth0:vip"})
	addrs := func() string { return h.MustRun("ip", "addr", "show", "dev", "eth0") }
	require.Eventually(t, func() bool { return !strings.Contains(addrs(), "192.0.2.100") }, 2*time.Second, 10*time.Millisecond,
		"stale address not removed:\n%s", addrs())

	c.SetMaster(true)
	require.Eventually(t, func() bool {
		a := addrs()
		return strings.Contains(a, "192.0.2.100/24") && strings.Contains(a, "eth0:vip") && strings.Contains(a, "2001:db8::100/64")
	}, 2*time.Second, 10*time.Millisecond, "%s", addrs())
	assert.NotContains(t, addrs(), "tentative", "IPv6 address waits for DAD")

	h.MustRun("ip", "addr", "del", "192.0.2.100/24", "dev", "eth0")
	require.Eventually(t, func() bool { return strings.Contains(addrs(), "192.0.2.100/24") }, 2*time.Second, 10*time.Millisecond,
		"removed address not added back:\n%s", addrs())
	assert.Equal(t, uint64(1), c.Status().Readded)

	c.SetMaster(false)
	require.Eventually(t, func() bool {
		a := addrs()
		return !strings.Contains(a, "192.0.2.100") && !strings.Contains(a, "2001:db8::100")
	}, 2*time.Second, 10*time.Millisecond, "%s", addrs())
	assert.Contains(t, addrs(), "192.0.2.1/24", "the host's own address went too")
	stop()
}

// TestNetlinkHostInterfaceMadeAgain: the interface of a master is deleted
// and made again under its name, with a new index and MAC address (a VLAN
// or a veth made again, a cloud NIC hot-plugged). With no restart, the
// virtual addresses come back on the new interface, are announced from its
// MAC address, are added back when someone removes them from it (its
// address events are followed, not the old one's), and go from it when
// mastership does.
func TestNetlinkHostInterfaceMadeAgain(t *testing.T) {
	lab := netlab.New(t)
	h := lab.Host("h")
	peer := lab.Host("p")
	ifc, peerIfc := lab.Link(h, peer)
	// The virtual address may come back on the interface made again
	// before the host's own address of its subnet, and so be the primary
	// one: without promote_secondaries (systemd sets it by default),
	// removing it would take the host's own address with it.
	h.MustRun("sysctl", "-qw", "net.ipv4.conf.all.promote_secondaries=1")
	own := netip.MustParsePrefix("192.0.2.1/24")
	ifc.AddAddr(own)
	v4, v6 := netip.MustParsePrefix("192.0.2.100/24"), netip.MustParsePrefix("2001:db8::100/64")

	c, stop := runClient(t, h, havip.Config{Interface: "eth0", Addresses: []netip.Prefix{v4, v6}})
	addrs := func() string { return h.MustRun("ip", "addr", "show", "dev", "eth0") }
	both := func() bool {
		a := addrs()
		return strings.Contains(a, v4.String()) && strings.Contains(a, v6.String())
	}
	c.SetMaster(true)
	require.Eventually(t, both, 5*time.Second, 20*time.Millisecond, "%s", addrs())
	require.Eventually(t, func() bool { return c.Status().Bursts == 1 }, 5*time.Second, 20*time.Millisecond, "the first burst")
	oldIndex, oldMAC := ifc.Index(), ifc.MAC()

	ifc.Delete()
	ifc.Make()
	ifc.AddAddr(own)
	newIndex, newMAC := ifc.Index(), ifc.MAC()
	require.NotEqual(t, oldIndex, newIndex, "the interface made again has a new index")
	require.NotEqual(t, oldMAC.String(), newMAC.String(), "the interface made again has a new MAC address")
	if !assert.Eventually(t, both, 10*time.Second, 20*time.Millisecond) {
		t.Fatalf("the virtual addresses are not back on the interface made again:\n%s", addrs())
	}
	assert.True(t, c.Status().Master)

	// A burst after the interface was made again goes out on it, from its
	// MAC address. (A packet socket of the test's rather than tcpdump:
	// netlab's processes die with the thread that started them, as
	// Pdeathsig goes, and the announcer's opening a socket in h through
	// Netns.Do ends a thread.)
	frames := listen(t, peerIfc)
	before := c.Status()
	c.Reannounce()
	require.Eventually(t, func() bool {
		s := c.Status()
		return s.Bursts+s.BurstErrors > before.Bursts+before.BurstErrors
	}, 10*time.Second, 20*time.Millisecond, "no burst")
	after := c.Status()
	assert.Equal(t, before.Bursts+1, after.Bursts, "bursts sent")
	assert.Equal(t, before.BurstErrors, after.BurstErrors, "bursts that failed")
	arp := garp.GratuitousARP(garp.OperationRequest, newMAC, v4.Addr())
	na := garp.UnsolicitedNA(newMAC, netip.Addr{}, v6.Addr())
	na.Router = true // a virtual router's (RFC 5798 §6.4.1)
	var sawARP, sawNA bool
	for f := range frames(5 * time.Second) {
		if f.Source.String() == newMAC.String() {
			sawARP = sawARP || reflect.DeepEqual(f.ARP, arp)
			sawNA = sawNA || reflect.DeepEqual(f.NA, na)
		}
		if sawARP && sawNA {
			break
		}
	}
	assert.True(t, sawARP, "no gratuitous ARP for %v from %v", v4.Addr(), newMAC)
	assert.True(t, sawNA, "no neighbour advertisement for %v from %v", v6.Addr(), newMAC)

	// The new interface's address events are followed.
	readded := c.Status().Readded
	h.MustRun("ip", "addr", "del", v4.String(), "dev", "eth0")
	require.Eventually(t, func() bool { return strings.Contains(addrs(), v4.String()) }, 5*time.Second, 20*time.Millisecond,
		"removed address not added back to the interface made again:\n%s", addrs())
	assert.Equal(t, readded+1, c.Status().Readded)

	c.SetMaster(false)
	require.Eventually(t, func() bool {
		a := addrs()
		return !strings.Contains(a, "192.0.2.100") && !strings.Contains(a, "2001:db8::100")
	}, 5*time.Second, 20*time.Millisecond, "%s", addrs())
	assert.Contains(t, addrs(), own.String(), "the host's own address went too")
	stop()
}

// listen opens a packet socket on ifc, in its host, closed when the test
// ends. frames yields the gratuitous ARPs and neighbour advertisements it
// has received since, and those it receives within timeout.
func listen(t *testing.T, ifc *netlab.Iface) (frames func(timeout time.Duration) iter.Seq[garp.Frame]) {
	t.Helper()
	var conn *packet.Conn
	require.NoError(t, ifc.Host().Do(func() error {
		ifi, err := net.InterfaceByName(ifc.Name())
		if err == nil {
			conn, err = packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil)
		}
		return err
	}))
	t.Cleanup(func() { conn.Close() })
	return func(timeout time.Duration) iter.Seq[garp.Frame] {
		return func(yield func(garp.Frame) bool) {
			b := make([]byte, 1<<16)
			conn.SetReadDeadline(time.Now().Add(timeout))
			for {
				n, _, err := conn.ReadFrom(b)
				if err != nil {
					return
				}
				var f garp.Frame
				if f.UnmarshalBinary(b[:n]) == nil && !yield(f) {
					return
				}
			}
		}
	}
}

// runClient makes a client of cfg (one frame a burst, no logs) in h and
// runs it; stop stops it and checks that Run returned nil.
func runClient(t *testing.T, h *netlab.Host, cfg havip.Config) (c *havip.Client, stop func()) {
	t.Helper()
	cfg.Announce, cfg.Logger = &havip.Announce{Repeat: 1}, slog.New(slog.DiscardHandler)
	require.NoError(t, h.Do(func() error {
		var err error
		c, err = havip.New(cfg)
		return err
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	return c, func() {
		cancel()
		require.NoError(t, <-done)
	}
}

// TestOwnerOnHost: the address owner's virtual addresses are the
// interface's own. New accepts them, and the client leaves them on the
// interface at start, when it stops being master and when it stops.
func TestOwnerOnHost(t *testing.T) {
	lab := netlab.New(t)
	h := lab.Host("h")
	ifc, _ := lab.Link(h, lab.Host("p"))
	own := []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("2001:db8::1/64")}
	for _, p := range own {
		ifc.AddAddr(p)
	}
	c, stop := runClient(t, h, havip.Config{Interface: "eth0", Addresses: own, Owner: true})
	c.SetMaster(true)
	require.Eventually(t, func() bool { return c.Status().Master }, 2*time.Second, 10*time.Millisecond)
	c.SetMaster(false)
	require.Eventually(t, func() bool { return !c.Status().Master }, 2*time.Second, 10*time.Millisecond)
	stop()
	for _, p := range own {
		assert.Contains(t, h.MustRun("ip", "addr", "show", "dev", "eth0"), p.String(), "the owner's own address went")
	}
}

// TestNewAcceptsAddressOutsideSubnets: on a plain interface (no cloud
// Binder with a subnet rule) a virtual address need not lie in a subnet of
// the interface, as in keepalived: a /32 routed to the node, say.
func TestNewAcceptsAddressOutsideSubnets(t *testing.T) {
	lab := netlab.New(t)
	h := lab.Host("h")
	ifc, _ := lab.Link(h, lab.Host("p"))
	ifc.AddAddr(netip.MustParsePrefix("192.0.2.1/24"))
	require.NoError(t, h.Do(func() error {
		c, err := havip.New(havip.Config{Interface: "eth0", Addresses: []netip.Prefix{netip.MustParsePrefix("198.51.100.100/32")}})
		if err == nil {
			err = c.Close()
		}
		return err
	}))
}

// TestLinkLocalVIP: the first IPv6 address of a virtual router should be
// its link-local address (RFC 5798 §5.2.9). A master holds a link-local
// virtual address beside a global one and announces both with unsolicited
// neighbour advertisements that set the Router flag (§6.4.1), as a
// neighbour's tcpdump decodes them.
func TestLinkLocalVIP(t *testing.T) {
	lab := netlab.New(t)
	h := lab.Host("h")
	peer := lab.Host("p")
	ifc, peerIfc := lab.Link(h, peer)
	ifc.AddAddr(netip.MustParsePrefix("2001:db8::1/64"))
	ll, global := netip.MustParsePrefix("fe80::100/64"), netip.MustParsePrefix("2001:db8::100/64")

	capture := peer.Capture(peerIfc.Name(), "icmp6 and ip6[40] == 136")
	c, stop := runClient(t, h, havip.Config{Interface: "eth0", Addresses: []netip.Prefix{ll, global}})
	defer stop()
	c.SetMaster(true)
	addrs := func() string { return h.MustRun("ip", "-6", "addr", "show", "dev", "eth0") }
	require.Eventually(t, func() bool {
		a := addrs()
		return strings.Contains(a, "fe80::100/64") && strings.Contains(a, "2001:db8::100/64")
	}, 2*time.Second, 10*time.Millisecond, "%s", addrs())
	require.Eventually(t, func() bool { return c.Status().Bursts > 0 }, 2*time.Second, 10*time.Millisecond)
	capture.Stop()

	out := peer.MustRun("tcpdump", "-nn", "-v", "-r", capture.Path())
	for _, target := range []string{"fe80::100", "2001:db8::100"} {
		re := regexp.MustCompile(`neighbor advertisement, length \d+, tgt is ` + regexp.QuoteMeta(target) + `, Flags \[router, override\]`)
		assert.Regexp(t, re, out, "no unsolicited NA with the Router flag for %s", target)
	}

	c.SetMaster(false)
	require.Eventually(t, func() bool { return !strings.Contains(addrs(), "fe80::100/64") }, 2*time.Second, 10*time.Millisecond, "%s", addrs())
}
