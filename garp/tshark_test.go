package garp_test

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/garp"
)

// tsharkFields are the fields the tshark checks read, in this order.
var tsharkFields = []string{
	"eth.src", "eth.dst",
	"arp.isgratuitous", "arp.opcode", "arp.src.hw_mac", "arp.dst.hw_mac", "arp.src.proto_ipv4", "arp.dst.proto_ipv4",
	"ipv6.hlim", "ipv6.src", "ipv6.dst",
	"icmpv6.type", "icmpv6.code", "icmpv6.checksum.status",
	"icmpv6.nd.na.flag.r", "icmpv6.nd.na.flag.s", "icmpv6.nd.na.flag.o",
	"icmpv6.nd.na.target_address", "icmpv6.opt.linkaddr",
}

// tshark decodes a capture with tshark (an independent decoder) and returns
// one map of tsharkFields per packet that matches filter (a display filter).
// It skips the test if tshark is not installed.
func tshark(t *testing.T, pcap, filter string) []map[string]string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed; install it (Debian package tshark) for the independent decode")
	}
	args := []string{"-r", pcap, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"}
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no profile of the user
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "tshark: %s", stderr.String())
	var rows []map[string]string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		vals := strings.Split(line, "\t")
		row := map[string]string{}
		for i, f := range tsharkFields {
			if i < len(vals) {
				row[f] = vals[i]
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// TestTsharkDecodes cross-checks the encoder with tshark: it must call both
// ARP forms gratuitous and find the NA checksum good and its flags as
// specified.
func TestTsharkDecodes(t *testing.T) {
	var frames [][]byte
	for _, op := range []garp.Operation{garp.OperationRequest, garp.OperationReply} {
		b, err := garp.AppendGratuitousARP(nil, op, mac, vip4)
		require.NoError(t, err)
		frames = append(frames, b)
	}
	for _, src := range []netip.Addr{{}, lladdr} {
		b, err := garp.AppendUnsolicitedNA(nil, mac, src, vip6)
		require.NoError(t, err)
		frames = append(frames, b)
	}
	pcap := filepath.Join(t.TempDir(), "frames.pcap")
	writePcap(t, pcap, frames)

	rows := tshark(t, pcap, "")
	require.Len(t, rows, 4)
	for i, op := range []string{"1", "2"} {
		r := rows[i]
		assert.Equal(t, "1", r["arp.isgratuitous"], "frame %d", i)
		assert.Equal(t, op, r["arp.opcode"])
		assert.Equal(t, "ff:ff:ff:ff:ff:ff", r["eth.dst"])
		assert.Equal(t, mac.String(), r["eth.src"])
		assert.Equal(t, mac.String(), r["arp.src.hw_mac"])
		assert.Equal(t, vip4.String(), r["arp.src.proto_ipv4"])
		assert.Equal(t, vip4.String(), r["arp.dst.proto_ipv4"])
	}
	assert.Equal(t, "ff:ff:ff:ff:ff:ff", rows[0]["arp.dst.hw_mac"])
	assert.Equal(t, mac.String(), rows[1]["arp.dst.hw_mac"])
	for i, src := range []string{vip6.String(), lladdr.String()} {
		r := rows[2+i]
		assert.Equal(t, "33:33:00:00:00:01", r["eth.dst"])
		assert.Equal(t, "255", r["ipv6.hlim"])
		assert.Equal(t, src, r["ipv6.src"])
		assert.Equal(t, "ff02::1", r["ipv6.dst"])
		assert.Equal(t, "136", r["icmpv6.type"])
		assert.Equal(t, "0", r["icmpv6.code"])
		assert.Equal(t, "1", r["icmpv6.checksum.status"], "tshark: checksum not good")
		assert.Equal(t, "0", r["icmpv6.nd.na.flag.r"])
		assert.Equal(t, "0", r["icmpv6.nd.na.flag.s"])
		assert.Equal(t, "1", r["icmpv6.nd.na.flag.o"])
		assert.Equal(t, vip6.String(), r["icmpv6.nd.na.target_address"])
		assert.Equal(t, mac.String(), r["icmpv6.opt.linkaddr"])
	}
}

func writePcap(t *testing.T, path string, frames [][]byte) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	w := pcapgo.NewWriter(f)
	require.NoError(t, w.WriteFileHeader(65535, layers.LinkTypeEthernet))
	for i, b := range frames {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(int64(i), 0), CaptureLength: len(b), Length: len(b)}
		require.NoError(t, w.WritePacket(ci, b))
	}
	require.NoError(t, f.Close())
}
