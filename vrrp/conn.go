package vrrp

import (
	"errors"
	"net"
	"net/netip"
	"sync"
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
// the process, and hands each message to the router of its VRID. A message
// no router claims goes to all of them, to be counted.
type mux struct {
	conn Conn

	mu      sync.Mutex
	routers map[uint8]chan<- received
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

// attach adds a router of vrid, fed through in, to the mux of key, opening
// its Conn with open if it is the first. The returned func detaches it and
// closes the Conn after the last router.
func attach(key muxKey, vrid uint8, in chan<- received, open func() (Conn, error)) (*mux, func(), error) {
	muxes.Lock()
	defer muxes.Unlock()
	m := muxes.m[key]
	if m == nil {
		conn, err := open()
		if err != nil {
			return nil, nil, err
		}
		m = &mux{conn: conn, routers: map[uint8]chan<- received{}}
		muxes.m[key] = m
		go m.read()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.routers[vrid] != nil {
		return nil, nil, errVRIDTaken
	}
	m.routers[vrid] = in
	detach := func() {
		muxes.Lock()
		defer muxes.Unlock()
		m.mu.Lock()
		delete(m.routers, vrid)
		last := len(m.routers) == 0
		m.mu.Unlock()
		if last {
			delete(muxes.m, key)
			m.conn.Close()
		}
	}
	return m, detach, nil
}

// read hands every message of the Conn to its router until the Conn is
// closed. A router that is behind loses the message rather than holding up
// the others.
func (m *mux) read() {
	for {
		buf := bufPool.Get().(*[maxMessageLen]byte)
		n, info, err := m.conn.ReadFrom(buf[:])
		if err != nil {
			bufPool.Put(buf)
			m.mu.Lock()
			closed := len(m.routers) == 0
			m.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			// A passing error (ENOBUFS, an ICMP error queued on the
			// socket): try again, without spinning.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		m.mu.Lock()
		var in chan<- received
		if n >= 2 {
			in = m.routers[buf[1]]
		}
		if in != nil {
			select {
			case in <- received{buf: buf, n: n, info: info}:
			default:
				bufPool.Put(buf)
			}
		} else {
			// No router of this VRID, or too short to tell: every router
			// counts it.
			for _, in := range m.routers {
				c := bufPool.Get().(*[maxMessageLen]byte)
				copy(c[:n], buf[:n])
				select {
				case in <- received{buf: c, n: n, info: info}:
				default:
					bufPool.Put(c)
				}
			}
			bufPool.Put(buf)
		}
		m.mu.Unlock()
	}
}
