package garp_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/mdlayher/ethernet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/garp"
)

// Fixtures: a documentation MAC address (RFC 7042 §2.1.2) and documentation
// IP addresses (RFC 5737, RFC 3849).
var (
	mac    = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x01}
	mac2   = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x02}
	vip4   = netip.MustParseAddr("192.0.2.100")
	vip6   = netip.MustParseAddr("2001:db8::100")
	lladdr = netip.MustParseAddr("fe80::200:5eff:fe00:5301")
)

// unhex decodes hex that may contain spaces, newlines and | separators.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "\n", "", "\t", "", "|", "").Replace(s)
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// Hand-assembled expected frames.
const (
	garpRequestHex = `
		ffffffffffff 00005e005301 0806
		0001 0800 06 04 0001
		00005e005301 c0000264
		ffffffffffff c0000264`
	garpReplyHex = `
		ffffffffffff 00005e005301 0806
		0001 0800 06 04 0002
		00005e005301 c0000264
		00005e005301 c0000264`
	// The checksum 0x482c was summed by hand (RFC 1071): pseudo-header
	// 2001+0db8+0100 + ff02+0001 + 0020 + 003a, message 8800+2000 +
	// 2001+0db8+0100 + 0201+0000+5e00+5301 = 0x2b7d1 -> fold 0xb7d3 ->
	// complement 0x482c. tshark agrees (TestTsharkDecodes).
	naHex = `
		333300000001 00005e005301 86dd
		60000000 0020 3a ff
		20010db8000000000000000000000100
		ff020000000000000000000000000001
		88 00 482c 20000000
		20010db8000000000000000000000100
		02 01 00005e005301`
)

// refChecksum is a deliberately naive, independent ICMPv6 checksum: 16-bit
// words of the pseudo-header (RFC 8200 §8.1) and the message, folded.
func refChecksum(ipv6Packet []byte) uint16 {
	plen := int(binary.BigEndian.Uint16(ipv6Packet[4:6]))
	var pseudo []byte
	pseudo = append(pseudo, ipv6Packet[8:40]...)
	pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(plen))
	pseudo = append(pseudo, 0, 0, 0, 58)
	msg := append([]byte(nil), ipv6Packet[40:40+plen]...)
	msg[2], msg[3] = 0, 0
	all := append(pseudo, msg...)
	if len(all)%2 == 1 {
		all = append(all, 0)
	}
	var sum uint32
	for i := 0; i < len(all); i += 2 {
		sum += uint32(all[i])<<8 | uint32(all[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// fixChecksum rewrites the ICMPv6 checksum of an IPv6 packet.
func fixChecksum(p []byte) {
	binary.BigEndian.PutUint16(p[42:44], refChecksum(p))
}

func TestAppendFramesByteExact(t *testing.T) {
	tests := []struct {
		name string
		got  func(b []byte) ([]byte, error)
		want string
	}{
		{"GARP request", func(b []byte) ([]byte, error) {
			return garp.AppendGratuitousARP(b, garp.OperationRequest, mac, vip4)
		}, garpRequestHex},
		{"GARP zero op means request", func(b []byte) ([]byte, error) {
			return garp.AppendGratuitousARP(b, 0, mac, vip4)
		}, garpRequestHex},
		{"GARP reply", func(b []byte) ([]byte, error) {
			return garp.AppendGratuitousARP(b, garp.OperationReply, mac, vip4)
		}, garpReplyHex},
		{"NA source defaults to target", func(b []byte) ([]byte, error) {
			return garp.AppendUnsolicitedNA(b, mac, netip.Addr{}, vip6)
		}, naHex},
		{"NA explicit source equal to target", func(b []byte) ([]byte, error) {
			return garp.AppendUnsolicitedNA(b, mac, vip6, vip6)
		}, naHex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("keep")
			b, err := tt.got(append([]byte(nil), prefix...))
			require.NoError(t, err)
			want := unhex(t, tt.want)
			assert.Equal(t, hex.EncodeToString(want), hex.EncodeToString(b[len(prefix):]))
			assert.Equal(t, prefix, b[:len(prefix)], "prefix of the buffer changed")
		})
	}

	t.Run("NA checksum matches the reference", func(t *testing.T) {
		b := unhex(t, naHex)
		assert.Equal(t, uint16(0x482c), refChecksum(b[14:]))
	})

	t.Run("NA from link-local source", func(t *testing.T) {
		b, err := garp.AppendUnsolicitedNA(nil, mac, lladdr, vip6)
		require.NoError(t, err)
		want := unhex(t, naHex)
		copy(want[14+8:14+24], lladdr.AsSlice())
		fixChecksum(want[14:])
		assert.Equal(t, hex.EncodeToString(want), hex.EncodeToString(b))
		assert.NotEqual(t, uint16(0x482c), binary.BigEndian.Uint16(b[14+42:]))
	})
}

func TestMarshalMatchesAppend(t *testing.T) {
	a := garp.GratuitousARP(garp.OperationRequest, mac, vip4)
	b, err := a.MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, unhex(t, garpRequestHex)[14:], b)

	na := garp.UnsolicitedNA(mac, netip.Addr{}, vip6)
	b, err = na.MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, unhex(t, naHex)[14:], b)
	assert.Equal(t, garp.NeighborAdvertisementLen, na.Len())

	f := garp.Frame{Destination: garp.Broadcast(), Source: mac, EtherType: ethernet.EtherTypeARP, ARP: a}
	b, err = f.MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, unhex(t, garpRequestHex), b)
}

