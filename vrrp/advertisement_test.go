package vrrp_test

import (
	"encoding/binary"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/vrrp"
)

var (
	src4 = netip.MustParseAddr("192.0.2.1")
	src6 = netip.MustParseAddr("fe80::1")
	vip4 = netip.MustParseAddr("192.0.2.100")
	vip6 = netip.MustParseAddr("2001:db8::100")
)

func v3(addrs ...netip.Addr) vrrp.Advertisement {
	return vrrp.Advertisement{Version: vrrp.Version3, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 100,
		Interval: time.Second, Addresses: addrs}
}

func v2(addrs ...netip.Addr) vrrp.Advertisement {
	return vrrp.Advertisement{Version: vrrp.Version2, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 100,
		Interval: time.Second, AuthType: vrrp.AuthSimple, AuthData: [8]byte{'s', 'e', 'c', 'r', 'e', 't'},
		Addresses: addrs}
}

// TestWireLayout checks the bytes of each kind of advertisement against
// the layouts of RFC 3768 §5.1 and RFC 5798 §5.1, field by field.
func TestWireLayout(t *testing.T) {
	a := v2(vip4)
	b, err := a.Append(nil, src4, vrrp.MulticastGroupIPv4, 0)
	require.NoError(t, err)
	assert.Equal(t, []byte{
		0x21, 51, 100, 1, // version 2, type 1, VRID, priority, count
		1, 1, b[6], b[7], // auth type simple, interval 1 s, checksum
		192, 0, 2, 100, // address
		's', 'e', 'c', 'r', 'e', 't', 0, 0, // auth data
	}, b)

	a = v3(vip4)
	a.Interval = 4095 * 10 * time.Millisecond
	b, err = a.Append(nil, src4, vrrp.MulticastGroupIPv4, 0)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x31, 51, 100, 1, 0x0f, 0xff, b[6], b[7], 192, 0, 2, 100}, b)

	a = v3(vip6)
	b, err = a.Append(nil, src6, vrrp.MulticastGroupIPv6, 0)
	require.NoError(t, err)
	assert.Len(t, b, 8+16)
	assert.Equal(t, []byte{0x31, 51, 100, 1, 0, 100}, b[:6])
	assert.Equal(t, vip6.AsSlice(), b[8:])
}

