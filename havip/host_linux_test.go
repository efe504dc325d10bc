package havip_test

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
