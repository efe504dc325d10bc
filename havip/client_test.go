package havip_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/internal/testkit/logrec"
)

var (
	vip     = netip.MustParsePrefix("192.0.2.100/32")
	vip6    = netip.MustParsePrefix("2001:db8::100/128")
	hostNet = []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("2001:db8::1/64")}
)

// fakeHost is an interface's addresses in memory.
type fakeHost struct {
	mu      sync.Mutex
	failAdd int // the next failAdd calls of Add fail
	addrs   []netip.Prefix
	removed chan netip.Prefix
	closed  bool
	listed  int           // calls of Addresses
	gate    chan struct{} // if set, Addresses waits until it is closed
}

func newFakeHost(addrs ...netip.Prefix) *fakeHost {
	return &fakeHost{addrs: addrs, removed: make(chan netip.Prefix, 8)}
}

func (h *fakeHost) Interface() *net.Interface {
	return &net.Interface{Name: "eth0", Index: 2, HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}}
}

func (h *fakeHost) Add(p netip.Prefix) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failAdd > 0 {
		h.failAdd--
		return errors.New("EBUSY")
	}
	if !slices.Contains(h.addrs, p) {
		h.addrs = append(h.addrs, p)
	}
	return nil
}

func (h *fakeHost) Remove(p netip.Prefix) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.addrs = slices.DeleteFunc(h.addrs, func(q netip.Prefix) bool { return q == p })
	return nil
}

func (h *fakeHost) Addresses() ([]netip.Prefix, error) {
	h.mu.Lock()
	gate := h.gate
	h.mu.Unlock()
	if gate != nil {
		<-gate
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.listed++
	return slices.Clone(h.addrs), nil
}

// hold makes Addresses wait until the returned release is called.
func (h *fakeHost) hold() (release func()) {
	gate := make(chan struct{})
	h.mu.Lock()
	h.gate = gate
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		h.gate = nil
		h.mu.Unlock()
		close(gate)
	}
}

func (h *fakeHost) timesListed() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.listed
}

func (h *fakeHost) has(p netip.Prefix) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.addrs, p)
}

// removeBehindBack removes p as another program would, and says so.
func (h *fakeHost) removeBehindBack(p netip.Prefix) {
	h.Remove(p)
	h.removed <- p
}

func (h *fakeHost) WatchRemoved(ctx context.Context, removed func(netip.Prefix)) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-h.removed:
			removed(p)
		}
	}
}

func (h *fakeHost) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

func (h *fakeHost) Close() error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	return nil
}

// burstRecord is one burst an announcer was asked for.
type burstRecord struct {
	at     time.Time
	rounds int
	addrs  []netip.Addr
}

type fakeAnnouncer struct {
	mu     sync.Mutex
	bursts []burstRecord
}

func (a *fakeAnnouncer) BurstN(ctx context.Context, rounds int, addrs ...netip.Addr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.bursts = append(a.bursts, burstRecord{time.Now(), rounds, slices.Clone(addrs)})
	return nil
}

func (a *fakeAnnouncer) Close() error { return nil }

func (a *fakeAnnouncer) list() []burstRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.bursts)
}

func config(announce *havip.Announce) havip.Config {
	return havip.Config{Interface: "eth0", Addresses: []netip.Prefix{vip, vip6}, Announce: announce,
		Logger: slog.New(slog.DiscardHandler)}
}

// start runs a client in the synctest bubble until the test ends.
func start(t *testing.T, cfg havip.Config, host *fakeHost, ann *fakeAnnouncer) *havip.Client {
	c, err := havip.NewWith(cfg, host, ann)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	synctest.Wait()
	return c
}