// checksumRef computes an Internet checksum (RFC 1071) the slow, obvious
// way: 16-bit words of the pseudo-header and message, summed with the
// carries folded back.
func checksumRef(msg []byte, pseudo ...[]byte) uint16 {
	var all []byte
	for _, p := range pseudo {
		all = append(all, p...)
	}
	all = append(all, msg...)
	if len(all)%2 == 1 {
		all = append(all, 0)
	}
	var sum uint32
	for i := 0; i < len(all); i += 2 {
		sum += uint32(all[i])<<8 | uint32(all[i+1])
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// TestChecksumForms checks each checksum against a reference built from
// the RFC text: v2 over the message (RFC 3768 §5.3.8), v3 IPv4 with the
// RFC 768-style pseudo-header or without (RFC 9568), v3 IPv6 with the RFC
// 8200 §8.1 pseudo-header.
func TestChecksumForms(t *testing.T) {
	dst4 := netip.MustParseAddr("192.0.2.2")
	zeroSum := func(b []byte) []byte { c := append([]byte{}, b...); c[6], c[7] = 0, 0; return c }
	pseudo4 := func(msg []byte) []byte {
		s, d := src4.As4(), dst4.As4()
		return append(append(append([]byte{}, s[:]...), d[:]...), 0, vrrp.ProtocolNumber, 0, byte(len(msg)))
	}
	pseudo6 := func(msg []byte) []byte {
		s, d := src6.As16(), vrrp.MulticastGroupIPv6.As16()
		return append(append(append([]byte{}, s[:]...), d[:]...), 0, 0, 0, byte(len(msg)), 0, 0, 0, vrrp.ProtocolNumber)
	}
	cases := []struct {
		name     string
		adv      vrrp.Advertisement
		src, dst netip.Addr
		form     vrrp.ChecksumForm
		want     func(msg []byte) uint16
		matched  vrrp.ChecksumForm
	}{
		{"v2 ignores the form", v2(vip4), src4, dst4, vrrp.ChecksumPseudoHeader,
			func(m []byte) uint16 { return checksumRef(m) }, vrrp.ChecksumMessageOnly},
		{"v3 IPv4 default is RFC 5798", v3(vip4), src4, dst4, 0,
			func(m []byte) uint16 { return checksumRef(m, pseudo4(m)) }, vrrp.ChecksumPseudoHeader},
		{"v3 IPv4 RFC 5798", v3(vip4), src4, dst4, vrrp.ChecksumPseudoHeader,
			func(m []byte) uint16 { return checksumRef(m, pseudo4(m)) }, vrrp.ChecksumPseudoHeader},
		{"v3 IPv4 RFC 9568", v3(vip4, vip4.Next()), src4, dst4, vrrp.ChecksumMessageOnly,
			func(m []byte) uint16 { return checksumRef(m) }, vrrp.ChecksumMessageOnly},
		{"v3 IPv6 ignores the form", v3(vip6), src6, vrrp.MulticastGroupIPv6, vrrp.ChecksumMessageOnly,
			func(m []byte) uint16 { return checksumRef(m, pseudo6(m)) }, vrrp.ChecksumPseudoHeader},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := c.adv.Append(nil, c.src, c.dst, c.form)
			require.NoError(t, err)
			assert.Equal(t, c.want(zeroSum(b)), binary.BigEndian.Uint16(b[6:]))

			var got vrrp.Advertisement
			form, err := got.Decode(b, c.src, c.dst, vrrp.ChecksumPseudoHeader|vrrp.ChecksumMessageOnly)
			require.NoError(t, err)
			assert.Equal(t, c.matched, form)
			form, err = got.Decode(b, c.src, c.dst, c.matched)
			require.NoError(t, err)
			assert.Equal(t, c.matched, form)

			// A bit flipped anywhere, or another destination, fails.
			b[len(b)-1] ^= 0x01
			_, err = got.Decode(b, c.src, c.dst, vrrp.ChecksumPseudoHeader|vrrp.ChecksumMessageOnly)
			assert.ErrorIs(t, err, vrrp.ErrBadChecksum)
			b[len(b)-1] ^= 0x01
			if c.matched == vrrp.ChecksumPseudoHeader {
				_, err = got.Decode(b, c.src, c.dst.Next(), c.matched)
				assert.ErrorIs(t, err, vrrp.ErrBadChecksum)
			}
		})
	}

	// A receiver told to accept one IPv4 v3 form refuses the other.
	a := v3(vip4)
	b, err := a.Append(nil, src4, dst4, vrrp.ChecksumMessageOnly)
	require.NoError(t, err)
	_, err = a.Decode(b, src4, dst4, vrrp.ChecksumPseudoHeader)
	assert.ErrorIs(t, err, vrrp.ErrBadChecksum)
	_, err = a.Decode(b, src4, dst4, 0)
	assert.ErrorIs(t, err, vrrp.ErrBadChecksum, "the zero form means RFC 5798 only")
}

