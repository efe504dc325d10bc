package garp

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"

	"github.com/vipkit/vipkit/internal/checksum"
)

// Protocol constants of IPv6 neighbour advertisements (RFC 4861, RFC 8200).
const (
	// HopLimit is the IPv6 hop limit every neighbour discovery message is
	// sent with and must arrive with (RFC 4861 §7.1.2), so that it cannot
	// have crossed a router.
	HopLimit = 255
	// ProtocolICMPv6 is the IPv6 next header value of ICMPv6 (58).
	ProtocolICMPv6 = 58
	// ICMPTypeNeighborAdvertisement is the ICMPv6 type of a neighbour
	// advertisement (RFC 4861 §4.4).
	ICMPTypeNeighborAdvertisement = 136
	// OptionTargetLinkLayerAddr is the neighbour discovery option type of
	// the Target Link-Layer Address option (RFC 4861 §4.6.1).
	OptionTargetLinkLayerAddr = 2

	// IPv6HeaderLen is the length of the fixed IPv6 header (RFC 8200 §3).
	IPv6HeaderLen = 40
	// NeighborAdvertisementMinLen is the length of an ICMPv6 neighbour
	// advertisement without options (RFC 4861 §4.4); RFC 4861 §7.1.2
	// requires at least this many bytes.
	NeighborAdvertisementMinLen = 24
	// NeighborAdvertisementLen is the length of the IPv6 packet this
	// package encodes when a target link-layer address is given: the IPv6
	// header, the advertisement and an 8-byte Target Link-Layer Address
	// option.
	NeighborAdvertisementLen = IPv6HeaderLen + NeighborAdvertisementMinLen + 8
)

// AllNodes is the IPv6 link-local all-nodes multicast group ff02::1, the
// destination of unsolicited neighbour advertisements (RFC 4861 §7.2.6).
var AllNodes = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x01})

// NeighborAdvertisement is an IPv6 packet carrying an ICMPv6 Neighbor
// Advertisement (RFC 4861 §4.4). Hop limit 255, next header 58 and the
// checksum are implied: they are written on encoding and checked on decoding.
// The traffic class, flow label and reserved bits are written as zero and
// ignored when read.
type NeighborAdvertisement struct {
	// Source is the IPv6 source address: an address of the sending
	// interface (RFC 4861 §4.4). It must be unicast.
	Source netip.Addr
	// Destination is the IPv6 destination: AllNodes for an unsolicited
	// advertisement (RFC 4861 §7.2.6).
	Destination netip.Addr

	// Router is the R flag: the sender is a router (RFC 4861 §4.4).
	Router bool
	// Solicited is the S flag: the advertisement answers a solicitation.
	// It must be clear when Destination is multicast (RFC 4861 §7.1.2).
	Solicited bool
	// Override is the O flag: the advertisement should replace a cached
	// link-layer address (RFC 4861 §7.2.5).
	Override bool

	// Target is the address whose link-layer address is advertised. It
	// must not be multicast (RFC 4861 §7.1.2).
	Target netip.Addr
	// TargetLinkLayerAddr is the MAC address carried in the Target
	// Link-Layer Address option (RFC 4861 §4.6.1). Empty means the option
	// is absent. When a packet carries several, the first is kept, as Linux
	// does.
	TargetLinkLayerAddr net.HardwareAddr
}

// UnsolicitedNA returns the unsolicited neighbour advertisement of RFC 4861
// §7.2.6 that announces target at mac: from src (the target itself if src is
// the zero Addr, as keepalived does) to AllNodes, with Override set and
// Router and Solicited clear. The result shares mac; it is validated when
// encoded.
func UnsolicitedNA(mac net.HardwareAddr, src, target netip.Addr) NeighborAdvertisement {
	if !src.IsValid() {
		src = target
	}
	return NeighborAdvertisement{
		Source:              src,
		Destination:         AllNodes,
		Override:            true,
		Target:              target,
		TargetLinkLayerAddr: mac,
	}
}

// Len returns the length of the encoded packet.
func (na *NeighborAdvertisement) Len() int {
	if len(na.TargetLinkLayerAddr) == 0 {
		return IPv6HeaderLen + NeighborAdvertisementMinLen
	}
	return NeighborAdvertisementLen
}