// TestRhythm checks keepalived's announcement rhythm on becoming master:
// a burst at once, a second after garp_master_delay, a refresh every
// garp_master_refresh; and that losing mastership stops it and removes
// the addresses.
func TestRhythm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		host, ann := newFakeHost(hostNet...), &fakeAnnouncer{}
		rhythm := havip.Announce{Repeat: 5, Delay: time.Second, Refresh: 5 * time.Second, RefreshRepeat: 1}
		c := start(t, config(&rhythm), host, ann)
		assert.False(t, host.has(vip))

		t0 := time.Now()
		c.SetMaster(true)
		synctest.Wait()
		assert.True(t, host.has(vip) && host.has(vip6), "addresses not added")
		assert.True(t, c.Status().Master)

		time.Sleep(11*time.Second + time.Millisecond)
		synctest.Wait()
		var at []time.Duration
		var rounds []int
		for _, b := range ann.list() {
			at = append(at, b.at.Sub(t0))
			rounds = append(rounds, b.rounds)
			assert.Equal(t, []netip.Addr{vip.Addr(), vip6.Addr()}, b.addrs)
		}
		// At once (5), after the 1 s delay (5), refreshes at 5 s and 10 s (1).
		assert.Equal(t, []time.Duration{0, time.Second, 5 * time.Second, 10 * time.Second}, at)
		assert.Equal(t, []int{5, 5, 1, 1}, rounds)

		c.SetMaster(false)
		synctest.Wait()
		assert.False(t, host.has(vip) || host.has(vip6), "addresses left behind")
		n := len(ann.list())
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Len(t, ann.list(), n, "a backup announced")
		assert.False(t, c.Status().Master)
	})
}

func TestKeepalivedDefaultRhythm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		host, ann := newFakeHost(hostNet...), &fakeAnnouncer{}
		c := start(t, config(nil), host, ann)
		t0 := time.Now()
		c.SetMaster(true)
		time.Sleep(time.Minute)
		synctest.Wait()
		var at []time.Duration
		for _, b := range ann.list() {
			at = append(at, b.at.Sub(t0))
		}
		assert.Equal(t, []time.Duration{0, 5 * time.Second}, at)
	})
}

// TestStaleAddressesRemoved checks that an address an earlier run left on
// the interface is removed at start, whatever its prefix length (an
// earlier run may have been configured with another), and no other.
func TestStaleAddressesRemoved(t *testing.T) {
	for _, stale := range [][]netip.Prefix{
		{vip, vip6},
		{netip.PrefixFrom(vip.Addr(), 24), netip.PrefixFrom(vip6.Addr(), 64)},
		{vip, netip.PrefixFrom(vip.Addr(), 24), netip.PrefixFrom(vip6.Addr(), 64)},
	} {
		t.Run(fmt.Sprint(stale), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				neighbour := netip.MustParsePrefix("192.0.2.101/24") // not ours, in the same subnet
				host := newFakeHost(append(slices.Clone(hostNet), append(stale, neighbour)...)...)
				start(t, config(nil), host, &fakeAnnouncer{})
				got, _ := host.Addresses()
				assert.ElementsMatch(t, append(slices.Clone(hostNet), neighbour), got)
			})
		})
	}
}

// TestBlipBeginsANewTerm: a master told "not master" and "master" again
// before Run could look ends its term and begins a new one, as it does
// when it sees both: the claim in flight is cancelled and made again, a
// burst goes out at once and the rhythm starts over, the addresses are
// checked; they stay on the interface meanwhile.
func TestBlipBeginsANewTerm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &blockingBinder{release: make(chan struct{})}
		cfg := config(&havip.Announce{Repeat: 3, Delay: 5 * time.Second})
		cfg.Binder, cfg.ReassertInterval = b, time.Hour
		host, ann := newFakeHost(hostNet...), &fakeAnnouncer{}
		c := start(t, cfg, host, ann)
		t0 := time.Now()
		c.SetMaster(true)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		require.Equal(t, 1, b.calls)
		listed := host.timesListed()

		// Run busy (in the Host, for an address reported removed) while
		// mastership is lost and regained: it sees only the end.
		release := host.hold()
		host.removed <- vip
		synctest.Wait()
		c.SetMaster(false)
		c.SetMaster(true)
		release()
		synctest.Wait()

		assert.Equal(t, 1, b.canceled, "the old term's claim was not cancelled")
		assert.Equal(t, 2, b.calls, "the new term made no claim")
		assert.Greater(t, host.timesListed(), listed+1, "the addresses were not checked for the new term")
		assert.True(t, host.has(vip) && host.has(vip6), "the addresses left the interface")
		assert.True(t, c.Status().Master)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		var at []time.Duration
		for _, x := range ann.list() {
			at = append(at, x.at.Sub(t0))
		}
		// The first term's burst, and its delayed one never sent: the new
		// term's at once and 5 s later.
		assert.Equal(t, []time.Duration{0, 3 * time.Second, 8 * time.Second}, at)

		// Nothing was coalesced away when Run saw each change.
		c.SetMaster(false)
		synctest.Wait()
		c.SetMaster(true)
		synctest.Wait()
		assert.Equal(t, 2, b.canceled)
		assert.Equal(t, 3, b.calls)
	})
}

