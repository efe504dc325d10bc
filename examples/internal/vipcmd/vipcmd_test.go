package vipcmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/havip/tencentcloud"
	"github.com/vipkit/vipkit/vrrp"
)

func parse(args ...string) (Options, error) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := AddFlags(fs)
	if err := Parse(fs, args, "test tests.", "test", io.Discard); err != nil {
		return Options{}, err
	}
	return f.Options()
}

var base = []string{"-interface", "eth0", "-vrid", "51", "-vip", "192.0.2.100/24"}

// TestKeepalivedConf parses the flags that replace the vrrp_instance of
// Tencent Cloud's HAVIP guide.
func TestKeepalivedConf(t *testing.T) {
	o, err := parse("-interface", "eth0", "-vrid", "51", "-nopreempt", "-priority", "80", "-advert-int", "1s",
		"-version", "2", "-auth-pass", "1111", "-src", "192.0.2.7", "-peer", "192.0.2.13", "-vip", "192.0.2.3",
		"-garp-master-delay", "1s", "-garp-master-refresh", "5s", "-track-interface", "eth1", "-checksum", "rfc9568",
		"-rt-priority", "10", "-higher-prio-send-advert=false")
	require.NoError(t, err)
	assert.Equal(t, 10, o.RealtimePriority, "vrrp_rt_priority")
	assert.Zero(t, o.HoldFailureWeight, "FAULT by default")
	assert.Equal(t, vrrp.Config{Interface: "eth0", VRID: 51, Version: 2, Priority: 80, AdvertInterval: time.Second,
		VirtualAddresses: []netip.Addr{netip.MustParseAddr("192.0.2.3")}, NoPreempt: true, AuthPass: "1111",
		Checksum:      vrrp.ChecksumMessageOnly,
		UnicastSource: netip.MustParseAddr("192.0.2.7"), UnicastPeers: []netip.Addr{netip.MustParseAddr("192.0.2.13")},
		TrackInterfaces: []string{"eth1"}, QuietStepDown: true}, o.Router)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("192.0.2.3/32")}, o.VIPs, "a bare address is a host prefix")
	want := havip.KeepalivedAnnounce
	want.Delay, want.Refresh = time.Second, 5*time.Second
	assert.Equal(t, want, o.Announce)
	assert.Zero(t, o.Cloud.Mode)
}

// TestTencentRhythm: with -tencentcloud the announcement rhythm defaults
// to Tencent's guide, unless a garp flag says otherwise.
func TestTencentRhythm(t *testing.T) {
	o, err := parse(base...)
	require.NoError(t, err)
	assert.Equal(t, havip.KeepalivedAnnounce, o.Announce)
	o, err = parse(append(base, "-tencentcloud", "havip")...)
	require.NoError(t, err)
	assert.Equal(t, tencentcloud.Announce, o.Announce)
	assert.Equal(t, tencentcloud.ModeHAVIP, o.Cloud.Mode)
	o, err = parse(append(base, "-tencentcloud", "private-ip", "-garp-master-delay", "2s")...)
	require.NoError(t, err)
	assert.Equal(t, tencentcloud.ModePrivateIP, o.Cloud.Mode)
	assert.Equal(t, 2*time.Second, o.Announce.Delay)
	assert.Zero(t, o.Announce.Refresh)
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-interface", "eth0", "-vip", "192.0.2.100/24"},
		append(base, "-vrid", "256"),
		append(base, "-priority", "0"),
		append(base, "-priority", "256"),
		append(base, "-version", "4"),
		append(base, "-rt-priority", "100"),
		append(base, "-hold-failure-weight", "1"),
		append(base, "-hold-failure-weight", "-254"),
		append(base, "-rt-priority", "-1"),
		append(base, "-checksum", "crc"),
		append(base, "-src", "host"),
		append(base, "-peer", "host"),
		append(base, "-vip", "192.0.2.300"),
		append(base, "-tencentcloud", "aws"),
		append(base, "-bogus"),
		append(base, "extra"),
	} {
		_, err := parse(args...)
		assert.ErrorAs(t, err, new(UsageError), "%v", args)
	}
}

