package vrrp

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventRouter is a router bare but for what events and Stats use.
func eventRouter() *Router { return &Router{mux: &mux{}} }

// numbered is the event numbered i.
func numbered(i int) Event {
	return Event{Time: time.Unix(int64(i), 0), Kind: EventTransition, From: Backup, To: Master}
}

// number is the number of a numbered event.
func number(e Event) int { return int(e.Time.Unix()) }

// publishN publishes the events numbered from to to-1.
func publishN(r *Router, from, to int) {
	for i := from; i < to; i++ {
		r.publish(numbered(i))
	}
}

// receive reads n events from ch and returns their numbers.
func receive(t *testing.T, ch <-chan Event, n int) []int {
	t.Helper()
	var got []int
	for range n {
		e, ok := <-ch
		require.True(t, ok, "closed after %v", got)
		got = append(got, number(e))
	}
	return got
}

// span returns the numbers from to to-1.
func span(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

// subs returns how many subscriptions r has.
func subs(r *Router) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.subs)
}

// assertClosed asserts that ch is closed, with nothing more to receive;
// in a bubble, after synctest.Wait.
func assertClosed(t *testing.T, ch <-chan Event) {
	t.Helper()
	select {
	case e, ok := <-ch:
		assert.False(t, ok, "received %v", number(e))
	default:
		t.Error("not closed")
	}
}

// assertIdle asserts that nothing is ready on ch; in a bubble, after
// synctest.Wait.
func assertIdle(t *testing.T, ch <-chan Event) {
	t.Helper()
	select {
	case e, ok := <-ch:
		t.Errorf("received %v (open: %v)", number(e), ok)
	default:
	}
}

// deliverers counts the goroutines of the caller's synctest bubble that
// deliver events; after synctest.Wait, a goroutine counted runs still.
func deliverers(t *testing.T) int {
	t.Helper()
	buf := make([]byte, 1<<16)
	header, _, _ := strings.Cut(string(buf[:runtime.Stack(buf, false)]), "\n")
	_, bubble, ok := strings.Cut(header, ", synctest bubble ")
	require.True(t, ok, "not in a bubble: %s", header)
	bubble = ", synctest bubble " + strings.TrimSuffix(bubble, "]:") + "]"
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(header, bubble) && strings.Contains(g, ".(*subscription).deliver(") {
			count++
		}
	}
	return count
}

func TestSubscribeDeliversInOrder(t *testing.T) {
	r := eventRouter()
	a, b := r.Subscribe(t.Context()), r.Subscribe(t.Context())
	publishN(r, 0, 100)
	assert.Equal(t, span(0, 100), receive(t, a, 100))
	assert.Equal(t, span(0, 100), receive(t, b, 100))
	publishN(r, 100, 110)
	assert.Equal(t, span(100, 110), receive(t, b, 10))
	assert.Equal(t, span(100, 110), receive(t, a, 10))
	assert.Zero(t, r.Stats().EventsDropped)
}

func TestSubscriptionIdleHasNoGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := eventRouter()
		ch := r.Subscribe(t.Context())
		synctest.Wait()
		assert.Zero(t, deliverers(t), "after Subscribe")

		publishN(r, 0, 3)
		synctest.Wait()
		assert.Equal(t, 1, deliverers(t), "with events pending")
		assert.Equal(t, span(0, 3), receive(t, ch, 3))
		synctest.Wait()
		assert.Zero(t, deliverers(t), "after delivering")

		publishN(r, 3, 5)
		assert.Equal(t, span(3, 5), receive(t, ch, 2))
		synctest.Wait()
		assert.Zero(t, deliverers(t), "after delivering again")
		assertIdle(t, ch)
	})
}

func TestSubscriptionDropsOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := eventRouter()
		ch := r.Subscribe(t.Context())
		publishN(r, 0, 1000) // never waits for the reader
		synctest.Wait()
		assert.Equal(t, uint64(1000-subscriptionQueue), r.Stats().EventsDropped)

		// The first is on offer from the start, and cannot be taken
		// back; then come the newest.
		want := append([]int{0}, span(1000-subscriptionQueue+1, 1000)...)
		assert.Equal(t, want, receive(t, ch, subscriptionQueue))
		synctest.Wait()
		assertIdle(t, ch)
		assert.Zero(t, deliverers(t))

		publishN(r, 1000, 1001)
		assert.Equal(t, []int{1000}, receive(t, ch, 1))
		assert.Equal(t, uint64(1000-subscriptionQueue), r.Stats().EventsDropped)
	})
}

func TestSubscriptionCancel(t *testing.T) {
	for _, pending := range []int{0, 10} {
		t.Run(map[int]string{0: "idle", 10: "delivering"}[pending], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := eventRouter()
				ctx, cancel := context.WithCancel(t.Context())
				ch := r.Subscribe(ctx)
				other := r.Subscribe(t.Context())
				publishN(r, 0, pending)
				synctest.Wait()
				assert.Equal(t, min(pending, 1)*2, deliverers(t))

				cancel()
				synctest.Wait()
				assertClosed(t, ch) // the pending events are dropped
				assert.Equal(t, 1, subs(r), "the subscription stays")
				assert.Equal(t, min(pending, 1), deliverers(t))

				publishN(r, pending, pending+1)
				assert.Equal(t, span(0, pending+1), receive(t, other, pending+1))
				synctest.Wait()
				assert.Zero(t, deliverers(t))
			})
		})
	}
}

func TestSubscribeCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := eventRouter()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		ch := r.Subscribe(ctx)
		synctest.Wait()
		assertClosed(t, ch)
		assert.Zero(t, subs(r))
	})
}

func TestSubscriptionRouterDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := eventRouter()
		busy, idle := r.Subscribe(t.Context()), r.Subscribe(t.Context())
		publishN(r, 0, subscriptionQueue)
		assert.Equal(t, span(0, subscriptionQueue), receive(t, idle, subscriptionQueue))
		synctest.Wait()

		r.endSubscriptions()
		synctest.Wait()
		assertClosed(t, idle)
		assert.Equal(t, 1, subs(r))
		assert.Equal(t, 1, deliverers(t))

		// Everything queued before the stop comes first.
		assert.Equal(t, span(0, subscriptionQueue), receive(t, busy, subscriptionQueue))
		synctest.Wait()
		assertClosed(t, busy)
		assert.Zero(t, subs(r))
		assert.Zero(t, deliverers(t))
		assert.Zero(t, r.Stats().EventsDropped)
	})
}

func TestSubscribeAfterDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := eventRouter()
		r.endSubscriptions()
		ch := r.Subscribe(t.Context())
		assertClosed(t, ch)
		assert.Zero(t, subs(r))
		synctest.Wait()
		assert.Zero(t, deliverers(t))
	})
}

// TestRateLimit: one log line per logInterval, the next saying how many
// were left out.
func TestRateLimit(t *testing.T) {
	var l rateLimit
	t0 := time.Unix(1e9, 0)
	for i, c := range []struct {
		at         time.Duration
		ok         bool
		suppressed int
	}{{0, true, 0}, {time.Second, false, 0}, {9 * time.Second, false, 0}, {10 * time.Second, true, 2}, {11 * time.Second, false, 0}} {
		ok, n := l.allow(t0.Add(c.at))
		if ok != c.ok || n != c.suppressed {
			t.Errorf("call %d at %v: allow = %v, %d; want %v, %d", i, c.at, ok, n, c.ok, c.suppressed)
		}
	}
}
