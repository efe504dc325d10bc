package vrrp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	inet "github.com/vipkit/vipkit/internal/checksum"
)

// ChecksumForm names what the checksum of an advertisement covers. Two
// forms of VRRPv3 over IPv4 exist in the field, and a receiver can accept
// either: combine forms with | for Decode.
//
// Version 2 has only ChecksumMessageOnly (RFC 3768 §5.3.8) and IPv6 only
// ChecksumPseudoHeader (RFC 5798 §5.2.8, RFC 8200 §8.1): for them the form
// is fixed by the protocol and the argument is ignored. The zero value means
// ChecksumPseudoHeader, the RFC 5798 default.
type ChecksumForm uint8

const (
	// ChecksumPseudoHeader covers the message and the IP pseudo-header.
	// RFC 5798 §5.2.8 names only IPv6's pseudo-header (RFC 2460); keepalived
	// 2.2 and FRR read it as covering IPv4's too, and send this by default.
	ChecksumPseudoHeader ChecksumForm = 1 << iota
	// ChecksumMessageOnly covers the message alone, as VRRPv2 does. RFC 9568
	// §5.2.8 specifies it for VRRPv3 over IPv4; keepalived sends it with
	// v3_checksum_as_v2, and Wireshark checks it with
	// vrrp.v3_checksum_as_in_v2.
	ChecksumMessageOnly
)

func (f ChecksumForm) String() string {
	if f == 0 {
		return "default(pseudo-header)"
	}
	var names []string
	if f&ChecksumPseudoHeader != 0 {
		names = append(names, "pseudo-header")
	}
	if f&ChecksumMessageOnly != 0 {
		names = append(names, "message-only")
	}
	if rest := f &^ (ChecksumPseudoHeader | ChecksumMessageOnly); rest != 0 {
		names = append(names, fmt.Sprintf("ChecksumForm(%#x)", uint8(rest)))
	}
	return strings.Join(names, "|")
}

// sendForm returns the single form an advertisement of version v from src
// is sent with when f is configured.
func (f ChecksumForm) sendForm(v Version, src netip.Addr) ChecksumForm {
	switch {
	case v == Version2:
		return ChecksumMessageOnly
	case src.Is6():
		return ChecksumPseudoHeader
	case f&ChecksumPseudoHeader == 0 && f&ChecksumMessageOnly != 0:
		return ChecksumMessageOnly
	}
	return ChecksumPseudoHeader
}

// verifyChecksum checks the checksum field of the VRRP message msg, sent
// from src to dst, against the forms accept allows for its version and
// family, and returns the form that matched. The message is summed once
// for both forms.
func verifyChecksum(msg []byte, src, dst netip.Addr, accept ChecksumForm) (ChecksumForm, error) {
	v := Version(msg[0] >> 4)
	pseudo, only := true, true // the forms to try
	switch {
	case v == Version2:
		pseudo = false
	case src.Is6():
		only = false
	case accept&(ChecksumPseudoHeader|ChecksumMessageOnly) == ChecksumMessageOnly:
		pseudo = false
	case accept&ChecksumMessageOnly == 0:
		only = false
	}
	// The ones' complement sum over everything including the checksum
	// field is 0xffff exactly when the field is right (RFC 1071 §1).
	sum := inet.Add(0, msg)
	if pseudo && inet.Fold(sum+pseudoHeaderSum(msg, src, dst)) == 0 {
		return ChecksumPseudoHeader, nil
	}
	if only && inet.Fold(sum) == 0 {
		return ChecksumMessageOnly, nil
	}
	return 0, fmt.Errorf("%w: %#04x for %v from %v to %v (accepting %v)", ErrBadChecksum,
		binary.BigEndian.Uint16(msg[6:]), v, src, dst, accept)
}

// checksum returns the checksum (RFC 1071) of msg and, for
// ChecksumPseudoHeader, the pseudo-header of an IP packet from src to dst
// carrying it: RFC 768's layout for IPv4 and RFC 8200 §8.1's for IPv6, both
// with protocol 112.
func checksum(msg []byte, src, dst netip.Addr, form ChecksumForm) uint16 {
	var sum uint64
	if form == ChecksumPseudoHeader {
		sum = pseudoHeaderSum(msg, src, dst)
	}
	return inet.Fold(inet.Add(sum, msg))
}

// pseudoHeaderSum is the ones' complement sum of the pseudo-header of an IP
// packet from src to dst carrying msg.
func pseudoHeaderSum(msg []byte, src, dst netip.Addr) uint64 {
	return addAddr(addAddr(0, src), dst) + uint64(len(msg)) + ProtocolNumber
}

// addAddr adds the bytes of addr to a ones' complement sum.
func addAddr(sum uint64, addr netip.Addr) uint64 {
	if addr.Is4() {
		a := addr.As4()
		return inet.Add(sum, a[:])
	}
	a := addr.As16()
	return inet.Add(sum, a[:])
}
