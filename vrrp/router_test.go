package vrrp_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/fakelan"
	"github.com/vipkit/vipkit/internal/testkit/logrec"
	"github.com/vipkit/vipkit/vrrp"
)

func routerConfig(prio uint8) vrrp.Config {
	return vrrp.Config{Interface: "eth0", VRID: 51, Priority: prio, AdvertInterval: 20 * time.Millisecond,
		VirtualAddresses: []netip.Addr{vip4}, Logger: slog.New(slog.DiscardHandler)}
}

// runRouter starts r until the test ends or the returned stop is called,
// which waits for Run to return.
func runRouter(t *testing.T, r *vrrp.Router) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			assert.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitState waits until r is in state s.
func waitState(t *testing.T, r *vrrp.Router, s vrrp.State, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return r.State() == s }, within, time.Millisecond,
		"router %v is %v, want %v", r.Source(), r.State(), s)
}

// nextTransition returns the next transition event from events.
func nextTransition(t *testing.T, events <-chan vrrp.Event) vrrp.Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e, ok := <-events:
			require.True(t, ok, "events closed")
			if e.Kind == vrrp.EventTransition {
				return e
			}
		case <-timeout:
			t.Fatal("no transition within 5 s")
		}
	}
}

func TestRouterElectionAndHandover(t *testing.T) {
	var lan fakelan.LAN
	a, err := vrrp.NewRouterConn(routerConfig(200), lan.Conn(src4), src4)
	require.NoError(t, err)
	bAddr := netip.MustParseAddr("192.0.2.2")
	b, err := vrrp.NewRouterConn(routerConfig(100), lan.Conn(bAddr), bAddr)
	require.NoError(t, err)
	bEvents := b.Subscribe(context.Background())

	stopA := runRouter(t, a)
	waitState(t, a, vrrp.Master, time.Second) // no one else: after Master_Down_Interval
	runRouter(t, b)
	assert.Equal(t, vrrp.Transition{From: vrrp.Initialize, To: vrrp.Backup, Reason: vrrp.ReasonStart}, transitionOf(nextTransition(t, bEvents)))
	require.Eventually(t, func() bool { return b.LastMaster().Addr == src4 }, time.Second, time.Millisecond)
	assert.Equal(t, uint8(200), b.LastMaster().Priority)
	assert.Equal(t, vrrp.Backup, b.State())

	// A stops: it sends priority 0 and B takes over after Skew_Time.
	stopA()
	assert.Equal(t, vrrp.Initialize, a.State())
	assert.Equal(t, vrrp.Transition{From: vrrp.Backup, To: vrrp.Master, Reason: vrrp.ReasonMasterStepDown}, transitionOf(nextTransition(t, bEvents)))
	sa, sb := a.Stats(), b.Stats()
	assert.Equal(t, uint64(1), sa.PriorityZeroSent)
	assert.Equal(t, uint64(1), sb.PriorityZeroReceived)
	assert.Equal(t, vrrp.ReasonMasterStepDown, sb.NewMasterReason)
	assert.Equal(t, uint64(1), sb.MasterTransitions)
}

// startPair runs a router of cfgA at 192.0.2.1 until it is master, then
// one of cfgB at 192.0.2.2 until it is backup.
func startPair(t *testing.T, lan *fakelan.LAN, cfgA, cfgB vrrp.Config) (a, b *vrrp.Router) {
	t.Helper()
	a, err := vrrp.NewRouterConn(cfgA, lan.Conn(src4), src4)
	require.NoError(t, err)
	bAddr := netip.MustParseAddr("192.0.2.2")
	b, err = vrrp.NewRouterConn(cfgB, lan.Conn(bAddr), bAddr)
	require.NoError(t, err)
	runRouter(t, a)
	waitState(t, a, vrrp.Master, time.Second)
	runRouter(t, b)
	waitState(t, b, vrrp.Backup, time.Second)
	return a, b
}

func transitionOf(e vrrp.Event) vrrp.Transition {
	return vrrp.Transition{From: e.From, To: e.To, Reason: e.Reason}
}

