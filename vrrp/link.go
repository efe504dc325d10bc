package vrrp

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/vipkit/vipkit/internal/netmon"
)

// A hostWatch is the rtnetlink monitor of one network namespace, shared by
// every Router of the process there: one subscription to link and address
// events, read by one goroutine and handed to each router's linkWatch, so
// that a thousand routers cost two sockets and one goroutine, not two
// thousand and a thousand, and each event is decoded once. It runs while
// any linkWatch of its namespace is open.
type hostWatch struct {
	netns uint64
	mon   *netmon.Monitor
	ctx   context.Context // ends when the last linkWatch closes
	stop  context.CancelFunc
	done  chan struct{}

	mu    sync.Mutex // guards watches; held while they handle an event
	refs  int        // open linkWatches
	watch map[*linkWatch]bool
}

var hostWatches = struct {
	sync.Mutex
	m map[uint64]*hostWatch
}{m: map[uint64]*hostWatch{}}

// openHostWatch returns the hostWatch of netns, the calling thread's
// network namespace, opening it if it is the first.
func openHostWatch(netns uint64) (*hostWatch, error) {
	hostWatches.Lock()
	defer hostWatches.Unlock()
	if h := hostWatches.m[netns]; h != nil {
		h.mu.Lock()
		h.refs++
		h.mu.Unlock()
		return h, nil
	}
	mon, err := netmon.Open(netmon.LinkEvents | netmon.AddrEvents)
	if err != nil {
		return nil, fmt.Errorf("vrrp: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	h := &hostWatch{netns: netns, mon: mon, ctx: ctx, stop: stop, done: make(chan struct{}), refs: 1, watch: map[*linkWatch]bool{}}
	hostWatches.m[netns] = h
	go func() {
		defer close(h.done)
		mon.Run(ctx, h.handle)
	}()
	return h, nil
}

// release drops a reference; the last one stops the monitor.
func (h *hostWatch) release() {
	hostWatches.Lock()
	h.mu.Lock()
	h.refs--
	last := h.refs == 0
	h.mu.Unlock()
	if last {
		delete(hostWatches.m, h.netns)
	}
	hostWatches.Unlock()
	if last {
		h.stop()
		<-h.done
		h.mon.Close()
	}
}

// handle hands one event to every running linkWatch. Address events and
// lost ones come with the addresses listed again, once for all of them;
// lost ones with the links too.
func (h *hostWatch) handle(e netmon.Event) {
	var links []netmon.Link
	var addrs []netmon.Addr
	switch e.Type {
	case netmon.Lost:
		links = retry(h.ctx, h.mon.Links)
		addrs = retry(h.ctx, h.mon.Addrs)
	case netmon.NewAddr, netmon.DelAddr:
		addrs = retry(h.ctx, h.mon.Addrs)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.watch {
		w.handle(e, links, addrs)
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

// A linkWatch is one router's view of its namespace's hostWatch: the state
// of the interfaces it tracks and the addresses of its own. It follows
// each tracked interface by name, so that one deleted and made again is
// followed again, except the router's own interface, which it follows by
// the index it had when opened: the router's socket is bound to that
// index, so a new interface of the same name cannot carry its
// advertisements, and the router stays in FAULT.
type linkWatch struct {
	host    *hostWatch
	own     int             // the index of the router's interface
	tracked map[string]int  // name → the index it must have, or 0 for any
	up      map[string]bool // the state when opened

	// Set by run, called with host.mu held.
	report       func(name string, up bool)
	addrsChanged func(own []netip.Addr)
}

// openLinkWatch joins the hostWatch of netns, the calling thread's
// network namespace, and reads the current state of own, the router's
// interface, and of the others it tracks. A name that is not an interface
// is an ErrConfig error naming TrackInterfaces.
func openLinkWatch(netns uint64, own string, others []string) (*linkWatch, error) {
	host, err := openHostWatch(netns)
	if err != nil {
		return nil, err
	}
	w := &linkWatch{host: host, tracked: map[string]int{}, up: map[string]bool{}}
	links, err := host.mon.Links()
	if err != nil {
		w.close()
		return nil, fmt.Errorf("vrrp: %w", err)
	}
	byName := map[string]netmon.Link{}
	for _, l := range links {
		byName[l.Name] = l
	}
	for i, name := range append([]string{own}, others...) {
		l, ok := byName[name]
		if !ok {
			w.close()
			return nil, configError(fmt.Sprintf("TrackInterfaces[%d]", i-1), "no interface %q", name)
		}
		if _, dup := w.tracked[name]; dup {
			continue
		}
		w.tracked[name], w.up[name] = 0, l.Up()
		if i == 0 {
			w.tracked[name], w.own = l.Index, l.Index
		}
	}
	return w, nil
}

// initial returns the state of each tracked interface when opened.
func (w *linkWatch) initial() map[string]bool { return w.up }

// isUp reports whether l is a tracked interface that is up, the one it
// must be.
func (w *linkWatch) isUp(l netmon.Link) bool {
	index := w.tracked[l.Name]
	return l.Up() && (index == 0 || index == l.Index)
}

// start reports every change of a tracked interface, and calls
// addrsChanged with the addresses of the router's interface when they may
// have changed, from the hostWatch's goroutine, until stop. It begins by
// reporting every tracked interface and the addresses as they are now
// (what changed since openLinkWatch went to no one). When events were
// lost it does the same, as listed again; the monitor retries errors
// itself, so tracking never silently stops.
func (w *linkWatch) start(report func(name string, up bool), addrsChanged func(own []netip.Addr)) {
	links := retry(w.host.ctx, w.host.mon.Links)
	addrs := retry(w.host.ctx, w.host.mon.Addrs)
	w.host.mu.Lock()
	defer w.host.mu.Unlock()
	w.report, w.addrsChanged = report, addrsChanged
	w.host.watch[w] = true
	w.handle(netmon.Event{Type: netmon.Lost}, links, addrs)
}

// stop ends what start began; when it returns, no report is under way.
func (w *linkWatch) stop() {
	w.host.mu.Lock()
	delete(w.host.watch, w)
	w.host.mu.Unlock()
}

// handle is the hostWatch's: an event, with the links and addresses it
// listed for it.
func (w *linkWatch) handle(e netmon.Event, links []netmon.Link, addrs []netmon.Addr) {
	switch e.Type {
	case netmon.Lost:
		up := map[string]bool{}
		for _, l := range links {
			up[l.Name] = up[l.Name] || w.isUp(l)
		}
		for name := range w.tracked {
			w.report(name, up[name]) // down if gone
		}
		w.addrsChanged(w.ownAddrs(addrs))
	case netmon.NewLink, netmon.DelLink:
		if index, ok := w.tracked[e.Link.Name]; ok && (index == 0 || index == e.Link.Index) {
			w.report(e.Link.Name, e.Type == netmon.NewLink && w.isUp(e.Link))
		}
	case netmon.NewAddr, netmon.DelAddr:
		if e.Addr.Index == w.own {
			w.addrsChanged(w.ownAddrs(addrs))
		}
	}
}

// ownAddrs returns those of addrs that are the router's interface's.
func (w *linkWatch) ownAddrs(addrs []netmon.Addr) []netip.Addr {
	var own []netip.Addr
	for _, a := range addrs {
		if a.Index == w.own {
			own = append(own, a.Prefix.Addr())
		}
	}
	return own
}

func (w *linkWatch) close() { w.host.release() }