// TestReaddAndReannounce: an address removed while master comes back; a
// reannounce request sends a burst on a master and nothing on a backup.
func TestReaddAndReannounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		host, ann := newFakeHost(hostNet...), &fakeAnnouncer{}
		c := start(t, config(&havip.Announce{Repeat: 3}), host, ann)
		c.Reannounce()
		synctest.Wait()
		assert.Empty(t, ann.list(), "a backup announced")

		c.SetMaster(true)
		synctest.Wait()
		host.removeBehindBack(vip)
		synctest.Wait()
		assert.True(t, host.has(vip), "removed address not added back")
		assert.Equal(t, uint64(1), c.Status().Readded)

		c.Reannounce()
		synctest.Wait()
		assert.Len(t, ann.list(), 2)
	})
}

// blockingBinder records claims and holds each until its context ends or
// it is released.
type blockingBinder struct {
	mu       sync.Mutex
	calls    int
	canceled int
	err      error
	release  chan struct{}
}

func (b *blockingBinder) Claim(ctx context.Context, addrs []netip.Addr) error {
	b.mu.Lock()
	b.calls++
	err := b.err
	b.mu.Unlock()
	select {
	case <-ctx.Done():
		b.mu.Lock()
		b.canceled++
		b.mu.Unlock()
		return ctx.Err()
	case <-b.release:
		return err
	}
}

// TestBinderCancelledOnLoss: a claim in flight when mastership is lost is
// cancelled (the late-API-call race of keepalived issues 100 and 950), and
// claims are made again every ReassertInterval while master.
func TestBinderCancelledOnLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &blockingBinder{release: make(chan struct{})}
		cfg := config(nil)
		cfg.Binder, cfg.ReassertInterval = b, 10*time.Second
		c := start(t, cfg, newFakeHost(hostNet...), &fakeAnnouncer{})
		c.SetMaster(true)
		synctest.Wait()
		assert.Equal(t, 1, b.calls)
		c.SetMaster(false)
		synctest.Wait()
		assert.Equal(t, 1, b.canceled, "the claim in flight was not cancelled")

		// Claims that succeed at once are repeated while master.
		close(b.release)
		c.SetMaster(true)
		time.Sleep(25 * time.Second)
		synctest.Wait()
		assert.Equal(t, 1+3, b.calls) // at 0, 10 s and 20 s
		assert.Equal(t, uint64(3), c.Status().Claims)

		b.mu.Lock()
		b.err = errors.New("AuthFailure.SecretIdNotFound")
		b.mu.Unlock()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		assert.Equal(t, uint64(1), c.Status().ClaimErrors)
		assert.Contains(t, c.Status().LastClaimErr, "AuthFailure")
		assert.True(t, c.Status().Master, "a failed claim must not cost the addresses on the LAN")
	})
}

// notBoundBinder says the cloud has not taken the announcement, twice.
type notBoundBinder struct {
	mu    sync.Mutex
	calls []time.Time
}

func (b *notBoundBinder) Claim(ctx context.Context, addrs []netip.Addr) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, time.Now())
	if len(b.calls) <= 2 {
		return fmt.Errorf("HAVIP bound elsewhere: %w", havip.ErrNotBound)
	}
	return nil
}

// TestNotBoundReannounces: a Binder that finds the HAVIP not bound here
// makes the client announce again and claim again a second later.
func TestNotBoundReannounces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &notBoundBinder{}
		cfg := config(&havip.Announce{Repeat: 2})
		cfg.Binder, cfg.ReassertInterval = b, time.Minute
		ann := &fakeAnnouncer{}
		c := start(t, cfg, newFakeHost(hostNet...), ann)
		t0 := time.Now()
		c.SetMaster(true)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		var at []time.Duration
		for _, x := range b.calls {
			at = append(at, x.Sub(t0))
		}
		assert.Equal(t, []time.Duration{0, time.Second, 2 * time.Second}, at)
		assert.Len(t, ann.list(), 3, "one burst on becoming master and one per failed claim")
		assert.Equal(t, uint64(1), c.Status().Claims)
	})
}