// AppendBinary appends the IPv6 packet (header and ICMPv6 message, with its
// checksum over the pseudo-header of RFC 8200 §8.1) to b. It fails, wrapping
// [ErrAddress], [ErrHardwareAddr] or [ErrSolicited], if an address is not
// IPv6 or not allowed where it is (see the field docs; IPv4-mapped and
// unspecified addresses are refused everywhere), TargetLinkLayerAddr is
// neither empty nor 6 bytes, or Solicited is set on a multicast packet. Zones
// are ignored.
func (na *NeighborAdvertisement) AppendBinary(b []byte) ([]byte, error) {
	if err := na.validate(); err != nil {
		return b, err
	}
	start := len(b)
	plen := na.Len() - IPv6HeaderLen
	b = append(b, 0x60, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(plen))
	b = append(b, ProtocolICMPv6, HopLimit)
	src, dst := na.Source.As16(), na.Destination.As16()
	b = append(b, src[:]...)
	b = append(b, dst[:]...)

	var flags byte
	if na.Router {
		flags |= flagRouter
	}
	if na.Solicited {
		flags |= flagSolicited
	}
	if na.Override {
		flags |= flagOverride
	}
	b = append(b, ICMPTypeNeighborAdvertisement, 0, 0, 0, flags, 0, 0, 0)
	t := na.Target.As16()
	b = append(b, t[:]...)
	if len(na.TargetLinkLayerAddr) != 0 {
		b = append(b, OptionTargetLinkLayerAddr, 1)
		b = append(b, na.TargetLinkLayerAddr...)
	}
	msg := b[start+IPv6HeaderLen:]
	binary.BigEndian.PutUint16(msg[2:4], icmpv6Checksum(&src, &dst, msg))
	return b, nil
}

// MarshalBinary returns the wire form of na; see
// [NeighborAdvertisement.AppendBinary].
func (na *NeighborAdvertisement) MarshalBinary() ([]byte, error) {
	return na.AppendBinary(make([]byte, 0, na.Len()))
}

