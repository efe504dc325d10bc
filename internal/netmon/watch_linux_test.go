package netmon

import (
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// openWatch makes a host whose eth0 is linked to another host's and opens
// the Watch of its namespace.
func openWatch(t *testing.T) (*netlab.Iface, *Watch) {
	t.Helper()
	lab := netlab.New(t)
	h := lab.Host("h")
	ifc, _ := lab.Link(h, lab.Host("p"))
	var w *Watch
	require.NoError(t, h.Do(func() (err error) {
		w, err = OpenWatch()
		return err
	}))
	return ifc, w
}

// TestWatch opens the Watch of a host's namespace twice (one Watch,
// shared), and follows its view as an address comes and goes and the
// interface is deleted and made again: each subscriber gets every event
// with the view already changed.
func TestWatch(t *testing.T) {
	ifc, w1 := openWatch(t)
	defer w1.Close()
	var w2 *Watch
	require.NoError(t, ifc.Host().Do(func() (err error) {
		w2, err = OpenWatch()
		return err
	}))
	require.Same(t, w1, w2, "one Watch per namespace")

	index := func() (i int) {
		w1.Read(func(v *View) {
			l, _ := v.Link("eth0")
			i = l.Index
		})
		return i
	}
	first := index()
	require.NotZero(t, first, "eth0 is in the view")

	// What a subscriber saw of eth0's addresses at each event.
	var mu sync.Mutex
	var seen [][]netip.Prefix
	var types []EventType
	stop := w2.Subscribe(func(v *View, e Event) {
		l, _ := v.Link("eth0")
		mu.Lock()
		defer mu.Unlock()
		types = append(types, e.Type)
		seen = append(seen, slices.Clone(v.Addrs(l.Index)))
	})
	defer stop()
	w2.Close() // the other reference keeps it running
	has := func(p netip.Prefix) bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0 && slices.Contains(seen[len(seen)-1], p)
	}
	mu.Lock()
	assert.Equal(t, []EventType{Lost}, types, "the state first")
	mu.Unlock()

	p := netip.MustParsePrefix("192.0.2.1/24")
	ifc.AddAddr(p)
	require.Eventually(t, func() bool { return has(p) }, 2*time.Second, time.Millisecond)
	ifc.DelAddr(p)
	require.Eventually(t, func() bool { return !has(p) }, 2*time.Second, time.Millisecond)

	ifc.Delete()
	require.Eventually(t, func() bool { return index() == 0 }, 2*time.Second, time.Millisecond, "eth0 gone from the view")
	ifc.Make()
	ifc.AddAddr(p)
	require.Eventually(t, func() bool { return index() != 0 && has(p) }, 2*time.Second, time.Millisecond)
	assert.NotEqual(t, first, index(), "eth0 made again, with a new index")
	mu.Lock()
	assert.Contains(t, types, DelLink)
	assert.Contains(t, types, NewLink)
	mu.Unlock()
}

// TestWatchResync: when events were lost, the Watch lists the links and
// addresses again, and a link or an address that went meanwhile (its
// event among those lost) is gone from the view its subscribers get with
// the Lost event.
func TestWatchResync(t *testing.T) {
	_, w := openWatch(t)
	defer w.Close()

	// What the lost events would have told: a link and an address that
	// are no more.
	ghost := Link{Index: 9999, Name: "ghost0", Flags: iffUp | iffRunning}
	stale := netip.MustParsePrefix("192.0.2.99/24")
	w.Read(func(v *View) {
		v.apply(Event{Type: NewLink, Link: ghost})
		eth0, _ := v.Link("eth0")
		v.apply(Event{Type: NewAddr, Addr: Addr{Index: eth0.Index, Prefix: stale}})
	})

	// At each Lost event: is the ghost link there, is the stale address?
	type seen struct{ ghost, stale bool }
	var got []seen
	stop := w.Subscribe(func(v *View, e Event) {
		if e.Type == Lost {
			_, ghostThere := v.Link("ghost0")
			eth0, _ := v.Link("eth0")
			got = append(got, seen{ghostThere, slices.Contains(v.Addrs(eth0.Index), stale)})
		}
	})
	defer stop()
	w.handle(Event{Type: Lost})
	w.Read(func(*View) {}) // the subscriber's calls are over
	assert.Equal(t, []seen{{true, true}, {false, false}}, got, "at Subscribe, then after the resync")
}
