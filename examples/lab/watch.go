package main

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"

	"github.com/vipkit/vipkit/garp"
	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// ipProtoVRRP is VRRP's IPv4 protocol number (RFC 5798 §5.1.1.4).
const ipProtoVRRP = 112

// A frame is what a watcher saw: a VRRP advertisement from Source, or a
// gratuitous ARP for Source's address sent from MAC. At is when the kernel
// had it, so a watcher that reads late (on a loaded machine) does not move
// it.
type frame struct {
	At     time.Time
	VRRP   bool
	Source netip.Addr
	MAC    net.HardwareAddr
}

// ethPAll is ETH_P_ALL: a packet socket of this protocol also sees the
// frames its host sends, which one bound to a single EtherType does not.
const ethPAll = 0x0003

// A watcher records the VRRP advertisements and gratuitous ARPs that cross
// one interface, both ways, with a packet socket opened in its host.
type watcher struct {
	conn *packet.Conn
	raw  syscall.RawConn

	mu     sync.Mutex
	frames []frame
}

// watch starts a watcher on iface, inside its host. Close it before the
// host is removed.
func watch(iface *netlab.Iface) (*watcher, error) {
	w := &watcher{}
	err := iface.Host().Do(func() error {
		ifi, err := net.InterfaceByName(iface.Name())
		if err != nil {
			return err
		}
		w.conn, err = packet.Listen(ifi, packet.Raw, ethPAll, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	// The kernel's receive time of each frame, as a control message.
	if w.raw, err = w.conn.SyscallConn(); err == nil {
		cerr := w.raw.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
		})
		err = errors.Join(cerr, err)
	}
	if err != nil {
		w.conn.Close()
		return nil, err
	}
	go w.read()
	return w, nil
}

// Close closes the socket.
func (w *watcher) Close() { w.conn.Close() }

// read records frames until the socket is closed.
func (w *watcher) read() {
	buf, oob := make([]byte, 1600), make([]byte, 128)
	var f garp.Frame
	for {
		var n, oobn int
		var rerr error
		err := w.raw.Read(func(fd uintptr) bool {
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, 0)
			return rerr != unix.EAGAIN && rerr != unix.EWOULDBLOCK
		})
		if err != nil || (rerr != nil && rerr != unix.EINTR) {
			return
		}
		if rerr != nil {
			continue
		}
		at, b := received(oob[:oobn]), buf[:n]
		switch {
		case len(b) >= 34 && binary.BigEndian.Uint16(b[12:14]) == uint16(ethernet.EtherTypeIPv4) && b[14+9] == ipProtoVRRP:
			w.add(frame{At: at, VRRP: true, Source: netip.AddrFrom4([4]byte(b[26:30]))})
		case f.UnmarshalBinary(b) == nil && f.EtherType == ethernet.EtherTypeARP && f.ARP.IsGratuitous():
			w.add(frame{At: at, Source: f.ARP.SenderIP, MAC: slices.Clone(f.ARP.SenderHardwareAddr)})
		}
	}
}

// received returns the kernel's time in the SCM_TIMESTAMPNS control
// message of oob, or now if there is none.
func received(oob []byte) time.Time {
	msgs, _ := unix.ParseSocketControlMessage(oob)
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_TIMESTAMPNS {
			continue
		}
		switch d := m.Data; len(d) { // a struct timespec: two longs
		case 16:
			return time.Unix(int64(binary.NativeEndian.Uint64(d)), int64(binary.NativeEndian.Uint64(d[8:])))
		case 8:
			return time.Unix(int64(int32(binary.NativeEndian.Uint32(d))), int64(int32(binary.NativeEndian.Uint32(d[4:]))))
		}
	}
	return time.Now()
}

func (w *watcher) add(f frame) {
	w.mu.Lock()
	w.frames = append(w.frames, f)
	w.mu.Unlock()
}

// seen returns the frames recorded so far, in order.
func (w *watcher) seen() []frame {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]frame(nil), w.frames...)
}
