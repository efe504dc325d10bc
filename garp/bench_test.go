package garp_test

import (
	"net/netip"
	"testing"

	"github.com/vipkit/vipkit/garp"
)

func BenchmarkAppendGratuitousARP(b *testing.B) {
	buf := make([]byte, 0, garp.ARPFrameLen)
	b.SetBytes(garp.ARPFrameLen)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = garp.AppendGratuitousARP(buf[:0], garp.OperationRequest, mac, vip4)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendUnsolicitedNA(b *testing.B) {
	buf := make([]byte, 0, garp.NeighborAdvertisementFrameLen)
	b.SetBytes(garp.NeighborAdvertisementFrameLen)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = garp.AppendUnsolicitedNA(buf[:0], mac, netip.Addr{}, vip6)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkARPUnmarshal(b *testing.B) {
	in := unhex(b, garpRequestHex)[14:]
	var p garp.ARP
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.UnmarshalBinary(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNeighborAdvertisementUnmarshal(b *testing.B) {
	in := unhex(b, naHex)[14:]
	var na garp.NeighborAdvertisement
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := na.UnmarshalBinary(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFrameUnmarshal(b *testing.B) {
	for _, bb := range []struct {
		name string
		hex  string
	}{{"ARP", garpRequestHex}, {"NA", naHex}} {
		b.Run(bb.name, func(b *testing.B) {
			in := unhex(b, bb.hex)
			var f garp.Frame
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if err := f.UnmarshalBinary(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSenderAnnounce measures a round for two addresses against a
// connection that discards the frames.
func BenchmarkSenderAnnounce(b *testing.B) {
	s, err := garp.NewSenderConn(discardConn{}, testIfi, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Announce(vip4, vip6); err != nil {
			b.Fatal(err)
		}
	}
}