// TestRouterBadInput sends crafted packets to a running backup: each
// changes its own counter and nothing else.
func TestRouterBadInput(t *testing.T) {
	var lan fakelan.LAN
	logs := &logrec.Recorder{Min: slog.LevelDebug}
	cfg := routerConfig(100)
	cfg.AdvertInterval = 10 * time.Second // the backup stays backup throughout
	cfg.Logger = slog.New(logs)
	conn := lan.Conn(src4)
	r, err := vrrp.NewRouterConn(cfg, conn, src4)
	require.NoError(t, err)
	runRouter(t, r)
	waitState(t, r, vrrp.Backup, time.Second)

	peer := netip.MustParseAddr("192.0.2.2")
	good := func(mod func(*vrrp.Advertisement)) []byte {
		a := vrrp.Advertisement{Version: vrrp.Version3, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 50,
			Interval: 10 * time.Second, Addresses: []netip.Addr{vip4}}
		if mod != nil {
			mod(&a)
		}
		b, err := a.Append(nil, peer, vrrp.MulticastGroupIPv4, 0)
		require.NoError(t, err)
		return b
	}
	mcast := vrrp.PacketInfo{Src: peer, Dst: vrrp.MulticastGroupIPv4, TTL: 255}
	flip := func(b []byte, i int) []byte { b[i] ^= 0xff; return b }
	cases := []struct {
		name    string
		msg     []byte
		info    vrrp.PacketInfo
		counter func(vrrp.Stats) uint64
	}{
		{"TTL 64 on multicast", good(nil), vrrp.PacketInfo{Src: peer, Dst: vrrp.MulticastGroupIPv4, TTL: 64}, func(s vrrp.Stats) uint64 { return s.TTLErrors }},
		{"bad checksum", flip(good(nil), 7), mcast, func(s vrrp.Stats) uint64 { return s.ChecksumErrors }},
		{"unknown VRID", good(func(a *vrrp.Advertisement) { a.VRID = 52 }), mcast, func(s vrrp.Stats) uint64 { return s.VRIDErrors }},
		{"version 2", func() []byte {
			a := v2(vip4)
			a.VRID = 51
			b, err := a.Append(nil, peer, vrrp.MulticastGroupIPv4, 0)
			require.NoError(t, err)
			return b
		}(), mcast, func(s vrrp.Stats) uint64 { return s.VersionErrors }},
		{"version 7", func() []byte { b := good(nil); b[0] = 0x71; return b }(), mcast, func(s vrrp.Stats) uint64 { return s.VersionErrors }},
		{"truncated", good(nil)[:10], mcast, func(s vrrp.Stats) uint64 { return s.LengthErrors }},
		{"wrong type", func() []byte { b := good(nil); b[0] = 0x32; return b }(), mcast, func(s vrrp.Stats) uint64 { return s.TypeErrors }},
		{"another address", good(func(a *vrrp.Advertisement) { a.Addresses = []netip.Addr{netip.MustParseAddr("192.0.2.101")} }), mcast,
			func(s vrrp.Stats) uint64 { return s.AddressListErrors }},
		{"one address more", good(func(a *vrrp.Advertisement) { a.Addresses = []netip.Addr{vip4, netip.MustParseAddr("192.0.2.101")} }), mcast,
			func(s vrrp.Stats) uint64 { return s.AddressListErrors }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := r.Stats()
			conn.Inject(c.msg, c.info)
			require.Eventually(t, func() bool { return c.counter(r.Stats()) == c.counter(before)+1 }, time.Second, time.Millisecond)
			after := r.Stats()
			// Nothing else changed.
			assert.Equal(t, badTotal(before)+1, badTotal(after))
			assert.Equal(t, before.AdvertsReceived, after.AdvertsReceived)
			assert.Equal(t, vrrp.Backup, r.State())
			assert.False(t, r.LastMaster().Addr.IsValid(), "a bad packet was taken for a master")
		})
	}

	// Logged, rate-limited (RFC 9568 §7.1): the first that reached the
	// router, and the first that reached no router, within 10 s.
	before := r.Stats().ChecksumErrors
	for range 1000 {
		conn.Inject(flip(good(nil), 7), mcast)
	}
	require.Eventually(t, func() bool { return r.Stats().ChecksumErrors == before+1000 }, 5*time.Second, time.Millisecond)
	discarded := logs.Find("discarded a VRRP message")
	require.Len(t, discarded, 2, "%v", discarded)
	assert.Equal(t, slog.LevelWarn, discarded[0].Level)
	assert.Equal(t, "TTL (hop limit) 64; multicast needs 255", discarded[0].Attrs["why"])
	assert.Equal(t, peer.String(), discarded[0].Attrs["from"])
	assert.Equal(t, slog.LevelInfo, discarded[1].Level, "another virtual router's advertisement is no warning")
	assert.Equal(t, "VRID 52, which no router of this process runs here", discarded[1].Attrs["why"])

	// A good one is counted as received and its sender taken as master.
	conn.Inject(good(nil), mcast)
	require.Eventually(t, func() bool { return r.Stats().AdvertsReceived == 1 }, time.Second, time.Millisecond)
	assert.Equal(t, peer, r.LastMaster().Addr)
}

// badTotal sums the counters of bad packets.
func badTotal(s vrrp.Stats) uint64 {
	return s.TTLErrors + s.ChecksumErrors + s.VRIDErrors + s.VersionErrors + s.LengthErrors +
		s.TypeErrors + s.AuthErrors + s.IntervalErrors + s.AddressErrors + s.PeerErrors + s.AddressListErrors + s.OwnerDiscards
}

// TestRouterAddressList compares the advertised addresses as a set, as
// keepalived does: the same set in another order is taken without a word,
// another set is dropped and counted (RFC 3768 §7.1, RFC 5798 §7.1), or
// with AcceptAddressMismatch counted, logged and taken.
func TestRouterAddressList(t *testing.T) {
	a, b, c := netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("192.0.2.101"), netip.MustParseAddr("192.0.2.102")
	peer := netip.MustParseAddr("192.0.2.2")
	mcast := vrrp.PacketInfo{Src: peer, Dst: vrrp.MulticastGroupIPv4, TTL: 255}
	for _, accept := range []bool{false, true} {
		t.Run(fmt.Sprintf("AcceptAddressMismatch=%v", accept), func(t *testing.T) {
			var lan fakelan.LAN
			logs := &logrec.Recorder{Min: slog.LevelDebug}
			cfg := routerConfig(100)
			cfg.AdvertInterval = 10 * time.Second
			cfg.VirtualAddresses = []netip.Addr{a, b}
			cfg.AcceptAddressMismatch = accept
			cfg.Logger = slog.New(logs)
			conn := lan.Conn(src4)
			r, err := vrrp.NewRouterConn(cfg, conn, src4)
			require.NoError(t, err)
			runRouter(t, r)
			waitState(t, r, vrrp.Backup, time.Second)
			advertise := func(addrs ...netip.Addr) {
				adv := vrrp.Advertisement{Version: vrrp.Version3, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 150,
					Interval: 10 * time.Second, Addresses: addrs}
				msg, err := adv.Append(nil, peer, vrrp.MulticastGroupIPv4, 0)
				require.NoError(t, err)
				conn.Inject(msg, mcast)
			}

			advertise(b, a) // FRR and keepalived may list them in another order
			require.Eventually(t, func() bool { return r.Stats().AdvertsReceived == 1 }, time.Second, time.Millisecond)
			assert.Zero(t, r.Stats().AddressListErrors)
			assert.Zero(t, logs.Count("differ"), "the same set in another order is no mismatch")

			for i, addrs := range [][]netip.Addr{{a}, {a, c}, {a, b, c}, {a, a}} {
				advertise(addrs...)
				require.Eventually(t, func() bool { return r.Stats().AddressListErrors == uint64(i+1) }, time.Second, time.Millisecond, "%v", addrs)
			}
			st := r.Stats()
			if accept {
				assert.Equal(t, uint64(5), st.AdvertsReceived, "taken")
				found := logs.Find("advertised addresses differ from ours; taken (AcceptAddressMismatch)")
				require.Len(t, found, 1, "rate-limited: %v", found)
				assert.Equal(t, slog.LevelWarn, found[0].Level)
			} else {
				assert.Equal(t, uint64(1), st.AdvertsReceived, "dropped")
				found := logs.Find("discarded a VRRP message")
				require.Len(t, found, 1, "rate-limited: %v", found)
				assert.Equal(t, "addresses [192.0.2.100]; ours are [192.0.2.100 192.0.2.101]", found[0].Attrs["why"])
			}
		})
	}
}