func TestRoundTrip(t *testing.T) {
	arps := []garp.ARP{
		garp.GratuitousARP(garp.OperationRequest, mac, vip4),
		garp.GratuitousARP(garp.OperationReply, mac, vip4),
		{
			Operation:          garp.OperationReply,
			SenderHardwareAddr: mac,
			SenderIP:           netip.MustParseAddr("192.0.2.1"),
			TargetHardwareAddr: mac2,
			TargetIP:           netip.MustParseAddr("192.0.2.2"),
		},
	}
	for _, p := range arps {
		b, err := p.MarshalBinary()
		require.NoError(t, err)
		var got garp.ARP
		require.NoError(t, got.UnmarshalBinary(b))
		assert.Equal(t, p, got)
	}

	nas := []garp.NeighborAdvertisement{
		garp.UnsolicitedNA(mac, netip.Addr{}, vip6),
		garp.UnsolicitedNA(mac, lladdr, vip6),
		{Source: lladdr, Destination: netip.MustParseAddr("2001:db8::1"), Router: true, Solicited: true, Override: true, Target: vip6, TargetLinkLayerAddr: mac2},
		{Source: vip6, Destination: garp.AllNodes, Target: vip6, TargetLinkLayerAddr: net.HardwareAddr{}},
	}
	for _, na := range nas {
		b, err := na.MarshalBinary()
		require.NoError(t, err)
		require.Len(t, b, na.Len())
		var got garp.NeighborAdvertisement
		require.NoError(t, got.UnmarshalBinary(b))
		if len(na.TargetLinkLayerAddr) == 0 {
			assert.Empty(t, got.TargetLinkLayerAddr)
			got.TargetLinkLayerAddr = na.TargetLinkLayerAddr
		}
		assert.Equal(t, na, got)
	}

	// One Frame value decodes ARP and NA frames alternately.
	var f garp.Frame
	for range 2 {
		b, err := garp.AppendGratuitousARP(nil, garp.OperationRequest, mac, vip4)
		require.NoError(t, err)
		require.NoError(t, f.UnmarshalBinary(b))
		assert.Equal(t, ethernet.EtherTypeARP, f.EtherType)
		assert.Equal(t, garp.Broadcast(), f.Destination)
		assert.Equal(t, mac, f.Source)
		assert.Equal(t, arps[0], f.ARP)
		assert.False(t, f.NA.Target.IsValid(), "NA not cleared")
		b2, err := f.MarshalBinary()
		require.NoError(t, err)
		assert.Equal(t, b, b2)

		b, err = garp.AppendUnsolicitedNA(nil, mac, netip.Addr{}, vip6)
		require.NoError(t, err)
		require.NoError(t, f.UnmarshalBinary(b))
		assert.Equal(t, ethernet.EtherTypeIPv6, f.EtherType)
		assert.Equal(t, garp.AllNodesMAC(), f.Destination)
		assert.Equal(t, nas[0], f.NA)
		assert.False(t, f.ARP.SenderIP.IsValid(), "ARP not cleared")
		b2, err = f.MarshalBinary()
		require.NoError(t, err)
		assert.Equal(t, b, b2)
	}
}

func TestARPUnmarshalErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		want   error
	}{
		{"hardware type 6 (IEEE 802)", func(b []byte) []byte { b[1] = 6; return b }, garp.ErrHardwareType},
		{"protocol type IPv6", func(b []byte) []byte { b[2], b[3] = 0x86, 0xdd; return b }, garp.ErrProtocolType},
		{"hardware length 8", func(b []byte) []byte { b[4] = 8; return b }, garp.ErrHardwareAddrLen},
		{"protocol length 16", func(b []byte) []byte { b[5] = 16; return b }, garp.ErrProtocolAddrLen},
		{"op 0", func(b []byte) []byte { b[7] = 0; return b }, garp.ErrOperation},
		{"op 3 (RARP request)", func(b []byte) []byte { b[7] = 3; return b }, garp.ErrOperation},
		{"op 0x0101", func(b []byte) []byte { b[6] = 1; return b }, garp.ErrOperation},
		{"27 bytes", func(b []byte) []byte { return b[:27] }, io.ErrUnexpectedEOF},
		{"empty", func(b []byte) []byte { return b[:0] }, io.ErrUnexpectedEOF},
		{"padding is fine", func(b []byte) []byte { return append(b, make([]byte, 18)...) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.mutate(unhex(t, garpRequestHex)[14:])
			var p garp.ARP
			err := p.UnmarshalBinary(b)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			if tt.want != io.ErrUnexpectedEOF {
				assert.True(t, strings.HasPrefix(err.Error(), "garp: "), err.Error())
			}
		})
	}
}

