package vrrp

import (
	"context"
	"fmt"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// A linkWatch follows the state of interfaces through rtnetlink link
// events (RTMGRP_LINK), in the network namespace it was opened in.
type linkWatch struct {
	events *rtnetlink.Conn
	names  map[uint32]string // tracked interfaces by index
	up     map[uint32]bool   // their state when opened
}

// openLinkWatch subscribes to link events of the calling thread's network
// namespace and reads the current state of the named interfaces. A name
// that is not an interface is an error.
func openLinkWatch(names []string) (*linkWatch, error) {
	events, err := rtnetlink.Dial(&netlink.Config{Groups: unix.RTMGRP_LINK})
	if err != nil {
		return nil, fmt.Errorf("vrrp: link events (rtnetlink): %w", err)
	}
	query, err := rtnetlink.Dial(nil)
	if err != nil {
		events.Close()
		return nil, fmt.Errorf("vrrp: links (rtnetlink): %w", err)
	}
	defer query.Close()
	links, err := query.Link.List()
	if err != nil {
		events.Close()
		return nil, fmt.Errorf("vrrp: listing links: %w", err)
	}
	w := &linkWatch{events: events, names: map[uint32]string{}, up: map[uint32]bool{}}
	for _, name := range names {
		found := false
		for _, l := range links {
			if l.Attributes != nil && l.Attributes.Name == name {
				w.names[l.Index], w.up[l.Index], found = name, linkUp(l.Flags), true
			}
		}
		if !found {
			events.Close()
			return nil, fmt.Errorf("no interface %q", name)
		}
	}
	return w, nil
}

// linkUp reports whether flags say a link can carry traffic: up and
// running (with carrier), as keepalived requires of a tracked interface.
func linkUp(flags uint32) bool {
	return flags&unix.IFF_UP != 0 && flags&unix.IFF_RUNNING != 0
}

// run reports the state of every tracked interface, then every change,
// until ctx ends.
func (w *linkWatch) run(ctx context.Context, report func(name string, up bool)) {
	for i, name := range w.names {
		report(name, w.up[i])
	}
	stop := context.AfterFunc(ctx, func() { w.events.Close() })
	defer stop()
	for {
		msgs, raw, err := w.events.Receive()
		if err != nil {
			return
		}
		for i, m := range msgs {
			l, ok := m.(*rtnetlink.LinkMessage)
			if !ok {
				continue
			}
			if name, ok := w.names[l.Index]; ok {
				report(name, linkUp(l.Flags) && raw[i].Header.Type != unix.RTM_DELLINK)
			}
		}
	}
}

func (w *linkWatch) close() { w.events.Close() }