// TestRoundTrip encodes and decodes each kind of advertisement.
func TestRoundTrip(t *testing.T) {
	many := make([]netip.Addr, 255)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
	}
	noAuth := v2(vip4)
	noAuth.AuthType, noAuth.AuthData = vrrp.AuthNone, [8]byte{}
	cases := map[string]struct {
		adv vrrp.Advertisement
		src netip.Addr
	}{
		"v2 simple auth":        {v2(vip4, vip4.Next()), src4},
		"v2 no auth":            {noAuth, src4},
		"v2 255 addresses":      {v2(many...), src4},
		"v3 IPv4":               {v3(vip4), src4},
		"v3 IPv6":               {v3(src6, vip6), src6},
		"v3 priority 0 and 255": {func() vrrp.Advertisement { a := v3(vip4); a.Priority = 0; return a }(), src4},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dst := vrrp.MulticastGroupIPv4
			if c.src.Is6() {
				dst = vrrp.MulticastGroupIPv6
			}
			b, err := c.adv.Append(nil, c.src, dst, 0)
			require.NoError(t, err)
			assert.Len(t, b, c.adv.Len())
			var got vrrp.Advertisement
			_, err = got.Decode(b, c.src, dst, 0)
			require.NoError(t, err)
			want := c.adv
			want.Checksum = binary.BigEndian.Uint16(b[6:])
			if len(want.Addresses) == 0 {
				want.Addresses = got.Addresses[:0]
			}
			assert.Equal(t, want, got)
			m, err := got.MarshalBinary()
			require.NoError(t, err)
			assert.Equal(t, b, m)
		})
	}
}

// TestDecodeMalformed feeds every kind of malformed message to the
// decoder: each is its error, never a panic.
func TestDecodeMalformed(t *testing.T) {
	good4 := func() []byte {
		a := v3(vip4, vip4.Next())
		b, err := a.Append(nil, src4, vrrp.MulticastGroupIPv4, 0)
		require.NoError(t, err)
		return b
	}
	good2 := func() []byte {
		a := v2(vip4)
		b, err := a.Append(nil, src4, vrrp.MulticastGroupIPv4, 0)
		require.NoError(t, err)
		return b
	}
	set := func(b []byte, i int, v byte) []byte { b[i] = v; return b }
	cases := []struct {
		name string
		msg  []byte
		src  netip.Addr
		want error
	}{
		{"empty", nil, src4, io.ErrUnexpectedEOF},
		{"header cut", good4()[:7], src4, io.ErrUnexpectedEOF},
		{"v3 count beyond payload", set(good4(), 3, 3), src4, io.ErrUnexpectedEOF},
		{"v3 count 255 in a short message", set(good4(), 3, 255), src4, io.ErrUnexpectedEOF},
		{"v3 bytes left over", append(good4(), 0, 0, 0), src4, vrrp.ErrLength},
		{"v3 with v2 authentication data", append(good4(), make([]byte, 8)...), src4, vrrp.ErrAuthV3},
		{"v2 count beyond payload", set(good2(), 3, 2), src4, io.ErrUnexpectedEOF},
		{"v2 without authentication data", good2()[:12], src4, io.ErrUnexpectedEOF},
		{"v2 bytes left over", append(good2(), 0), src4, vrrp.ErrLength},
		{"version 1", set(good4(), 0, 0x11), src4, vrrp.ErrVersion},
		{"version 4", set(good4(), 0, 0x41), src4, vrrp.ErrVersion},
		{"version 0", set(good4(), 0, 0x01), src4, vrrp.ErrVersion},
		{"type 2", set(good4(), 0, 0x32), src4, vrrp.ErrType},
		{"type 0", set(good2(), 0, 0x20), src4, vrrp.ErrType},
		{"VRID 0", set(good4(), 1, 0), src4, vrrp.ErrVRID},
		{"v3 interval 0", set(set(good4(), 4, 0xf0), 5, 0), src4, vrrp.ErrInterval},
		{"v2 interval 0", set(good2(), 5, 0), src4, vrrp.ErrInterval},
		{"v2 auth type 3", set(good2(), 4, 3), src4, vrrp.ErrAuthType},
		{"v2 over IPv6", good2(), src6, vrrp.ErrAddress},
		{"v3 count 0", set(good4()[:8], 3, 0), src4, vrrp.ErrAddress},
		{"v2 count 0", append(set(good2()[:8], 3, 0), make([]byte, 8)...), src4, vrrp.ErrAddress},
		{"IPv4 addresses from an IPv6 source", good4(), src6, vrrp.ErrAddress},
		{"checksum", set(good4(), 7, good4()[7]^0xff), src4, vrrp.ErrBadChecksum},
		{"IPv4-mapped address", func() []byte {
			b := make([]byte, 8+16)
			copy(b, []byte{0x31, 1, 100, 1, 0, 100})
			copy(b[8:], netip.MustParseAddr("::ffff:192.0.2.1").AsSlice())
			return b
		}(), src6, vrrp.ErrAddress},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := vrrp.MulticastGroupIPv4
			if c.src.Is6() {
				dst = vrrp.MulticastGroupIPv6
			}
			var a vrrp.Advertisement
			_, err := a.Decode(c.msg, c.src, dst, vrrp.ChecksumPseudoHeader|vrrp.ChecksumMessageOnly)
			assert.ErrorIs(t, err, c.want)
			assert.ErrorContains(t, err, "vrrp: ")
		})
	}

	// Every truncation of a valid message is an error.
	for _, b := range [][]byte{good4(), good2()} {
		for n := range len(b) {
			var a vrrp.Advertisement
			assert.Error(t, a.UnmarshalBinary(b[:n]), "%d of %d bytes", n, len(b))
		}
	}
}

