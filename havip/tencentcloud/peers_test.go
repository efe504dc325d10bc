package tencentcloud_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/havip/tencentcloud"
	"github.com/vipkit/vipkit/internal/testkit/logrec"
)

var (
	primaryA = netip.MustParseAddr("192.0.2.1")
	primaryB = netip.MustParseAddr("192.0.2.2")
)

// peerBinder makes the Binder of instance ins in private-IP mode with
// peers.
func (w *world) peerBinder(t *testing.T, ins string, peers ...netip.Addr) *tencentcloud.Binder {
	t.Helper()
	cfg := w.config(ins, tencentcloud.ModePrivateIP, false)
	cfg.Peers = peers
	b, err := tencentcloud.New(context.Background(), cfg)
	require.NoError(t, err)
	return b
}

// TestHolderFoundByAddress: the holder of the address is found with one
// DescribeNetworkInterfaces call filtered by the address, exactly, not by
// reading every network interface of the VPC (here more than a page).
func TestHolderFoundByAddress(t *testing.T) {
	w := newWorld(t)
	w.cloud.AddSubnet("subnet-2", netip.MustParsePrefix("198.51.100.0/24"))
	for i := range 150 {
		w.cloud.AddInstance(fmt.Sprintf("ins-x%d", i), fmt.Sprintf("eni-x%d", i), nil, "subnet-2", netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}))
	}
	b := w.peerBinder(t, "ins-b", primaryA)
	n := len(w.cloud.CallsOf("DescribeNetworkInterfaces"))
	require.NoError(t, b.Claim(context.Background(), []netip.Addr{privateAddr}))
	assert.Equal(t, "eni-b", w.holder(privateAddr))
	calls := w.cloud.CallsOf("DescribeNetworkInterfaces")[n:]
	require.Len(t, calls, 1)
	assert.ElementsMatch(t, []any{
		map[string]any{"Name": "vpc-id", "Values": []any{"vpc-vipkit01"}},
		map[string]any{"Name": "address-ip", "Values": []any{privateAddr.String()}},
		map[string]any{"Name": "ip-exact-match", "Values": []any{"true"}},
	}, calls[0].Params["Filters"])
}

// TestPeersOnly: the address is taken from a peer's network interface, and
// never from another one: that claim fails at once, naming the holder,
// and nothing moves.
func TestPeersOnly(t *testing.T) {
	w := newWorld(t)
	w.cloud.AddInstance("ins-c", "eni-c", nil, "subnet-1", netip.MustParseAddr("192.0.2.3"))
	w.cloud.AddPrivateIP("eni-c", freeAddr)
	b := w.peerBinder(t, "ins-b", primaryA)

	err := b.Claim(context.Background(), []netip.Addr{freeAddr})
	require.Error(t, err)
	assert.NotErrorIs(t, err, havip.ErrContested)
	assert.ErrorContains(t, err, `private IP 192.0.2.102 is held by eni-c (instance "ins-c", primary IP 192.0.2.3), which is no peer's (Config.Peers [192.0.2.1])`)
	assert.Equal(t, "eni-c", w.holder(freeAddr))
	assert.Empty(t, w.cloud.CallsOf("MigratePrivateIpAddress"))

	require.NoError(t, b.Claim(context.Background(), []netip.Addr{privateAddr}), "not taken from the peer")
	assert.Equal(t, "eni-b", w.holder(privateAddr))
}

// TestPeersChecked: New refuses peers that are no peers' addresses, naming
// the field, and warns when there are none (then any holder is taken
// from).
func TestPeersChecked(t *testing.T) {
	w := newWorld(t)
	for _, c := range []struct {
		peers []string
		err   string
	}{
		{[]string{"2001:db8::1"}, "Config.Peers[0] 2001:db8::1: not the private IPv4 address of a network interface"},
		{[]string{"192.0.2.1", "192.0.2.1"}, "Config.Peers[1] 192.0.2.1: given twice"},
		{[]string{"192.0.2.1", "192.0.2.9"}, "Config.Peers[1] 192.0.2.9: no network interface of vpc-vipkit01 has it as its primary private IP"},
		{[]string{privateAddr.String()}, "Config.Peers[0] 192.0.2.101: no network interface of vpc-vipkit01 has it as its primary private IP"},
		{[]string{"192.0.2.2"}, "Config.Peers[0] 192.0.2.2: the address of this node's own network interface eni-b"},
	} {
		cfg := w.config("ins-b", tencentcloud.ModePrivateIP, false)
		for _, p := range c.peers {
			cfg.Peers = append(cfg.Peers, netip.MustParseAddr(p))
		}
		_, err := tencentcloud.New(context.Background(), cfg)
		assert.ErrorContains(t, err, c.err, "%v", c.peers)
	}

	// HAVIP mode does not use them.
	cfg := w.config("ins-b", tencentcloud.ModeHAVIP, false)
	cfg.Peers = []netip.Addr{netip.MustParseAddr("192.0.2.9")}
	_, err := tencentcloud.New(context.Background(), cfg)
	assert.NoError(t, err)

	logs := logrec.Recorder{Min: slog.LevelWarn}
	cfg = w.config("ins-b", tencentcloud.ModePrivateIP, false)
	cfg.Logger = slog.New(&logs)
	_, err = tencentcloud.New(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, 1, logs.Count("no peers configured"))
}

