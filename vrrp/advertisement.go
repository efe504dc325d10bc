package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// Protocol invariants (RFC 3768 §5.2, RFC 5798 §5.1.1, §5.1.2).
const (
	// ProtocolNumber is the IP protocol number of VRRP (RFC 5798 §5.1.1.4).
	ProtocolNumber = 112
	// TTL is the IPv4 TTL and IPv6 hop limit every VRRP packet is sent with
	// and, on multicast, must arrive with (RFC 5798 §5.1.1.3, §7.1).
	TTL = 255
	// TOS is the IPv4 TOS and IPv6 traffic class advertisements are sent
	// with: 0xc0, DSCP class selector 6 (network control), as keepalived
	// and FRR send them, so that a congested link queues them ahead of
	// ordinary traffic. The RFCs leave it unset; nothing checks it on
	// receipt.
	TOS = 0xc0
)

// The multicast groups advertisements are sent to (RFC 5798 §5.1.1.2, §5.1.2.2).
var (
	MulticastGroupIPv4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	MulticastGroupIPv6 = netip.MustParseAddr("ff02::12")
)

// Sizes on the wire.
const (
	headerLen   = 8 // version/type through checksum
	authDataLen = 8 // VRRPv2 authentication data (RFC 3768 §5.3.10)
)

// Errors a malformed advertisement decodes or encodes to. Each is wrapped
// with the detail that caused it; test with errors.Is. A message shorter
// than its fixed fields or its address count says returns an error that
// wraps io.ErrUnexpectedEOF.
var (
	// ErrVersion: the version field is neither 2 nor 3.
	ErrVersion = errors.New("vrrp: unsupported version")
	// ErrType: the type field is not 1, ADVERTISEMENT (RFC 5798 §5.2.2).
	ErrType = errors.New("vrrp: not an advertisement")
	// ErrVRID: the virtual router ID is 0 (RFC 5798 §5.2.3: 1 to 255).
	ErrVRID = errors.New("vrrp: invalid virtual router ID")
	// ErrInterval: the advertisement interval is 0, or cannot be expressed
	// in the version's unit and range (v2: whole seconds 1..255, RFC 3768
	// §5.3.7; v3: centiseconds 1..4095, RFC 5798 §5.2.7).
	ErrInterval = errors.New("vrrp: invalid advertisement interval")
	// ErrLength: the message is longer than its address count says.
	ErrLength = errors.New("vrrp: length does not match address count")
	// ErrAddress: no address (count 0, RFC 9568 erratum 8299), or an
	// address is invalid, of the wrong family for the version or packet,
	// or there are more than 255.
	ErrAddress = errors.New("vrrp: invalid address list")
	// ErrAuthType: the VRRPv2 authentication type is not 0, 1 or 2
	// (RFC 3768 §5.3.6, RFC 2338 §5.3.6).
	ErrAuthType = errors.New("vrrp: unknown authentication type")
	// ErrAuthV3: VRRPv3 has no authentication (RFC 5798 §9), yet the
	// advertisement carries VRRPv2 authentication fields.
	ErrAuthV3 = errors.New("vrrp: authentication fields in a VRRPv3 advertisement")
	// ErrBadChecksum: the checksum does not verify in any accepted form.
	ErrBadChecksum = errors.New("vrrp: bad checksum")
)

// Version is the VRRP version of an advertisement. The zero value is invalid.
type Version uint8

// The versions vipkit speaks.
const (
	Version2 Version = 2 // RFC 3768, IPv4 only
	Version3 Version = 3 // RFC 5798 and RFC 9568, IPv4 and IPv6
)

func (v Version) String() string {
	switch v {
	case Version2, Version3:
		return fmt.Sprintf("VRRPv%d", uint8(v))
	}
	return fmt.Sprintf("Version(%d)", uint8(v))
}

// Type is the VRRP packet type (RFC 5798 §5.2.2). The zero value is invalid.
type Type uint8

// TypeAdvertisement is the only packet type VRRP defines.
const TypeAdvertisement Type = 1