func TestHelp(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	AddFlags(fs)
	var out bytes.Buffer
	assert.ErrorIs(t, Parse(fs, []string{"-h"}, "test runs a test.", "test -vrid N", &out), flag.ErrHelp)
	assert.True(t, strings.HasPrefix(out.String(), "test runs a test.\nusage: test -vrid N\n"), "%q", out.String())
	assert.Contains(t, out.String(), "-garp-master-refresh")
}

func TestExit(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
		line string
	}{
		{nil, 0, ""},
		{Usagef("-vrid 0: need 1..255"), 2, "prog: -vrid 0: need 1..255\n"},
		{fmt.Errorf("%w: Interface: empty", vrrp.ErrConfig), 2, ""},
		{fmt.Errorf("%w: Addresses: none", havip.ErrConfig), 2, ""},
		{errors.Join(errors.New("vrrp: a"), errors.New("b")), 1, "prog: a; b\n"},
	} {
		var out bytes.Buffer
		assert.Equal(t, c.code, Exit(&out, "prog", c.err), "%v", c.err)
		if c.line != "" {
			assert.Equal(t, c.line, out.String())
		}
		assert.LessOrEqual(t, bytes.Count(out.Bytes(), []byte("\n")), 1)
	}
}

func TestTransitions(t *testing.T) {
	var out bytes.Buffer
	out.WriteString("time=... level=INFO msg=start\n")
	enc := Transition{Time: "2026-11-24T05:39:14.123456Z", VRID: 51, From: "BACKUP", To: "MASTER", Reason: "master-down"}
	require.NoError(t, json.NewEncoder(&out).Encode(enc))
	require.NoError(t, writeStatusLine(&out, newStatus(time.Now(), vrrp.Config{Interface: "eth0", VRID: 51}, vrrp.Master, 100,
		vrrp.MasterInfo{}, vrrp.Stats{}, nil))) // SIGUSR1's, beside the logs
	trs, err := Transitions(out.String())
	require.NoError(t, err)
	assert.Equal(t, []Transition{enc}, trs)
	_, err = Transitions(out.String() + "{not json\n")
	assert.Error(t, err)
}

// TestConfigErrorInFlags: a ConfigError of vrrp or havip is said with the
// flag behind its field, and the value as typed where the reason starts
// with it; it still wraps the ConfigError, and is a bad command line.
func TestConfigErrorInFlags(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := AddFlags(fs)
	f.SetBy("Checks", "-check-*")
	require.NoError(t, Parse(fs, append(base, "-vip", "203.0.113.5", "-advert-int", "5ms", "-peer", "192.0.2.2",
		"-track-interface", "eth1"), "test tests.", "test", io.Discard))
	for _, c := range []struct {
		err  error
		want string
	}{
		{&vrrp.ConfigError{Field: "AdvertInterval", Reason: "5ms; VRRPv3 takes centiseconds from 10 ms to 40.95 s (RFC 5798 §5.2.7)"},
			"-advert-int 5ms: VRRPv3 takes centiseconds from 10 ms to 40.95 s (RFC 5798 §5.2.7)"},
		{&havip.ConfigError{Field: "Addresses[1]", Reason: "203.0.113.5 is outside every subnet of eth0 [192.0.2.0/24]: an HAVIP belongs to one subnet"},
			"-vip 203.0.113.5 is outside every subnet of eth0 [192.0.2.0/24]: an HAVIP belongs to one subnet"},
		{&havip.ConfigError{Field: "Addresses[0]", Reason: "192.0.2.100/24 is not a unicast address a virtual IP can be"},
			"-vip 192.0.2.100/24 is not a unicast address a virtual IP can be"},
		{&vrrp.ConfigError{Field: "VirtualAddresses[1]", Reason: "203.0.113.5: not of the family of VirtualAddresses[0]"},
			"-vip 203.0.113.5: not of the family of the first -vip"},
		{&vrrp.ConfigError{Field: "UnicastPeers[0]", Reason: "192.0.2.2: has a zone; the interface is Config.Interface"},
			"-peer 192.0.2.2: has a zone; the interface is -interface"},
		{&vrrp.ConfigError{Field: "Interface", Reason: `no interface "nosuch0" in this network namespace`},
			`-interface: no interface "nosuch0" in this network namespace`},
		{&vrrp.ConfigError{Field: "Interface", Reason: "eth0 has no global IPv6 address to send advertisements from"},
			"-interface eth0 has no global IPv6 address to send advertisements from"},
		{&vrrp.ConfigError{Field: "TrackInterfaces", Reason: `no interface "eth1"`}, `-track-interface: no interface "eth1"`},
		{&vrrp.ConfigError{Field: "TrackInterfaces[0]", Reason: `no interface "Priority"`}, `-track-interface: no interface "Priority"`}, // quoted: not a Go name,
		{&vrrp.ConfigError{Field: "VRID", Reason: "51 on eth0: taken"}, "-vrid 51 on eth0: taken"},
		{&havip.ConfigError{Field: "Announce.RefreshRepeat", Reason: "0; at least 1 with Refresh"},
			"-garp-master-refresh-repeat: 0; at least 1 with -garp-master-refresh"}, // not the value given: as the reason says
		{&vrrp.ConfigError{Field: "Checks[0]", Reason: "checkhaproxy: Weight 300 outside -253..253"}, "-check-*: checkhaproxy: Weight 300 outside -253..253"},
		{&havip.ConfigError{Field: "Label", Reason: `"x" is longer`}, `Label: "x" is longer`}, // no flag sets it
	} {
		err := f.inFlags(c.err)
		assert.ErrorAs(t, err, new(UsageError))
		assert.ErrorIs(t, err, c.err)
		var out bytes.Buffer
		assert.Equal(t, 2, Exit(&out, "prog", err))
		assert.Equal(t, "prog: "+c.want+"\n", out.String())
	}
	other := errors.New("vrrp: raw socket: operation not permitted")
	assert.Equal(t, other, f.inFlags(other))
	assert.Equal(t, c0(), (*Flags)(nil).inFlags(c0()), "Options made by hand keep the library's words")
}

