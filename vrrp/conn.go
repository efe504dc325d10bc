package vrrp

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// PacketInfo is what the IP layer tells of a received advertisement.
type PacketInfo struct {
	Src, Dst netip.Addr
	TTL      uint8 // IPv4 TTL or IPv6 hop limit
}

// A Conn carries the VRRP messages of one interface and address family:
// the payload of IP protocol 112, without the IP header. OpenConn opens the
// raw socket of the host; tests inject their own.
type Conn interface {
	// ReadFrom reads one message into b.
	ReadFrom(b []byte) (n int, info PacketInfo, err error)
	// WriteTo sends one message from src to dst with TTL (hop limit) 255.
	WriteTo(b []byte, src, dst netip.Addr) error
	// Close closes the connection; a blocked ReadFrom returns an error.
	Close() error
}

// maxMessageLen is the longest VRRP message: 255 IPv6 addresses.
const maxMessageLen = headerLen + 255*16

// received is a message handed from a mux to a router.
type received struct {
	buf  *[maxMessageLen]byte
	n    int
	info PacketInfo
}

var bufPool = sync.Pool{New: func() any { return new([maxMessageLen]byte) }}

// A mux shares one Conn among every router of one interface and family in
// the process, and hands each message to the router of its VRID. What no
// running router can take is counted once for the interface: a message
// too short to carry a VRID, one for a VRID that no router of the process
// runs here, and one for a router that is not running yet (dropped, so
// that a router queues nothing before Run).
type mux struct {
	conn Conn

	unknownVRID atomic.Uint64 // messages for a VRID no router here runs
	short       atomic.Uint64 // messages too short to carry a VRID

	mu     sync.Mutex
	routes map[uint8]*route
}

// A route is a router's share of a mux.
type route struct {
	in    chan received // nil until the router runs; guarded by mux.mu
	drops atomic.Uint64 // messages dropped because in was full
}

// muxKey names an interface of one network namespace and a family.
type muxKey struct {
	netns   uint64
	ifindex int
	ipv6    bool
}

var muxes = struct {
	sync.Mutex
	m map[muxKey]*mux
}{m: map[muxKey]*mux{}}

// errVRIDTaken is returned when a second router claims a VRID of a mux.
var errVRIDTaken = errors.New("another Router of this process already runs this VRID on this interface and family")

// attach reserves vrid on the mux of key, opening its Conn with open if
// it is the first. The router gets messages once it calls start on the
// returned route. The returned func detaches it and closes the Conn after
// the last router.
func attach(key muxKey, vrid uint8, open func() (Conn, error)) (*mux, *route, func(), error) {
	muxes.Lock()
	defer muxes.Unlock()
	m := muxes.m[key]
	if m == nil {
		conn, err := open()
		if err != nil {
			return nil, nil, nil, err
		}
		m = &mux{conn: conn, routes: map[uint8]*route{}}
		muxes.m[key] = m
		go m.read()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.routes[vrid] != nil {
		return nil, nil, nil, errVRIDTaken
	}
	rt := &route{}
	m.routes[vrid] = rt
	detach := func() {
		muxes.Lock()
		defer muxes.Unlock()
		m.mu.Lock()
		delete(m.routes, vrid)
		last := len(m.routes) == 0
		m.mu.Unlock()
		if last {
			delete(muxes.m, key)
			m.conn.Close()
		}
	}
	return m, rt, detach, nil
}

// start makes the mux hand rt's messages to in from now on.
func (m *mux) start(rt *route, in chan received) {
	m.mu.Lock()
	rt.in = in
	m.mu.Unlock()
}

// read hands every message of the Conn to its router until the Conn is
// closed. A router that is behind loses the message (counted in its
// route) rather than holding up the others.
func (m *mux) read() {
	for {
		buf := bufPool.Get().(*[maxMessageLen]byte)
		n, info, err := m.conn.ReadFrom(buf[:])
		if err != nil {
			bufPool.Put(buf)
			m.mu.Lock()
			closed := len(m.routes) == 0
			m.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			// A passing error (ENOBUFS, an ICMP error queued on the
			// socket): try again, without spinning.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if !m.deliver(buf, n, info) {
			bufPool.Put(buf)
		}
	}
}

// deliver queues the message in buf for its router and reports whether
// the router took the buffer.
func (m *mux) deliver(buf *[maxMessageLen]byte, n int, info PacketInfo) bool {
	if n < 2 {
		m.short.Add(1)
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rt := m.routes[buf[1]]
	switch {
	case rt == nil:
		m.unknownVRID.Add(1)
		return false
	case rt.in == nil:
		return false // not running yet
	}
	select {
	case rt.in <- received{buf: buf, n: n, info: info}:
		return true
	default:
		rt.drops.Add(1)
		return false
	}
}