// TestAddRetried: an address that would not go on is tried again.
func TestAddRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		host := newFakeHost(hostNet...)
		host.failAdd = 1
		c := start(t, config(nil), host, &fakeAnnouncer{})
		c.SetMaster(true)
		synctest.Wait()
		assert.False(t, host.has(vip), "the failing Add succeeded?")
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		assert.True(t, host.has(vip), "not tried again")
	})
}

func TestConfigRefused(t *testing.T) {
	cases := map[string]havip.Config{
		"Interface":              {Addresses: []netip.Prefix{vip}},
		"Addresses":              {Interface: "eth0"},
		"Addresses[0]":           {Interface: "eth0", Addresses: []netip.Prefix{netip.MustParsePrefix("224.0.0.18/32")}},
		"Announce.Repeat":        {Interface: "eth0", Addresses: []netip.Prefix{vip}, Announce: &havip.Announce{}},
		"Announce.RefreshRepeat": {Interface: "eth0", Addresses: []netip.Prefix{vip}, Announce: &havip.Announce{Repeat: 1, Refresh: time.Second}},
		"Addresses[1]": {Interface: "eth0", Addresses: []netip.Prefix{vip, netip.MustParsePrefix("198.51.100.7/32")},
			Binder: subnetBinder{}},
		"Label":            {Interface: "eth0", Addresses: []netip.Prefix{vip}, Label: "eth0:a-very-long-label"},
		"Announce.Delay":   {Interface: "eth0", Addresses: []netip.Prefix{vip}, Announce: &havip.Announce{Repeat: 1, Delay: -time.Second}},
		"ReassertInterval": {Interface: "eth0", Addresses: []netip.Prefix{vip}, ReassertInterval: -time.Second},
		"FailureWeight":    {Interface: "eth0", Addresses: []netip.Prefix{vip}, FailureWeight: 1},
		"FailureHold":      {Interface: "eth0", Addresses: []netip.Prefix{vip}, FailureHold: -time.Second},
		"Announce.LowerPriorityRepeat": {Interface: "eth0", Addresses: []netip.Prefix{vip},
			Announce: &havip.Announce{Repeat: 1, LowerPriorityRepeat: -2}},
	}
	for field, cfg := range cases {
		_, err := havip.NewWith(cfg, newFakeHost(hostNet...), &fakeAnnouncer{})
		require.ErrorIs(t, err, havip.ErrConfig, field)
		assert.Contains(t, err.Error(), ": "+field+": ", field)
		var ce *havip.ConfigError
		require.ErrorAs(t, err, &ce, field)
		assert.Equal(t, field, ce.Field)
		assert.NotEmpty(t, ce.Reason)
		if cfg.Binder == nil { // the Binder's rule needs the host
			assert.Equal(t, err, cfg.Validate(), "Validate disagrees with NewWith: %s", field)
		} else {
			assert.NoError(t, cfg.Validate(), field)
		}
	}
	// The Binder's reason is the reason, and it was given the host's own
	// addresses, not the virtual ones.
	_, err := havip.NewWith(cases["Addresses[1]"], newFakeHost(append(hostNet, vip)...), &fakeAnnouncer{})
	assert.ErrorContains(t, err, "198.51.100.7 is outside every subnet of eth0 [192.0.2.0/24 2001:db8::/64]")
	// Without an AddressChecker, an address outside the interface's
	// subnets is accepted, as keepalived accepts it (a /32 routed to the
	// node, say).
	_, err = havip.NewWith(havip.Config{Interface: "eth0", Addresses: []netip.Prefix{netip.MustParsePrefix("198.51.100.7/32")}},
		newFakeHost(hostNet...), &fakeAnnouncer{})
	assert.NoError(t, err)
}

// subnetBinder is a Binder of a cloud whose addresses belong to one subnet.
type subnetBinder struct{}

func (subnetBinder) Claim(context.Context, []netip.Addr) error { return nil }

func (subnetBinder) CheckAddress(vip netip.Addr, iface string, own []netip.Prefix) error {
	var subnets []netip.Prefix
	for _, p := range own {
		if p.Masked().Contains(vip) {
			return nil
		}
		subnets = append(subnets, p.Masked())
	}
	return fmt.Errorf("%v is outside every subnet of %s %v", vip, iface, subnets)
}

