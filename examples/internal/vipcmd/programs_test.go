package vipcmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// The example programs, as a new user runs them: built once per test
// binary into binDir, which TestMain removes.
var (
	programs = []string{"vrrpd", "halb", "haproxy-sidecar"}
	binDir   string
	build    = sync.OnceValue(func() error {
		dir, err := os.MkdirTemp("", "vipcmd-programs-")
		if err != nil {
			return err
		}
		binDir = dir
		args := []string{"build", "-o", dir + "/"}
		for _, p := range programs {
			args = append(args, "github.com/vipkit/vipkit/examples/"+p)
		}
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
		return nil
	})
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// program returns the path of the built program prog.
func program(t *testing.T, prog string) string {
	t.Helper()
	require.NoError(t, build())
	return filepath.Join(binDir, prog)
}

// commandLine is a good command line of prog on iface, without the flag
// drop, and then args.
func commandLine(prog, iface, drop string, args ...string) []string {
	base := []string{"-interface", iface, "-vrid", "51", "-vip", "192.0.2.100/24"}
	switch prog {
	case "halb":
		base = append(base, "-listen", ":8080", "-backend", "192.0.2.11:8080")
	case "haproxy-sidecar":
		base = append(base, "-haproxy-url", "http://127.0.0.1:8404/healthz")
	}
	var line []string
	for i := 0; i < len(base); i += 2 {
		if base[i] != drop {
			line = append(line, base[i], base[i+1])
		}
	}
	return append(line, args...)
}

// A badFlag is a command line a program refuses with one error line.
type badFlag struct {
	prog string
	drop string   // a flag of the good command line left out
	args []string // added to the good command line
	want string   // in the line: the flag, as typed, and what is wrong
	host bool     // the answer depends on the host: ask in a lab host
}

var badFlags = []badFlag{
	{prog: "vrrpd", drop: "-interface", want: "-interface is required"},
	{prog: "vrrpd", drop: "-vrid", want: "-vrid is required"},
	{prog: "vrrpd", drop: "-vip", want: "-vip is required"},
	{prog: "vrrpd", args: []string{"-vrid", "0"}, want: "-vrid 0: need 1..255"},
	{prog: "vrrpd", args: []string{"-vrid", "256"}, want: "-vrid 256: need 1..255"},
	{prog: "vrrpd", args: []string{"-vrid", "-1"}, want: "-vrid -1: not a number"},
	{prog: "vrrpd", args: []string{"-priority", "0"}, want: "-priority 0: need 1..255"},
	{prog: "vrrpd", args: []string{"-priority", "256"}, want: "-priority 256: need 1..255"},
	{prog: "vrrpd", args: []string{"-version", "4"}, want: "-version 4: need 2 or 3"},
	{prog: "vrrpd", args: []string{"-checksum", "x"}, want: "-checksum x: need rfc5798 or rfc9568"},
	{prog: "vrrpd", args: []string{"-advert-int", "5ms"}, want: "-advert-int 5ms: VRRPv3 takes centiseconds from 10 ms to 40.95 s (RFC 5798 §5.2.7)"},
	{prog: "vrrpd", args: []string{"-advert-int", "1"}, want: "-advert-int 1: not a duration"},
	{prog: "vrrpd", args: []string{"-version", "2", "-advert-int", "1500ms"}, want: "-advert-int 1.5s: VRRPv2 takes whole seconds"},
	{prog: "vrrpd", args: []string{"-vip", "notanaddress"}, want: "-vip notanaddress: not an address or prefix"},
	{prog: "vrrpd", args: []string{"-vip", "192.0.2.300"}, want: "-vip 192.0.2.300: not an address or prefix"},
	{prog: "vrrpd", args: []string{"-vip", "192.0.2.7/33"}, want: "-vip 192.0.2.7/33: not an address or prefix: prefix length out of range"},
	{prog: "vrrpd", args: []string{"-vip", "2001:db8::5"}, want: "-vip 2001:db8::5: not of the family of the first -vip"},
	{prog: "vrrpd", args: []string{"-vip", "224.0.0.18"}, want: "-vip 224.0.0.18: not a unicast address"},
	{prog: "vrrpd", args: []string{"-vip", "192.0.2.100/24"}, want: "-vip 192.0.2.100/24 is the first -vip too"},
	{prog: "vrrpd", args: []string{"-vmac-xmit-base"}, want: "-vmac: not set, but -vmac-interface or -vmac-xmit-base is"},
	{prog: "vrrpd", args: []string{"-preempt-delay", "5s", "-nopreempt"}, want: "-preempt-delay 5s, but -nopreempt is set"},
	{prog: "vrrpd", args: []string{"-owner-ignore-adverts"}, want: "-owner-ignore-adverts: set, but -priority is 100"},
	{prog: "vrrpd", drop: "-vip", args: []string{"-vip", "2001:db8::1", "-version", "2"}, want: "-vip 2001:db8::1 is IPv6; VRRPv2 is IPv4 only"},
	{prog: "vrrpd", args: []string{"-version", "2", "-auth-pass", "123456789"}, want: "-auth-pass: 9 bytes; at most 8"},
	{prog: "vrrpd", args: []string{"-auth-pass", "1111"}, want: "-auth-pass: VRRPv3 has no authentication"},
	{prog: "vrrpd", args: []string{"-preempt-delay", "-1s"}, want: "-preempt-delay -1s is negative"},
	{prog: "vrrpd", args: []string{"-nopreempt=maybe"}, want: "-nopreempt maybe: not true or false"},
	{prog: "vrrpd", args: []string{"-garp-master-repeat", "-1"}, want: "-garp-master-repeat -1: at least 1"},
	{prog: "vrrpd", args: []string{"-garp-interval", "-1s"}, want: "-garp-interval -1s is negative"},
	{prog: "vrrpd", args: []string{"-garp-master-delay", "-1s"}, want: "-garp-master-delay -1s is negative"},
	{prog: "vrrpd", args: []string{"-garp-master-refresh", "-5s"}, want: "-garp-master-refresh -5s is negative"},
	{prog: "vrrpd", args: []string{"-garp-master-refresh", "5s", "-garp-master-refresh-repeat", "0"},
		want: "-garp-master-refresh-repeat 0: at least 1 with -garp-master-refresh"},
	{prog: "vrrpd", args: []string{"-peer", "bad"}, want: "-peer bad: not an address"},
	{prog: "vrrpd", args: []string{"-peer", "2001:db8::2"}, want: "-peer 2001:db8::2: not of the family of the first -vip"},
	{prog: "vrrpd", args: []string{"-src", "192.0.2.1"}, want: "-peer: none, but -src is set"},
	{prog: "vrrpd", args: []string{"-src", "host", "-peer", "192.0.2.2"}, want: "-src host: not an address"},
	{prog: "vrrpd", args: []string{"-src", "127.0.0.1", "-peer", "192.0.2.2"}, want: "-src 127.0.0.1: not a unicast address"},
	{prog: "vrrpd", args: []string{"-track-interface", ""}, want: "-track-interface: empty"},
	{prog: "vrrpd", args: []string{"-tencentcloud", "x"}, want: "-tencentcloud x: need havip or private-ip"},
	{prog: "vrrpd", args: []string{"-tencentcloud", "havip", "-no-vip"}, want: "-tencentcloud needs the addresses: drop -no-vip"},
	{prog: "vrrpd", args: []string{"-bogus"}, want: "-bogus"},
	{prog: "vrrpd", args: []string{"extra"}, want: `unexpected argument "extra"`},

	{prog: "halb", drop: "-interface", want: "-interface is required"},
	{prog: "halb", drop: "-listen", want: "-listen is required"},
	{prog: "halb", drop: "-backend", want: "at least one -backend is required"},
	{prog: "halb", args: []string{"-listen", "8080"}, want: "-listen 8080: missing port in address"},
	{prog: "halb", args: []string{"-backend", "192.0.2.12"}, want: "-backend 192.0.2.12: missing port in address"},
	{prog: "halb", args: []string{"-priority", "255"}, want: "-priority 255: need 1..254"},
	{prog: "halb", args: []string{"-weight", "0"}, want: "-weight 0: need 1..253"},
	{prog: "halb", args: []string{"-weight", "254"}, want: "-weight 254: need 1..253"},
	{prog: "halb", args: []string{"-health-interval", "0"}, want: "-health-interval 0s: need a positive duration"},
	{prog: "halb", args: []string{"-drain", "-1s"}, want: "-drain -1s: need a duration of 0 or more"},
	{prog: "halb", args: []string{"-advert-int", "5ms"}, want: "-advert-int 5ms: VRRPv3 takes centiseconds"},
	{prog: "halb", args: []string{"-vip", "notanaddress"}, want: "-vip notanaddress: not an address or prefix"},
	{prog: "halb", args: []string{"-garp-master-repeat", "-1"}, want: "-garp-master-repeat -1: at least 1"},

	{prog: "haproxy-sidecar", drop: "-vrid", want: "-vrid is required"},
	{prog: "haproxy-sidecar", drop: "-haproxy-url", want: "need -haproxy-url or -haproxy-socket"},
	{prog: "haproxy-sidecar", args: []string{"-haproxy-url", "ftp://127.0.0.1/healthz"}, want: "-haproxy-url"},
	{prog: "haproxy-sidecar", args: []string{"-check-interval", "0"}, want: "-check-interval 0s: need a positive duration"},
	{prog: "haproxy-sidecar", args: []string{"-check-timeout", "-1s"}, want: "-check-timeout -1s"},
	{prog: "haproxy-sidecar", args: []string{"-check-rise", "0"}, want: "-check-rise 0: need 1 or more"},
	{prog: "haproxy-sidecar", args: []string{"-check-fall", "0"}, want: "-check-fall 0: need 1 or more"},
	{prog: "haproxy-sidecar", args: []string{"-check-weight", "254"}, want: "-check-weight 254: need -253..253"},
	{prog: "haproxy-sidecar", args: []string{"-priority", "255", "-check-weight", "-10"}, want: "-check-weight -10 with -priority 255"},
	{prog: "haproxy-sidecar", args: []string{"-advert-int", "5ms"}, want: "-advert-int 5ms: VRRPv3 takes centiseconds"},
	{prog: "haproxy-sidecar", args: []string{"-peer", "bad"}, want: "-peer bad: not an address"},
	{prog: "haproxy-sidecar", args: []string{"-garp-interval", "-1s"}, want: "-garp-interval -1s is negative"},

	// In a lab host whose eth0 has 192.0.2.1/24.
	{prog: "vrrpd", host: true, args: []string{"-interface", "nosuch0"}, want: `-interface: no interface "nosuch0" in this network namespace`},
	{prog: "vrrpd", host: true, args: []string{"-src", "192.0.2.9", "-peer", "192.0.2.2"}, want: "-src 192.0.2.9 is not an address of eth0"},
	{prog: "vrrpd", host: true, args: []string{"-track-interface", "nosuch1"}, want: `-track-interface: no interface "nosuch1"`},
	{prog: "vrrpd", host: true, args: []string{"-vip", "192.0.2.1/24"}, want: "-interface eth0 has no IPv4 address but the virtual ones to send advertisements from; if a virtual address is the interface's own, this router is its owner: priority 255"},
	{prog: "halb", host: true, args: []string{"-interface", "nosuch0"}, want: `-interface: no interface "nosuch0"`},
	{prog: "halb", host: true, args: []string{"-src", "192.0.2.9", "-peer", "192.0.2.2"}, want: "-src 192.0.2.9 is not an address of eth0"},
	{prog: "haproxy-sidecar", host: true, args: []string{"-interface", "nosuch0"}, want: `-interface: no interface "nosuch0"`},
	{prog: "haproxy-sidecar", host: true, args: []string{"-track-interface", "nosuch1"}, want: `-track-interface: no interface "nosuch1"`},
}

// goNames are the Go names an error line must not show.
var goNames = func() *regexp.Regexp {
	var names []string
	for _, field := range slices.Sorted(maps.Keys(flagOf)) {
		names = append(names, regexp.QuoteMeta(field))
	}
	return regexp.MustCompile(`\b(` + strings.Join(names, "|") + `|Checks|invalid config)\b`)
}()

// TestProgramsBadFlags runs each example program with a bad command line
// whose error does not depend on the host, without privileges, on an
// interface nowhere0 that a flag check that came too late would stumble
// on.
func TestProgramsBadFlags(t *testing.T) {
	for _, c := range badFlags {
		if !c.host {
			t.Run(c.String(), func(t *testing.T) {
				code, stdout, stderr := ask(t, program(t, c.prog), commandLine(c.prog, "nowhere0", c.drop, c.args...))
				c.check(t, code, stdout, stderr)
			})
		}
	}
}

// TestProgramsBadFlagsOnHost runs each example program with a bad command
// line whose error depends on the host in a lab host whose eth0 has
// 192.0.2.1/24.
func TestProgramsBadFlagsOnHost(t *testing.T) {
	lab := netlab.New(t)
	h := lab.Host("h")
	eth0, _ := lab.Link(h, lab.Host("peer"))
	eth0.AddAddr(netip.MustParsePrefix("192.0.2.1/24"))
	for _, c := range badFlags {
		if c.host {
			p := h.Start(append([]string{program(t, c.prog)}, commandLine(c.prog, "eth0", c.drop, c.args...)...)...)
			select {
			case <-p.Done():
			case <-time.After(30 * time.Second):
				p.Stop()
			}
			code := 0
			if ee := (*exec.ExitError)(nil); errors.As(p.Wait(), &ee) {
				code = ee.ExitCode()
			}
			c.check(t, code, "", p.Output()) // Output has standard output too
		}
	}
}

func (c badFlag) String() string {
	s := c.prog
	if c.drop != "" {
		s += " without " + c.drop
	}
	return strings.Join(append([]string{s}, c.args...), " ")
}

// check checks a program's answer to c: exit status 2, nothing on standard
// output, and on standard error one line "prog: ..." with c.want, which
// names the flag, and no Go field.
func (c badFlag) check(t *testing.T, code int, stdout, stderr string) {
	t.Helper()
	assert.Regexp(t, `(^|\s)-[a-z]|^unexpected argument`, c.want, "%v: the case names no flag", c)
	assert.Equal(t, 2, code, "%v: %s", c, stderr)
	assert.Empty(t, stdout, "%v", c)
	assert.Regexp(t, `\A`+regexp.QuoteMeta(c.prog)+`: [^\n]*`+regexp.QuoteMeta(c.want)+`[^\n]*\n\z`, stderr, "%v: not one line naming the flag", c)
	assert.NotRegexp(t, goNames, stderr, "%v: a Go name", c)
}

// ask runs bin with args and returns its exit status and output.
func ask(t *testing.T, bin string, args []string) (code int, stdout, stderr string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) {
		require.NoError(t, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// TestProgramsHelp: each program's -h starts with one sentence saying what
// it does, then its synopsis; halb says once that its priority is 1..254.
func TestProgramsHelp(t *testing.T) {
	for _, prog := range programs {
		t.Run(prog, func(t *testing.T) {
			code, stdout, stderr := ask(t, program(t, prog), []string{"-h"})
			assert.Equal(t, 0, code)
			assert.Empty(t, stdout)
			lines := strings.SplitN(stderr, "\n", 3)
			require.Len(t, lines, 3)
			assert.Regexp(t, `^`+regexp.QuoteMeta(prog)+` [^.]+\.$`, lines[0], "not one sentence saying what the program does")
			assert.True(t, strings.HasPrefix(lines[1], "usage: "+prog+" -"), "%q", lines[1])
			if prog == "halb" {
				assert.Equal(t, 1, strings.Count(stderr, "1..254"), "%s", stderr)
				assert.NotContains(t, stderr, "1..255 (255")
				assert.NotContains(t, lines[1], "priority")
			}
		})
	}
}

// TestProgramsWithoutCapabilities: a program that lacks CAP_NET_RAW or
// CAP_NET_ADMIN exits 2 at start with one line naming what it lacks,
// before it looks at the interface (nowhere0, which does not exist: a
// program that got that far would say so). As root each runs under
// setpriv with the capability taken out of its bounding set; as another
// user each runs as it is, with neither.
func TestProgramsWithoutCapabilities(t *testing.T) {
	const (
		raw   = "needs CAP_NET_RAW for VRRP's raw sockets"
		admin = "needs CAP_NET_ADMIN to add the virtual addresses"
		both  = "needs CAP_NET_RAW for VRRP's raw sockets and CAP_NET_ADMIN to add the virtual addresses"
	)
	cases := []struct {
		prog, drop string // drop: setpriv's capabilities to take out
		args       []string
		want       string
	}{
		{prog: "vrrpd", drop: "-net_admin", want: admin},
		{prog: "vrrpd", drop: "-net_raw", want: raw},
		{prog: "vrrpd", drop: "-net_raw,-net_admin", want: both},
		// The election alone needs no CAP_NET_ADMIN: it gets as far as the
		// interface.
		{prog: "vrrpd", drop: "-net_admin", args: []string{"-no-vip"}, want: `-interface: no interface "nowhere0"`},
		{prog: "halb", drop: "-net_admin", want: admin},
		{prog: "haproxy-sidecar", drop: "-net_raw", want: raw},
	}
	root := os.Geteuid() == 0
	setpriv, err := exec.LookPath("setpriv")
	if root && err != nil {
		t.Skip("setpriv (util-linux) is not installed: " + err.Error())
	}
	for _, c := range cases {
		if !root && c.drop != "-net_raw,-net_admin" {
			continue // without root, a program lacks both
		}
		t.Run(c.prog+" "+c.drop+" "+strings.Join(c.args, " "), func(t *testing.T) {
			bin, args := program(t, c.prog), commandLine(c.prog, "nowhere0", "", c.args...)
			if root {
				bin, args = setpriv, append([]string{"--bounding-set=" + c.drop, "--", bin}, args...)
			}
			code, stdout, stderr := ask(t, bin, args)
			assert.Equal(t, 2, code, "%s", stderr)
			assert.Empty(t, stdout)
			assert.Regexp(t, `\A`+regexp.QuoteMeta(c.prog)+`: [^\n]*`+regexp.QuoteMeta(c.want)+`[^\n]*\n\z`, stderr, "not one line naming what is missing")
		})
	}
}
