package vrrp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// A linkWatch follows the state of interfaces through rtnetlink link
// events (RTMGRP_LINK), in the network namespace it was opened in.
type linkWatch struct {
	events *rtnetlink.Conn // subscribed to link events
	query  *rtnetlink.Conn // lists links again after lost events
	names  map[uint32]string
	up     map[string]bool // the state when opened
}

// openLinkWatch subscribes to link events of the calling thread's network
// namespace and reads the current state of the named interfaces. A name
// that is not an interface is an ErrConfig error naming TrackInterfaces.
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
	w := &linkWatch{events: events, query: query, names: map[uint32]string{}}
	links, err := w.list()
	if err == nil {
		w.up = map[string]bool{}
		for _, name := range names {
			found := false
			for _, l := range links {
				if l.Attributes != nil && l.Attributes.Name == name {
					w.names[l.Index], w.up[name], found = name, linkUp(l.Flags), true
				}
			}
			if !found {
				err = configError("TrackInterfaces", "no interface %q", name)
				break
			}
		}
	}
	if err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *linkWatch) list() ([]rtnetlink.LinkMessage, error) {
	links, err := w.query.Link.List()
	if err != nil {
		return nil, fmt.Errorf("vrrp: listing links (rtnetlink): %w", err)
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

// run reports every change of a tracked interface until ctx ends. When the
// kernel drops events (ENOBUFS) it lists the links again; other errors are
// retried after a pause, so tracking never silently stops.
func (w *linkWatch) run(ctx context.Context, report func(name string, up bool)) {
	stop := context.AfterFunc(ctx, func() { w.events.Close() })
	defer stop()
	for ctx.Err() == nil {
		_, raw, err := w.events.Receive()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, unix.ENOBUFS) {
				if links, err := w.list(); err == nil {
					for _, l := range links {
						if name, ok := w.names[l.Index]; ok {
							report(name, linkUp(l.Flags))
						}
					}
				}
			} else {
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		for _, m := range raw {
			if m.Header.Type != unix.RTM_NEWLINK && m.Header.Type != unix.RTM_DELLINK {
				continue
			}
			var l rtnetlink.LinkMessage
			if l.UnmarshalBinary(m.Data) != nil {
				continue
			}
			if name, ok := w.names[l.Index]; ok {
				report(name, m.Header.Type == unix.RTM_NEWLINK && linkUp(l.Flags))
			}
		}
	}
}

func (w *linkWatch) close() {
	w.events.Close()
	w.query.Close()
}
