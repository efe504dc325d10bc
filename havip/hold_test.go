package havip_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/internal/testkit/fakelan"
	"github.com/vipkit/vipkit/vrrp"
)

// brokenHost is a fakeHost whose Add fails, as a kernel refuses, while
// broken is set.
type brokenHost struct {
	*fakeHost
	broken sync.Mutex
	fail   bool
}

func (h *brokenHost) setBroken(b bool) {
	h.broken.Lock()
	h.fail = b
	h.broken.Unlock()
}

func (h *brokenHost) Add(p netip.Prefix) error {
	h.broken.Lock()
	fail := h.fail
	h.broken.Unlock()
	if fail {
		return errors.New("operation not permitted")
	}
	return h.fakeHost.Add(p)
}

// node is a vrrp.Router and the havip.Client that follows it, over a
// brokenHost, until the test ends or stop is called.
type node struct {
	r    *vrrp.Router
	c    *havip.Client
	host *brokenHost
	stop func()
}

func startNode(t *testing.T, l *fakelan.LAN, src netip.Addr, prio uint8, cfg havip.Config) *node {
	t.Helper()
	r, err := vrrp.NewRouterConn(vrrp.Config{Interface: "eth0", VRID: 51, Priority: prio,
		AdvertInterval: 100 * time.Millisecond, VirtualAddresses: []netip.Addr{vip.Addr()},
		Logger: slog.New(slog.DiscardHandler)}, l.Conn(netip.Addr{}), src)
	require.NoError(t, err)
	host := &brokenHost{fakeHost: newFakeHost(netip.PrefixFrom(src, 24))}
	cfg.Interface, cfg.Addresses, cfg.Logger = "eth0", []netip.Prefix{vip}, slog.New(slog.DiscardHandler)
	c, err := havip.NewWith(cfg, host, &fakeAnnouncer{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { r.Run(ctx) })
	wg.Go(func() { c.Run(ctx) })
	wg.Go(func() { c.Follow(ctx, r) })
	n := &node{r: r, c: c, host: host}
	var once sync.Once
	n.stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(n.stop)
	return n
}

var (
	srcA = netip.MustParseAddr("192.0.2.1")
	srcB = netip.MustParseAddr("192.0.2.2")
)

// TestMasterThatCannotHoldGoesToFault: a master whose addresses cannot be
// added goes to FAULT and its peer takes over; once FailureHold has passed
// it may be master again, and is when the peer goes and its host works.
func TestMasterThatCannotHoldGoesToFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &fakelan.LAN{}
		a := startNode(t, l, srcA, 150, havip.Config{FailureHold: 5 * time.Second})
		a.host.setBroken(true)
		b := startNode(t, l, srcB, 100, havip.Config{})

		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, vrrp.Fault, a.r.State(), "a master holding nothing")
		assert.Contains(t, a.c.Status().HoldError, "adding 192.0.2.100/32 to eth0: operation not permitted")
		assert.Equal(t, uint64(1), a.c.Status().HoldFailures)
		assert.Equal(t, vrrp.Master, b.r.State())
		assert.True(t, b.host.has(vip))
		assert.False(t, a.host.has(vip))

		// After FailureHold a leaves FAULT; it preempts b, fails again and
		// goes back to FAULT: b is master again a Master_Down_Interval
		// later, and the VIP never stays on a.
		time.Sleep(5 * time.Second)
		synctest.Wait()
		assert.Equal(t, uint64(2), a.c.Status().HoldFailures)
		assert.Equal(t, vrrp.Fault, a.r.State())
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, vrrp.Master, b.r.State())
		assert.True(t, b.host.has(vip))

		// The host works again and b goes: a takes over and holds.
		a.host.setBroken(false)
		b.stop()
		time.Sleep(6 * time.Second)
		synctest.Wait()
		assert.Equal(t, vrrp.Master, a.r.State())
		assert.True(t, a.host.has(vip))
		assert.Empty(t, a.c.Status().HoldError)
	})
}

// TestMasterThatCannotHoldLowersPriority: with a FailureWeight the master
// that cannot hold keeps trying at a lower priority: the peer takes over;
// alone, it stays master and holds the addresses as soon as it can.
func TestMasterThatCannotHoldLowersPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &fakelan.LAN{}
		a := startNode(t, l, srcA, 150, havip.Config{FailureWeight: -100})
		a.host.setBroken(true)
		b := startNode(t, l, srcB, 100, havip.Config{})

		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.Equal(t, vrrp.Backup, a.r.State(), "at 50, a yields to b's 100")
		assert.Equal(t, vrrp.Master, b.r.State())
		assert.True(t, b.host.has(vip))

		b.stop()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.Equal(t, vrrp.Master, a.r.State(), "alone, a is master at 50")
		assert.NotEmpty(t, a.c.Status().HoldError)
		a.host.setBroken(false)
		time.Sleep(1500 * time.Millisecond) // it tries every second
		synctest.Wait()
		assert.True(t, a.host.has(vip))
		assert.Empty(t, a.c.Status().HoldError)
		assert.Equal(t, vrrp.Master, a.r.State())
	})
}

// TestHoldFailureClearedWhenTheInterfaceChanges: a failure to add the
// addresses to an interface says nothing of the one made again in its
// place: the failure is cleared at once, not after FailureHold.
func TestHoldFailureClearedWhenTheInterfaceChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &fakelan.LAN{}
		a := startNode(t, l, srcA, 150, havip.Config{FailureHold: time.Hour})
		a.host.setBroken(true)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.Equal(t, vrrp.Fault, a.r.State())

		a.host.setBroken(false)
		a.host.removed <- netip.Prefix{} // the Host's word for "made again"
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, vrrp.Master, a.r.State(), "still in FAULT for the old interface's failure")
		assert.True(t, a.host.has(vip))
		assert.Empty(t, a.c.Status().HoldError)
	})
}
