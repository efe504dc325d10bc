package netmon

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// retryPause is how long Run waits after an error receiving, other than
// lost events, before it receives again.
const retryPause = 100 * time.Millisecond

// A Monitor follows the links and addresses of one network namespace, the
// one of the thread that opened it, through rtnetlink: it delivers the
// events of the groups it subscribed to ([Monitor.Run]) and lists the
// current state ([Monitor.Links], [Monitor.Addrs]). It is safe for
// concurrent use, but Run must not run twice at once.
type Monitor struct {
	events *netlink.Conn // subscribed to the groups
	query  *netlink.Conn // dumps

	closeOnce sync.Once
	closed    chan struct{}
}

// Open subscribes to the groups of events in the calling thread's network
// namespace. The Monitor stays in that namespace whichever thread uses it
// later.
func Open(groups Groups) (*Monitor, error) {
	var g uint32
	if groups&LinkEvents != 0 {
		g |= unix.RTMGRP_LINK
	}
	if groups&AddrEvents != 0 {
		g |= unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR
	}
	events, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{Groups: g})
	if err != nil {
		return nil, fmt.Errorf("%v events (rtnetlink): %w", groups, err)
	}
	query, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		events.Close()
		return nil, fmt.Errorf("rtnetlink: %w", err)
	}
	return &Monitor{events: events, query: query, closed: make(chan struct{})}, nil
}

// Run calls handle with every event, in order, until ctx ends or the
// Monitor is closed; the Monitor stays open when ctx ends, and Run may run
// again. Link and address messages come as they are: Run does not filter
// them. When events were lost, handle gets an Event of type Lost: when the
// kernel dropped some (ENOBUFS), once the events still queued, older than
// the state handle will read, are discarded; after a pause when receiving
// failed otherwise, and Run carries on receiving; in place of a message it
// could not decode. So Run never stops silently while ctx lasts.
func (m *Monitor) Run(ctx context.Context, handle func(Event)) {
	// A deadline in the past wakes the blocked Receive when ctx ends
	// without closing the socket. stop waits until the deadline is set, so
	// that it cannot fall on a later Run.
	m.events.SetReadDeadline(time.Time{})
	woken := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		m.events.SetReadDeadline(time.Unix(1, 0))
		close(woken)
	})
	defer func() {
		if !stop() {
			<-woken
		}
	}()
	for {
		msgs, err := m.events.Receive()
		if ctx.Err() != nil || m.isClosed() {
			return
		}
		if err != nil {
			err = fmt.Errorf("receiving rtnetlink events: %w", err)
			if errors.Is(err, unix.ENOBUFS) {
				err = errors.Join(err, m.drain())
			} else if !m.pause(ctx) {
				return
			}
			handle(Event{Type: Lost, Err: err})
			continue
		}
		for _, msg := range msgs {
			if e, ok := decode(msg); ok {
				handle(e)
			}
		}
	}
}

// maxDrain bounds the events one drain discards, so that a steady flood of
// events cannot keep Run from ever delivering Lost.
const maxDrain = 1 << 16

// drain discards the events queued on the socket, at most maxDrain. After
// ENOBUFS the kernel drops every new event, without another ENOBUFS, until
// the queue is empty; and the queued events are older than the state that
// whoever gets Lost reads next.
func (m *Monitor) drain() error {
	rc, err := m.events.SyscallConn()
	if err != nil {
		return err
	}
	var rerr error
	b := make([]byte, 1) // the rest of each message is discarded
	err = rc.Control(func(fd uintptr) {
		for range maxDrain {
			_, _, rerr = unix.Recvfrom(int(fd), b, unix.MSG_DONTWAIT)
			if rerr != nil && rerr != unix.EINTR && rerr != unix.ENOBUFS {
				return
			}
		}
	})
	if rerr == unix.EAGAIN {
		rerr = nil
	}
	return errors.Join(err, rerr)
}

// pause waits retryPause, and reports whether Run should go on.
func (m *Monitor) pause(ctx context.Context) bool {
	t := time.NewTimer(retryPause)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-m.closed:
	}
	return false
}

func (m *Monitor) isClosed() bool {
	select {
	case <-m.closed:
		return true
	default:
		return false
	}
}