// TestRouterOwnerIgnoreAdverts: by default an owner of the lower address
// steps down for another owner; with OwnerIgnoreAdverts it discards every
// advertisement and stays master (keepalived 2.3's owner_ignore_adverts).
func TestRouterOwnerIgnoreAdverts(t *testing.T) {
	peer := netip.MustParseAddr("192.0.2.2") // above src4
	for _, ignore := range []bool{false, true} {
		t.Run(fmt.Sprintf("OwnerIgnoreAdverts=%v", ignore), func(t *testing.T) {
			var lan fakelan.LAN
			cfg := routerConfig(255)
			cfg.AdvertInterval = time.Second // a backup stays one for 3 s: waitState sees it on a loaded machine
			cfg.OwnerIgnoreAdverts = ignore
			conn := lan.Conn(src4)
			r, err := vrrp.NewRouterConn(cfg, conn, src4)
			require.NoError(t, err)
			runRouter(t, r)
			waitState(t, r, vrrp.Master, time.Second)
			adv := vrrp.Advertisement{Version: vrrp.Version3, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 255,
				Interval: cfg.AdvertInterval, Addresses: cfg.VirtualAddresses}
			msg, err := adv.Append(nil, peer, vrrp.MulticastGroupIPv4, 0)
			require.NoError(t, err)
			conn.Inject(msg, vrrp.PacketInfo{Src: peer, Dst: vrrp.MulticastGroupIPv4, TTL: 255})
			if ignore {
				require.Eventually(t, func() bool { return r.Stats().OwnerDiscards == 1 }, time.Second, time.Millisecond)
				assert.Equal(t, vrrp.Master, r.State())
				assert.Zero(t, r.Stats().AdvertsReceived)
			} else {
				waitState(t, r, vrrp.Backup, time.Second)
				assert.Zero(t, r.Stats().OwnerDiscards)
			}
		})
	}
}

func TestRouterVersion2AuthAndInterval(t *testing.T) {
	var lan fakelan.LAN
	cfg := routerConfig(100)
	cfg.Version = vrrp.Version2
	cfg.AdvertInterval = 5 * time.Second
	cfg.AuthPass = "secret"
	conn := lan.Conn(src4)
	r, err := vrrp.NewRouterConn(cfg, conn, src4)
	require.NoError(t, err)
	runRouter(t, r)
	waitState(t, r, vrrp.Backup, time.Second)

	peer := netip.MustParseAddr("192.0.2.2")
	send := func(pass string, interval time.Duration) {
		a := vrrp.Advertisement{Version: vrrp.Version2, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 150,
			Interval: interval, AuthType: vrrp.AuthSimple, Addresses: []netip.Addr{vip4}}
		copy(a.AuthData[:], pass)
		b, err := a.Append(nil, peer, vrrp.MulticastGroupIPv4, 0)
		require.NoError(t, err)
		conn.Inject(b, vrrp.PacketInfo{Src: peer, Dst: vrrp.MulticastGroupIPv4, TTL: 255})
	}
	send("wrong", 5*time.Second)
	require.Eventually(t, func() bool { return r.Stats().AuthErrors == 1 }, time.Second, time.Millisecond)
	send("secret", 3*time.Second)
	require.Eventually(t, func() bool { return r.Stats().IntervalErrors == 1 }, time.Second, time.Millisecond)
	assert.Zero(t, r.Stats().AdvertsReceived)
	send("secret", 5*time.Second)
	require.Eventually(t, func() bool { return r.Stats().AdvertsReceived == 1 }, time.Second, time.Millisecond)
}

func TestRouterUnicastHearsOnlyPeers(t *testing.T) {
	var lan fakelan.LAN
	peer, stranger := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	cfg := routerConfig(100)
	cfg.AdvertInterval = 10 * time.Second
	cfg.UnicastSource, cfg.UnicastPeers = src4, []netip.Addr{peer}
	cfg.UnicastMinTTL = 64
	conn := lan.Conn(src4)
	r, err := vrrp.NewRouterConn(cfg, conn, src4)
	require.NoError(t, err)
	runRouter(t, r)
	waitState(t, r, vrrp.Backup, time.Second)

	a := v3(vip4)
	a.Interval = 10 * time.Second
	from := func(src netip.Addr, ttl uint8) {
		b, err := a.Append(nil, src, src4, 0)
		require.NoError(t, err)
		conn.Inject(b, vrrp.PacketInfo{Src: src, Dst: src4, TTL: ttl})
	}
	from(stranger, 255)
	require.Eventually(t, func() bool { return r.Stats().PeerErrors == 1 }, time.Second, time.Millisecond)
	from(peer, 63)
	require.Eventually(t, func() bool { return r.Stats().TTLErrors == 1 }, time.Second, time.Millisecond)
	from(peer, 64) // keepalived 2.2.7's IPv6 unicast hop limit is accepted
	require.Eventually(t, func() bool { return r.Stats().AdvertsReceived == 1 }, time.Second, time.Millisecond)
}