func TestNAUnmarshal(t *testing.T) {
	tlla := func(m net.HardwareAddr) []byte { return append([]byte{2, 1}, m...) }
	// withOpts replaces the options of the packet and fixes the payload
	// length and the checksum.
	withOpts := func(opts ...[]byte) func(b []byte) []byte {
		return func(b []byte) []byte {
			b = b[:40+24]
			for _, o := range opts {
				b = append(b, o...)
			}
			binary.BigEndian.PutUint16(b[4:6], uint16(len(b)-40))
			return b
		}
	}
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		fix    bool // recompute the checksum after mutate
		want   error
		check  func(t *testing.T, na *garp.NeighborAdvertisement)
	}{
		{name: "valid", mutate: func(b []byte) []byte { return b }, check: func(t *testing.T, na *garp.NeighborAdvertisement) {
			assert.Equal(t, garp.UnsolicitedNA(mac, vip6, vip6), *na)
		}},
		{name: "trailing bytes past payload length ignored", mutate: func(b []byte) []byte { return append(b, 1, 2, 3) }},
		{name: "no options", mutate: withOpts(), fix: true, check: func(t *testing.T, na *garp.NeighborAdvertisement) {
			assert.Empty(t, na.TargetLinkLayerAddr)
		}},
		{name: "unknown option skipped", mutate: withOpts([]byte{14, 1, 1, 2, 3, 4, 5, 6}, tlla(mac2)), fix: true, check: func(t *testing.T, na *garp.NeighborAdvertisement) {
			assert.Equal(t, mac2, na.TargetLinkLayerAddr)
		}},
		{name: "first of two TLLA options kept", mutate: withOpts(tlla(mac2), tlla(mac)), fix: true, check: func(t *testing.T, na *garp.NeighborAdvertisement) {
			assert.Equal(t, mac2, na.TargetLinkLayerAddr)
		}},
		{name: "flags R S to unicast", mutate: func(b []byte) []byte {
			b[24] = 0x20 // destination 2001:db8::... is unicast
			b[44] = 0xe0
			return b
		}, fix: true, check: func(t *testing.T, na *garp.NeighborAdvertisement) {
			assert.True(t, na.Router)
			assert.True(t, na.Solicited)
			assert.True(t, na.Override)
		}},
		{name: "reserved bits ignored", mutate: func(b []byte) []byte { b[45], b[47] = 0xff, 0x01; return b }, fix: true},

		{name: "empty", mutate: func(b []byte) []byte { return b[:0] }, want: io.ErrUnexpectedEOF},
		{name: "header only", mutate: func(b []byte) []byte { return b[:40] }, want: io.ErrUnexpectedEOF},
		{name: "payload length beyond the data", mutate: func(b []byte) []byte { b[5] = 40; return b }, want: io.ErrUnexpectedEOF},
		{name: "payload length 0xffff", mutate: func(b []byte) []byte { b[4], b[5] = 0xff, 0xff; return b }, want: io.ErrUnexpectedEOF},
		{name: "version 4", mutate: func(b []byte) []byte { b[0] = 0x45; return b }, want: garp.ErrVersion},
		{name: "next header hop-by-hop", mutate: func(b []byte) []byte { b[6] = 0; return b }, want: garp.ErrNextHeader},
		{name: "next header UDP", mutate: func(b []byte) []byte { b[6] = 17; return b }, want: garp.ErrNextHeader},
		{name: "hop limit 254", mutate: func(b []byte) []byte { b[7] = 254; return b }, want: garp.ErrHopLimit},
		{name: "hop limit 64", mutate: func(b []byte) []byte { b[7] = 64; return b }, want: garp.ErrHopLimit},
		{name: "payload length 23", mutate: func(b []byte) []byte { b[5] = 23; return b }, want: garp.ErrPayloadLength},
		{name: "payload length 0", mutate: func(b []byte) []byte { b[5] = 0; return b }, want: garp.ErrPayloadLength},
		{name: "bad checksum", mutate: func(b []byte) []byte { b[43] ^= 1; return b }, want: garp.ErrChecksum},
		{name: "corrupt target", mutate: func(b []byte) []byte { b[63] ^= 0x40; return b }, want: garp.ErrChecksum},
		{name: "corrupt source", mutate: func(b []byte) []byte { b[9] ^= 0x40; return b }, want: garp.ErrChecksum},
		{name: "payload length shortened", mutate: func(b []byte) []byte { b[5] = 24; return b }, want: garp.ErrChecksum},
		{name: "type 135 (NS)", mutate: func(b []byte) []byte { b[40] = 135; return b }, fix: true, want: garp.ErrICMPType},
		{name: "type 128 (echo)", mutate: func(b []byte) []byte { b[40] = 128; return b }, fix: true, want: garp.ErrICMPType},
		{name: "code 1", mutate: func(b []byte) []byte { b[41] = 1; return b }, fix: true, want: garp.ErrICMPCode},
		{name: "option length 0", mutate: func(b []byte) []byte { b[65] = 0; return b }, fix: true, want: garp.ErrOptionLength},
		{name: "option runs past payload", mutate: func(b []byte) []byte { b[65] = 2; return b }, fix: true, want: garp.ErrOptionLength},
		{name: "option runs past payload into padding", mutate: func(b []byte) []byte {
			b[65] = 2
			return append(b, make([]byte, 8)...)
		}, fix: true, want: garp.ErrOptionLength},
		{name: "TLLA of 16 bytes", mutate: withOpts([]byte{2, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}), fix: true, want: garp.ErrOptionLength},
		{name: "lone option byte", mutate: withOpts(tlla(mac), []byte{14}), fix: true, want: garp.ErrOptionLength},
		{name: "odd payload", mutate: withOpts([]byte{14, 0, 0}), fix: true, want: garp.ErrOptionLength},
		{name: "multicast target", mutate: func(b []byte) []byte { copy(b[48:64], garp.AllNodes.AsSlice()); return b }, fix: true, want: garp.ErrAddress},
		{name: "unspecified target", mutate: func(b []byte) []byte { clear(b[48:64]); return b }, fix: true, want: garp.ErrAddress},
		{name: "IPv4-mapped target", mutate: func(b []byte) []byte {
			copy(b[48:64], netip.AddrFrom16(vip4.As16()).AsSlice())
			return b
		}, fix: true, want: garp.ErrAddress},
		{name: "multicast source", mutate: func(b []byte) []byte { b[8] = 0xff; return b }, fix: true, want: garp.ErrAddress},
		{name: "unspecified source", mutate: func(b []byte) []byte { clear(b[8:24]); return b }, fix: true, want: garp.ErrAddress},
		{name: "unspecified destination", mutate: func(b []byte) []byte { clear(b[24:40]); return b }, fix: true, want: garp.ErrAddress},
		{name: "solicited to all-nodes", mutate: func(b []byte) []byte { b[44] |= 0x40; return b }, fix: true, want: garp.ErrSolicited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.mutate(unhex(t, naHex)[14:])
			if tt.fix {
				fixChecksum(b)
			}
			na := garp.NeighborAdvertisement{TargetLinkLayerAddr: make(net.HardwareAddr, 0, 6)}
			err := na.UnmarshalBinary(b)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				if tt.want != io.ErrUnexpectedEOF {
					assert.True(t, strings.HasPrefix(err.Error(), "garp: "), err.Error())
				}
				return
			}
			require.NoError(t, err)
			if tt.check != nil {
				tt.check(t, &na)
			}
			// Whatever decodes encodes and decodes to the same value.
			b2, err := na.MarshalBinary()
			require.NoError(t, err)
			var again garp.NeighborAdvertisement
			require.NoError(t, again.UnmarshalBinary(b2))
			assert.Equal(t, na.Target, again.Target)
			assert.True(t, bytes.Equal(na.TargetLinkLayerAddr, again.TargetLinkLayerAddr))
			again.TargetLinkLayerAddr = na.TargetLinkLayerAddr
			assert.Equal(t, na, again)
		})
	}
}

func TestFrameUnmarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		b    func(t *testing.T) []byte
		want error
	}{
		{"13 bytes", func(t *testing.T) []byte { return unhex(t, garpRequestHex)[:13] }, io.ErrUnexpectedEOF},
		{"IPv4 EtherType", func(t *testing.T) []byte {
			b := unhex(t, garpRequestHex)
			b[12], b[13] = 0x08, 0x00
			return b
		}, garp.ErrEtherType},
		{"802.1Q tag", func(t *testing.T) []byte {
			b := unhex(t, garpRequestHex)
			return append(append(b[:12:12], 0x81, 0x00, 0x00, 0x05), b[12:]...)
		}, garp.ErrEtherType},
		{"ARP payload error", func(t *testing.T) []byte {
			b := unhex(t, garpRequestHex)
			b[14+7] = 9
			return b
		}, garp.ErrOperation},
		{"NA payload error", func(t *testing.T) []byte {
			b := unhex(t, naHex)
			b[14+7] = 1
			return b
		}, garp.ErrHopLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f garp.Frame
			require.ErrorIs(t, f.UnmarshalBinary(tt.b(t)), tt.want)
		})
	}
}

// Every prefix of a valid packet or frame fails cleanly with
// io.ErrUnexpectedEOF (none is a valid packet of its own).
func TestTruncatedAtEveryLength(t *testing.T) {
	arpFrame := unhex(t, garpRequestHex)
	naFrame := unhex(t, naHex)
	decoders := []struct {
		name   string
		b      []byte
		decode func([]byte) error
	}{
		{"ARP", arpFrame[14:], func(b []byte) error { var p garp.ARP; return p.UnmarshalBinary(b) }},
		{"NA", naFrame[14:], func(b []byte) error { var p garp.NeighborAdvertisement; return p.UnmarshalBinary(b) }},
		{"ARP frame", arpFrame, func(b []byte) error { var f garp.Frame; return f.UnmarshalBinary(b) }},
		{"NA frame", naFrame, func(b []byte) error { var f garp.Frame; return f.UnmarshalBinary(b) }},
	}
	for _, d := range decoders {
		t.Run(d.name, func(t *testing.T) {
			require.NoError(t, d.decode(d.b))
			for n := range len(d.b) {
				// A fresh copy, so that reading past n would be caught by
				// the race detector's and the bounds checker's eyes.
				b := append([]byte(nil), d.b[:n]...)
				err := d.decode(b)
				require.ErrorIs(t, err, io.ErrUnexpectedEOF, "length %d", n)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	mapped := netip.AddrFrom16(vip4.As16())
	tests := []struct {
		name   string
		encode func() ([]byte, error)
		want   error
	}{
		{"GARP short MAC", func() ([]byte, error) { return garp.AppendGratuitousARP(nil, 0, mac[:5], vip4) }, garp.ErrHardwareAddr},
		{"GARP nil MAC", func() ([]byte, error) { return garp.AppendGratuitousARP(nil, 0, nil, vip4) }, garp.ErrHardwareAddr},
		{"GARP IPv6", func() ([]byte, error) { return garp.AppendGratuitousARP(nil, 0, mac, vip6) }, garp.ErrAddress},
		{"GARP IPv4-mapped", func() ([]byte, error) { return garp.AppendGratuitousARP(nil, 0, mac, mapped) }, garp.ErrAddress},
		{"GARP zero Addr", func() ([]byte, error) { return garp.AppendGratuitousARP(nil, 0, mac, netip.Addr{}) }, garp.ErrAddress},
		{"GARP op 3", func() ([]byte, error) { return garp.AppendGratuitousARP(nil, 3, mac, vip4) }, garp.ErrOperation},
		{"ARP short THA", func() ([]byte, error) {
			p := garp.GratuitousARP(garp.OperationRequest, mac, vip4)
			p.TargetHardwareAddr = nil
			return p.MarshalBinary()
		}, garp.ErrHardwareAddr},
		{"ARP IPv6 target", func() ([]byte, error) {
			p := garp.GratuitousARP(garp.OperationRequest, mac, vip4)
			p.TargetIP = vip6
			return p.MarshalBinary()
		}, garp.ErrAddress},
		{"NA short MAC", func() ([]byte, error) { return garp.AppendUnsolicitedNA(nil, mac[:4], netip.Addr{}, vip6) }, garp.ErrHardwareAddr},
		{"NA IPv4 target", func() ([]byte, error) { return garp.AppendUnsolicitedNA(nil, mac, netip.Addr{}, vip4) }, garp.ErrAddress},
		{"NA IPv4-mapped target", func() ([]byte, error) { return garp.AppendUnsolicitedNA(nil, mac, netip.Addr{}, mapped) }, garp.ErrAddress},
		{"NA multicast target", func() ([]byte, error) { return garp.AppendUnsolicitedNA(nil, mac, vip6, garp.AllNodes) }, garp.ErrAddress},
		{"NA IPv4 source", func() ([]byte, error) { return garp.AppendUnsolicitedNA(nil, mac, vip4, vip6) }, garp.ErrAddress},
		{"NA multicast source", func() ([]byte, error) { return garp.AppendUnsolicitedNA(nil, mac, garp.AllNodes, vip6) }, garp.ErrAddress},
		{"NA solicited multicast", func() ([]byte, error) {
			na := garp.UnsolicitedNA(mac, netip.Addr{}, vip6)
			na.Solicited = true
			return na.MarshalBinary()
		}, garp.ErrSolicited},
		{"NA TLLA of 8 bytes", func() ([]byte, error) {
			na := garp.UnsolicitedNA(make(net.HardwareAddr, 8), vip6, vip6)
			return na.MarshalBinary()
		}, garp.ErrHardwareAddr},
		{"frame EtherType IPv4", func() ([]byte, error) {
			f := garp.Frame{Destination: mac, Source: mac, EtherType: ethernet.EtherTypeIPv4}
			return f.MarshalBinary()
		}, garp.ErrEtherType},
		{"frame short destination", func() ([]byte, error) {
			f := garp.Frame{Destination: mac[:1], Source: mac, EtherType: ethernet.EtherTypeARP}
			return f.MarshalBinary()
		}, garp.ErrHardwareAddr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.encode()
			require.ErrorIs(t, err, tt.want)
			assert.Empty(t, b, "a failed encoding must not leave bytes behind")
			assert.True(t, strings.HasPrefix(err.Error(), "garp: "), err.Error())
		})
	}

	t.Run("buffer unchanged on error", func(t *testing.T) {
		buf := []byte{1, 2, 3}
		b, err := garp.AppendUnsolicitedNA(buf, mac, netip.Addr{}, vip4)
		require.Error(t, err)
		assert.Equal(t, []byte{1, 2, 3}, b)
		b, err = garp.AppendGratuitousARP(buf, 0, mac, vip6)
		require.Error(t, err)
		assert.Equal(t, []byte{1, 2, 3}, b)
	})
}

func TestOperationString(t *testing.T) {
	assert.Equal(t, "request", garp.OperationRequest.String())
	assert.Equal(t, "reply", garp.OperationReply.String())
	assert.Equal(t, "Operation(0)", garp.Operation(0).String())
}

func TestIsGratuitous(t *testing.T) {
	p := garp.GratuitousARP(garp.OperationReply, mac, vip4)
	assert.True(t, p.IsGratuitous())
	assert.Equal(t, mac, p.TargetHardwareAddr, "reply form: THA = SHA")
	p.TargetIP = netip.MustParseAddr("192.0.2.1")
	assert.False(t, p.IsGratuitous())
	assert.False(t, (&garp.ARP{}).IsGratuitous())
}

// The encoders and decoders do not allocate once the buffer or value has
// room.
func TestZeroAllocs(t *testing.T) {
	buf := make([]byte, 0, 128)
	arpFrame := unhex(t, garpRequestHex)
	naFrame := unhex(t, naHex)
	var (
		p   garp.ARP
		na  garp.NeighborAdvertisement
		f   garp.Frame
		err error
	)
	garpReq := garp.GratuitousARP(garp.OperationRequest, mac, vip4)
	una := garp.UnsolicitedNA(mac, netip.Addr{}, vip6)
	tests := []struct {
		name string
		fn   func()
	}{
		{"AppendGratuitousARP", func() { buf, err = garp.AppendGratuitousARP(buf[:0], garp.OperationRequest, mac, vip4) }},
		{"AppendUnsolicitedNA", func() { buf, err = garp.AppendUnsolicitedNA(buf[:0], mac, netip.Addr{}, vip6) }},
		{"ARP.AppendBinary", func() { buf, err = garpReq.AppendBinary(buf[:0]) }},
		{"NeighborAdvertisement.AppendBinary", func() { buf, err = una.AppendBinary(buf[:0]) }},
		{"ARP.UnmarshalBinary", func() { err = p.UnmarshalBinary(arpFrame[14:]) }},
		{"NeighborAdvertisement.UnmarshalBinary", func() { err = na.UnmarshalBinary(naFrame[14:]) }},
		{"Frame.UnmarshalBinary ARP", func() { err = f.UnmarshalBinary(arpFrame) }},
		{"Frame.UnmarshalBinary NA", func() { err = f.UnmarshalBinary(naFrame) }},
		{"Frame.UnmarshalBinary alternating", func() {
			err = errors.Join(f.UnmarshalBinary(arpFrame), f.UnmarshalBinary(naFrame))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(100, tt.fn)
			require.NoError(t, err)
			assert.Zero(t, allocs)
		})
	}
}
