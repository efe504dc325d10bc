package vrrp

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/vipkit/vipkit/internal/netmon"
)

// A linkWatch is one router's view of its namespace's netmon.Watch: whether
// the interfaces it tracks are up, and the addresses of its own. It
// follows every interface by name, so that one deleted and made again is
// followed again. The router's own interface made again has a new index,
// which its socket is not bound to: the watch asks the router to move to
// it (relink) and counts it up only once it has.
type linkWatch struct {
	host  *netmon.Watch // the namespace's, shared with every router and havip host there
	names []string      // the router's interface, then the others it tracks
	index int           // the index of the router's interface that its socket is bound to

	// Set by start, called with the host's view locked.
	report       func(name, down string)
	addrsChanged func(own []netip.Prefix, changed netip.Addr)
	relink       func(l netmon.Link) error
	unsubscribe  func()
}

// linkState is what openLinkWatch found.
type linkState struct {
	own   netmon.Link
	addrs []netip.Prefix    // of own
	down  map[string]string // why each tracked interface is down, or ""
}

// openLinkWatch joins the Watch of the calling thread's network
// namespace and finds own, the router's interface, and the others it
// tracks. A name that is not an interface is an ErrConfig error naming
// Interface or TrackInterfaces.
func openLinkWatch(own string, others []string, weighted []WeightedInterface) (*linkWatch, linkState, error) {
	host, err := netmon.OpenWatch()
	if err != nil {
		return nil, linkState{}, fmt.Errorf("vrrp: %w", err)
	}
	w := &linkWatch{host: host}
	var st linkState
	host.Read(func(v *netmon.View) { st, err = w.find(v, own, others, weighted) })
	if err != nil {
		w.close()
		return nil, linkState{}, err
	}
	return w, st, nil
}

// find finds the interfaces named in the view.
func (w *linkWatch) find(v *netmon.View, own string, others []string, weighted []WeightedInterface) (linkState, error) {
	st := linkState{down: map[string]string{}}
	names, fields := []string{own}, []string{"Interface"}
	for i, name := range others {
		names, fields = append(names, name), append(fields, fmt.Sprintf("TrackInterfaces[%d]", i))
	}
	for i, wi := range weighted {
		names, fields = append(names, wi.Name), append(fields, fmt.Sprintf("WeightedInterfaces[%d]", i))
	}
	for i, name := range names {
		l, ok := v.Link(name)
		if !ok {
			return linkState{}, configError(fields[i], "no interface %q in this network namespace", name)
		}
		if i == 0 {
			st.own, st.addrs, w.index = l, slices.Clone(v.Addrs(l.Index)), l.Index
		}
		if _, dup := st.down[name]; !dup {
			w.names = append(w.names, name)
			st.down[name] = why(v, name)
		}
	}
	return st, nil
}

// why says why the tracked interface name cannot carry advertisements, or
// "" when it can.
func why(v *netmon.View, name string) string {
	l, ok := v.Link(name)
	switch {
	case !ok:
		return "interface " + name + " is gone"
	case !l.Up():
		return "interface " + name + " is down"
	}
	return ""
}

// start reports the state of every tracked interface and the addresses of
// the router's own from now on, from the Watch's goroutine, until stop:
// report with why a tracked interface is down ("" when up), addrsChanged
// with the router's interface's addresses when they may have changed
// (changed is the address that came or went, or invalid when any may
// have), relink when the router's interface was made again with a new
// index. It begins with the state as it is now.
func (w *linkWatch) start(report func(name, down string), addrsChanged func(own []netip.Prefix, changed netip.Addr), relink func(netmon.Link) error) {
	w.report, w.addrsChanged, w.relink = report, addrsChanged, relink
	w.unsubscribe = w.host.Subscribe(w.handle)
}

// stop ends what start began; when it returns, no report is under way.
func (w *linkWatch) stop() { w.unsubscribe() }

// handle is the Watch's: an event, applied to its view already.
func (w *linkWatch) handle(v *netmon.View, e netmon.Event) {
	switch e.Type {
	case netmon.Lost:
		w.sync(v)
	case netmon.NewLink, netmon.DelLink:
		if e.Link.Index == w.index || slices.Contains(w.names, e.Link.Name) {
			w.sync(v)
		}
	case netmon.NewAddr, netmon.DelAddr:
		if e.Addr.Index == w.index {
			w.addrsChanged(v.Addrs(w.index), e.Addr.Prefix.Addr())
		}
	}
}

// sync reports every tracked interface and the addresses of the router's
// own, moving the router to its interface made again if it was.
func (w *linkWatch) sync(v *netmon.View) {
	own := w.names[0]
	relinkFailed := ""
	if l, ok := v.Link(own); ok && l.Index != w.index {
		if err := w.relink(l); err != nil {
			relinkFailed = fmt.Sprintf("interface %s was made again (index %d) and the router could not move to it: %v", own, l.Index, err)
		} else {
			w.index = l.Index
		}
	}
	for _, name := range w.names {
		down := why(v, name)
		if name == own && relinkFailed != "" {
			down = relinkFailed
		}
		w.report(name, down)
	}
	w.addrsChanged(v.Addrs(w.index), netip.Addr{})
}

func (w *linkWatch) close() { w.host.Close() }