func TestRouterRunsOnceAndSharesNoVRID(t *testing.T) {
	var lan fakelan.LAN
	r, err := vrrp.NewRouterConn(routerConfig(100), lan.Conn(src4), src4)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, r.Run(ctx))
	assert.ErrorIs(t, r.Run(ctx), vrrp.ErrRunning)
	events := r.Subscribe(context.Background())
	_, open := <-events
	assert.False(t, open, "a subscription to a stopped router is closed")
}

// TestRouterClose stops a running master with Close, which hands over with
// priority 0 as a cancelled context does; a closed router does not run.
func TestRouterClose(t *testing.T) {
	var lan fakelan.LAN
	a, b := startPair(t, &lan, routerConfig(200), routerConfig(100))

	require.NoError(t, a.Close())
	assert.Equal(t, vrrp.Initialize, a.State(), "Close returned before Run stopped")
	assert.Equal(t, uint64(1), a.Stats().PriorityZeroSent)
	waitState(t, b, vrrp.Master, time.Second)
	assert.Equal(t, vrrp.ReasonMasterStepDown, b.Stats().NewMasterReason)

	c, err := vrrp.NewRouterConn(routerConfig(100), lan.Conn(src4), src4)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.ErrorIs(t, c.Run(context.Background()), vrrp.ErrClosed)
	assert.Zero(t, c.Stats().AdvertsSent)
}

// TestRouterCloseIdempotent: Close can be called again, and from several
// goroutines, on a router that never ran, one that Close stopped, one
// whose Run found it closed, and one whose context stopped it; none
// blocks.
func TestRouterCloseIdempotent(t *testing.T) {
	var lan fakelan.LAN
	newRouter := func() *vrrp.Router {
		r, err := vrrp.NewRouterConn(routerConfig(100), lan.Conn(src4), src4)
		require.NoError(t, err)
		return r
	}
	closeAll := func(r *vrrp.Router) {
		returnsWithin(t, 5*time.Second, "Close blocked", func() {
			var wg sync.WaitGroup
			for range 3 {
				wg.Go(func() { assert.NoError(t, r.Close()) })
			}
			wg.Wait()
		})
	}

	never := newRouter()
	closeAll(never)
	closeAll(never)

	refused := newRouter()
	closeAll(refused)
	require.ErrorIs(t, refused.Run(context.Background()), vrrp.ErrClosed)
	closeAll(refused)

	stopped := newRouter()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, stopped.Run(ctx))
	closeAll(stopped)
	assert.ErrorIs(t, stopped.Run(context.Background()), vrrp.ErrClosed)
}

// returnsWithin fails the test with msg unless f returns within d.
func returnsWithin(t *testing.T, d time.Duration, msg string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatal(msg)
	}
}

// TestRouterCloseIgnoresStuckCheck: a Check that ignores its context does
// not hold up Close, which still hands over with priority 0.
func TestRouterCloseIgnoresStuckCheck(t *testing.T) {
	var lan fakelan.LAN
	stuck, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	cfg := routerConfig(200)
	cfg.Checks = []vrrp.Check{{Name: "stuck", Interval: time.Millisecond, Weight: -10, Run: func(context.Context) error {
		select {
		case stuck <- struct{}{}:
		default:
		}
		<-release
		return nil
	}}}
	r, err := vrrp.NewRouterConn(cfg, lan.Conn(src4), src4)
	require.NoError(t, err)
	go r.Run(context.Background())
	<-stuck
	waitState(t, r, vrrp.Master, time.Second)
	returnsWithin(t, 5*time.Second, "Close waited for a Check that ignores its context", func() { r.Close() })
	assert.Equal(t, uint64(1), r.Stats().PriorityZeroSent)
}

// TestRouterKeepsItsConfig changes the caller's slices after NewRouter:
// the router advertises what it was given.
func TestRouterKeepsItsConfig(t *testing.T) {
	var lan fakelan.LAN
	cfg := routerConfig(200)
	cfg.VirtualAddresses = []netip.Addr{vip4}
	r, err := vrrp.NewRouterConn(cfg, lan.Conn(src4), src4)
	require.NoError(t, err)
	cfg.VirtualAddresses[0] = vip4.Next()
	assert.Equal(t, []netip.Addr{vip4}, r.Config().VirtualAddresses)
	// Nor does a change to what Config returned.
	r.Config().VirtualAddresses[0] = vip4.Next()
	assert.Equal(t, []netip.Addr{vip4}, r.Config().VirtualAddresses)

	listener := lan.Conn(netip.MustParseAddr("192.0.2.9"))
	runRouter(t, r)
	b := make([]byte, 100)
	n, _, err := listener.ReadFrom(b)
	require.NoError(t, err)
	var adv vrrp.Advertisement
	require.NoError(t, adv.UnmarshalBinary(b[:n]))
	assert.Equal(t, []netip.Addr{vip4}, adv.Addresses)
}

func TestRouterSetPriority(t *testing.T) {
	var lan fakelan.LAN
	a, b := startPair(t, &lan, routerConfig(200), routerConfig(100))

	require.Error(t, a.SetPriority(0))
	require.Error(t, a.SetPriority(255))
	require.NoError(t, a.SetPriority(50))
	// B preempts the lowered master.
	waitState(t, b, vrrp.Master, time.Second)
	waitState(t, a, vrrp.Backup, time.Second)
	assert.Equal(t, vrrp.ReasonPreempted, b.Stats().NewMasterReason)
}

