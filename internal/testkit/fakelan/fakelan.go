// Package fakelan is a LAN of vrrp.Conns in memory, for tests that run
// real vrrp.Routers without a network: a message written to a multicast
// group reaches every other Conn of the LAN, one written to an address
// the Conn of that address, each with TTL 255.
package fakelan

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/vipkit/vipkit/vrrp"
)

// A LAN is a set of Conns; the zero value is an empty one.
type LAN struct {
	mu    sync.Mutex
	conns []*Conn
}

// A Conn is a vrrp.Conn on a LAN.
type Conn struct {
	lan       *LAN
	addr      netip.Addr
	in        chan packet
	closed    chan struct{}
	closeOnce sync.Once

	// FailSends makes WriteTo fail, as on a host whose route went.
	FailSends atomic.Bool
}

type packet struct {
	msg  []byte
	info vrrp.PacketInfo
}

// queueLen is how many messages wait for a Conn's reader; more sent to it
// are dropped, as a socket's receive queue drops them.
const queueLen = 64

// Conn returns a new Conn of the LAN at addr (which unicast messages to
// addr reach; the zero Addr for none).
func (l *LAN) Conn(addr netip.Addr) *Conn {
	c := &Conn{lan: l, addr: addr, in: make(chan packet, queueLen), closed: make(chan struct{})}
	l.mu.Lock()
	l.conns = append(l.conns, c)
	l.mu.Unlock()
	return c
}

// ReadFrom returns the next message for c, or net.ErrClosed once c is
// closed.
func (c *Conn) ReadFrom(b []byte) (int, vrrp.PacketInfo, error) {
	select {
	case p := <-c.in:
		return copy(b, p.msg), p.info, nil
	case <-c.closed:
		return 0, vrrp.PacketInfo{}, net.ErrClosed
	}
}

// WriteTo sends b from src to dst: to every other Conn for a multicast
// dst, else to the Conn of dst.
func (c *Conn) WriteTo(b []byte, src, dst netip.Addr) error {
	if c.FailSends.Load() {
		return errors.New("sendmsg: network is unreachable")
	}
	c.lan.mu.Lock()
	defer c.lan.mu.Unlock()
	for _, o := range c.lan.conns {
		if o == c || !dst.IsMulticast() && dst != o.addr {
			continue
		}
		select {
		case o.in <- packet{msg: slices.Clone(b), info: vrrp.PacketInfo{Src: src, Dst: dst, TTL: vrrp.TTL}}:
		case <-o.closed:
		default: // a full queue drops, as a socket does
		}
	}
	return nil
}

// Inject hands msg to c's reader as if it came with info, waiting for room
// (or for c to close).
func (c *Conn) Inject(msg []byte, info vrrp.PacketInfo) {
	select {
	case c.in <- packet{msg: slices.Clone(msg), info: info}:
	case <-c.closed:
	}
}

// Queued returns how many messages wait for c's reader.
func (c *Conn) Queued() int { return len(c.in) }

// Close closes c: a blocked ReadFrom returns.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}