// TestOwner: the address owner's addresses are the interface's own; the
// client announces them while master and leaves them on the interface at
// start and when it stops being master.
func TestOwner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		own := netip.MustParsePrefix("192.0.2.1/24")
		host, ann := newFakeHost(own), &fakeAnnouncer{}
		cfg := havip.Config{Interface: "eth0", Addresses: []netip.Prefix{own}, Owner: true, Logger: slog.New(slog.DiscardHandler)}
		c := start(t, cfg, host, ann)
		assert.True(t, host.has(own), "the owner's address was removed at start")
		c.SetMaster(true)
		synctest.Wait()
		require.NotEmpty(t, ann.list(), "the owner did not announce")
		assert.Equal(t, []netip.Addr{own.Addr()}, ann.list()[0].addrs)
		c.SetMaster(false)
		synctest.Wait()
		assert.True(t, host.has(own), "the owner's address was removed on leaving master")
	})
}

// TestNotOursNotRemoved: an address that was on the interface when the
// client became master was not added by it, and stays when it stops
// being master (keepalived's rule); one it added goes.
func TestNotOursNotRemoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		host := newFakeHost(hostNet...)
		c := start(t, config(nil), host, &fakeAnnouncer{})
		host.Add(vip6) // someone else's, after the clean-up at start
		c.SetMaster(true)
		synctest.Wait()
		assert.True(t, host.has(vip))
		c.SetMaster(false)
		synctest.Wait()
		assert.False(t, host.has(vip), "the address the client added stayed")
		assert.True(t, host.has(vip6), "an address the client did not add was removed")
	})
}

// TestClose: Close releases the Host and the Announcer of a client that
// never ran, is idempotent, and a closed client does not run; Close on a
// running client stops it and removes its addresses.
func TestClose(t *testing.T) {
	host := newFakeHost(hostNet...)
	c, err := havip.NewWith(config(nil), host, &fakeAnnouncer{})
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	assert.True(t, host.isClosed())
	assert.ErrorIs(t, c.Run(context.Background()), havip.ErrClosed)

	synctest.Test(t, func(t *testing.T) {
		host := newFakeHost(hostNet...)
		c, err := havip.NewWith(config(nil), host, &fakeAnnouncer{})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- c.Run(context.Background()) }()
		c.SetMaster(true)
		synctest.Wait()
		require.True(t, host.has(vip))
		require.NoError(t, c.Close())
		require.NoError(t, <-done)
		assert.False(t, host.has(vip), "Close left the address")
		assert.True(t, host.isClosed())
		require.NoError(t, c.Close())
		assert.ErrorIs(t, c.Run(context.Background()), havip.ErrClosed)
	})
}

// TestLowerPriorityBounded: a flood of lower priorities makes one burst of
// garp_lower_prio_repeat frames and one more after garp_lower_prio_delay,
// and one claim, not a burst and a claim each; the rest are counted as
// held. After a second it answers again; with LowerPriorityRepeat -1 it
// claims, and never announces.
func TestLowerPriorityBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		host, ann := newFakeHost(hostNet...), &fakeAnnouncer{}
		rhythm := havip.Announce{Repeat: 5, LowerPriorityRepeat: 2, LowerPriorityDelay: 3 * time.Second}
		cfg := config(&rhythm)
		binder := &contestBinder{t0: time.Now()}
		cfg.Binder, cfg.ReassertInterval = binder, time.Hour
		c := start(t, cfg, host, ann)
		c.SetMaster(true)
		synctest.Wait()
		t0 := time.Now()
		for range 1000 {
			c.Reannounce()
			synctest.Wait()
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		var at []time.Duration
		var rounds []int
		for _, b := range ann.list()[1:] { // after the burst for becoming master
			at = append(at, b.at.Sub(t0))
			rounds = append(rounds, b.rounds)
		}
		assert.Equal(t, []time.Duration{0, 3 * time.Second}, at)
		assert.Equal(t, []int{2, 2}, rounds)
		assert.Equal(t, uint64(999), c.Status().ReannouncesHeld)
		assert.Equal(t, []string{"claim@0s", "claim@0s"}, binder.calls, "not one claim for becoming master and one for the flood")

		c.Reannounce()
		synctest.Wait()
		assert.Len(t, ann.list(), 4, "a lower priority after a quiet is answered")
		assert.Equal(t, []string{"claim@0s", "claim@0s", "claim@5s"}, binder.calls)

		// A flood that goes on, one every 100 ms for 3 s: an answer a
		// second.
		n := len(ann.list())
		for range 30 {
			time.Sleep(100 * time.Millisecond)
			c.Reannounce()
			synctest.Wait()
		}
		var first []int
		for _, b := range ann.list()[n:] {
			if b.rounds == 2 && b.at.Sub(t0) < 9*time.Second { // the first bursts, not the delayed ones
				first = append(first, int(b.at.Sub(t0)/time.Millisecond))
			}
		}
		assert.Len(t, first, 3, "bursts at %v ms", first)
	})
	synctest.Test(t, func(t *testing.T) {
		host, ann := newFakeHost(hostNet...), &fakeAnnouncer{}
		cfg := config(&havip.Announce{Repeat: 5, LowerPriorityRepeat: -1})
		binder := &contestBinder{t0: time.Now()}
		cfg.Binder, cfg.ReassertInterval = binder, time.Hour
		c := start(t, cfg, host, ann)
		c.SetMaster(true)
		synctest.Wait()
		c.Reannounce()
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Len(t, ann.list(), 1, "LowerPriorityRepeat -1 announced for a lower priority")
		assert.Equal(t, []string{"claim@0s", "claim@0s"}, binder.calls, "no claim for a lower priority")
	})
}