// decode returns the Event of a link or address message, or of type Lost
// if it cannot be decoded; ok is false for any other message.
func decode(msg netlink.Message) (e Event, ok bool) {
	var err error
	switch e.Type = EventType(msg.Header.Type); e.Type {
	case NewLink, DelLink:
		e.Link, err = decodeLink(msg.Data)
	case NewAddr, DelAddr:
		e.Addr, err = decodeAddr(msg.Data)
	default:
		return Event{}, false
	}
	if err != nil {
		return Event{Type: Lost, Err: fmt.Errorf("%v: %w", EventType(msg.Header.Type), err)}, true
	}
	return e, true
}

// decodeLink decodes a link message: struct ifinfomsg, then attributes.
func decodeLink(b []byte) (Link, error) {
	if len(b) < unix.SizeofIfInfomsg {
		return Link{}, errors.New("short link message")
	}
	l := Link{Index: int(int32(binary.NativeEndian.Uint32(b[4:8]))), Flags: binary.NativeEndian.Uint32(b[8:12])}
	ad, err := netlink.NewAttributeDecoder(b[unix.SizeofIfInfomsg:])
	if err != nil {
		return Link{}, err
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.IFLA_IFNAME:
			l.Name = ad.String()
		case unix.IFLA_ADDRESS:
			l.HardwareAddr = ad.Bytes() // a copy
		}
	}
	return l, ad.Err()
}

// decodeAddr decodes an address message: struct ifaddrmsg, then
// attributes.
func decodeAddr(b []byte) (Addr, error) {
	if len(b) < unix.SizeofIfAddrmsg {
		return Addr{}, errors.New("short address message")
	}
	bits, index := int(b[1]), int(binary.NativeEndian.Uint32(b[4:8]))
	ad, err := netlink.NewAttributeDecoder(b[unix.SizeofIfAddrmsg:])
	if err != nil {
		return Addr{}, err
	}
	var address, local []byte
	for ad.Next() {
		switch ad.Type() {
		case unix.IFA_ADDRESS:
			address = ad.Bytes()
		case unix.IFA_LOCAL:
			local = ad.Bytes()
		}
	}
	if err := ad.Err(); err != nil {
		return Addr{}, err
	}
	if local != nil {
		address = local
	}
	a, ok := netip.AddrFromSlice(address)
	if !ok {
		return Addr{}, fmt.Errorf("address message of interface %d without an address", index)
	}
	return Addr{Index: index, Prefix: netip.PrefixFrom(a.Unmap(), bits)}, nil
}

// Links lists the links of the Monitor's namespace.
func (m *Monitor) Links() ([]Link, error) {
	return list(m, "links", unix.RTM_GETLINK, unix.SizeofIfInfomsg, NewLink, decodeLink)
}

// Addrs lists the IPv4 and IPv6 addresses of every interface of the
// Monitor's namespace.
func (m *Monitor) Addrs() ([]Addr, error) {
	return list(m, "addresses", unix.RTM_GETADDR, unix.SizeofIfAddrmsg, NewAddr, decodeAddr)
}

// list dumps the objects of request type t, each a reply of type reply
// that decode decodes.
func list[T any](m *Monitor, what string, t netlink.HeaderType, hdrLen int, reply EventType, decode func([]byte) (T, error)) ([]T, error) {
	msgs, err := m.dump(t, hdrLen)
	if err != nil {
		return nil, fmt.Errorf("listing %s (rtnetlink): %w", what, err)
	}
	out := make([]T, 0, len(msgs))
	for _, msg := range msgs {
		if EventType(msg.Header.Type) != reply {
			continue
		}
		v, err := decode(msg.Data)
		if err != nil {
			return nil, fmt.Errorf("listing %s (rtnetlink): %w", what, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// dump asks for every object of a type, with a request of hdrLen zero
// bytes (any family, any interface). A dump the kernel says was
// interrupted by a change (NLM_F_DUMP_INTR) is asked for again.
func (m *Monitor) dump(t netlink.HeaderType, hdrLen int) ([]netlink.Message, error) {
	req := netlink.Message{
		Header: netlink.Header{Type: t, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, hdrLen),
	}
	for range 5 {
		msgs, err := m.query.Execute(req)
		if err != nil || !interrupted(msgs) {
			return msgs, err
		}
	}
	return nil, errors.New("dump interrupted by changes, five times")
}

func interrupted(msgs []netlink.Message) bool {
	for _, msg := range msgs {
		if msg.Header.Flags&netlink.DumpInterrupted != 0 {
			return true
		}
	}
	return false
}

// Close closes the Monitor; a running Run returns.
func (m *Monitor) Close() error {
	var err error
	m.closeOnce.Do(func() {
		close(m.closed)
		err = errors.Join(m.events.Close(), m.query.Close())
	})
	return err
}
