package garp

import (
	"errors"
	"runtime"
)

// Sentinel errors. Functions in this package wrap them with %w and a "garp: "
// prefix that names the field and value at fault, so test for them with
// [errors.Is]. Input that is too short is reported as [io.ErrUnexpectedEOF]
// instead.
var (
	// ErrHardwareType: the ARP hardware type is not 1 (Ethernet, RFC 826).
	ErrHardwareType = errors.New("hardware type is not Ethernet")
	// ErrProtocolType: the ARP protocol type is not 0x0800 (IPv4).
	ErrProtocolType = errors.New("protocol type is not IPv4")
	// ErrHardwareAddrLen: the ARP hardware address length is not 6.
	ErrHardwareAddrLen = errors.New("hardware address length is not 6")
	// ErrProtocolAddrLen: the ARP protocol address length is not 4.
	ErrProtocolAddrLen = errors.New("protocol address length is not 4")
	// ErrOperation: the ARP opcode is neither request (1) nor reply (2).
	ErrOperation = errors.New("ARP operation is neither request nor reply")

	// ErrHardwareAddr: a MAC address to encode or use is not a 6-byte
	// Ethernet address, or is not usable as a source (zero or multicast).
	ErrHardwareAddr = errors.New("invalid Ethernet hardware address")
	// ErrAddress: an IP address has the wrong family or cannot be used where
	// it was given (zero value, unspecified, multicast, IPv4-mapped IPv6, ...).
	ErrAddress = errors.New("invalid IP address")
	// ErrEtherType: the Ethernet frame carries neither ARP nor IPv6.
	ErrEtherType = errors.New("EtherType is neither ARP nor IPv6")

	// ErrVersion: the IP version field is not 6.
	ErrVersion = errors.New("IP version is not 6")
	// ErrNextHeader: the IPv6 next header is not ICMPv6 (58). Packets with
	// extension headers are not neighbour advertisements this package sends
	// and are rejected with this error too.
	ErrNextHeader = errors.New("IPv6 next header is not ICMPv6")
	// ErrHopLimit: the IPv6 hop limit is not 255 (RFC 4861 §7.1.2).
	ErrHopLimit = errors.New("IPv6 hop limit is not 255")
	// ErrPayloadLength: the IPv6 payload length is smaller than a neighbour
	// advertisement (24 bytes, RFC 4861 §7.1.2).
	ErrPayloadLength = errors.New("IPv6 payload length too small for a neighbor advertisement")
	// ErrICMPType: the ICMPv6 type is not 136 (Neighbor Advertisement).
	ErrICMPType = errors.New("ICMPv6 type is not neighbor advertisement")
	// ErrICMPCode: the ICMPv6 code is not 0 (RFC 4861 §7.1.2).
	ErrICMPCode = errors.New("ICMPv6 code is not 0")
	// ErrChecksum: the ICMPv6 checksum does not verify (RFC 4443 §2.3,
	// pseudo-header of RFC 8200 §8.1).
	ErrChecksum = errors.New("bad ICMPv6 checksum")
	// ErrOptionLength: a neighbour discovery option has length 0, runs past
	// the end of the message (RFC 4861 §4.6), or is a Target Link-Layer
	// Address option whose length is not 1 (8 bytes, Ethernet, RFC 4861 §4.6.1).
	ErrOptionLength = errors.New("bad neighbor discovery option length")
	// ErrSolicited: the Solicited flag is set on an advertisement sent to a
	// multicast address (RFC 4861 §7.1.2).
	ErrSolicited = errors.New("solicited flag set on a multicast advertisement")

	// ErrConfig: a Sender option or constructor argument is invalid.
	ErrConfig = errors.New("invalid configuration")
	// ErrNotSupported: opening a socket is not implemented on this GOOS
	// (only Linux has one); its text is "not supported on " + GOOS.
	ErrNotSupported = errors.New("not supported on " + runtime.GOOS)
)
