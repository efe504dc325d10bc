package vrrp

import (
	"fmt"
	"net/netip"

	"github.com/vipkit/vipkit/internal/netmon"
)

// A linkWatch is one router's view of its namespace's netmon.Hub, which
// every router of the process there shares (two sockets and one goroutine
// for a thousand routers): the state of the interfaces it tracks and the
// addresses of its own. It follows
// each tracked interface by name, so that one deleted and made again is
// followed again, except the router's own interface, which it follows by
// the index it had when opened: the router's socket is bound to that
// index, so a new interface of the same name cannot carry its
// advertisements, and the router stays in FAULT.
type linkWatch struct {
	host    *netmon.Hub
	stopped func()          // ends the following; nil when not following
	own     int             // the index of the router's interface
	tracked map[string]int  // name → the index it must have, or 0 for any
	up      map[string]bool // the state when opened

	// Set by start, called from the Hub's goroutine.
	report       func(name string, up bool)
	addrsChanged func(own []netip.Addr)
}

// openLinkWatch joins the Hub of netns, the calling thread's network
// namespace, and reads the current state of own, the router's
// interface, and of the others it tracks. A name that is not an interface
// is an ErrConfig error naming TrackInterfaces.
func openLinkWatch(netns uint64, own string, others []string) (*linkWatch, error) {
	host, err := netmon.Join(netns)
	if err != nil {
		return nil, fmt.Errorf("vrrp: %w", err)
	}
	w := &linkWatch{host: host, tracked: map[string]int{}, up: map[string]bool{}}
	links, err := host.Links()
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
// have changed, from the Hub's goroutine, until stop. It begins by
// reporting every tracked interface and the addresses as they are now
// (what changed since openLinkWatch went to no one). When events were
// lost it does the same, as listed again; the monitor retries errors
// itself, so tracking never silently stops.
func (w *linkWatch) start(report func(name string, up bool), addrsChanged func(own []netip.Addr)) {
	w.report, w.addrsChanged = report, addrsChanged
	w.stopped = w.host.Follow(w.handle)
}

// stop ends what start began; when it returns, no report is under way.
func (w *linkWatch) stop() { w.stopped() }

// handle is the Hub's: an event, with the links and addresses it listed
// for it.
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

func (w *linkWatch) close() { w.host.Leave() }
