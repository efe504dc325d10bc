package tencentcloud_test

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/havip/tencentcloud"
)

func prefixes(ss ...string) []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range ss {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}

// TestCheckAddress: an address of one of the interface's subnets is
// accepted; any other is refused, naming the address, the interface and
// its subnets; link-local addresses of the interface are no subnet.
func TestCheckAddress(t *testing.T) {
	b := newWorld(t).binder(t, "ins-b", tencentcloud.ModeHAVIP, false)
	own := prefixes("192.0.2.2/24", "fe80::1/64", "169.254.10.1/16")
	for _, c := range []struct {
		name string
		vip  string
		own  []netip.Prefix
		err  string // "" for accepted
	}{
		{"inside", "192.0.2.100", own, ""},
		{"outside", "198.51.100.7", own,
			"198.51.100.7 is outside every subnet of eth0 [192.0.2.0/24]: an HAVIP or private IP belongs to one subnet"},
		{"link-local own ignored", "169.254.10.2", own, "169.254.10.2 is outside every subnet of eth0 [192.0.2.0/24]:"},
		{"second subnet", "198.51.100.7", append(prefixes("198.51.100.1/24"), own...), ""},
		{"subnet listed once", "203.0.113.5", prefixes("192.0.2.2/24", "192.0.2.3/24", "fe80::2/64"),
			"203.0.113.5 is outside every subnet of eth0 [192.0.2.0/24]:"},
		{"IPv6 inside", "2001:db8:1::100", append(prefixes("2001:db8:1::2/64"), own...), ""},
		{"IPv6 outside", "2001:db8:2::100", append(prefixes("2001:db8:1::2/64"), own...),
			"2001:db8:2::100 is outside every subnet of eth0 [2001:db8:1::/64 192.0.2.0/24]:"},
		{"no address of its own", "192.0.2.100", prefixes("fe80::1/64"), "192.0.2.100 is outside every subnet of eth0 []:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := b.CheckAddress(netip.MustParseAddr(c.vip), "eth0", c.own)
			if c.err == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, c.err)
			}
		})
	}
}

// TestHavipRefusesAddressOutsideTheSubnet: havip refuses, at construction,
// a Config whose Tencent Binder could never claim an address (the rule is
// the Binder's, through havip.AddressChecker), and takes one it can.
func TestHavipRefusesAddressOutsideTheSubnet(t *testing.T) {
	w := newWorld(t)
	b := w.binder(t, "ins-b", tencentcloud.ModeHAVIP, false)
	// The interface of ins-b: its primary IP, a link-local address, and
	// 198.51.100.7/24, a virtual address an earlier run left behind, which
	// is no subnet of the interface.
	host := &fakeHost{addrs: prefixes("192.0.2.2/24", "fe80::1/64", "198.51.100.7/24")}
	cfg := havip.Config{Interface: "eth0", Addresses: prefixes("192.0.2.100/32", "198.51.100.7/32"), Binder: b,
		Announce: &tencentcloud.Announce, Logger: slog.New(slog.DiscardHandler)}

	c, err := havip.NewWith(cfg, host, &fakeAnnouncer{})
	require.Error(t, err)
	assert.Nil(t, c)
	assert.ErrorIs(t, err, havip.ErrConfig)
	var ce *havip.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Addresses[1]", ce.Field)
	assert.Contains(t, err.Error(), "198.51.100.7 is outside every subnet of eth0 [192.0.2.0/24]")

	cfg.Addresses = prefixes("192.0.2.100/32", "192.0.2.101/32")
	ann := &fakeAnnouncer{}
	c, err = havip.NewWith(cfg, host, ann)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.True(t, host.closed && ann.closed, "Close did not release the host and announcer")
}

// fakeHost is a havip.Host with fixed addresses that changes nothing.
type fakeHost struct {
	addrs  []netip.Prefix
	closed bool
}

func (h *fakeHost) Interface() *net.Interface {
	return &net.Interface{Index: 2, MTU: 1500, Name: "eth0", HardwareAddr: net.HardwareAddr{0x20, 0x90, 0x6f, 0, 0, 2}}
}
func (h *fakeHost) Add(netip.Prefix) error                                 { return nil }
func (h *fakeHost) Remove(netip.Prefix) error                              { return nil }
func (h *fakeHost) Addresses() ([]netip.Prefix, error)                     { return h.addrs, nil }
func (h *fakeHost) WatchRemoved(ctx context.Context, _ func(netip.Prefix)) { <-ctx.Done() }
func (h *fakeHost) Close() error                                           { h.closed = true; return nil }

// fakeAnnouncer is a havip.Announcer that sends nothing.
type fakeAnnouncer struct{ closed bool }

func (a *fakeAnnouncer) BurstN(context.Context, int, ...netip.Addr) error { return nil }
func (a *fakeAnnouncer) Close() error                                     { a.closed = true; return nil }

var (
	_ havip.Host      = (*fakeHost)(nil)
	_ havip.Announcer = (*fakeAnnouncer)(nil)
)
