package vrrp_test

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/pcapio"
	"github.com/vipkit/vipkit/vrrp"
)

const tcpdumpData = "../testdata/tcpdump"

// tcpdumpDecode is one advertisement as tcpdump's regression output
// (vrrp-v.out) prints it.
type tcpdumpDecode struct {
	version  vrrp.Version
	vrid     uint8
	prio     uint8
	authType string // "" for version 3
	interval time.Duration
	length   int
	addrs    []netip.Addr
	auth     string
}

var tcpdumpLine = regexp.MustCompile(`VRRPv(\d), Advertisement, vrid (\d+), prio (\d+), ` +
	`(?:authtype (\w+), )?intvl (\d+)(s|cs), length (\d+), addrs(?:\(\d+\))?: ([0-9a-f.:,]+)(?: auth "([^"]*)")?`)

// readTcpdumpDecodes parses vrrp-v.out into the decode of each packet,
// by its number.
func readTcpdumpDecodes(t *testing.T) map[int]tcpdumpDecode {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(tcpdumpData, "vrrp-v.out"))
	require.NoError(t, err)
	// A record starts with the packet number; the decode may be on the
	// record's first or second line.
	records := regexp.MustCompile(`(?m)^\s+(\d+)\s+`).Split(string(text), -1)[1:]
	numbers := regexp.MustCompile(`(?m)^\s+(\d+)\s+`).FindAllStringSubmatch(string(text), -1)
	require.Len(t, records, len(numbers))
	out := make(map[int]tcpdumpDecode)
	for i, rec := range records {
		n, _ := strconv.Atoi(numbers[i][1])
		m := tcpdumpLine.FindStringSubmatch(rec)
		require.NotNil(t, m, "packet %d: tcpdump's decode not understood: %q", n, rec)
		atoi := func(s string) int { v, err := strconv.Atoi(s); require.NoError(t, err); return v }
		d := tcpdumpDecode{
			version:  vrrp.Version(atoi(m[1])),
			vrid:     uint8(atoi(m[2])),
			prio:     uint8(atoi(m[3])),
			authType: m[4],
			length:   atoi(m[7]),
			auth:     m[9],
		}
		d.interval = time.Duration(atoi(m[5])) * time.Second
		if m[6] == "cs" {
			d.interval = time.Duration(atoi(m[5])) * 10 * time.Millisecond
		}
		for _, s := range strings.Split(m[8], ",") {
			d.addrs = append(d.addrs, netip.MustParseAddr(s))
		}
		out[n] = d
	}
	return out
}

// TestTcpdumpConformance decodes every advertisement of tcpdump's VRRP
// regression capture, checks each field against tcpdump's own decode and
// each checksum, and re-encodes each to the original bytes.
func TestTcpdumpConformance(t *testing.T) {
	want := readTcpdumpDecodes(t)
	pkts, err := pcapio.Read(filepath.Join(tcpdumpData, "vrrp.pcap"))
	require.NoError(t, err)
	require.Len(t, pkts, 165)
	require.Len(t, want, 165)

	seen := map[string]int{}
	var adv vrrp.Advertisement
	for _, p := range pkts {
		w, ok := want[p.Index]
		require.True(t, ok, "packet %d has no tcpdump decode", p.Index)
		require.EqualValues(t, vrrp.ProtocolNumber, p.Protocol, "packet %d", p.Index)

		form, err := adv.Decode(p.Payload, p.Src, p.Dst, vrrp.ChecksumPseudoHeader|vrrp.ChecksumMessageOnly)
		require.NoError(t, err, "packet %d", p.Index)
		assert.Equal(t, w.version, adv.Version, "packet %d version", p.Index)
		assert.Equal(t, vrrp.TypeAdvertisement, adv.Type, "packet %d type", p.Index)
		assert.Equal(t, w.vrid, adv.VRID, "packet %d vrid", p.Index)
		assert.Equal(t, w.prio, adv.Priority, "packet %d prio", p.Index)
		assert.Equal(t, w.interval, adv.Interval, "packet %d intvl", p.Index)
		assert.Equal(t, w.length, len(p.Payload), "packet %d length", p.Index)
		assert.Equal(t, w.addrs, adv.Addresses, "packet %d addrs", p.Index)
		if w.version == vrrp.Version2 {
			assert.Equal(t, w.authType, adv.AuthType.String(), "packet %d authtype", p.Index)
			assert.Equal(t, w.auth, string(bytes.TrimRight(adv.AuthData[:], "\x00")), "packet %d auth", p.Index)
		}

		again, err := adv.AppendBinary(nil)
		require.NoError(t, err, "packet %d", p.Index)
		assert.Equal(t, p.Payload, again, "packet %d: AppendBinary does not give back the original bytes", p.Index)
		signed, err := adv.Append(nil, p.Src, p.Dst, form)
		require.NoError(t, err, "packet %d", p.Index)
		assert.Equal(t, p.Payload, signed, "packet %d: Append with the matched form %v does not give back the original checksum", p.Index, form)

		family := "IPv4"
		if p.Src.Is6() {
			family = "IPv6"
		}
		seen[adv.Version.String()+" "+family+" "+form.String()]++
	}
	// Every advertisement verified in the one form its kind has in this
	// capture: VRRPv3 over IPv4 here uses the RFC 5798 checksum, as tshark
	// also says with its default settings.
	kinds := map[string]int{}
	for _, w := range want {
		switch {
		case w.version == vrrp.Version2:
			kinds["VRRPv2 IPv4 message-only"]++
		case w.addrs[0].Is4():
			kinds["VRRPv3 IPv4 pseudo-header"]++
		default:
			kinds["VRRPv3 IPv6 pseudo-header"]++
		}
	}
	assert.Len(t, kinds, 3, "the capture should hold v2, v3 IPv4 and v3 IPv6")
	assert.Equal(t, kinds, seen)
}