// UnmarshalBinary decodes an IPv6 packet carrying a neighbour advertisement
// into na, applying the validity checks of RFC 4861 §7.1.2. Bytes after the
// IPv6 payload (Ethernet padding) are ignored.
//
// It returns [io.ErrUnexpectedEOF] if b is shorter than the IPv6 header or
// than the payload length the header claims. Otherwise it fails with an error
// wrapping:
//   - [ErrVersion] if the version is not 6;
//   - [ErrNextHeader] if the next header is not ICMPv6 (extension headers
//     included);
//   - [ErrHopLimit] if the hop limit is not 255;
//   - [ErrPayloadLength] if the payload is shorter than 24 bytes;
//   - [ErrChecksum] if the ICMPv6 checksum is wrong;
//   - [ErrICMPType], [ErrICMPCode] if the message is not type 136 code 0;
//   - [ErrOptionLength] if an option has length 0 or runs past the payload,
//     or a Target Link-Layer Address option is not 8 bytes (RFC 4861 §4.6);
//   - [ErrAddress] if the target is multicast, or an address is one
//     [NeighborAdvertisement.AppendBinary] refuses;
//   - [ErrSolicited] if the Solicited flag is set and the destination is
//     multicast.
//
// Unknown options are skipped. It reuses the capacity of
// na.TargetLinkLayerAddr, so do not decode into a value whose slice is shared
// with something else.
func (na *NeighborAdvertisement) UnmarshalBinary(b []byte) error {
	if len(b) < IPv6HeaderLen {
		return io.ErrUnexpectedEOF
	}
	if v := b[0] >> 4; v != 6 {
		return fmt.Errorf("garp: IP version %d: %w", v, ErrVersion)
	}
	if b[6] != ProtocolICMPv6 {
		return fmt.Errorf("garp: IPv6 next header %d: %w", b[6], ErrNextHeader)
	}
	if b[7] != HopLimit {
		return fmt.Errorf("garp: IPv6 hop limit %d: %w", b[7], ErrHopLimit)
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	if plen > len(b)-IPv6HeaderLen {
		return io.ErrUnexpectedEOF
	}
	if plen < NeighborAdvertisementMinLen {
		return fmt.Errorf("garp: IPv6 payload length %d: %w", plen, ErrPayloadLength)
	}
	src := [16]byte(b[8:24])
	dst := [16]byte(b[24:40])
	msg := b[IPv6HeaderLen : IPv6HeaderLen+plen]
	if icmpv6Checksum(&src, &dst, msg) != 0 {
		return fmt.Errorf("garp: ICMPv6 checksum %#04x: %w", binary.BigEndian.Uint16(msg[2:4]), ErrChecksum)
	}
	if msg[0] != ICMPTypeNeighborAdvertisement {
		return fmt.Errorf("garp: ICMPv6 type %d: %w", msg[0], ErrICMPType)
	}
	if msg[1] != 0 {
		return fmt.Errorf("garp: ICMPv6 code %d: %w", msg[1], ErrICMPCode)
	}

	var tlla []byte
	for opts := msg[NeighborAdvertisementMinLen:]; len(opts) > 0; {
		if len(opts) < 2 || opts[1] == 0 || int(opts[1])*8 > len(opts) {
			return fmt.Errorf("garp: neighbor discovery option at offset %d: %w",
				len(msg)-len(opts), ErrOptionLength)
		}
		n := int(opts[1]) * 8
		if opts[0] == OptionTargetLinkLayerAddr {
			if n != 8 {
				return fmt.Errorf("garp: target link-layer address option length %d: %w",
					opts[1], ErrOptionLength)
			}
			if tlla == nil {
				tlla = opts[2:8]
			}
		}
		opts = opts[n:]
	}

	flags := msg[4]
	v := NeighborAdvertisement{
		Source:      netip.AddrFrom16(src),
		Destination: netip.AddrFrom16(dst),
		Router:      flags&flagRouter != 0,
		Solicited:   flags&flagSolicited != 0,
		Override:    flags&flagOverride != 0,
		Target:      netip.AddrFrom16([16]byte(msg[8:24])),
	}
	if err := v.validate(); err != nil {
		return err
	}
	v.TargetLinkLayerAddr = append(na.TargetLinkLayerAddr[:0], tlla...)
	*na = v
	return nil
}

func (na *NeighborAdvertisement) validate() error {
	if err := checkIPv6("Source", na.Source); err != nil {
		return err
	}
	if na.Source.IsMulticast() {
		return fmt.Errorf("garp: NA Source %v is multicast: %w", na.Source, ErrAddress)
	}
	if err := checkIPv6("Destination", na.Destination); err != nil {
		return err
	}
	if err := checkIPv6("Target", na.Target); err != nil {
		return err
	}
	if na.Target.IsMulticast() {
		return fmt.Errorf("garp: NA Target %v is multicast: %w", na.Target, ErrAddress)
	}
	if na.Solicited && na.Destination.IsMulticast() {
		return fmt.Errorf("garp: NA to %v: %w", na.Destination, ErrSolicited)
	}
	if n := len(na.TargetLinkLayerAddr); n != 0 && n != macLen {
		return fmt.Errorf("garp: NA TargetLinkLayerAddr %q: %w", na.TargetLinkLayerAddr, ErrHardwareAddr)
	}
	return nil
}

func checkIPv6(field string, a netip.Addr) error {
	switch {
	case !a.Is6():
		return fmt.Errorf("garp: NA %s %v is not IPv6: %w", field, a, ErrAddress)
	case a.Is4In6():
		return fmt.Errorf("garp: NA %s %v is IPv4-mapped: %w", field, a, ErrAddress)
	case a.IsUnspecified():
		return fmt.Errorf("garp: NA %s %v is unspecified: %w", field, a, ErrAddress)
	}
	return nil
}

// NA flag bits in the first byte after the checksum (RFC 4861 §4.4).
const (
	flagRouter    = 0x80
	flagSolicited = 0x40
	flagOverride  = 0x20
)

// icmpv6Checksum returns the Internet checksum (RFC 1071) of msg preceded by
// the IPv6 pseudo-header of RFC 8200 §8.1 (source, destination, upper-layer
// length, three zero bytes, next header 58). Over a message whose checksum
// field is zero it gives the value to store; over a message with a correct
// checksum it gives 0.
func icmpv6Checksum(src, dst *[16]byte, msg []byte) uint16 {
	sum := checksum.Add(checksum.Add(0, src[:]), dst[:])
	sum += uint64(len(msg)) + ProtocolICMPv6
	return checksum.Fold(checksum.Add(sum, msg))
}
