// Package checksum computes the Internet checksum (RFC 1071) that IPv4
// headers, ICMPv6 and VRRP use, for the packages of vipkit that build
// packets.
package checksum

import "encoding/binary"

// Add adds b, as big-endian 16-bit words padded with a zero byte at the
// end, to a ones' complement sum kept unfolded in 64 bits. RFC 1071 §2
// allows summing wider words and folding at the end, which Fold does.
// Each b but the last must be of even length.
func Add(sum uint64, b []byte) uint64 {
	for len(b) >= 4 {
		sum += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

// Fold folds sum to 16 bits and returns its ones' complement: the value
// to store in a checksum field that was zero while summing, or 0 when the
// field already held the right value.
func Fold(sum uint64) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