// contestBinder is a Reasserter whose reasserts find the addresses taken
// by another node while contested is set.
type contestBinder struct {
	mu        sync.Mutex
	t0        time.Time
	contested bool
	calls     []string // "claim@10s", "reassert@120s": the call and when, from t0
}

func (b *contestBinder) record(call string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, fmt.Sprintf("%s@%gs", call, time.Since(b.t0).Seconds()))
}

func (b *contestBinder) Claim(context.Context, []netip.Addr) error {
	b.record("claim")
	return nil
}

func (b *contestBinder) Reassert(context.Context, []netip.Addr) error {
	b.record("reassert")
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.contested {
		return fmt.Errorf("eni-b holds it: %w", havip.ErrContested)
	}
	return nil
}

func (b *contestBinder) contest(on bool) {
	b.mu.Lock()
	b.contested = on
	b.mu.Unlock()
}

// TestContest: a reassert that finds the addresses taken by another node
// (a second master) leaves them there, is logged once and counted, and is
// no failure to hold them; the client claims them back after a backoff
// that doubles with each contest of the term, up to four reassert
// intervals, or at once when it hears a lower priority, which also ends
// the backoff.
func TestContest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &contestBinder{t0: time.Now()}
		logs := &logrec.Recorder{Min: slog.LevelWarn}
		cfg := config(nil)
		cfg.Binder, cfg.ReassertInterval, cfg.Logger = b, 10*time.Second, slog.New(logs)
		c := start(t, cfg, newFakeHost(hostNet...), &fakeAnnouncer{})
		c.SetMaster(true)
		time.Sleep(15 * time.Second)
		b.contest(true) // from 15 s
		time.Sleep(130 * time.Second)
		synctest.Wait()
		b.contest(false)
		c.Reannounce() // at 145 s: the other master steps down
		time.Sleep(21 * time.Second)
		b.contest(true) // from 166 s
		time.Sleep(34 * time.Second)
		synctest.Wait()

		assert.Equal(t, []string{"claim@0s", "reassert@10s",
			"reassert@20s", "claim@40s", // contested; back after 20 s
			"reassert@50s", "claim@90s", // contested again; back after 40 s
			"reassert@100s", "claim@140s", // and again; 40 s at most
			"claim@145s", "reassert@155s", "reassert@165s", // a lower priority: claimed at once
			"reassert@175s", "claim@195s", // the backoff starts over
		}, b.calls)
		st := c.Status()
		assert.Equal(t, uint64(4), st.Contested)
		assert.Equal(t, b.t0.Add(175*time.Second), st.LastContested)
		assert.Equal(t, uint64(9), st.Claims)
		assert.Zero(t, st.ClaimErrors, "a contest counted as a claim error")
		assert.Zero(t, st.HoldFailures, "a contest counted as a failure to hold the addresses")
		assert.Empty(t, st.HoldError)
		assert.True(t, st.Master)
		assert.Equal(t, 4, logs.Count("another node took the virtual addresses"), "not one warning per contest")
	})
}