// TestDecodeIgnoresReserved checks RFC 5798 §5.2.6: the reserved bits of
// a VRRPv3 message are ignored on receipt.
func TestDecodeIgnoresReserved(t *testing.T) {
	a := v3(vip4)
	b, err := a.AppendBinary(nil)
	require.NoError(t, err)
	b[4] |= 0xf0
	var got vrrp.Advertisement
	require.NoError(t, got.UnmarshalBinary(b))
	assert.Equal(t, time.Second, got.Interval)
}

// TestEncodeInvalid checks that an advertisement that cannot be encoded is
// refused with the field named and nothing appended.
func TestEncodeInvalid(t *testing.T) {
	mod := func(a vrrp.Advertisement, f func(*vrrp.Advertisement)) vrrp.Advertisement { f(&a); return a }
	many := make([]netip.Addr, 256)
	for i := range many {
		many[i] = vip4
	}
	cases := []struct {
		name string
		adv  vrrp.Advertisement
		src  netip.Addr
		want error
	}{
		{"version 0", mod(v3(vip4), func(a *vrrp.Advertisement) { a.Version = 0 }), src4, vrrp.ErrVersion},
		{"type 0", mod(v3(vip4), func(a *vrrp.Advertisement) { a.Type = 0 }), src4, vrrp.ErrType},
		{"VRID 0", mod(v3(vip4), func(a *vrrp.Advertisement) { a.VRID = 0 }), src4, vrrp.ErrVRID},
		{"v2 interval 1.5 s", mod(v2(vip4), func(a *vrrp.Advertisement) { a.Interval = 1500 * time.Millisecond }), src4, vrrp.ErrInterval},
		{"v2 interval 256 s", mod(v2(vip4), func(a *vrrp.Advertisement) { a.Interval = 256 * time.Second }), src4, vrrp.ErrInterval},
		{"v2 interval 0", mod(v2(vip4), func(a *vrrp.Advertisement) { a.Interval = 0 }), src4, vrrp.ErrInterval},
		{"v3 interval 5 ms", mod(v3(vip4), func(a *vrrp.Advertisement) { a.Interval = 5 * time.Millisecond }), src4, vrrp.ErrInterval},
		{"v3 interval 15 ms", mod(v3(vip4), func(a *vrrp.Advertisement) { a.Interval = 15 * time.Millisecond }), src4, vrrp.ErrInterval},
		{"v3 interval 40.96 s", mod(v3(vip4), func(a *vrrp.Advertisement) { a.Interval = 40960 * time.Millisecond }), src4, vrrp.ErrInterval},
		{"v3 with auth type", mod(v3(vip4), func(a *vrrp.Advertisement) { a.AuthType = vrrp.AuthSimple }), src4, vrrp.ErrAuthV3},
		{"v3 with auth data", mod(v3(vip4), func(a *vrrp.Advertisement) { a.AuthData[0] = 'x' }), src4, vrrp.ErrAuthV3},
		{"v2 auth type 3", mod(v2(vip4), func(a *vrrp.Advertisement) { a.AuthType = 3 }), src4, vrrp.ErrAuthType},
		{"v2 IPv6 address", v2(vip6), src4, vrrp.ErrAddress},
		{"mixed families", v3(vip4, vip6), src4, vrrp.ErrAddress},
		{"invalid address", v3(netip.Addr{}), src4, vrrp.ErrAddress},
		{"IPv4-mapped address", v3(netip.MustParseAddr("::ffff:192.0.2.1")), src6, vrrp.ErrAddress},
		{"256 addresses", v3(many...), src4, vrrp.ErrAddress},
		{"family differs from the source", v3(vip6), src4, vrrp.ErrAddress},
		{"no source", v3(vip4), netip.Addr{}, vrrp.ErrAddress},
		{"no address", v3(), src4, vrrp.ErrAddress},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prefix := []byte{0xaa}
			b, err := c.adv.Append(prefix, c.src, vrrp.MulticastGroupIPv4, 0)
			assert.ErrorIs(t, err, c.want)
			assert.Equal(t, []byte{0xaa}, b, "something was appended")
		})
	}
}