// TestRouterReport: a condition reported not to hold puts the router in
// FAULT (weight 0) or lowers its priority (a negative weight) until it is
// reported to hold again.
func TestRouterReport(t *testing.T) {
	var lan fakelan.LAN
	a, b := startPair(t, &lan, routerConfig(200), routerConfig(100))
	require.ErrorContains(t, a.Report("havip eth0", 1, errors.New("x")), "weight 1 outside -253..0")
	require.ErrorContains(t, a.Report("havip eth0", -254, errors.New("x")), "weight -254 outside -253..0")
	assert.Equal(t, vrrp.Master, a.State(), "a refused Report changed the state")

	require.NoError(t, a.Report("havip eth0", 0, errors.New("adding 192.0.2.100/24: operation not permitted")))
	waitState(t, a, vrrp.Fault, time.Second)
	waitState(t, b, vrrp.Master, time.Second)
	require.NoError(t, a.Report("havip eth0", 0, nil))
	waitState(t, a, vrrp.Master, time.Second) // preempts b again at 200
	waitState(t, b, vrrp.Backup, time.Second)

	require.NoError(t, a.Report("cloud", -150, errors.New("claim refused")))
	waitState(t, b, vrrp.Master, time.Second) // b's 100 preempts a's 50
	waitState(t, a, vrrp.Backup, time.Second)
	assert.Equal(t, uint8(50), a.Priority())
	require.NoError(t, a.Report("cloud", -150, nil))
	waitState(t, a, vrrp.Master, time.Second)
	assert.Equal(t, uint8(200), a.Priority())
}

// TestRouterAdjust: a delta moves the priority either way, as a
// keepalived track_file does, until it is adjusted again.
func TestRouterAdjust(t *testing.T) {
	var lan fakelan.LAN
	a, b := startPair(t, &lan, routerConfig(200), routerConfig(100))
	require.ErrorContains(t, b.Adjust("file", 254), "254 outside -253..253")
	require.ErrorContains(t, b.Adjust("file", -254), "-254 outside -253..253")
	assert.Equal(t, uint8(100), b.Priority(), "a refused Adjust changed the priority")

	require.NoError(t, b.Adjust("file", 150))
	waitState(t, b, vrrp.Master, time.Second) // 250 preempts 200
	waitState(t, a, vrrp.Backup, time.Second)
	assert.Equal(t, uint8(250), b.Priority())
	require.NoError(t, b.Adjust("other", 50))
	assert.Equal(t, uint8(254), b.Priority(), "clamped to 254")
	require.NoError(t, b.Adjust("file", 0))
	require.NoError(t, b.Adjust("other", -253))
	assert.Equal(t, uint8(1), b.Priority(), "clamped to 1")
	waitState(t, a, vrrp.Master, time.Second)
	waitState(t, b, vrrp.Backup, time.Second)
	require.NoError(t, b.Adjust("other", 0))
	assert.Equal(t, uint8(100), b.Priority())
}

// TestRouterHold: a held router stays BACKUP when its Master_Down_Timer
// fires, says it wants MASTER, and becomes master when released; a held
// master steps down in silence, as keepalived's sync group members do.
func TestRouterHold(t *testing.T) {
	var lan fakelan.LAN
	a, err := vrrp.NewRouterConn(routerConfig(200), lan.Conn(src4), src4)
	require.NoError(t, err)
	events := a.Subscribe(t.Context())
	a.Hold(true)
	runRouter(t, a)
	// 3 × 20 ms + Skew_Time: the timer fires, and fires again.
	var wants int
	for wants < 2 {
		e := <-events
		require.False(t, e.Kind == vrrp.EventTransition && e.To == vrrp.Master, "a held router became master")
		if e.Kind == vrrp.EventWantMaster {
			wants++
			assert.Equal(t, vrrp.Backup, e.To)
		}
	}
	assert.True(t, a.WantsMaster())
	assert.Equal(t, vrrp.Backup, a.State())
	assert.Zero(t, a.Stats().AdvertsSent, "a held backup advertised")

	a.Hold(false)
	assert.Equal(t, vrrp.Master, a.State(), "released, a router that wants master is master at once")
	assert.False(t, a.WantsMaster())
	assert.Equal(t, vrrp.ReasonMasterDown, a.Stats().NewMasterReason)

	bAddr := netip.MustParseAddr("192.0.2.2")
	b, err := vrrp.NewRouterConn(routerConfig(100), lan.Conn(bAddr), bAddr)
	require.NoError(t, err)
	runRouter(t, b)
	waitState(t, b, vrrp.Backup, time.Second)
	bEvents := b.Subscribe(t.Context())
	a.Hold(true)
	assert.Equal(t, vrrp.Backup, a.State())
	assert.Zero(t, a.Stats().PriorityZeroSent, "held, the master sent priority 0")
	e := nextTransition(t, bEvents)
	assert.Equal(t, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonMasterDown), transitionOf(e),
		"the backup takes over when its Master_Down_Timer fires, as no priority 0 came")
	// a, at 200, discards b's 100 to preempt it, so it wants master
	// again; released, it preempts.
	require.Eventually(t, func() bool { return a.LastMaster().Addr == bAddr && a.WantsMaster() }, time.Second, time.Millisecond)
	assert.Equal(t, vrrp.Backup, a.State())
	a.Hold(false)
	assert.Equal(t, vrrp.Master, a.State())
	assert.Equal(t, vrrp.ReasonPreempted, a.Stats().NewMasterReason)
	waitState(t, b, vrrp.Backup, time.Second)
}

