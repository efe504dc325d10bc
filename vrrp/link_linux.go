package vrrp

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/vipkit/vipkit/internal/netmon"
)

// A linkWatch follows the state of interfaces through rtnetlink link
// events, in the network namespace it was opened in.
type linkWatch struct {
	mon   *netmon.Monitor
	names map[int]string  // by index, when opened
	up    map[string]bool // the state when opened
}

// openLinkWatch subscribes to link events of the calling thread's network
// namespace and reads the current state of the named interfaces. A name
// that is not an interface is an ErrConfig error naming TrackInterfaces.
func openLinkWatch(names []string) (*linkWatch, error) {
	mon, err := netmon.Open(netmon.LinkEvents)
	if err != nil {
		return nil, fmt.Errorf("vrrp: %w", err)
	}
	w := &linkWatch{mon: mon, names: map[int]string{}, up: map[string]bool{}}
	links, err := w.list()
	if err != nil {
		w.close()
		return nil, err
	}
	byName := map[string]netmon.Link{}
	for _, l := range links {
		byName[l.Name] = l
	}
	for _, name := range names {
		l, ok := byName[name]
		if !ok {
			w.close()
			return nil, configError("TrackInterfaces", "no interface %q", name)
		}
		w.names[l.Index], w.up[name] = name, linkUp(l.Flags)
	}
	return w, nil
}

func (w *linkWatch) list() ([]netmon.Link, error) {
	links, err := w.mon.Links()
	if err != nil {
		return nil, fmt.Errorf("vrrp: %w", err)
	}
	return links, nil
}

// initial returns the state of each tracked interface when opened.
func (w *linkWatch) initial() map[string]bool { return w.up }

// linkUp reports whether flags say a link can carry traffic: up and
// running (with carrier), as keepalived requires of a tracked interface.
func linkUp(flags uint32) bool {
	return flags&unix.IFF_UP != 0 && flags&unix.IFF_RUNNING != 0
}

// run reports every change of a tracked interface until ctx ends. When
// events were lost it lists the links again, and reports each tracked
// interface (down if it is gone); the monitor retries errors itself, so
// tracking never silently stops.
func (w *linkWatch) run(ctx context.Context, report func(name string, up bool)) {
	w.mon.Run(ctx, func(e netmon.Event) {
		switch e.Type {
		case netmon.Lost:
			links, err := w.list()
			if err != nil {
				return // the next event, or loss, tells again
			}
			up := map[int]bool{}
			for _, l := range links {
				up[l.Index] = linkUp(l.Flags)
			}
			for index, name := range w.names {
				report(name, up[index]) // down if gone
			}
		case netmon.NewLink, netmon.DelLink:
			if name, ok := w.names[e.Link.Index]; ok {
				report(name, e.Type == netmon.NewLink && linkUp(e.Link.Flags))
			}
		}
	})
}

func (w *linkWatch) close() { w.mon.Close() }