func c0() error { return &vrrp.ConfigError{Field: "VRID", Reason: "0"} }

// TestOwner: at priority 255 the client is the address owner's, which
// never removes the interface's own addresses.
func TestOwner(t *testing.T) {
	o, err := parse(append(base, "-priority", "255")...)
	require.NoError(t, err)
	assert.True(t, o.clientConfig(nil).Owner)
	o, err = parse(append(base, "-priority", "254")...)
	require.NoError(t, err)
	assert.False(t, o.clientConfig(nil).Owner)
}

// TestAuthPassOutOfArgv: the VRRPv2 password from a file or from
// $VIPKIT_AUTH_PASS, never needed on the command line; errors about it
// name where it came from and never show it.
func TestAuthPassOutOfArgv(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := dir + "/" + name
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	v2 := func(args ...string) []string {
		return slices.Concat(base, []string{"-version", "2", "-advert-int", "1s"}, args)
	}

	o, err := parse(v2("-auth-pass-file", file("pass", "s3cret\r\nignored\n"))...)
	require.NoError(t, err)
	assert.Equal(t, "s3cret", o.Router.AuthPass)

	t.Setenv(AuthPassEnv, "fromenv")
	o, err = parse(v2()...)
	require.NoError(t, err)
	assert.Equal(t, "fromenv", o.Router.AuthPass)
	o, err = parse(v2("-auth-pass", "flag")...)
	require.NoError(t, err)
	assert.Equal(t, "flag", o.Router.AuthPass, "the flag given wins over the environment")

	for _, c := range []struct {
		args []string
		want string
	}{
		{v2("-auth-pass-file", dir+"/nosuch"), "-auth-pass-file " + dir + "/nosuch: no such file or directory"},
		{v2("-auth-pass-file", file("empty", "\nx\n")), "-auth-pass-file " + dir + "/empty: the first line is empty"},
		{v2("-auth-pass-file", file("long", "123456789\n")), "-auth-pass-file: 9 bytes; at most 8"},
		{v2("-auth-pass-file", file("p", "x"), "-auth-pass", "y"), "-auth-pass and -auth-pass-file: give one"},
		{base, "$" + AuthPassEnv + ": VRRPv3 has no authentication"},
	} {
		_, err := parse(c.args...)
		assert.ErrorAs(t, err, new(UsageError), "%v", c.args)
		assert.ErrorContains(t, err, c.want)
		assert.NotContains(t, err.Error(), "123456789", "the password shown")
	}
}