// TestReassertContested: a reassert that finds the address on a peer's
// network interface leaves it there and reports a contest, naming the
// holder; a claim takes it back.
func TestReassertContested(t *testing.T) {
	w := newWorld(t)
	a, b := w.peerBinder(t, "ins-a", primaryB), w.peerBinder(t, "ins-b", primaryA)
	addrs := []netip.Addr{privateAddr}
	require.NoError(t, a.Claim(context.Background(), addrs))
	require.NoError(t, a.Reassert(context.Background(), addrs), "a reassert of an address held here")
	require.NoError(t, b.Claim(context.Background(), addrs))
	require.Equal(t, "eni-b", w.holder(privateAddr))

	err := a.Reassert(context.Background(), addrs)
	require.ErrorIs(t, err, havip.ErrContested)
	assert.ErrorContains(t, err, `eni-b (instance "ins-b") took it after this node's last claim`)
	assert.Equal(t, "eni-b", w.holder(privateAddr))
	assert.Len(t, w.cloud.CallsOf("MigratePrivateIpAddress"), 1, "the reassert moved the address")

	require.NoError(t, a.Claim(context.Background(), addrs))
	assert.Equal(t, "eni-a", w.holder(privateAddr))

	// A free address is assigned by a reassert too: nobody contests it.
	require.NoError(t, a.Reassert(context.Background(), []netip.Addr{freeAddr}))
	assert.Equal(t, "eni-a", w.holder(freeAddr))
}

// TestTwoMastersContest runs two havip Clients with their Binders against
// the VPC, both master for a while, as on both sides of a partition of
// VRRP. The address moves once, to the second master: the first, at its
// reassert, finds it taken, leaves it there (it would claim it back only
// after twice the reassert interval) and does not count the contest as a
// failure to hold it. When the partition heals (b steps down, a hears its
// lower priority), a claims the address back at once.
func TestTwoMastersContest(t *testing.T) {
	const interval = time.Second
	w := newWorld(t)
	var mu sync.Mutex
	var moves []string
	w.cloud.OnMove(func(ip netip.Addr, eni string) {
		if ip == privateAddr {
			mu.Lock()
			moves = append(moves, eni)
			mu.Unlock()
		}
	})
	logs := map[string]*logrec.Recorder{}
	client := func(ins string, own string, peer netip.Addr) *havip.Client {
		logs[ins] = &logrec.Recorder{Min: slog.LevelWarn}
		c, err := havip.NewWith(havip.Config{Interface: "eth0", Addresses: prefixes(privateAddr.String() + "/32"),
			Binder: w.peerBinder(t, ins, peer), ReassertInterval: interval, Announce: &havip.Announce{Repeat: 1},
			Logger: slog.New(logs[ins])}, &fakeHost{addrs: prefixes(own)}, &fakeAnnouncer{})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- c.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			require.NoError(t, <-done)
		})
		return c
	}
	a, b := client("ins-a", "192.0.2.1/24", primaryB), client("ins-b", "192.0.2.2/24", primaryA)
	a.SetMaster(true)
	require.Eventually(t, func() bool { return a.Status().Claims > 0 }, 5*time.Second, time.Millisecond)

	// The partition, half an interval before a reasserts: two masters
	// until half an interval before a would claim the address back.
	time.Sleep(interval / 2)
	b.SetMaster(true)
	require.Eventually(t, func() bool { return w.holder(privateAddr) == "eni-b" }, interval/4, time.Millisecond, "b did not take the address")
	time.Sleep(interval + interval/2)
	st := a.Status()
	mu.Lock()
	assert.Equal(t, []string{"eni-b"}, moves, "the address moved after b took it")
	mu.Unlock()
	assert.Equal(t, uint64(1), st.Contested, "a saw no contest")
	assert.Contains(t, st.LastClaimErr, "havip: another node took the address")
	assert.Equal(t, 1, logs["ins-a"].Count("another node took the virtual addresses"))
	assert.True(t, st.Master)

	b.SetMaster(false) // the heal: b steps down, and a hears its lower priority
	a.Reannounce()
	require.Eventually(t, func() bool { return w.holder(privateAddr) == "eni-a" }, interval/4, time.Millisecond,
		"a did not claim the address back at once")
	for name, c := range map[string]*havip.Client{"a": a, "b": b} {
		assert.Zero(t, c.Status().HoldFailures, "%s counted the contest as a failure to hold the address", name)
	}
}
