package checksum_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/vipkit/vipkit/internal/checksum"
)

// TestRFC1071Example checks the worked example of RFC 1071 §3: the words
// 0001 f203 f4f5 f6f7 sum to ddf2 (with carries folded in), whose
// complement is 220d.
func TestRFC1071Example(t *testing.T) {
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	assert.Equal(t, uint16(0x220d), checksum.Fold(checksum.Add(0, b)))
	// In pieces, and with an odd tail padded by a zero byte.
	assert.Equal(t, uint16(0x220d), checksum.Fold(checksum.Add(checksum.Add(0, b[:2]), b[2:])))
	assert.Equal(t, checksum.Fold(checksum.Add(0, []byte{0xab, 0xcd, 0xef, 0x00})), checksum.Fold(checksum.Add(0, []byte{0xab, 0xcd, 0xef})))
}

// TestVerifies checks that a message with its checksum stored sums to 0.
func TestVerifies(t *testing.T) {
	b := []byte{0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x00, 0x00, 0xff, 0x70, 0, 0, 192, 0, 2, 1, 224, 0, 0, 18}
	sum := checksum.Fold(checksum.Add(0, b))
	b[10], b[11] = byte(sum>>8), byte(sum)
	assert.Equal(t, uint16(0), checksum.Fold(checksum.Add(0, b)))
}
