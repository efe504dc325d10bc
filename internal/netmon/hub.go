package netmon

import (
	"context"
	"sync"
	"time"
)

// A Hub is the Monitor of one network namespace, shared by everything in
// the process that follows it (every virtual router, every address owner):
// one subscription to link and address events, read by one goroutine, each
// event decoded once and handed to every follower, with the links and
// addresses listed once for all of them where a follower needs them. It
// runs while anyone has joined it.
type Hub struct {
	netns uint64
	mon   *Monitor
	ctx   context.Context // ends when the last one leaves
	stop  context.CancelFunc
	done  chan struct{}

	mu        sync.Mutex // guards what follows; held while followers handle an event
	refs      int
	followers map[*follower]bool
}

// A Follower handles one event of a Hub. links come with Lost, addrs with
// Lost, NewAddr and DelAddr: the state as listed again after the event.
type Follower func(e Event, links []Link, addrs []Addr)

type follower struct{ f Follower }

var hubs = struct {
	sync.Mutex
	m map[uint64]*Hub
}{m: map[uint64]*Hub{}}

// Join returns the Hub of netns, the calling thread's network namespace
// (see [CurrentNetns]), opening it if it is the first. Leave it when done.
func Join(netns uint64) (*Hub, error) {
	hubs.Lock()
	defer hubs.Unlock()
	if h := hubs.m[netns]; h != nil {
		h.mu.Lock()
		h.refs++
		h.mu.Unlock()
		return h, nil
	}
	mon, err := Open(LinkEvents | AddrEvents)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	h := &Hub{netns: netns, mon: mon, ctx: ctx, stop: stop, done: make(chan struct{}), refs: 1, followers: map[*follower]bool{}}
	hubs.m[netns] = h
	go func() {
		defer close(h.done)
		mon.Run(ctx, h.handle)
	}()
	return h, nil
}

// Leave drops one Join; the last stops the monitor.
func (h *Hub) Leave() {
	hubs.Lock()
	h.mu.Lock()
	h.refs--
	last := h.refs == 0
	h.mu.Unlock()
	if last {
		delete(hubs.m, h.netns)
	}
	hubs.Unlock()
	if last {
		h.stop()
		<-h.done
		h.mon.Close()
	}
}

// Links lists the links of the namespace.
func (h *Hub) Links() ([]Link, error) { return h.mon.Links() }

// Addrs lists the addresses of the namespace.
func (h *Hub) Addrs() ([]Addr, error) { return h.mon.Addrs() }

// Follow calls f with every event from now on, from the Hub's goroutine,
// until the returned stop is called; when stop returns, f is not running.
// It begins with a Lost event and the links and addresses as they are
// now, so that nothing that changed before Follow is missed. f must not
// call Follow, stop or Leave.
func (h *Hub) Follow(f Follower) (stop func()) {
	w := &follower{f}
	h.mu.Lock()
	// Listed with the lock held: the events that come meanwhile wait in
	// the socket and reach f after the lists, which they are newer than.
	h.followers[w] = true
	f(Event{Type: Lost}, retry(h.ctx, h.mon.Links), retry(h.ctx, h.mon.Addrs))
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.followers, w)
		h.mu.Unlock()
	}
}

// handle hands one event to every follower, with what it lists for it.
func (h *Hub) handle(e Event) {
	var links []Link
	var addrs []Addr
	switch e.Type {
	case Lost:
		links = retry(h.ctx, h.mon.Links)
		addrs = retry(h.ctx, h.mon.Addrs)
	case NewAddr, DelAddr:
		addrs = retry(h.ctx, h.mon.Addrs)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.followers {
		w.f(e, links, addrs)
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