func TestConfigRefused(t *testing.T) {
	mod := func(f func(*vrrp.Config)) vrrp.Config { c := routerConfig(100); f(&c); return c }
	cases := []struct {
		field string
		cfg   vrrp.Config
	}{
		{"Interface", mod(func(c *vrrp.Config) { c.Interface = "" })},
		{"VRID", mod(func(c *vrrp.Config) { c.VRID = 0 })},
		{"Version", mod(func(c *vrrp.Config) { c.Version = 4 })},
		{"AdvertInterval", mod(func(c *vrrp.Config) { c.Version = vrrp.Version2; c.AdvertInterval = 1500 * time.Millisecond })},
		{"AdvertInterval", mod(func(c *vrrp.Config) { c.AdvertInterval = 5 * time.Millisecond })},
		{"AdvertInterval", mod(func(c *vrrp.Config) { c.AdvertInterval = 41 * time.Second })},
		{"VirtualAddresses", mod(func(c *vrrp.Config) { c.VirtualAddresses = nil })},
		{"VirtualAddresses", mod(func(c *vrrp.Config) {
			c.Version, c.AdvertInterval, c.VirtualAddresses = vrrp.Version2, time.Second, []netip.Addr{vip6}
		})},
		{"VirtualAddresses[1]", mod(func(c *vrrp.Config) { c.VirtualAddresses = []netip.Addr{vip4, vip6} })},
		{"VirtualAddresses[0]", mod(func(c *vrrp.Config) { c.VirtualAddresses = []netip.Addr{netip.MustParseAddr("224.0.0.18")} })},
		{"UnicastSource", mod(func(c *vrrp.Config) { c.UnicastSource = vip6; c.UnicastPeers = []netip.Addr{src4} })},
		{"UnicastPeers", mod(func(c *vrrp.Config) { c.UnicastSource = src4 })},
		{"UnicastPeers[0]", mod(func(c *vrrp.Config) { c.UnicastPeers = []netip.Addr{netip.IPv4Unspecified()} })},
		{"WeightedInterfaces[0]", mod(func(c *vrrp.Config) { c.WeightedInterfaces = []vrrp.WeightedInterface{{Name: "eth1"}} })},
		{"WeightedInterfaces[0]", mod(func(c *vrrp.Config) { c.WeightedInterfaces = []vrrp.WeightedInterface{{Name: "eth1", Weight: 254}} })},
		{"WeightedInterfaces[0]", mod(func(c *vrrp.Config) { c.WeightedInterfaces = []vrrp.WeightedInterface{{Name: "eth0", Weight: -10}} })},
		{"WeightedInterfaces[1]", mod(func(c *vrrp.Config) {
			c.TrackInterfaces = []string{"eth2"}
			c.WeightedInterfaces = []vrrp.WeightedInterface{{Name: "eth1", Weight: 5}, {Name: "eth2", Weight: 5}}
		})},
		{"AuthPass", mod(func(c *vrrp.Config) { c.AuthPass = "x" })},
		{"AuthPass", mod(func(c *vrrp.Config) {
			c.Version = vrrp.Version2
			c.AdvertInterval = time.Second
			c.AuthPass = "123456789"
		})},
		{"Checksum", mod(func(c *vrrp.Config) { c.Checksum = vrrp.ChecksumPseudoHeader | vrrp.ChecksumMessageOnly })},
		{"DownTimerAdverts", mod(func(c *vrrp.Config) { c.DownTimerAdverts = -1 })},
		{"PreemptDelay", mod(func(c *vrrp.Config) { c.PreemptDelay = -time.Second })},
		{"PreemptDelay", mod(func(c *vrrp.Config) { c.PreemptDelay, c.NoPreempt = time.Second, true })},
		{"OwnerIgnoreAdverts", mod(func(c *vrrp.Config) { c.OwnerIgnoreAdverts = true })},
		{"VirtualMAC", mod(func(c *vrrp.Config) { c.VirtualMACTransmitBase = true })},
		{"VirtualMAC", mod(func(c *vrrp.Config) { c.VirtualMACInterface = "vrrp.51" })},
		{"VirtualMAC", mod(func(c *vrrp.Config) { c.VirtualMAC, c.UnicastPeers = true, []netip.Addr{src4} })},
		{"VirtualMACInterface", mod(func(c *vrrp.Config) { c.VirtualMAC, c.VirtualMACInterface = true, "a-name-too-long-for-linux" })},
		{"VirtualAddresses[2]", mod(func(c *vrrp.Config) { c.VirtualAddresses = []netip.Addr{vip4, src4, vip4} })},
		{"UnicastMinTTL", mod(func(c *vrrp.Config) { c.UnicastMinTTL, c.UnicastMaxTTL = 100, 64 })},
		{"UnicastSource", mod(func(c *vrrp.Config) { c.UnicastSource, c.UnicastPeers = vip4, []netip.Addr{src4} })},
	}
	var lan fakelan.LAN
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			_, err := vrrp.NewRouterConn(c.cfg, lan.Conn(src4), src4)
			require.ErrorIs(t, err, vrrp.ErrConfig)
			assert.True(t, strings.Contains(err.Error(), ": "+c.field+": "), "%q does not name %s", err, c.field)
			assert.Equal(t, err, c.cfg.Validate(), "Validate disagrees with NewRouterConn")
			var ce *vrrp.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, c.field, ce.Field)
			assert.Equal(t, "vrrp: invalid config: "+ce.Field+": "+ce.Reason, err.Error())
		})
	}

	require.NoError(t, routerConfig(100).Validate())
	_, err := vrrp.NewRouterConn(mod(func(c *vrrp.Config) { c.VirtualMAC = true }), lan.Conn(src4), src4)
	assert.ErrorContains(t, err, "VirtualMAC: the macvlan is made by NewRouter, not over an injected Conn")

	// The real constructor refuses a unicast source that is not an
	// address of the interface.
	_, err = vrrp.NewRouter(mod(func(c *vrrp.Config) {
		c.Interface, c.UnicastSource, c.UnicastPeers = "lo", src4, []netip.Addr{vip4}
	}))
	require.ErrorIs(t, err, vrrp.ErrConfig)
	assert.Contains(t, err.Error(), "UnicastSource: 192.0.2.1 is not an address of lo")

	// The real constructor refuses an interface that does not exist.
	_, err = vrrp.NewRouter(mod(func(c *vrrp.Config) { c.Interface = "vk-no-such-if" }))
	require.ErrorIs(t, err, vrrp.ErrConfig)
	assert.Contains(t, err.Error(), "Interface")
}