func (t Type) String() string {
	if t == TypeAdvertisement {
		return "ADVERTISEMENT"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// AuthType is the VRRPv2 authentication type (RFC 3768 §5.3.6). RFC 3768
// reserves types 1 and 2; they keep the meaning RFC 2338 gave them, which
// keepalived still speaks.
type AuthType uint8

// The VRRPv2 authentication types.
const (
	AuthNone   AuthType = 0 // no authentication
	AuthSimple AuthType = 1 // simple text password in AuthData (RFC 2338 §5.3.6.1; keepalived auth_type PASS)
	AuthAH     AuthType = 2 // IP Authentication Header (RFC 2338 §5.3.6.2; keepalived auth_type AH)
)

func (a AuthType) String() string {
	switch a {
	case AuthNone:
		return "none"
	case AuthSimple:
		return "simple"
	case AuthAH:
		return "ah"
	}
	return fmt.Sprintf("AuthType(%d)", uint8(a))
}

// An Advertisement is a VRRP ADVERTISEMENT message (RFC 3768 §5.1 for
// version 2, RFC 5798 §5.1 for version 3), without the IP header that
// carries it.
//
// Encoding appends into a caller's buffer and decoding fills a caller-owned
// value, reusing its Addresses slice: with a reused value and buffer neither
// allocates.
type Advertisement struct {
	Version  Version
	Type     Type
	VRID     uint8 // virtual router ID, 1..255
	Priority uint8 // 0 = master stepping down, 255 = address owner

	// Interval is the advertisement interval: whole seconds from 1 s to
	// 255 s in version 2, centiseconds from 10 ms to 40.95 s in version 3
	// (where it is the Max Adver Int).
	Interval time.Duration

	// AuthType and AuthData are version 2 only and must be zero in
	// version 3. AuthData is the 8-byte simple text password, zero padded,
	// for AuthSimple.
	AuthType AuthType
	AuthData [authDataLen]byte

	// Addresses are the virtual router's addresses: IPv4 in version 2,
	// all IPv4 or all IPv6 in version 3. The count field is their number.
	Addresses []netip.Addr

	// Checksum is the checksum field as decoded. AppendBinary writes it as
	// it is; Append computes it.
	Checksum uint16
}

// Len returns the encoded length of a in bytes.
func (a *Advertisement) Len() int {
	n := headerLen
	if len(a.Addresses) > 0 && a.Addresses[0].Is6() {
		n += 16 * len(a.Addresses)
	} else {
		n += 4 * len(a.Addresses)
	}
	if a.Version == Version2 {
		n += authDataLen
	}
	return n
}

// AppendBinary appends the wire form of a to b with the checksum field set
// to a.Checksum, unchanged. It implements encoding.BinaryAppender; to send,
// use Append, which computes the checksum. It fails, appending nothing,
// when a field cannot be encoded.
func (a *Advertisement) AppendBinary(b []byte) ([]byte, error) {
	var intervalField uint16
	switch a.Version {
	case Version2:
		if a.Interval%time.Second != 0 || a.Interval < time.Second || a.Interval > 255*time.Second {
			return b, fmt.Errorf("%w: %v is not whole seconds from 1 to 255 (RFC 3768 §5.3.7)", ErrInterval, a.Interval)
		}
		if a.AuthType > AuthAH {
			return b, fmt.Errorf("%w: %d", ErrAuthType, a.AuthType)
		}
		intervalField = uint16(a.AuthType)<<8 | uint16(a.Interval/time.Second)
	case Version3:
		cs := a.Interval / (10 * time.Millisecond)
		if a.Interval%(10*time.Millisecond) != 0 || cs < 1 || cs > 0xfff {
			return b, fmt.Errorf("%w: %v is not centiseconds from 1 to 4095 (RFC 5798 §5.2.7)", ErrInterval, a.Interval)
		}
		if a.AuthType != AuthNone || a.AuthData != [authDataLen]byte{} {
			return b, ErrAuthV3
		}
		intervalField = uint16(cs)
	default:
		return b, fmt.Errorf("%w: %d", ErrVersion, a.Version)
	}
	if a.Type != TypeAdvertisement {
		return b, fmt.Errorf("%w: type %d", ErrType, a.Type)
	}
	if a.VRID == 0 {
		return b, ErrVRID
	}
	if err := a.checkAddresses(); err != nil {
		return b, err
	}

	b = append(b, byte(a.Version)<<4|byte(a.Type), a.VRID, a.Priority, byte(len(a.Addresses)))
	b = binary.BigEndian.AppendUint16(b, intervalField)
	b = binary.BigEndian.AppendUint16(b, a.Checksum)
	for _, addr := range a.Addresses {
		if addr.Is4() {
			a4 := addr.As4()
			b = append(b, a4[:]...)
		} else {
			a16 := addr.As16()
			b = append(b, a16[:]...)
		}
	}
	if a.Version == Version2 {
		b = append(b, a.AuthData[:]...)
	}
	return b, nil
}

// checkAddresses reports whether a's address list can be encoded: 1 to
// 255 (RFC 9568 erratum 8299: at least one), all valid, all of one family,
// and IPv4 for version 2.
func (a *Advertisement) checkAddresses() error {
	if len(a.Addresses) == 0 {
		return fmt.Errorf("%w: none; an advertisement carries at least one", ErrAddress)
	}
	if len(a.Addresses) > 255 {
		return fmt.Errorf("%w: %d addresses, at most 255 fit the count field", ErrAddress, len(a.Addresses))
	}
	for i, addr := range a.Addresses {
		switch {
		case !addr.IsValid() || addr.Is4In6() || addr.Zone() != "":
			return fmt.Errorf("%w: address %d (%v) is not a plain IPv4 or IPv6 address", ErrAddress, i, addr)
		case addr.Is6() && a.Version == Version2:
			return fmt.Errorf("%w: address %d (%v): VRRPv2 is IPv4 only (RFC 3768)", ErrAddress, i, addr)
		case addr.Is6() != a.Addresses[0].Is6():
			return fmt.Errorf("%w: address %d (%v) is not of the same family as address 0 (%v)", ErrAddress, i, addr, a.Addresses[0])
		}
	}
	return nil
}

// MarshalBinary returns the wire form of a with its checksum field as it is.
// It implements encoding.BinaryMarshaler.
func (a *Advertisement) MarshalBinary() ([]byte, error) {
	return a.AppendBinary(make([]byte, 0, a.Len()))
}

// Append appends the wire form of a to b with the checksum computed for an
// IP packet from src to dst (RFC 5798 §5.2.8, RFC 3768 §5.3.8). form
// selects the checksum of VRRPv3 over IPv4 (see ChecksumForm); version 2 and
// IPv6 have one form only and ignore it. a itself is not changed.
func (a *Advertisement) Append(b []byte, src, dst netip.Addr, form ChecksumForm) ([]byte, error) {
	if err := checkPseudoHeader(a, src, dst); err != nil {
		return b, err
	}
	start := len(b)
	b, err := a.AppendBinary(b)
	if err != nil {
		return b, err
	}
	msg := b[start:]
	binary.BigEndian.PutUint16(msg[6:], 0)
	binary.BigEndian.PutUint16(msg[6:], checksum(msg, src, dst, form.sendForm(a.Version, src)))
	return b, nil
}

// checkPseudoHeader reports whether src and dst can carry a.
func checkPseudoHeader(a *Advertisement, src, dst netip.Addr) error {
	if !src.IsValid() || !dst.IsValid() || src.Is6() != dst.Is6() || src.Is4In6() || dst.Is4In6() {
		return fmt.Errorf("%w: source %v and destination %v are not a pair of IPv4 or IPv6 addresses", ErrAddress, src, dst)
	}
	if len(a.Addresses) > 0 && a.Addresses[0].Is6() != src.Is6() {
		return fmt.Errorf("%w: %v advertised in a packet from %v", ErrAddress, a.Addresses[0], src)
	}
	if a.Version == Version2 && src.Is6() {
		return fmt.Errorf("%w: VRRPv2 is IPv4 only (RFC 3768), source %v", ErrAddress, src)
	}
	return nil
}

// UnmarshalBinary decodes the VRRP message b into a, reusing a's Addresses
// slice. It checks structure only, not the checksum: see Decode. The
// address family of a version 3 message follows from its length (count
// IPv4 or count IPv6 addresses, nothing else). On error a is left in an
// unspecified state. It implements encoding.BinaryUnmarshaler.
func (a *Advertisement) UnmarshalBinary(b []byte) error {
	if len(b) < headerLen {
		return fmt.Errorf("vrrp: %d bytes, a header needs %d: %w", len(b), headerLen, io.ErrUnexpectedEOF)
	}
	a.Version = Version(b[0] >> 4)
	a.Type = Type(b[0] & 0x0f)
	a.VRID = b[1]
	a.Priority = b[2]
	count := int(b[3])
	a.Checksum = binary.BigEndian.Uint16(b[6:])
	a.AuthData = [authDataLen]byte{}
	body := len(b) - headerLen

	var addrLen int
	switch a.Version {
	case Version2:
		a.AuthType = AuthType(b[4])
		a.Interval = time.Duration(b[5]) * time.Second
		addrLen = 4
		if need := 4*count + authDataLen; body < need {
			return fmt.Errorf("vrrp: %d addresses and authentication data need %d bytes after the header, have %d: %w", count, need, body, io.ErrUnexpectedEOF)
		} else if body > need {
			return fmt.Errorf("%w: %d bytes after the header, %d addresses and authentication data take %d", ErrLength, body, count, need)
		}
	case Version3:
		a.AuthType = AuthNone
		a.Interval = time.Duration(binary.BigEndian.Uint16(b[4:])&0xfff) * 10 * time.Millisecond
		switch {
		case body == 4*count:
			addrLen = 4
		case body == 16*count:
			addrLen = 16
		case body < 4*count:
			return fmt.Errorf("vrrp: %d addresses need at least %d bytes after the header, have %d: %w", count, 4*count, body, io.ErrUnexpectedEOF)
		case body == 4*count+authDataLen || body == 16*count+authDataLen:
			return fmt.Errorf("%w: %d bytes of VRRPv2 authentication data follow the addresses", ErrAuthV3, authDataLen)
		case body < 16*count:
			return fmt.Errorf("%w: %d bytes after the header are neither %d IPv4 nor %d IPv6 addresses", ErrLength, body, count, count)
		default:
			return fmt.Errorf("%w: %d bytes after the header, %d IPv6 addresses take %d", ErrLength, body, count, 16*count)
		}
	default:
		return fmt.Errorf("%w: %d", ErrVersion, a.Version)
	}
	if a.Type != TypeAdvertisement {
		return fmt.Errorf("%w: type %d", ErrType, a.Type)
	}
	if a.VRID == 0 {
		return ErrVRID
	}
	if a.Interval == 0 {
		return fmt.Errorf("%w: 0", ErrInterval)
	}
	if a.AuthType > AuthAH {
		return fmt.Errorf("%w: %d", ErrAuthType, a.AuthType)
	}
	if count == 0 {
		// RFC 9568 erratum 8299: an advertisement carries at least one
		// address.
		return fmt.Errorf("%w: none (count 0)", ErrAddress)
	}

	a.Addresses = a.Addresses[:0]
	p := b[headerLen:]
	for range count {
		if addrLen == 4 {
			a.Addresses = append(a.Addresses, netip.AddrFrom4([4]byte(p)))
		} else {
			addr := netip.AddrFrom16([16]byte(p))
			if addr.Is4In6() {
				return fmt.Errorf("%w: IPv4-mapped address %v in an IPv6 advertisement", ErrAddress, addr)
			}
			a.Addresses = append(a.Addresses, addr)
		}
		p = p[addrLen:]
	}
	if a.Version == Version2 {
		a.AuthData = [authDataLen]byte(p)
	}
	return nil
}

// Decode decodes the VRRP message b of an IP packet from src to dst into a,
// as UnmarshalBinary does, and verifies its checksum in the forms accept
// allows (see ChecksumForm). It returns the form that matched. Addresses of
// another family than the packet's are an ErrAddress error.
func (a *Advertisement) Decode(b []byte, src, dst netip.Addr, accept ChecksumForm) (ChecksumForm, error) {
	if err := a.UnmarshalBinary(b); err != nil {
		return 0, err
	}
	if err := checkPseudoHeader(a, src, dst); err != nil {
		return 0, err
	}
	return verifyChecksum(b, src, dst, accept)
}
