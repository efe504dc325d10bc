package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestCheckFile: vrrpd -t -f checks a keepalived.conf as keepalived -t
// does: a file that checks prints what would run and each keyword not
// honoured, with its line, and exits 0; one that does not prints each
// refused line and exits 1; -t alone, -f with other flags, or a
// -metrics-listen that cannot listen, is a usage error.
func TestCheckFile(t *testing.T) {
	run1 := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	code, out, errOut := run1("-t", "-f", "../../keepalived/testdata/tencent-havip.conf")
	assert.Equal(t, 0, code, errOut)
	assert.Empty(t, errOut)
	assert.Contains(t, out, "vrrp_instance VI_1 (../../keepalived/testdata/tencent-havip.conf:3): eth0 VRID 51 VRRPv2 priority 80 every 1s, "+
		"unicast from 172.17.16.7 to [172.17.16.13], addresses 172.17.16.3/32, nopreempt, auth PASS, tracks eth0\n")
	assert.Contains(t, out, "note: ../../keepalived/testdata/tencent-havip.conf:34: track_script: no vrrp_script checkhaproxy")
	assert.True(t, strings.HasSuffix(out, "checks: 1 vrrp_instance, 1 notes\n"), "%q", out)

	code, out, errOut = run1("-t", "-f", "../../keepalived/testdata/samples/keepalived.conf.sample")
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Equal(t, "vrrpd: ../../keepalived/testdata/samples/keepalived.conf.sample:26: virtual_server: LVS (IPVS) is not supported: vipkit holds virtual addresses, it does not balance\n"+
		"vrrpd: ../../keepalived/testdata/samples/keepalived.conf.sample does not check\n", errOut)

	code, _, errOut = run1("-t", "-f", "no-such.conf")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no-such.conf: no such file or directory")

	code, _, errOut = run1("-f", "x.conf", "-vrid", "5")
	assert.Equal(t, 2, code)
	assert.Equal(t, "vrrpd: -f takes everything from the file: no other flag but -t and -metrics-listen\n", errOut)
	code, _, errOut = run1("-f", "../../keepalived/testdata/tencent-havip.conf", "-metrics-listen", "192.0.2.1:bad")
	assert.Equal(t, 2, code)
	assert.True(t, strings.HasPrefix(errOut, "vrrpd: -metrics-listen 192.0.2.1:bad: listen tcp: "), "a node must not run without its metrics: %q", errOut)
	code, _, errOut = run1("-t")
	assert.Equal(t, 2, code)
	assert.Equal(t, "vrrpd: -t checks the file -f names: give -f\n", errOut)
}
