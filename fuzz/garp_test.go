package fuzz

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/vipkit/vipkit/garp"
)

// garpSentinels are the errors a garp decoder may return (wrapped).
var garpSentinels = []error{
	io.ErrUnexpectedEOF,
	garp.ErrHardwareType, garp.ErrProtocolType, garp.ErrHardwareAddrLen, garp.ErrProtocolAddrLen, garp.ErrOperation,
	garp.ErrEtherType, garp.ErrAddress,
	garp.ErrVersion, garp.ErrNextHeader, garp.ErrHopLimit, garp.ErrPayloadLength,
	garp.ErrICMPType, garp.ErrICMPCode, garp.ErrChecksum, garp.ErrOptionLength, garp.ErrSolicited,
}

func garpCheckError(t *testing.T, err error) {
	t.Helper()
	for _, s := range garpSentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("decode error wraps no sentinel: %v", err)
}

// garpSeeds returns valid frames built by the package and corrupted and
// truncated copies of them.
func garpSeeds(t testing.TB) (arpFrames, naFrames [][]byte) {
	mac := net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x53, 0x01}
	vip4 := netip.MustParseAddr("192.0.2.100")
	vip6 := netip.MustParseAddr("2001:db8::100")
	for _, op := range []garp.Operation{garp.OperationRequest, garp.OperationReply} {
		b, err := garp.AppendGratuitousARP(nil, op, mac, vip4)
		if err != nil {
			t.Fatal(err)
		}
		arpFrames = append(arpFrames, b)
	}
	for _, src := range []netip.Addr{{}, netip.MustParseAddr("fe80::200:5eff:fe00:5301")} {
		b, err := garp.AppendUnsolicitedNA(nil, mac, src, vip6)
		if err != nil {
			t.Fatal(err)
		}
		naFrames = append(naFrames, b)
	}
	na := garp.NeighborAdvertisement{
		Source: vip6, Destination: netip.MustParseAddr("2001:db8::1"),
		Router: true, Solicited: true, Target: vip6,
	}
	b, err := na.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	naFrames = append(naFrames, append([]byte{0x33, 0x33, 0, 0, 0, 1, 0, 0, 0x5e, 0, 0x53, 1, 0x86, 0xdd}, b...))
	return arpFrames, naFrames
}

// garpMutants adds truncated and corrupted copies of the seeds.
func garpMutants(frames [][]byte) [][]byte {
	var out [][]byte
	for _, b := range frames {
		out = append(out, b, b[:len(b)/2], b[:len(b)-1], append(append([]byte(nil), b...), 0, 0, 0, 0))
		for _, i := range []int{len(b) / 3, len(b) - 7, len(b) - 1} {
			c := append([]byte(nil), b...)
			c[i] ^= 0x5a
			out = append(out, c)
		}
	}
	return out
}

func FuzzARP(f *testing.F) {
	arps, _ := garpSeeds(f)
	for _, b := range garpMutants(arps) {
		f.Add(b[14:])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p garp.ARP
		if err := p.UnmarshalBinary(data); err != nil {
			garpCheckError(t, err)
			return
		}
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", p, err)
		}
		if !bytes.Equal(b, data[:garp.ARPLen]) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", b, data[:garp.ARPLen])
		}
		var q garp.ARP
		if err := q.UnmarshalBinary(b); err != nil {
			t.Fatalf("re-encoded packet does not decode: %v", err)
		}
		if !garpEqualARP(&p, &q) {
			t.Fatalf("round trip differs:\n%+v\n%+v", p, q)
		}
	})
}

func FuzzNeighborAdvertisement(f *testing.F) {
	_, nas := garpSeeds(f)
	for _, b := range garpMutants(nas) {
		f.Add(b[14:])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var na garp.NeighborAdvertisement
		if err := na.UnmarshalBinary(data); err != nil {
			garpCheckError(t, err)
			return
		}
		b, err := na.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", na, err)
		}
		var again garp.NeighborAdvertisement
		if err := again.UnmarshalBinary(b); err != nil {
			t.Fatalf("re-encoded packet does not decode: %v", err)
		}
		if !garpEqualNA(&na, &again) {
			t.Fatalf("round trip differs:\n%+v\n%+v", na, again)
		}
	})
}

func FuzzGARPFrame(f *testing.F) {
	arps, nas := garpSeeds(f)
	for _, b := range garpMutants(append(arps, nas...)) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fr garp.Frame
		if err := fr.UnmarshalBinary(data); err != nil {
			garpCheckError(t, err)
			return
		}
		b, err := fr.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", fr, err)
		}
		// Reuse the same value, as a receive loop would.
		again := fr
		again.Destination = append(net.HardwareAddr(nil), fr.Destination...)
		again.Source = append(net.HardwareAddr(nil), fr.Source...)
		again.ARP.SenderHardwareAddr = append(net.HardwareAddr(nil), fr.ARP.SenderHardwareAddr...)
		again.ARP.TargetHardwareAddr = append(net.HardwareAddr(nil), fr.ARP.TargetHardwareAddr...)
		again.NA.TargetLinkLayerAddr = append(net.HardwareAddr(nil), fr.NA.TargetLinkLayerAddr...)
		if err := again.UnmarshalBinary(b); err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
		if !bytes.Equal(fr.Destination, again.Destination) || !bytes.Equal(fr.Source, again.Source) ||
			fr.EtherType != again.EtherType || !garpEqualARP(&fr.ARP, &again.ARP) || !garpEqualNA(&fr.NA, &again.NA) {
			t.Fatalf("round trip differs:\n%+v\n%+v", fr, again)
		}
	})
}

func garpEqualARP(a, b *garp.ARP) bool {
	return a.Operation == b.Operation && a.SenderIP == b.SenderIP && a.TargetIP == b.TargetIP &&
		bytes.Equal(a.SenderHardwareAddr, b.SenderHardwareAddr) && bytes.Equal(a.TargetHardwareAddr, b.TargetHardwareAddr)
}

func garpEqualNA(a, b *garp.NeighborAdvertisement) bool {
	return a.Source == b.Source && a.Destination == b.Destination && a.Target == b.Target &&
		a.Router == b.Router && a.Solicited == b.Solicited && a.Override == b.Override &&
		bytes.Equal(a.TargetLinkLayerAddr, b.TargetLinkLayerAddr)
}
