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

// TestWatch opens the Watch of a host's namespace twice (one Watch,
// shared), and follows its view as an address comes and goes and the
// interface is deleted and made again: each subscriber gets every event
// with the view already changed.
func TestWatch(t *testing.T) {
	lab := netlab.New(t)
	h := lab.Host("h")
	ifc, _ := lab.Link(h, lab.Host("p"))
	var w1, w2 *netmon.Watch
	require.NoError(t, h.Do(func() (err error) {
		if w1, err = netmon.OpenWatch(); err == nil {
			w2, err = netmon.OpenWatch()
		}
		return err
	}))
	require.Same(t, w1, w2, "one Watch per namespace")
	defer w1.Close()

	index := func() (i int) {
		w1.Read(func(v *netmon.View) {
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
	var types []netmon.EventType
	stop := w2.Subscribe(func(v *netmon.View, e netmon.Event) {
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
	assert.Equal(t, []netmon.EventType{netmon.Lost}, types, "the state first")
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
	assert.Contains(t, types, netmon.DelLink)
	assert.Contains(t, types, netmon.NewLink)
	mu.Unlock()
}
