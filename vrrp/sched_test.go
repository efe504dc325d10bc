package vrrp_test

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/vrrp"
)

// A clockConn is a Conn that records when each advertisement left, by the
// clock of the synctest bubble it runs in, and may take time to send
// (stall) as a loaded host does. Nothing arrives on it but what inject
// queues.
type clockConn struct {
	mu    sync.Mutex
	sent  map[uint8][]time.Time // by VRID
	stall func(n int) time.Duration
	in    chan clockPacket
	done  chan struct{}
	once  sync.Once
}

// A clockPacket is a message a clockConn's reader gets.
type clockPacket struct {
	msg  []byte
	info vrrp.PacketInfo
}

func newClockConn() *clockConn {
	return &clockConn{sent: map[uint8][]time.Time{}, in: make(chan clockPacket, 16), done: make(chan struct{})}
}

func (c *clockConn) ReadFrom(b []byte) (int, vrrp.PacketInfo, error) {
	select {
	case p := <-c.in:
		return copy(b, p.msg), p.info, nil
	case <-c.done:
		return 0, vrrp.PacketInfo{}, net.ErrClosed
	}
}

func (c *clockConn) WriteTo(b []byte, src, dst netip.Addr) error {
	c.mu.Lock()
	var stall time.Duration
	if c.stall != nil {
		stall = c.stall(len(c.sent[b[1]]))
	}
	c.sent[b[1]] = append(c.sent[b[1]], time.Now())
	c.mu.Unlock()
	time.Sleep(stall)
	return nil
}

func (c *clockConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return nil
}

func (c *clockConn) times(vrid uint8) []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.sent[vrid]...)
}

// runOwner runs an address owner (priority 255: master at once) of vrid
// over conn, advertising every interval, for d of the bubble's time.
func runOwner(t *testing.T, conn vrrp.Conn, vrid uint8, interval, d time.Duration) {
	cfg := routerConfig(255)
	cfg.VRID, cfg.AdvertInterval = vrid, interval
	r, err := vrrp.NewRouterConn(cfg, conn, src4)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	require.NoError(t, r.Run(ctx))
}

// TestSchedulerCadence runs a master for 10 s of a synctest bubble's
// clock: the Adver_Timer keeps its cadence (RFC 5798 §6.4.3, restarted
// from when it was due): exactly one advertisement every interval, also
// when each send takes part of the interval; ticks a stall misses are
// skipped, never sent in a burst.
func TestSchedulerCadence(t *testing.T) {
	const interval = 10 * time.Millisecond
	for _, c := range []struct {
		name  string
		stall func(n int) time.Duration
		// late: the advertisements sent off the cadence; skipped: the
		// ticks missed entirely
		late, skipped int
	}{
		{"sends take no time", nil, 0, 0},
		{"every send takes 3 ms", func(int) time.Duration { return 3 * time.Millisecond }, 0, 0},
		// The 100th send, at 1 s, stalls 23 ms: the tick of 1.01 s fires
		// late, at 1.023 s, that of 1.02 s is skipped, 1.03 s is on time.
		{"one send stalls 23 ms", func(n int) time.Duration {
			if n == 100 {
				return 23 * time.Millisecond
			}
			return 0
		}, 1, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				conn := newClockConn()
				conn.stall = c.stall
				start := time.Now()
				runOwner(t, conn, 1, interval, 10*time.Second+interval/2)
				times := conn.times(1)
				// One at start, one every interval after, and the priority 0
				// of the stop.
				assert.Len(t, times, 1000+1+1-c.skipped)
				late := 0
				for i, at := range times[:len(times)-1] {
					if at.Sub(start)%interval != 0 {
						late++
					}
					if i > 0 {
						assert.GreaterOrEqual(t, at.Sub(times[i-1]), interval/2, "advertisement %d: a burst", i)
					}
				}
				assert.Equal(t, c.late, late, "advertisements off the cadence")
			})
		})
	}
}

// TestSchedulerFiresTogether runs two masters over one Conn, as on one
// interface, their Adver_Timers half a millisecond apart: the later fires
// with the earlier (within a tenth of the interval), early by that half millisecond, and keeps
// its own cadence, one advertisement an interval.
func TestSchedulerFiresTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 10 * time.Millisecond
		conn := newClockConn()
		var wg sync.WaitGroup
		wg.Go(func() { runOwner(t, conn, 1, interval, time.Second) })
		time.Sleep(interval + interval/20) // the second's ticks fall 0.5 ms after the first's
		wg.Go(func() { runOwner(t, conn, 2, interval, 900*time.Millisecond) })
		wg.Wait()

		first, second := conn.times(1), conn.times(2)
		require.Greater(t, len(second), 90)
		together := 0
		for _, at := range second[1 : len(second)-1] {
			for _, f := range first {
				if at.Equal(f) {
					together++
				}
			}
		}
		assert.Equal(t, len(second)-2, together, "every periodic advertisement of the second left with one of the first")
		for i := 2; i < len(second)-1; i++ {
			assert.Equal(t, interval, second[i].Sub(second[i-1]), "advertisement %d", i)
		}
	})
}

// TestRouterCountsWhatNoRouterTakes injects, over a fake socket, a
// message for a VRID no router runs, one too short to carry a VRID, and
// one that says the socket dropped 7 for want of room: each is counted,
// and nothing else changes.
func TestRouterCountsWhatNoRouterTakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn := newClockConn()
		cfg := routerConfig(100)
		cfg.AdvertInterval = time.Second
		r, err := vrrp.NewRouterConn(cfg, conn, src4)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		synctest.Wait()
		require.Equal(t, vrrp.Backup, r.State())

		other := v3(vip4)
		other.VRID = 99
		msg, err := other.Append(nil, netip.MustParseAddr("192.0.2.9"), vrrp.MulticastGroupIPv4, 0)
		require.NoError(t, err)
		info := vrrp.PacketInfo{Src: netip.MustParseAddr("192.0.2.9"), Dst: vrrp.MulticastGroupIPv4, TTL: vrrp.TTL}
		conn.in <- clockPacket{msg: msg, info: info}
		conn.in <- clockPacket{msg: []byte{0x31}, info: info}
		overflowed := info
		overflowed.Drops = 7
		conn.in <- clockPacket{msg: msg, info: overflowed}
		synctest.Wait()

		s := r.Stats()
		assert.Equal(t, uint64(2), s.VRIDErrors)
		assert.Equal(t, uint64(1), s.LengthErrors)
		assert.Equal(t, uint64(7), s.SocketDrops)
		assert.Zero(t, s.AdvertsReceived)
		assert.Equal(t, vrrp.Backup, r.State())
		assert.False(t, r.LastMaster().Addr.IsValid(), "a message for another VRID was taken for a master's")
		cancel()
		require.NoError(t, <-done)
	})
}
