package vrrp

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/vipkit/vipkit/internal/netmon"
)

// A linkWatch follows the state of interfaces, and the addresses of the
// router's own, through rtnetlink events, in the network namespace it was
// opened in. It follows each
// tracked interface by name, so that one deleted and made again is
// followed again, except the router's own interface, which it follows by
// the index it had when opened: the router's socket is bound to that
// index, so a new interface of the same name cannot carry its
// advertisements, and the router stays in FAULT.
type linkWatch struct {
	mon     *netmon.Monitor
	own     int             // the index of the router's interface
	tracked map[string]int  // name → the index it must have, or 0 for any
	up      map[string]bool // the state when opened
}

// openLinkWatch subscribes to link events of the calling thread's network
// namespace and reads the current state of own, the router's interface,
// and of the others it tracks. A name that is not an interface is an
// ErrConfig error naming TrackInterfaces.
func openLinkWatch(own string, others []string) (*linkWatch, error) {
	mon, err := netmon.Open(netmon.LinkEvents | netmon.AddrEvents)
	if err != nil {
		return nil, fmt.Errorf("vrrp: %w", err)
	}
	w := &linkWatch{mon: mon, tracked: map[string]int{}, up: map[string]bool{}}
	links, err := mon.Links()
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

// addrs lists the addresses of the router's interface.
func (w *linkWatch) addrs() ([]netip.Addr, error) {
	all, err := w.mon.Addrs()
	if err != nil {
		return nil, fmt.Errorf("vrrp: %w", err)
	}
	var own []netip.Addr
	for _, a := range all {
		if a.Index == w.own {
			own = append(own, a.Prefix.Addr())
		}
	}
	return own, nil
}

// run reports every change of a tracked interface, and calls addrsChanged
// when the addresses of the router's interface may have changed, until
// ctx ends. When events were lost it lists the links again, until it can,
// reports each tracked interface (down if it is gone) and calls
// addrsChanged; the monitor retries errors itself, so tracking never
// silently stops.
func (w *linkWatch) run(ctx context.Context, report func(name string, up bool), addrsChanged func()) {
	w.mon.Run(ctx, func(e netmon.Event) {
		switch e.Type {
		case netmon.Lost:
			links, err := w.mon.Links()
			for err != nil {
				select {
				case <-ctx.Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
				links, err = w.mon.Links()
			}
			up := map[string]bool{}
			for _, l := range links {
				up[l.Name] = up[l.Name] || w.isUp(l)
			}
			for name := range w.tracked {
				report(name, up[name]) // down if gone
			}
			addrsChanged()
		case netmon.NewLink, netmon.DelLink:
			if index, ok := w.tracked[e.Link.Name]; ok && (index == 0 || index == e.Link.Index) {
				report(e.Link.Name, e.Type == netmon.NewLink && w.isUp(e.Link))
			}
		case netmon.NewAddr, netmon.DelAddr:
			if e.Addr.Index == w.own {
				addrsChanged()
			}
		}
	})
}

func (w *linkWatch) close() { w.mon.Close() }
