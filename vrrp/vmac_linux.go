package vrrp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/packet"

	inet "github.com/vipkit/vipkit/internal/checksum"
)

// A frameConn sends advertisements as whole Ethernet frames from the
// virtual router MAC address (RFC 5798 §7.3) out of the router's
// interface, over a packet socket that receives nothing: the router hears
// its peers on the interface's raw socket as ever, and the macvlan that
// holds the virtual MAC sends nothing itself (see package internal/vmac).
type frameConn struct {
	c     *packet.Conn
	src   net.HardwareAddr
	frame []byte
}

// openFrames opens a frameConn on ifi sending from mac. It needs
// CAP_NET_RAW.
func openFrames(ifi *net.Interface, mac net.HardwareAddr) (*frameConn, error) {
	c, err := packet.Listen(ifi, packet.Raw, 0, nil) // protocol 0: nothing is received
	if err != nil {
		return nil, fmt.Errorf("vrrp: packet socket on %s for the virtual MAC (needs CAP_NET_RAW): %w", ifi.Name, err)
	}
	return &frameConn{c: c, src: mac}, nil
}

// WriteTo sends msg from src to dst, a multicast group, in an IPv4 or IPv6
// header with TTL or hop limit 255 (RFC 5798 §5.1.1.3, §5.1.2.3) and an
// Ethernet header from the virtual MAC to the group's MAC.
func (f *frameConn) WriteTo(msg []byte, src, dst netip.Addr) error {
	b := f.frame[:0]
	var group net.HardwareAddr
	if dst.Is4() {
		d := dst.As4()
		group = net.HardwareAddr{0x01, 0x00, 0x5e, d[1] & 0x7f, d[2], d[3]} // RFC 1112 §6.4
		b = ethernet(b, group, f.src, 0x0800)
		ip := len(b)
		b = append(b, 0x45, 0xc0, 0, 0, 0, 0, 0, 0, TTL, ProtocolNumber, 0, 0)
		binary.BigEndian.PutUint16(b[ip+2:], uint16(20+len(msg)))
		b = append(b, src.AsSlice()...)
		b = append(b, dst.AsSlice()...)
		binary.BigEndian.PutUint16(b[ip+10:], inet.Fold(inet.Add(0, b[ip:ip+20])))
	} else {
		d := dst.As16()
		group = net.HardwareAddr{0x33, 0x33, d[12], d[13], d[14], d[15]} // RFC 2464 §7
		b = ethernet(b, group, f.src, 0x86dd)
		b = append(b, 0x60, 0, 0, 0, 0, 0, ProtocolNumber, TTL)
		binary.BigEndian.PutUint16(b[len(b)-4:], uint16(len(msg)))
		b = append(b, src.AsSlice()...)
		b = append(b, dst.AsSlice()...)
	}
	b = append(b, msg...)
	f.frame = b
	_, err := f.c.WriteTo(b, &packet.Addr{HardwareAddr: group})
	return err
}

func ethernet(b []byte, dst, src net.HardwareAddr, etherType uint16) []byte {
	b = append(b, dst...)
	b = append(b, src...)
	return binary.BigEndian.AppendUint16(b, etherType)
}

// Close closes the packet socket.
func (f *frameConn) Close() error { return f.c.Close() }
