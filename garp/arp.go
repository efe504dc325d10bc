package garp

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
)

// Protocol constants of Ethernet/IPv4 ARP (RFC 826, IANA "Address Resolution
// Protocol (ARP) Parameters").
const (
	// ARPLen is the length of an Ethernet/IPv4 ARP packet.
	ARPLen = 28
	// HardwareTypeEthernet is the ARP hardware type of Ethernet (ar$hrd).
	HardwareTypeEthernet = 1
	// ProtocolTypeIPv4 is the ARP protocol type of IPv4 (ar$pro), the IPv4
	// EtherType.
	ProtocolTypeIPv4 = 0x0800
)

// An Operation is an ARP opcode (ar$op, RFC 826). Its zero value is invalid.
type Operation uint16

// The ARP opcodes this package accepts.
const (
	OperationRequest Operation = 1
	OperationReply   Operation = 2
)

// String returns "request", "reply" or "Operation(n)".
func (o Operation) String() string {
	switch o {
	case OperationRequest:
		return "request"
	case OperationReply:
		return "reply"
	}
	return fmt.Sprintf("Operation(%d)", uint16(o))
}

// ARP is an Ethernet/IPv4 ARP packet (RFC 826): hardware type 1, protocol
// type 0x0800, hardware address length 6 and protocol address length 4 are
// implied and checked, so only the variable fields are kept.
type ARP struct {
	// Operation is request or reply.
	Operation Operation
	// SenderHardwareAddr (SHA) is the 6-byte MAC address of the sender.
	SenderHardwareAddr net.HardwareAddr
	// SenderIP (SPA) is the sender's IPv4 address.
	SenderIP netip.Addr
	// TargetHardwareAddr (THA) is the 6-byte MAC address of the target.
	TargetHardwareAddr net.HardwareAddr
	// TargetIP (TPA) is the target's IPv4 address.
	TargetIP netip.Addr
}

// GratuitousARP returns the gratuitous ARP that announces ip at mac (RFC 5227
// §3, RFC 5944 §4.6): SHA is mac and SPA and TPA are both ip. With
// [OperationRequest] (also used for the zero Operation) it is the form
// keepalived sends, THA ff:ff:ff:ff:ff:ff. With [OperationReply] THA is mac,
// as RFC 5944 §4.6 asks and Linux's arp_is_garp requires of a gratuitous
// reply. The result shares mac; it is validated when encoded.
func GratuitousARP(op Operation, mac net.HardwareAddr, ip netip.Addr) ARP {
	p := ARP{
		Operation:          op,
		SenderHardwareAddr: mac,
		SenderIP:           ip,
		TargetHardwareAddr: broadcastMAC,
		TargetIP:           ip,
	}
	switch op {
	case 0:
		p.Operation = OperationRequest
	case OperationReply:
		p.TargetHardwareAddr = mac
	}
	return p
}

// IsGratuitous reports whether p announces its own sender: SPA equals TPA
// (RFC 5227 §3). It does not look at THA.
func (p *ARP) IsGratuitous() bool {
	return p.SenderIP.IsValid() && p.SenderIP == p.TargetIP
}

// AppendBinary appends the 28-byte wire form of p to b (RFC 826). It fails,
// wrapping [ErrOperation], [ErrHardwareAddr] or [ErrAddress], if the
// operation is not request or reply, a hardware address is not 6 bytes, or an
// IP address is not IPv4 (an IPv4-mapped IPv6 address is refused too).
func (p *ARP) AppendBinary(b []byte) ([]byte, error) {
	if err := p.validate(); err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint16(b, HardwareTypeEthernet)
	b = binary.BigEndian.AppendUint16(b, ProtocolTypeIPv4)
	b = append(b, macLen, ipv4Len)
	b = binary.BigEndian.AppendUint16(b, uint16(p.Operation))
	b = append(b, p.SenderHardwareAddr...)
	a4 := p.SenderIP.As4()
	b = append(b, a4[:]...)
	b = append(b, p.TargetHardwareAddr...)
	a4 = p.TargetIP.As4()
	b = append(b, a4[:]...)
	return b, nil
}

// MarshalBinary returns the wire form of p; see [ARP.AppendBinary].
func (p *ARP) MarshalBinary() ([]byte, error) {
	return p.AppendBinary(make([]byte, 0, ARPLen))
}

// UnmarshalBinary decodes an Ethernet/IPv4 ARP packet from b into p. Bytes
// after the first 28 (Ethernet padding) are ignored. It returns
// [io.ErrUnexpectedEOF] if b is shorter than 28 bytes, and an error wrapping
// [ErrHardwareType], [ErrProtocolType], [ErrHardwareAddrLen],
// [ErrProtocolAddrLen] or [ErrOperation] if a fixed field is wrong. It reuses
// the capacity of p's hardware address slices, so do not decode into a value
// whose slices are shared with something else.
func (p *ARP) UnmarshalBinary(b []byte) error {
	if len(b) < ARPLen {
		return io.ErrUnexpectedEOF
	}
	if v := binary.BigEndian.Uint16(b[0:2]); v != HardwareTypeEthernet {
		return fmt.Errorf("garp: ARP hardware type %d: %w", v, ErrHardwareType)
	}
	if v := binary.BigEndian.Uint16(b[2:4]); v != ProtocolTypeIPv4 {
		return fmt.Errorf("garp: ARP protocol type %#04x: %w", v, ErrProtocolType)
	}
	if b[4] != macLen {
		return fmt.Errorf("garp: ARP hardware address length %d: %w", b[4], ErrHardwareAddrLen)
	}
	if b[5] != ipv4Len {
		return fmt.Errorf("garp: ARP protocol address length %d: %w", b[5], ErrProtocolAddrLen)
	}
	op := Operation(binary.BigEndian.Uint16(b[6:8]))
	if op != OperationRequest && op != OperationReply {
		return fmt.Errorf("garp: ARP %v: %w", op, ErrOperation)
	}
	p.Operation = op
	p.SenderHardwareAddr = append(p.SenderHardwareAddr[:0], b[8:14]...)
	p.SenderIP = netip.AddrFrom4([4]byte(b[14:18]))
	p.TargetHardwareAddr = append(p.TargetHardwareAddr[:0], b[18:24]...)
	p.TargetIP = netip.AddrFrom4([4]byte(b[24:28]))
	return nil
}

func (p *ARP) validate() error {
	if p.Operation != OperationRequest && p.Operation != OperationReply {
		return fmt.Errorf("garp: ARP %v: %w", p.Operation, ErrOperation)
	}
	if len(p.SenderHardwareAddr) != macLen {
		return fmt.Errorf("garp: ARP SenderHardwareAddr %q: %w", p.SenderHardwareAddr, ErrHardwareAddr)
	}
	if len(p.TargetHardwareAddr) != macLen {
		return fmt.Errorf("garp: ARP TargetHardwareAddr %q: %w", p.TargetHardwareAddr, ErrHardwareAddr)
	}
	if !p.SenderIP.Is4() {
		return fmt.Errorf("garp: ARP SenderIP %v is not IPv4: %w", p.SenderIP, ErrAddress)
	}
	if !p.TargetIP.Is4() {
		return fmt.Errorf("garp: ARP TargetIP %v is not IPv4: %w", p.TargetIP, ErrAddress)
	}
	return nil
}
