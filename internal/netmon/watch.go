package netmon

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// A Watch is the view of one network namespace that every user in the
// process shares, vrrp's routers and havip's hosts alike: its links by name
// and the addresses of each, listed once when the first user opens it and
// kept from one Monitor's link and address events, read by one goroutine
// that hands each event, applied, to every subscriber. A thousand users
// cost two netlink sockets and one goroutine; each event is decoded once;
// a user starting lists nothing. It runs while any user holds it open.
type Watch struct {
	id    uint64
	netns *Netns
	mon   *Monitor
	ctx   context.Context // ends when the last user closes it
	stop  context.CancelFunc
	done  chan struct{}

	mu   sync.Mutex // guards what follows; held while subscribers handle an event
	refs int
	view View
	subs map[*subscriber]bool
}

// A View is the state of the namespace as a Watch knows it: valid only
// while the Watch holds its lock, in [Watch.Read] or in a subscriber's
// handler.
type View struct {
	links map[string]Link
	addrs map[int][]netip.Prefix // by interface index, in the kernel's order
}

// Link returns the link named name, if there is one.
func (v *View) Link(name string) (Link, bool) {
	l, ok := v.links[name]
	return l, ok
}

// Addrs returns the addresses of the interface of that index, in the
// kernel's order. The slice is the View's: read it, do not keep it.
func (v *View) Addrs(index int) []netip.Prefix { return v.addrs[index] }

// A subscriber is one Subscribe: a pointer to tell it from the others.
type subscriber struct {
	handle func(*View, Event)
}

var watches = struct {
	sync.Mutex
	m map[uint64]*Watch
}{m: map[uint64]*Watch{}}

// OpenWatch returns the Watch of the calling thread's network namespace,
// opening it if it is the first. Each OpenWatch takes a reference that
// Close gives back.
func OpenWatch() (*Watch, error) {
	id, err := ThreadNetns()
	if err != nil {
		return nil, err
	}
	watches.Lock()
	defer watches.Unlock()
	if w := watches.m[id]; w != nil {
		w.mu.Lock()
		w.refs++
		w.mu.Unlock()
		return w, nil
	}
	ns, err := OpenNetns()
	if err != nil {
		return nil, err
	}
	// Subscribed before listing: what changes in between comes as events
	// after the lists, and applying them in order converges.
	mon, err := Open(LinkEvents | AddrEvents)
	if err != nil {
		ns.Close()
		return nil, err
	}
	links, err := mon.Links()
	var addrs []Addr
	if err == nil {
		addrs, err = mon.Addrs()
	}
	if err != nil {
		mon.Close()
		ns.Close()
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	w := &Watch{id: id, netns: ns, mon: mon, ctx: ctx, stop: stop, done: make(chan struct{}),
		refs: 1, subs: map[*subscriber]bool{}}
	w.view.reset(links, addrs)
	watches.m[id] = w
	go func() {
		defer close(w.done)
		mon.Run(ctx, w.handle)
	}()
	return w, nil
}

// Netns returns the Watch's network namespace, to open sockets in.
func (w *Watch) Netns() *Netns { return w.netns }

// Close gives back a reference; the last one stops the Watch.
func (w *Watch) Close() error {
	watches.Lock()
	w.mu.Lock()
	w.refs--
	last := w.refs == 0
	w.mu.Unlock()
	if last {
		delete(watches.m, w.id)
	}
	watches.Unlock()
	if !last {
		return nil
	}
	w.stop()
	<-w.done
	return errors.Join(w.mon.Close(), w.netns.Close())
}

// Read calls f with the view, locked.
func (w *Watch) Read(f func(*View)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(&w.view)
}

// Subscribe calls handle with every event from now on, once the view has
// it, with the view locked, until the returned func is called; when that
// returns, no handle is under way. It first calls handle with an Event of
// type Lost, for the subscriber to read the state as it is. handle must not
// block, nor call the Watch's methods.
func (w *Watch) Subscribe(handle func(*View, Event)) (stop func()) {
	s := &subscriber{handle: handle}
	w.mu.Lock()
	w.subs[s] = true
	handle(&w.view, Event{Type: Lost})
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.subs, s)
		w.mu.Unlock()
	}
}

// reset replaces the view with the lists.
func (v *View) reset(links []Link, addrs []Addr) {
	v.links = make(map[string]Link, len(links))
	for _, l := range links {
		v.links[l.Name] = l
	}
	v.addrs = map[int][]netip.Prefix{}
	for _, a := range addrs {
		v.addrs[a.Index] = append(v.addrs[a.Index], a.Prefix)
	}
}

// apply applies one link or address event.
func (v *View) apply(e Event) {
	switch e.Type {
	case NewLink:
		for name, l := range v.links {
			if l.Index == e.Link.Index && name != e.Link.Name {
				delete(v.links, name) // renamed
			}
		}
		v.links[e.Link.Name] = e.Link
	case DelLink:
		if v.links[e.Link.Name].Index == e.Link.Index {
			delete(v.links, e.Link.Name)
		}
		delete(v.addrs, e.Link.Index)
	case NewAddr:
		if own := v.addrs[e.Addr.Index]; !slices.Contains(own, e.Addr.Prefix) {
			v.addrs[e.Addr.Index] = append(own, e.Addr.Prefix)
		}
	case DelAddr:
		v.addrs[e.Addr.Index] = slices.DeleteFunc(v.addrs[e.Addr.Index], func(p netip.Prefix) bool { return p == e.Addr.Prefix })
	}
}

// handle applies one event to the view, then hands it to every
// subscriber. Lost ones make it list the links and addresses again,
// trying until it can or the Watch stops.
func (w *Watch) handle(e Event) {
	var links []Link
	var addrs []Addr
	if e.Type == Lost {
		links = retry(w.ctx, w.mon.Links)
		addrs = retry(w.ctx, w.mon.Addrs)
		if w.ctx.Err() != nil {
			return
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if e.Type == Lost {
		w.view.reset(links, addrs)
	} else {
		w.view.apply(e)
	}
	for s := range w.subs {
		s.handle(&w.view, e)
	}
}

// retry calls list until it succeeds, pausing between tries, or ctx
// ends.
func retry[T any](ctx context.Context, list func() ([]T, error)) []T {
	for {
		l, err := list()
		if err == nil {
			return l
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}