// TestTcpdumpMalformed decodes tcpdump's out-of-bounds-read captures: every
// VRRP packet in them is an error.
func TestTcpdumpMalformed(t *testing.T) {
	for _, name := range []string{"vrrp-vrrp_print-oobr.pcap", "vrrp-vrrp_print-oobr-2.pcap"} {
		t.Run(name, func(t *testing.T) {
			pkts, err := pcapio.Read(filepath.Join(tcpdumpData, name))
			require.NoError(t, err)
			n := 0
			var adv vrrp.Advertisement
			for _, p := range pkts {
				if p.Protocol != vrrp.ProtocolNumber {
					continue
				}
				n++
				_, err := adv.Decode(p.Payload, p.Src, p.Dst, vrrp.ChecksumPseudoHeader|vrrp.ChecksumMessageOnly)
				assert.Error(t, err, "packet %d (% x) decoded", p.Index, p.Payload)
				assert.Error(t, adv.UnmarshalBinary(p.Payload), "packet %d (% x) unmarshalled", p.Index, p.Payload)
			}
			assert.Positive(t, n, "no VRRP packet in the capture")
		})
	}
}

// TestTsharkDecodesEncoder writes advertisements the encoder produced to a
// capture and has tshark, an independent decoder, read every field back
// and validate every checksum.
func TestTsharkDecodesEncoder(t *testing.T) {
	tshark := lookTool(t, "tshark")
	v4a, v4b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	v6src := netip.MustParseAddr("fe80::1")
	cases := []struct {
		name      string
		adv       vrrp.Advertisement
		src, dst  netip.Addr
		form      vrrp.ChecksumForm
		asInV2    bool // tshark's vrrp.v3_checksum_as_in_v2
		authField string
	}{
		{
			name: "v2 simple auth",
			adv: vrrp.Advertisement{Version: vrrp.Version2, Type: vrrp.TypeAdvertisement, VRID: 51, Priority: 100,
				Interval: time.Second, AuthType: vrrp.AuthSimple, AuthData: [8]byte{'1', '1', '1', '1'},
				Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("192.0.2.101")}},
			src: v4a, dst: vrrp.MulticastGroupIPv4, authField: "1111",
		},
		{
			name: "v3 IPv4 RFC 5798 checksum",
			adv: vrrp.Advertisement{Version: vrrp.Version3, Type: vrrp.TypeAdvertisement, VRID: 7, Priority: 254,
				Interval: 100 * time.Millisecond, Addresses: []netip.Addr{netip.MustParseAddr("198.51.100.7")}},
			src: v4a, dst: v4b, form: vrrp.ChecksumPseudoHeader,
		},
		{
			name: "v3 IPv4 RFC 9568 checksum",
			adv: vrrp.Advertisement{Version: vrrp.Version3, Type: vrrp.TypeAdvertisement, VRID: 8, Priority: 1,
				Interval: 40950 * time.Millisecond, Addresses: []netip.Addr{netip.MustParseAddr("203.0.113.8")}},
			src: v4a, dst: vrrp.MulticastGroupIPv4, form: vrrp.ChecksumMessageOnly, asInV2: true,
		},
		{
			name: "v3 IPv6",
			adv: vrrp.Advertisement{Version: vrrp.Version3, Type: vrrp.TypeAdvertisement, VRID: 255, Priority: 0,
				Interval:  10 * time.Millisecond,
				Addresses: []netip.Addr{netip.MustParseAddr("fe80::200:5eff:fe00:2ff"), netip.MustParseAddr("2001:db8::ff")}},
			src: v6src, dst: vrrp.MulticastGroupIPv6,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			payload, err := c.adv.Append(nil, c.src, c.dst, c.form)
			require.NoError(t, err)
			file := filepath.Join(t.TempDir(), "adv.pcap")
			require.NoError(t, pcapio.Write(file, []pcapio.Packet{{Src: c.src, Dst: c.dst, TTL: vrrp.TTL, Protocol: vrrp.ProtocolNumber, Payload: payload}}))

			fields := []string{"vrrp.version", "vrrp.type", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.addr_count",
				"vrrp.ip_addr", "vrrp.ipv6_addr", "vrrp.checksum.status", "vrrp.auth_type", "vrrp.adver_int",
				"vrrp.short_adver_int", "vrrp.auth_string"}
			args := []string{"-r", file, "-o", "vrrp.v3_checksum_as_in_v2:" + strings.ToUpper(strconv.FormatBool(c.asInV2)),
				"-T", "fields", "-E", "separator=/t", "-E", "aggregator=,"}
			for _, f := range fields {
				args = append(args, "-e", f)
			}
			out, err := exec.Command(tshark, args...).Output()
			require.NoError(t, err, "tshark %v", args)
			got := strings.Split(strings.TrimRight(string(out), "\n"), "\t")
			require.Len(t, got, len(fields), "tshark printed %q", out)
			field := map[string]string{}
			for i, f := range fields {
				field[f] = got[i]
			}

			var addrs []string
			for _, a := range c.adv.Addresses {
				addrs = append(addrs, a.String())
			}
			addrField, otherField := "vrrp.ip_addr", "vrrp.ipv6_addr"
			if c.src.Is6() {
				addrField, otherField = otherField, addrField
			}
			assert.Equal(t, strconv.Itoa(int(c.adv.Version)), field["vrrp.version"])
			assert.Equal(t, "1", field["vrrp.type"])
			assert.Equal(t, strconv.Itoa(int(c.adv.VRID)), field["vrrp.virt_rtr_id"])
			assert.Equal(t, strconv.Itoa(int(c.adv.Priority)), field["vrrp.prio"])
			assert.Equal(t, strconv.Itoa(len(c.adv.Addresses)), field["vrrp.addr_count"])
			assert.Equal(t, strings.Join(addrs, ","), field[addrField])
			assert.Empty(t, field[otherField])
			assert.Equal(t, "1", field["vrrp.checksum.status"], "tshark says the checksum is not good (1 = good, 0 = bad)")
			if c.adv.Version == vrrp.Version2 {
				assert.Equal(t, strconv.Itoa(int(c.adv.AuthType)), field["vrrp.auth_type"])
				assert.Equal(t, strconv.Itoa(int(c.adv.Interval/time.Second)), field["vrrp.adver_int"])
				assert.Equal(t, c.authField, field["vrrp.auth_string"])
			} else {
				assert.Equal(t, strconv.Itoa(int(c.adv.Interval/(10*time.Millisecond))), field["vrrp.short_adver_int"])
				assert.Empty(t, field["vrrp.auth_type"])
			}

			// The same bytes with the other IPv4 v3 form must not pass:
			// tshark really checks the form it is told.
			if c.adv.Version == vrrp.Version3 && c.src.Is4() {
				other := "TRUE"
				if c.asInV2 {
					other = "FALSE"
				}
				args[3] = "vrrp.v3_checksum_as_in_v2:" + other
				out, err := exec.Command(tshark, "-r", file, "-o", args[3], "-T", "fields", "-e", "vrrp.checksum.status").Output()
				require.NoError(t, err)
				assert.Equal(t, "0", strings.TrimSpace(string(out)), "checksum good in both forms")
			}
		})
	}
}

// lookTool returns the path of a program a test needs. Under CI the
// program must be there; elsewhere the test is skipped without it.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if errors.Is(err, exec.ErrNotFound) && os.Getenv("CI") == "" {
		t.Skipf("%s is not installed (apt-get install %s); skipping the independent check", name, name)
	}
	require.NoError(t, err, "%s is needed", name)
	return path
}
