package vrrp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vipkit/vipkit/internal/netmon"
)

// A hostWatch is the view of one network namespace that every Router of
// the process there shares: its links by name and their addresses, listed
// once when the first router opens it and kept current from one
// rtnetlink subscription to link and address events, read by one
// goroutine, which hands each event to every router's linkWatch. So a
// thousand routers cost two netlink sockets and one goroutine, not two
// thousand and a thousand; each event is decoded once; and a router
// starting lists nothing. It runs while any linkWatch of its namespace is
// open.
type hostWatch struct {
	netns *netmon.Netns // to open sockets in from any thread
	mon   *netmon.Monitor
	ctx   context.Context // ends when the last linkWatch closes
	stop  context.CancelFunc
	done  chan struct{}

	mu    sync.Mutex // guards what follows; held while the watches handle an event
	refs  int        // open linkWatches
	links map[string]netmon.Link
	addrs map[int][]netip.Prefix // by interface index, in the kernel's order
	watch map[*linkWatch]bool    // the running ones
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
	ns, err := netmon.OpenNetns()
	if err != nil {
		return nil, fmt.Errorf("vrrp: %w", err)
	}
	// Subscribed before listing: what changes in between comes as events
	// after the lists, and applying them in order converges.
	mon, err := netmon.Open(netmon.LinkEvents | netmon.AddrEvents)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("vrrp: %w", err)
	}
	links, err := mon.Links()
	var addrs []netmon.Addr
	if err == nil {
		addrs, err = mon.Addrs()
	}
	if err != nil {
		mon.Close()
		ns.Close()
		return nil, fmt.Errorf("vrrp: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	h := &hostWatch{netns: ns, mon: mon, ctx: ctx, stop: stop, done: make(chan struct{}),
		refs: 1, watch: map[*linkWatch]bool{}}
	h.reset(links, addrs)
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
		delete(hostWatches.m, h.netns.ID())
	}
	hostWatches.Unlock()
	if last {
		h.stop()
		<-h.done
		h.mon.Close()
		h.netns.Close()
	}
}

// reset replaces the view with the lists. h.mu is held, or h is new.
func (h *hostWatch) reset(links []netmon.Link, addrs []netmon.Addr) {
	h.links = make(map[string]netmon.Link, len(links))
	for _, l := range links {
		h.links[l.Name] = l
	}
	h.addrs = map[int][]netip.Prefix{}
	for _, a := range addrs {
		h.addrs[a.Index] = append(h.addrs[a.Index], a.Prefix)
	}
}

