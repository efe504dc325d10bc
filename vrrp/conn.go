package vrrp

import (
	"errors"
	"fmt"
	"log/slog"
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
	// Drops is how many messages the socket had dropped for want of room
	// in its receive queue when this one was queued (SO_RXQ_OVFL, socket(7)),
	// where the Conn can tell; 0 otherwise.
	Drops uint32
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

// A mux shares one Conn among every router of one interface and family in
// the process. Its goroutine reads the Conn and hands each message, in
// its own buffer, straight to the router of its VRID, which handles it
// before the next is read: no queue, no copy. What no running router can
// take is counted once for the interface: a message too short to carry a
// VRID, and one for a VRID that no router of the process runs here; one
// for a router not running yet is dropped, so that nothing waits for Run.
type mux struct {
	key   muxKey
	conn  Conn
	sched *scheduler   // of the routers' timers
	log   *slog.Logger // of the router that opened it, for what no router takes

	discardLog rateLimit // the reader's: its log line of messages no router takes

	unknownVRID atomic.Uint64 // messages for a VRID no router here runs
	short       atomic.Uint64 // messages too short to carry a VRID
	drops       atomic.Uint32 // the socket's overflow count, as its last message told

	// The router of each VRID: nil if none is reserved, notRunning
	// until it runs. The reader looks it up without a lock; mu serializes
	// the changes.
	vrids    [256]atomic.Pointer[Router]
	mu       sync.Mutex
	reserved int // VRIDs
}

// notRunning marks a VRID reserved by a router that does not run (yet).
var notRunning = new(Router)

// muxKey names an interface of one network namespace and a family, or an
// injected Conn.
type muxKey struct {
	netns    uint64
	ifindex  int
	injected Conn
	ipv6     bool
}

var muxes = struct {
	sync.Mutex
	m map[muxKey]*mux
}{m: map[muxKey]*mux{}}

// errVRIDTaken is returned when a second router claims a VRID of a mux.
var errVRIDTaken = errors.New("another Router of this process already runs this VRID on this interface and family")

// attach reserves vrid on the mux of key, opening its Conn with open if
// it is the first, which then logs to log. The router gets messages from
// when it calls start. The returned func detaches it and closes the Conn
// after the last router.
func attach(key muxKey, vrid uint8, log *slog.Logger, open func() (Conn, error)) (*mux, func(), error) {
	muxes.Lock()
	defer muxes.Unlock()
	m := muxes.m[key]
	if m == nil {
		conn, err := open()
		if err != nil {
			return nil, nil, err
		}
		m = &mux{key: key, conn: conn, sched: newScheduler(conn), log: log}
		muxes.m[key] = m
		go m.read()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.vrids[vrid].Load() != nil {
		return nil, nil, errVRIDTaken
	}
	m.vrids[vrid].Store(notRunning)
	m.reserved++
	detach := func() {
		muxes.Lock()
		defer muxes.Unlock()
		m.mu.Lock()
		m.vrids[vrid].Store(nil)
		m.reserved--
		last := m.reserved == 0
		m.mu.Unlock()
		if last {
			delete(muxes.m, key)
			m.conn.Close()
		}
	}
	return m, detach, nil
}

// start hands the messages of r's VRID to r from now on.
func (m *mux) start(r *Router) {
	m.mu.Lock()
	m.vrids[r.cfg.VRID].Store(r)
	m.mu.Unlock()
}

// maxReadBatch is the most messages one read of a batchReader reads.
const maxReadBatch = 16

// A batchReader is a Conn that reads several messages in one system
// call, as rawConn.readBatch does.
type batchReader interface {
	readBatch(bufs [][]byte, ns []int, infos []PacketInfo) (int, error)
}

// read hands every message of the Conn to its router until the Conn is
// closed: a batch at a time where the Conn can read one.
func (m *mux) read() {
	batch := 1
	br, ok := m.conn.(batchReader)
	if ok {
		batch = maxReadBatch
	}
	mem := make([]byte, batch*maxMessageLen)
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = mem[i*maxMessageLen : (i+1)*maxMessageLen]
	}
	ns := make([]int, batch)
	infos := make([]PacketInfo, batch)
	for {
		var n int
		var err error
		if br != nil {
			n, err = br.readBatch(bufs, ns, infos)
		} else {
			n = 1
			ns[0], infos[0], err = m.conn.ReadFrom(bufs[0])
		}
		if err != nil {
			m.mu.Lock()
			closed := m.reserved == 0
			m.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			// A passing error (ENOBUFS, an ICMP error queued on the
			// socket): try again, without spinning.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for i := range n {
			if ns[i] >= 0 {
				m.dispatch(bufs[i][:ns[i]], infos[i])
			}
		}
	}
}

// discarded logs, rate-limited, a message that no router takes (RFC 9568
// §7.1: discard, and log subject to rate-limiting): one for vrid, which no
// router here runs, or too short to carry one (vrid -1). At Info: a LAN
// may well carry other virtual routers' advertisements.
func (m *mux) discarded(info PacketInfo, vrid int) {
	ok, n := m.discardLog.allow(time.Now())
	if !ok {
		return
	}
	why := "too short to carry a VRID"
	if vrid >= 0 {
		why = fmt.Sprintf("VRID %d, which no router of this process runs here", vrid)
	}
	m.log.Info("discarded a VRRP message", "from", info.Src, "why", why, "not_logged_since_last", n)
}

// dispatch hands one message to the router of its VRID.
func (m *mux) dispatch(msg []byte, info PacketInfo) {
	if info.Drops != 0 {
		m.drops.Store(info.Drops)
	}
	if len(msg) < 2 {
		m.short.Add(1)
		m.discarded(info, -1)
		return
	}
	switch r := m.vrids[msg[1]].Load(); r {
	case nil:
		m.unknownVRID.Add(1)
		m.discarded(info, int(msg[1]))
	case notRunning:
	default:
		r.deliver(msg, info)
	}
}
