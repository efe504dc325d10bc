package fuzz

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/vipkit/vipkit/internal/testkit/pcapio"
	"github.com/vipkit/vipkit/vrrp"
)

// addSeedCaptures adds the VRRP packets of tcpdump's captures to f's
// corpus, with their IP source and destination.
func addSeedCaptures(f *testing.F) {
	for _, name := range []string{"vrrp.pcap", "vrrp-vrrp_print-oobr.pcap", "vrrp-vrrp_print-oobr-2.pcap"} {
		pkts, err := pcapio.Read(filepath.Join("..", "testdata", "tcpdump", name))
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range pkts {
			if p.Protocol == vrrp.ProtocolNumber {
				f.Add(p.Payload, p.Src.AsSlice(), p.Dst.AsSlice(), uint8(vrrp.ChecksumPseudoHeader|vrrp.ChecksumMessageOnly))
			}
		}
	}
}

// FuzzAdvertisement decodes arbitrary VRRP messages from arbitrary
// addresses. Decoding must not panic; a message that decodes must encode
// to the same bytes (but for the reserved bits of version 3, which are
// ignored on receipt, RFC 5798 §5.2.7) and decode again to the same value.
func FuzzAdvertisement(f *testing.F) {
	addSeedCaptures(f)
	f.Fuzz(func(t *testing.T, msg, srcBytes, dstBytes []byte, accept uint8) {
		src, _ := netip.AddrFromSlice(srcBytes)
		dst, _ := netip.AddrFromSlice(dstBytes)

		var a vrrp.Advertisement
		form, decodeErr := a.Decode(msg, src, dst, vrrp.ChecksumForm(accept))
		if err := a.UnmarshalBinary(msg); err != nil {
			if decodeErr == nil {
				t.Fatalf("Decode accepted what UnmarshalBinary refused: %v", err)
			}
			return
		}
		want := bytes.Clone(msg)
		if a.Version == vrrp.Version3 {
			want[4] &= 0x0f
		}
		again, err := a.AppendBinary(nil)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", a, err)
		}
		if !bytes.Equal(again, want) {
			t.Fatalf("re-encoded\n% x\nwant\n% x", again, want)
		}
		var b vrrp.Advertisement
		if err := b.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if !equalAdvertisements(&a, &b) {
			t.Fatalf("decode(encode(%+v)) = %+v", a, b)
		}
		if decodeErr != nil {
			return
		}
		signed, err := a.Append(nil, src, dst, form)
		if err != nil {
			t.Fatalf("decoded %+v from %v does not encode: %v", a, src, err)
		}
		if bytes.Equal(want, msg) && !bytes.Equal(signed, msg) {
			t.Fatalf("Append with form %v:\n% x\nwant\n% x", form, signed, msg)
		}
		// With reserved bits set the checksum covered them; the
		// re-encoded message has its own, which must verify.
		f, err := b.Decode(signed, src, dst, form)
		a.Checksum = b.Checksum
		if err != nil || f != form || !equalAdvertisements(&a, &b) {
			t.Fatalf("Append with form %v gives %+v, form %v, %v", form, b, f, err)
		}
	})
}

// equalAdvertisements reports whether a and b hold the same fields, an
// empty address list being equal to a nil one.
func equalAdvertisements(a, b *vrrp.Advertisement) bool {
	x, y := *a, *b
	x.Addresses, y.Addresses = nil, nil
	return reflect.DeepEqual(x, y) && slices.Equal(a.Addresses, b.Addresses)
}