// handle applies one event to the view, then hands it to every running
// linkWatch. Lost ones make it list the links and addresses again.
func (h *hostWatch) handle(e netmon.Event) {
	var links []netmon.Link
	var addrs []netmon.Addr
	if e.Type == netmon.Lost {
		links = retry(h.ctx, h.mon.Links)
		addrs = retry(h.ctx, h.mon.Addrs)
		if h.ctx.Err() != nil {
			return
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch e.Type {
	case netmon.Lost:
		h.reset(links, addrs)
	case netmon.NewLink:
		for name, l := range h.links {
			if l.Index == e.Link.Index && name != e.Link.Name {
				delete(h.links, name) // renamed
			}
		}
		h.links[e.Link.Name] = e.Link
	case netmon.DelLink:
		if h.links[e.Link.Name].Index == e.Link.Index {
			delete(h.links, e.Link.Name)
		}
		delete(h.addrs, e.Link.Index)
	case netmon.NewAddr:
		if own := h.addrs[e.Addr.Index]; !slices.Contains(own, e.Addr.Prefix) {
			h.addrs[e.Addr.Index] = append(own, e.Addr.Prefix)
		}
	case netmon.DelAddr:
		h.addrs[e.Addr.Index] = slices.DeleteFunc(h.addrs[e.Addr.Index], func(p netip.Prefix) bool { return p == e.Addr.Prefix })
	}
	for w := range h.watch {
		w.handle(e)
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

// A linkWatch is one router's view of its namespace's hostWatch: whether
// the interfaces it tracks are up, and the addresses of its own. It
// follows every interface by name, so that one deleted and made again is
// followed again. The router's own interface made again has a new index,
// which its socket is not bound to: the watch asks the router to move to
// it (relink) and counts it up only once it has.
type linkWatch struct {
	host  *hostWatch
	names []string // the router's interface, then the others it tracks
	index int      // the index of the router's interface that its socket is bound to

	// Set by start, called with host.mu held.
	report       func(name, down string)
	addrsChanged func(own []netip.Prefix, changed netip.Addr)
	relink       func(l netmon.Link) error
}

// linkState is what openLinkWatch found.
type linkState struct {
	own   netmon.Link
	addrs []netip.Prefix    // of own
	down  map[string]string // why each tracked interface is down, or ""
}

// openLinkWatch joins the hostWatch of netns, the calling thread's
// network namespace, and finds own, the router's interface, and the others
// it tracks. A name that is not an interface is an ErrConfig error naming
// Interface or TrackInterfaces.
func openLinkWatch(netns uint64, own string, others []string) (*linkWatch, linkState, error) {
	host, err := openHostWatch(netns)
	if err != nil {
		return nil, linkState{}, err
	}
	w := &linkWatch{host: host}
	st, err := w.find(own, others)
	if err != nil {
		w.close()
		return nil, linkState{}, err
	}
	return w, st, nil
}

// find finds the interfaces named in the host's view.
func (w *linkWatch) find(own string, others []string) (linkState, error) {
	w.host.mu.Lock()
	defer w.host.mu.Unlock()
	st := linkState{down: map[string]string{}}
	for i, name := range append([]string{own}, others...) {
		l, ok := w.host.links[name]
		if !ok {
			field := "Interface"
			if i > 0 {
				field = fmt.Sprintf("TrackInterfaces[%d]", i-1)
			}
			return linkState{}, configError(field, "no interface %q in this network namespace", name)
		}
		if i == 0 {
			st.own, st.addrs, w.index = l, slices.Clone(w.host.addrs[l.Index]), l.Index
		}
		if _, dup := st.down[name]; !dup {
			w.names = append(w.names, name)
			st.down[name] = w.why(name)
		}
	}
	return st, nil
}

// why says why the tracked interface name cannot carry advertisements, or
// "" when it can. host.mu is held.
func (w *linkWatch) why(name string) string {
	l, ok := w.host.links[name]
	switch {
	case !ok:
		return "interface " + name + " is gone"
	case !l.Up():
		return "interface " + name + " is down"
	}
	return ""
}

// start reports the state of every tracked interface and the addresses of
// the router's own from now on, from the hostWatch's goroutine, until
// stop: report with why a tracked interface is down ("" when up),
// addrsChanged with the router's interface's addresses when they may have
// changed (changed is the address that came or went, or invalid when any
// may have), relink when the router's interface was made again with a new
// index. It begins with the state as it is now.
func (w *linkWatch) start(report func(name, down string), addrsChanged func(own []netip.Prefix, changed netip.Addr), relink func(netmon.Link) error) {
	w.host.mu.Lock()
	defer w.host.mu.Unlock()
	w.report, w.addrsChanged, w.relink = report, addrsChanged, relink
	w.host.watch[w] = true
	w.sync()
}

// stop ends what start began; when it returns, no report is under way.
func (w *linkWatch) stop() {
	w.host.mu.Lock()
	delete(w.host.watch, w)
	w.host.mu.Unlock()
}

// handle is the hostWatch's: an event, applied to its view already.
func (w *linkWatch) handle(e netmon.Event) {
	switch e.Type {
	case netmon.Lost:
		w.sync()
	case netmon.NewLink, netmon.DelLink:
		if e.Link.Index == w.index || slices.Contains(w.names, e.Link.Name) {
			w.sync()
		}
	case netmon.NewAddr, netmon.DelAddr:
		if e.Addr.Index == w.index {
			w.addrsChanged(w.host.addrs[w.index], e.Addr.Prefix.Addr())
		}
	}
}

// sync reports every tracked interface and the addresses of the router's
// own, moving the router to its interface made again if it was.
func (w *linkWatch) sync() {
	own := w.names[0]
	relinkFailed := ""
	if l, ok := w.host.links[own]; ok && l.Index != w.index {
		if err := w.relink(l); err != nil {
			relinkFailed = fmt.Sprintf("interface %s was made again (index %d) and the router could not move to it: %v", own, l.Index, err)
		} else {
			w.index = l.Index
		}
	}
	for _, name := range w.names {
		why := w.why(name)
		if name == own && relinkFailed != "" {
			why = relinkFailed
		}
		w.report(name, why)
	}
	w.addrsChanged(w.host.addrs[w.index], netip.Addr{})
}

func (w *linkWatch) close() { w.host.release() }
