// Package pcapio reads and writes the IP packets of Ethernet captures for
// vipkit's tests: it turns a pcap file into IP packets with their header
// fields decoded, and IP packets into a pcap file that tcpdump and tshark
// can decode.
//
// It decodes just enough of Ethernet, IPv4 (RFC 791) and IPv6 (RFC 8200)
// to hand the payload to a protocol parser, and tolerates truncated and
// malformed headers by returning what is there: the captures it reads are
// partly malformed on purpose.
package pcapio

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/vipkit/vipkit/internal/checksum"
)

// Ethernet types used here.
const (
	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86dd
)

// A Packet is one IP packet of a capture.
type Packet struct {
	Index    int       // 1-based, as tcpdump numbers packets
	Time     time.Time // when it was captured
	Src, Dst netip.Addr
	TTL      uint8 // IPv4 TTL or IPv6 hop limit
	Protocol uint8 // IPv4 protocol or IPv6 next header
	// Payload is what follows the IP header, cut to the IP length field
	// and to the captured bytes, whichever is shorter.
	Payload []byte
}

// Read returns the IPv4 and IPv6 packets of the Ethernet capture at path,
// skipping frames of other types.
func Read(path string) ([]Packet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("pcapio: %s: %w", path, err)
	}
	var link func([]byte) (etherType uint16, ip []byte, ok bool)
	switch r.LinkType() {
	case layers.LinkTypeEthernet:
		link = ethernetPayload
	case layers.LinkTypeFRelay:
		link = frameRelayPayload
	default:
		return nil, fmt.Errorf("pcapio: %s: link type %v, want Ethernet or Frame Relay", path, r.LinkType())
	}
	var pkts []Packet
	for i := 1; ; i++ {
		frame, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		if p, ok := decode(link(frame)); ok {
			p.Index, p.Time = i, ci.Timestamp
			pkts = append(pkts, p)
		}
	}
	return pkts, nil
}

// ethernetPayload returns the type and payload of an Ethernet frame.
func ethernetPayload(frame []byte) (uint16, []byte, bool) {
	if len(frame) < 14 {
		return 0, nil, false
	}
	return binary.BigEndian.Uint16(frame[12:]), frame[14:], true
}

// frameRelayPayload returns the type and payload of a Frame Relay frame
// (ITU-T Q.922 address of 2 to 4 bytes, its last byte marked by the EA
// bit) in Cisco encapsulation, an Ethernet type after the address, as
// tcpdump's malformed-VRRP captures use.
func frameRelayPayload(frame []byte) (uint16, []byte, bool) {
	n := 0
	for n < len(frame) && n < 4 && frame[n]&1 == 0 {
		n++
	}
	n++ // the byte with EA set ends the address
	if n < 2 || len(frame) < n+2 {
		return 0, nil, false
	}
	return binary.BigEndian.Uint16(frame[n:]), frame[n+2:], true
}

// decode returns the IP packet of a link-layer payload of the given
// Ethernet type, if it is one.
func decode(etherType uint16, ip []byte, ok bool) (Packet, bool) {
	if !ok {
		return Packet{}, false
	}
	switch etherType {
	case etherTypeIPv4:
		if len(ip) < 20 {
			return Packet{}, false
		}
		hlen := int(ip[0]&0x0f) * 4
		end := min(int(binary.BigEndian.Uint16(ip[2:])), len(ip))
		if hlen < 20 || hlen > end {
			return Packet{}, false
		}
		return Packet{
			Src:      netip.AddrFrom4([4]byte(ip[12:16])),
			Dst:      netip.AddrFrom4([4]byte(ip[16:20])),
			TTL:      ip[8],
			Protocol: ip[9],
			Payload:  ip[hlen:end],
		}, true
	case etherTypeIPv6:
		if len(ip) < 40 {
			return Packet{}, false
		}
		end := min(40+int(binary.BigEndian.Uint16(ip[4:])), len(ip))
		return Packet{
			Src:      netip.AddrFrom16([16]byte(ip[8:24])),
			Dst:      netip.AddrFrom16([16]byte(ip[24:40])),
			TTL:      ip[7],
			Protocol: ip[6],
			Payload:  ip[40:end],
		}, true
	}
	return Packet{}, false
}

// Write writes pkts to a new Ethernet capture at path, each in an IPv4 or
// IPv6 header with a correct header checksum, between two fixed MAC
// addresses.
func Write(path string, pkts []Packet) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return err
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, p := range pkts {
		frame := Frame(p)
		ci := gopacket.CaptureInfo{Timestamp: start.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(frame), Length: len(frame)}
		if err := w.WritePacket(ci, frame); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// Frame returns p as an Ethernet frame from 02:00:00:00:00:01 to the
// broadcast address.
func Frame(p Packet) []byte {
	src := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	frame := append([]byte{}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	frame = append(frame, src...)
	if p.Src.Is4() {
		frame = binary.BigEndian.AppendUint16(frame, etherTypeIPv4)
		h := make([]byte, 20)
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(p.Payload)))
		h[8], h[9] = p.TTL, p.Protocol
		s, d := p.Src.As4(), p.Dst.As4()
		copy(h[12:], s[:])
		copy(h[16:], d[:])
		binary.BigEndian.PutUint16(h[10:], checksum.Fold(checksum.Add(0, h))) // RFC 791 §3.1
		frame = append(frame, h...)
	} else {
		frame = binary.BigEndian.AppendUint16(frame, etherTypeIPv6)
		h := make([]byte, 40)
		h[0] = 0x60
		binary.BigEndian.PutUint16(h[4:], uint16(len(p.Payload)))
		h[6], h[7] = p.Protocol, p.TTL
		s, d := p.Src.As16(), p.Dst.As16()
		copy(h[8:], s[:])
		copy(h[24:], d[:])
		frame = append(frame, h...)
	}
	return append(frame, p.Payload...)
}