// TestNoAllocations checks that a reused value and buffer make encoding
// and decoding allocate nothing.
func TestNoAllocations(t *testing.T) {
	for _, a := range []vrrp.Advertisement{v2(vip4), v3(vip4, vip4.Next()), v3(src6, vip6)} {
		src, dst := src4, vrrp.MulticastGroupIPv4
		if a.Addresses[0].Is6() {
			src, dst = src6, vrrp.MulticastGroupIPv6
		}
		buf, err := a.Append(nil, src, dst, 0)
		require.NoError(t, err)
		var got vrrp.Advertisement
		_, err = got.Decode(buf, src, dst, 0)
		require.NoError(t, err)
		allocs := testing.AllocsPerRun(100, func() {
			buf, err = a.Append(buf[:0], src, dst, 0)
			if err == nil {
				_, err = got.Decode(buf, src, dst, 0)
			}
		})
		require.NoError(t, err)
		assert.Zero(t, allocs, "%v %v", a.Version, a.Addresses)
	}
}

func TestStrings(t *testing.T) {
	assert.Equal(t, "VRRPv3", vrrp.Version3.String())
	assert.Equal(t, "Version(4)", vrrp.Version(4).String())
	assert.Equal(t, "ADVERTISEMENT", vrrp.TypeAdvertisement.String())
	assert.Equal(t, "Type(2)", vrrp.Type(2).String())
	assert.Equal(t, "simple", vrrp.AuthSimple.String())
	assert.Equal(t, "AuthType(9)", vrrp.AuthType(9).String())
	assert.Equal(t, "pseudo-header|message-only", (vrrp.ChecksumPseudoHeader | vrrp.ChecksumMessageOnly).String())
	assert.Equal(t, "default(pseudo-header)", vrrp.ChecksumForm(0).String())
}

func benchmarkAdvert(b *testing.B, a vrrp.Advertisement, src, dst netip.Addr) {
	buf, err := a.Append(nil, src, dst, 0)
	require.NoError(b, err)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = a.Append(buf[:0], src, dst, 0)
		}
	})
	b.Run("decode", func(b *testing.B) {
		var got vrrp.Advertisement
		b.ReportAllocs()
		for b.Loop() {
			if _, err := got.Decode(buf, src, dst, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkV3IPv4(b *testing.B) { benchmarkAdvert(b, v3(vip4), src4, vrrp.MulticastGroupIPv4) }
func BenchmarkV3IPv6(b *testing.B) { benchmarkAdvert(b, v3(vip6), src6, vrrp.MulticastGroupIPv6) }
func BenchmarkV2(b *testing.B)     { benchmarkAdvert(b, v2(vip4), src4, vrrp.MulticastGroupIPv4) }
