package garp

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"

	"github.com/mdlayher/ethernet"
)

// Frame lengths and link-layer constants.
const (
	// EthernetHeaderLen is the length of an untagged Ethernet II header.
	EthernetHeaderLen = 14
	// ARPFrameLen is the length of a gratuitous ARP frame as encoded here.
	// It is not padded to the 60-byte Ethernet minimum: the NIC pads on the
	// wire, as for keepalived's frames.
	ARPFrameLen = EthernetHeaderLen + ARPLen
	// NeighborAdvertisementFrameLen is the length of an unsolicited
	// neighbour advertisement frame as encoded here.
	NeighborAdvertisementFrameLen = EthernetHeaderLen + NeighborAdvertisementLen

	macLen  = 6
	ipv4Len = 4
)

var (
	broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	allNodesMAC  = net.HardwareAddr{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}
)

// Broadcast returns the Ethernet broadcast address ff:ff:ff:ff:ff:ff, the
// destination of gratuitous ARP.
func Broadcast() net.HardwareAddr { return append(net.HardwareAddr(nil), broadcastMAC...) }

// AllNodesMAC returns 33:33:00:00:00:01, the Ethernet group address of
// AllNodes (RFC 2464 §7), the destination of unsolicited neighbour
// advertisements.
func AllNodesMAC() net.HardwareAddr { return append(net.HardwareAddr(nil), allNodesMAC...) }

// Frame is an untagged Ethernet II frame that carries an [ARP] packet
// (EtherType 0x0806) or an IPv6 [NeighborAdvertisement] (EtherType 0x86DD).
// Only the field that EtherType selects is encoded; decoding sets that field
// and clears the other, keeping its slices' capacity.
type Frame struct {
	// Destination and Source are the 6-byte Ethernet addresses.
	Destination, Source net.HardwareAddr
	// EtherType is ethernet.EtherTypeARP or ethernet.EtherTypeIPv6.
	EtherType ethernet.EtherType
	// ARP is the payload when EtherType is ethernet.EtherTypeARP.
	ARP ARP
	// NA is the payload when EtherType is ethernet.EtherTypeIPv6.
	NA NeighborAdvertisement
}

// AppendBinary appends the frame (header and payload, no padding, no FCS) to
// b. It fails, wrapping [ErrHardwareAddr] or [ErrEtherType], if an Ethernet
// address is not 6 bytes or EtherType is neither ARP nor IPv6, and with the
// payload's own errors otherwise.
func (f *Frame) AppendBinary(b []byte) ([]byte, error) {
	if len(f.Destination) != macLen {
		return b, fmt.Errorf("garp: frame Destination %q: %w", f.Destination, ErrHardwareAddr)
	}
	if len(f.Source) != macLen {
		return b, fmt.Errorf("garp: frame Source %q: %w", f.Source, ErrHardwareAddr)
	}
	start := len(b)
	b = append(b, f.Destination...)
	b = append(b, f.Source...)
	b = binary.BigEndian.AppendUint16(b, uint16(f.EtherType))
	var err error
	switch f.EtherType {
	case ethernet.EtherTypeARP:
		b, err = f.ARP.AppendBinary(b)
	case ethernet.EtherTypeIPv6:
		b, err = f.NA.AppendBinary(b)
	default:
		err = fmt.Errorf("garp: frame EtherType %v: %w", f.EtherType, ErrEtherType)
	}
	if err != nil {
		return b[:start], err
	}
	return b, nil
}

// MarshalBinary returns the wire form of f; see [Frame.AppendBinary].
func (f *Frame) MarshalBinary() ([]byte, error) {
	return f.AppendBinary(make([]byte, 0, NeighborAdvertisementFrameLen))
}

// UnmarshalBinary decodes an untagged Ethernet II frame without FCS. It
// returns [io.ErrUnexpectedEOF] for input shorter than its content, an error
// wrapping [ErrEtherType] for an EtherType other than ARP or IPv6 (802.1Q
// tags included), and the payload's errors from [ARP.UnmarshalBinary] or
// [NeighborAdvertisement.UnmarshalBinary]. Trailing padding is ignored.
func (f *Frame) UnmarshalBinary(b []byte) error {
	if len(b) < EthernetHeaderLen {
		return io.ErrUnexpectedEOF
	}
	et := ethernet.EtherType(binary.BigEndian.Uint16(b[12:14]))
	var err error
	switch et {
	case ethernet.EtherTypeARP:
		err = f.ARP.UnmarshalBinary(b[EthernetHeaderLen:])
		if err == nil {
			f.NA = NeighborAdvertisement{TargetLinkLayerAddr: f.NA.TargetLinkLayerAddr[:0]}
		}
	case ethernet.EtherTypeIPv6:
		err = f.NA.UnmarshalBinary(b[EthernetHeaderLen:])
		if err == nil {
			f.ARP = ARP{
				SenderHardwareAddr: f.ARP.SenderHardwareAddr[:0],
				TargetHardwareAddr: f.ARP.TargetHardwareAddr[:0],
			}
		}
	default:
		return fmt.Errorf("garp: frame EtherType %v: %w", et, ErrEtherType)
	}
	if err != nil {
		return err
	}
	f.Destination = append(f.Destination[:0], b[0:6]...)
	f.Source = append(f.Source[:0], b[6:12]...)
	f.EtherType = et
	return nil
}

// AppendGratuitousARP appends to b the Ethernet frame of the gratuitous ARP
// that announces ip at mac: [GratuitousARP] sent from mac to the broadcast
// address (RFC 5227 §3). It does not allocate when b has [ARPFrameLen] bytes
// of spare capacity. It fails, wrapping [ErrHardwareAddr] or [ErrAddress], if
// mac is not 6 bytes or ip is not IPv4.
func AppendGratuitousARP(b []byte, op Operation, mac net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	f := Frame{
		Destination: broadcastMAC,
		Source:      mac,
		EtherType:   ethernet.EtherTypeARP,
		ARP:         GratuitousARP(op, mac, ip),
	}
	return f.AppendBinary(b)
}

// AppendUnsolicitedNA appends to b the Ethernet frame of the unsolicited
// neighbour advertisement that announces target at mac: [UnsolicitedNA] sent
// from mac to 33:33:00:00:00:01 (RFC 4861 §7.2.6, RFC 2464 §7). src is the
// IPv6 source; the zero Addr means target. It does not allocate when b has
// [NeighborAdvertisementFrameLen] bytes of spare capacity. It fails, wrapping
// [ErrHardwareAddr] or [ErrAddress], if mac is not 6 bytes or an address is
// not a usable IPv6 address.
func AppendUnsolicitedNA(b []byte, mac net.HardwareAddr, src, target netip.Addr) ([]byte, error) {
	if len(mac) != macLen {
		return b, fmt.Errorf("garp: NA TargetLinkLayerAddr %q: %w", mac, ErrHardwareAddr)
	}
	f := Frame{
		Destination: allNodesMAC,
		Source:      mac,
		EtherType:   ethernet.EtherTypeIPv6,
		NA:          UnsolicitedNA(mac, src, target),
	}
	return f.AppendBinary(b)
}
