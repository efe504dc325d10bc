package main

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"

	"github.com/vipkit/vipkit/garp"
	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// ipProtoVRRP is VRRP's IPv4 protocol number (RFC 5798 §5.1.1.4).
const ipProtoVRRP = 112

// A frame is what a watcher saw: a VRRP advertisement from Source, or a
// gratuitous ARP for Source's address sent from MAC.
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
	go w.read()
	return w, nil
}

// Close closes the socket.
func (w *watcher) Close() { w.conn.Close() }

// read records frames until the socket is closed.
func (w *watcher) read() {
	buf := make([]byte, 1600)
	var f garp.Frame
	for {
		n, _, err := w.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		at, b := time.Now(), buf[:n]
		switch {
		case len(b) >= 34 && binary.BigEndian.Uint16(b[12:14]) == uint16(ethernet.EtherTypeIPv4) && b[14+9] == ipProtoVRRP:
			w.add(frame{At: at, VRRP: true, Source: netip.AddrFrom4([4]byte(b[26:30]))})
		case f.UnmarshalBinary(b) == nil && f.EtherType == ethernet.EtherTypeARP && f.ARP.IsGratuitous():
			w.add(frame{At: at, Source: f.ARP.SenderIP, MAC: slices.Clone(f.ARP.SenderHardwareAddr)})
		}
	}
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
