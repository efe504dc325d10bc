package netmon_test

import (
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/netmon"
	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// TestHub: two joins of a namespace share one Hub; each follower starts
// with the state as it is and then gets the address events with the
// addresses listed again; a stopped follower gets nothing more; the last
// Leave stops it, and the next Join opens a new one.
func TestHub(t *testing.T) {
	lab := netlab.New(t)
	h := lab.Host("h")
	ifc, _ := lab.Link(h, lab.Host("p"))
	var hub1, hub2 *netmon.Hub
	require.NoError(t, h.Do(func() error {
		netns, err := netmon.CurrentNetns()
		if err != nil {
			return err
		}
		if hub1, err = netmon.Join(netns); err != nil {
			return err
		}
		hub2, err = netmon.Join(netns)
		return err
	}))
	assert.Same(t, hub1, hub2, "two joins of one namespace, two Hubs")

	type seen struct {
		mu     sync.Mutex
		events []netmon.EventType
		addrs  []netip.Prefix // the interface's, as the last event listed them
	}
	index := ifc.Interface().Index
	follow := func(s *seen) func() {
		return hub1.Follow(func(e netmon.Event, _ []netmon.Link, addrs []netmon.Addr) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.events = append(s.events, e.Type)
			if addrs != nil {
				s.addrs = nil
				for _, a := range addrs {
					if a.Index == index {
						s.addrs = append(s.addrs, a.Prefix)
					}
				}
			}
		})
	}
	var a, b seen
	stopA, stopB := follow(&a), follow(&b)
	a.mu.Lock()
	assert.Equal(t, []netmon.EventType{netmon.Lost}, a.events, "a follower starts with the state as it is")
	a.mu.Unlock()

	p := netip.MustParsePrefix("192.0.2.7/24")
	ifc.AddAddr(p)
	for _, s := range []*seen{&a, &b} {
		require.Eventually(t, func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return slices.Contains(s.events, netmon.NewAddr) && slices.Contains(s.addrs, p)
		}, 2*time.Second, time.Millisecond, "a follower did not see %v added", p)
	}

	stopB()
	b.mu.Lock()
	n := len(b.events)
	b.mu.Unlock()
	h.MustRun("ip", "addr", "del", p.String(), "dev", ifc.Name())
	require.Eventually(t, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return slices.Contains(a.events, netmon.DelAddr) && !slices.Contains(a.addrs, p)
	}, 2*time.Second, time.Millisecond)
	b.mu.Lock()
	assert.Len(t, b.events, n, "a stopped follower got events")
	b.mu.Unlock()

	stopA()
	hub1.Leave()
	hub2.Leave()
	require.NoError(t, h.Do(func() error {
		netns, err := netmon.CurrentNetns()
		if err != nil {
			return err
		}
		hub3, err := netmon.Join(netns)
		if err == nil {
			assert.NotSame(t, hub1, hub3, "the last Leave did not close the Hub")
			hub3.Leave()
		}
		return err
	}))
}