// TestRouterCheckWeight lowers a master's priority with a failing check's
// negative weight: the peer preempts it, and gets preempted back when the
// check recovers (keepalived's track_script weight).
func TestRouterCheckWeight(t *testing.T) {
	var lan fakelan.LAN
	var failing atomic.Bool
	cfgA := routerConfig(100)
	cfgA.Checks = []vrrp.Check{{Name: "backend", Interval: 10 * time.Millisecond, Weight: -60,
		Run: func(context.Context) error {
			if failing.Load() {
				return errors.New("backend down")
			}
			return nil
		}}}
	a, b := startPair(t, &lan, cfgA, routerConfig(80))

	failing.Store(true) // 100 - 60 = 40 < 80
	waitState(t, b, vrrp.Master, time.Second)
	waitState(t, a, vrrp.Backup, time.Second)
	assert.Equal(t, uint8(40), b.LastMaster().Priority)

	failing.Store(false)
	waitState(t, a, vrrp.Master, time.Second)
	waitState(t, b, vrrp.Backup, time.Second)
}

// TestRouterCheckFault puts a master in FAULT with a failing weight-0
// check after Fall failures, and brings it back after Rise successes.
func TestRouterCheckFault(t *testing.T) {
	var lan fakelan.LAN
	var failing atomic.Bool
	var runs atomic.Int64
	cfg := routerConfig(100)
	cfg.Checks = []vrrp.Check{{Name: "haproxy", Interval: 10 * time.Millisecond, Fall: 3, Rise: 2,
		Run: func(context.Context) error {
			runs.Add(1)
			if failing.Load() {
				return errors.New("haproxy down")
			}
			return nil
		}}}
	r, err := vrrp.NewRouterConn(cfg, lan.Conn(src4), src4)
	require.NoError(t, err)
	events := r.Subscribe(context.Background())
	runRouter(t, r)
	waitState(t, r, vrrp.Master, time.Second)

	failing.Store(true)
	from := runs.Load()
	for e := nextTransition(t, events); e.To != vrrp.Fault; e = nextTransition(t, events) {
	}
	assert.GreaterOrEqual(t, runs.Load()-from, int64(3), "FAULT before Fall failures")
	assert.Equal(t, uint64(1), r.Stats().PriorityZeroSent, "a master in FAULT steps down with priority 0")

	failing.Store(false)
	e := nextTransition(t, events)
	assert.Equal(t, vrrp.Transition{From: vrrp.Fault, To: vrrp.Backup, Reason: vrrp.ReasonFaultCleared}, transitionOf(e))
	waitState(t, r, vrrp.Master, time.Second)
}

func TestCheckRefused(t *testing.T) {
	ok := func(context.Context) error { return nil }
	for _, c := range []vrrp.Check{
		{Run: ok},
		{Name: "x"},
		{Name: "x", Run: ok, Weight: 254},
		{Name: "x", Run: ok, Rise: -1},
	} {
		cfg := routerConfig(100)
		cfg.Checks = []vrrp.Check{c}
		var lan fakelan.LAN
		_, err := vrrp.NewRouterConn(cfg, lan.Conn(src4), src4)
		require.ErrorIs(t, err, vrrp.ErrConfig)
		assert.Contains(t, err.Error(), "Checks[0]")
	}
}

// TestRouterLowerPriorityFloodBounded: a master flooded with
// lower-priority advertisements answers at most once an interval, reports
// at most one EventLowerPriority an interval, and logs one warning.
func TestRouterLowerPriorityFloodBounded(t *testing.T) {
	var lan fakelan.LAN
	logs := &logrec.Recorder{Min: slog.LevelWarn}
	cfg := routerConfig(255)
	cfg.Logger = slog.New(logs)
	conn := lan.Conn(src4)
	r, err := vrrp.NewRouterConn(cfg, conn, src4)
	require.NoError(t, err)
	events := r.Subscribe(context.Background())
	runRouter(t, r)
	waitState(t, r, vrrp.Master, time.Second)
	for e := range events {
		if e.Kind == vrrp.EventTransition && e.To == vrrp.Master {
			break
		}
	}

	peer := netip.MustParseAddr("192.0.2.2")
	a := vrrp.Advertisement{Version: vrrp.Version3, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 100,
		Interval: cfg.AdvertInterval, Addresses: []netip.Addr{vip4}}
	b, err := a.Append(nil, peer, vrrp.MulticastGroupIPv4, vrrp.ChecksumPseudoHeader)
	require.NoError(t, err)
	before := r.Stats()
	start := time.Now()
	// Bursts that fit the router's queue, each waited for: none is lost.
	const bursts, burst = 20, 50
	for i := range bursts {
		for range burst {
			conn.Inject(b, vrrp.PacketInfo{Src: peer, Dst: vrrp.MulticastGroupIPv4, TTL: 255})
		}
		want := before.AdvertsReceived + uint64((i+1)*burst)
		require.Eventually(t, func() bool { return r.Stats().AdvertsReceived == want }, 5*time.Second, time.Millisecond,
			"burst %d did not arrive whole", i)
	}
	elapsed := time.Since(start)
	received := r.Stats().AdvertsReceived - before.AdvertsReceived

	answers := 0
	for done := false; !done; {
		select {
		case e := <-events:
			if e.Kind == vrrp.EventLowerPriority {
				answers++
			}
		case <-time.After(100 * time.Millisecond):
			done = true
		}
	}
	intervals := int(elapsed/cfg.AdvertInterval) + 2
	assert.GreaterOrEqual(t, answers, 1, "the flood was never answered")
	assert.LessOrEqual(t, answers, intervals, "%d lower-priority advertisements (in %v) were answered %d times", received, elapsed, answers)
	assert.Equal(t, 1, logs.Count(""), "the flood was logged more than once")
	assert.Equal(t, vrrp.Master, r.State())
}

