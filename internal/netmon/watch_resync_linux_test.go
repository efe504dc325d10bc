package netmon

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// TestWatchResync: when events were lost, the Watch lists the links and
// addresses again, and a link or an address that went meanwhile (its
// event among those lost) is gone from the view its subscribers get with
// the Lost event.
func TestWatchResync(t *testing.T) {
	lab := netlab.New(t)
	h := lab.Host("h")
	lab.Link(h, lab.Host("p"))
	var w *Watch
	require.NoError(t, h.Do(func() (err error) {
		w, err = OpenWatch()
		return err
	}))
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