// TestRouterTakesNothingBeforeRunAndEveryMessageAfter: what arrives
// before Run is dropped, not queued; after it, the router handles every
// advertisement, however fast they come: the reader hands each to it
// before it reads the next.
func TestRouterTakesNothingBeforeRunAndEveryMessageAfter(t *testing.T) {
	var lan fakelan.LAN
	conn := lan.Conn(src4)
	r, err := vrrp.NewRouterConn(routerConfig(100), conn, src4)
	require.NoError(t, err)
	peer := netip.MustParseAddr("192.0.2.2")
	a := vrrp.Advertisement{Version: vrrp.Version3, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 200,
		Interval: 20 * time.Millisecond, Addresses: []netip.Addr{vip4}}
	b, err := a.Append(nil, peer, vrrp.MulticastGroupIPv4, vrrp.ChecksumPseudoHeader)
	require.NoError(t, err)
	info := vrrp.PacketInfo{Src: peer, Dst: vrrp.MulticastGroupIPv4, TTL: 255}
	for range 200 {
		conn.Inject(b, info) // read and dropped: the router is not running
	}
	// The reader has taken all but what its channel still buffers.
	require.Eventually(t, func() bool { return conn.Queued() == 0 }, time.Second, time.Millisecond)

	runRouter(t, r)
	waitState(t, r, vrrp.Backup, time.Second)
	const flood = 3000
	for range flood {
		conn.Inject(b, info)
	}
	require.Eventually(t, func() bool { return r.Stats().AdvertsReceived >= flood }, 5*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond) // for anything more to show
	// One more than the flood at most: the reader may have held the last
	// message sent before Run when Run started. A router that queued before
	// Run would have received its whole queue on top.
	assert.LessOrEqual(t, r.Stats().AdvertsReceived, uint64(flood+1), "what came before Run was queued")
}

// TestRouterFaultWhenSendsFail: a master none of whose advertisements
// leaves for a Master_Down_Interval goes to FAULT (giving the address up)
// rather than holding it without advertising.
func TestRouterFaultWhenSendsFail(t *testing.T) {
	var lan fakelan.LAN
	conn := lan.Conn(src4)
	cfg := routerConfig(255)
	r, err := vrrp.NewRouterConn(cfg, conn, src4)
	require.NoError(t, err)
	events := r.Subscribe(context.Background())
	runRouter(t, r)
	waitState(t, r, vrrp.Master, time.Second)

	conn.FailSends.Store(true)
	failing := time.Now()
	var e vrrp.Event
	for e = nextTransition(t, events); e.To != vrrp.Fault; e = nextTransition(t, events) {
	}
	// Master_Down_Interval at priority 255, 20 ms: 60 ms + 1/256 of 20 ms.
	mdi := 3*cfg.AdvertInterval + cfg.AdvertInterval/256
	assert.GreaterOrEqual(t, e.Time.Sub(failing), mdi, "FAULT before a Master_Down_Interval of failures")
	assert.Equal(t, vrrp.Master, e.From)
	assert.Positive(t, r.Stats().SendErrors)
}

// TestRouterReportsSocketDrops: the overflow count a message brings is
// the router's SocketDrops.
func TestRouterReportsSocketDrops(t *testing.T) {
	var lan fakelan.LAN
	conn := lan.Conn(src4)
	r, err := vrrp.NewRouterConn(routerConfig(100), conn, src4)
	require.NoError(t, err)
	runRouter(t, r)
	waitState(t, r, vrrp.Backup, time.Second)
	peer := netip.MustParseAddr("192.0.2.2")
	a := vrrp.Advertisement{Version: vrrp.Version3, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 200,
		Interval: 20 * time.Millisecond, Addresses: []netip.Addr{vip4}}
	b, err := a.Append(nil, peer, vrrp.MulticastGroupIPv4, vrrp.ChecksumPseudoHeader)
	require.NoError(t, err)
	conn.Inject(b, vrrp.PacketInfo{Src: peer, Dst: vrrp.MulticastGroupIPv4, TTL: 255, Drops: 7})
	// The mux notes the drops, then hands the message over: wait for both.
	require.Eventually(t, func() bool { s := r.Stats(); return s.SocketDrops == 7 && s.AdvertsReceived == 1 }, time.Second, time.Millisecond,
		"the drops counted and the message that tells of them still handled: %+v", r.Stats())
}

// TestAddressInterface: the virtual addresses go on the macvlan of the
// virtual MAC, named as keepalived names it for IPv4, or on Interface.
func TestAddressInterface(t *testing.T) {
	c := routerConfig(100)
	assert.Equal(t, "eth0", c.AddressInterface())
	c.VirtualMAC = true
	assert.Equal(t, "vrrp.51", c.AddressInterface())
	c.VirtualAddresses = []netip.Addr{vip6}
	assert.Equal(t, "vrrp6.51", c.AddressInterface())
	c.VirtualMACInterface = "vmac0"
	assert.Equal(t, "vmac0", c.AddressInterface())
}
