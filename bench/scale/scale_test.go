package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
	"github.com/vipkit/vipkit/vrrp"
)

func TestParse(t *testing.T) {
	c, err := parse(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 1000, c.routers())
	assert.Equal(t, []string{implVipkit, implKeepalived}, c.impls)
	assert.InDelta(t, 10000, c.nominal(), 1e-9)
	assert.Zero(t, c.flood)

	c, err = parse([]string{"-flood", "50000", "-links", "32", "-vrids-per-link", "254"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 50000, c.flood)
	assert.Equal(t, uint8(255), c.floodVRID())
	assert.InDelta(t, 1562.5, c.floodPerLink(), 1e-9)
	_, err = parse([]string{"-links", "64", "-vrids-per-link", "255"}, io.Discard)
	assert.NoError(t, err, "no flood, no limit")

	for _, args := range [][]string{
		{"-links", "0"}, {"-links", "65"}, {"-vrids-per-link", "256"}, {"-window", "0s"},
		{"-version", "4"}, {"-advert-int", "5ms"}, {"-version", "2", "-advert-int", "100ms"},
		{"-impl", "frr"}, {"-impl", "vipkit,vipkit"}, {"-nope"}, {"extra"},
		{"-rt-priority", "100"}, {"-rt-priority", "-1"}, {"-flood", "-1"}, {"-flood", "1000001"}, {"-flood", "1000", "-vrids-per-link", "255"}, {"-flood", "1000", "-links", "33"},
	} {
		_, err := parse(args, io.Discard)
		assert.ErrorAs(t, err, new(usageError), "%v", args)
		var stderr bytes.Buffer
		assert.Equal(t, 2, run(context.Background(), args, io.Discard, &stderr), "%v", args)
		assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "one line for %v: %q", args, stderr.String())
	}
}

func TestAddresses(t *testing.T) {
	assert.Equal(t, netip.MustParsePrefix("192.0.2.1/24"), nodeAddr(0, 1, 1))
	assert.Equal(t, netip.MustParsePrefix("192.0.2.194/26"), nodeAddr(3, 4, 2))
	assert.Equal(t, netip.MustParsePrefix("192.0.2.253/30"), nodeAddr(63, 64, 1))
	docs := []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24")}
	seen := map[netip.Addr]bool{}
	for i := range vipPool {
		a := vip(i)
		assert.True(t, docs[0].Contains(a) || docs[1].Contains(a), "%v", a)
		assert.False(t, seen[a], "%v twice", a)
		seen[a] = true
	}
	assert.Equal(t, vip(0), vip(vipPool))

	// The flood's addresses are in the link's subnet, neither node's, nor
	// its network or broadcast address.
	for _, links := range []int{1, 4, maxFloodLinks} {
		for l := range links {
			subnet := nodeAddr(l, links, 1).Masked()
			size := 1 << (32 - subnet.Bits())
			last := netip.AddrFrom4([4]byte{192, 0, 2, byte(l*size + size - 1)})
			for _, h := range []int{floodSrcHost, floodVIPHost} {
				a := nodeAddr(l, links, h)
				assert.Equal(t, subnet, a.Masked(), "%v", a)
				assert.NotEqual(t, last, a.Addr(), "%v is the broadcast address", a)
			}
		}
	}
}

func TestFloodAdvert(t *testing.T) {
	for _, version := range []uint{2, 3} {
		c, err := parse([]string{"-links", "4", "-vrids-per-link", "250", "-version", strconv.Itoa(int(version)), "-advert-int", "1s"}, io.Discard)
		require.NoError(t, err)
		src := nodeAddr(3, c.links, floodSrcHost).Addr()
		b, err := floodAdvert(c, 3).Append(nil, src, vrrp.MulticastGroupIPv4, vrrp.ChecksumPseudoHeader)
		require.NoError(t, err)
		var a vrrp.Advertisement
		_, err = a.Decode(b, src, vrrp.MulticastGroupIPv4, vrrp.ChecksumPseudoHeader)
		require.NoError(t, err)
		assert.Equal(t, vrrp.Version(version), a.Version)
		assert.Equal(t, uint8(251), a.VRID)
		assert.Equal(t, uint8(100), a.Priority)
		assert.Equal(t, time.Second, a.Interval)
		assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.196")}, a.Addresses)
	}
}

func TestUnknownVRIDs(t *testing.T) {
	// Two interfaces whose routers each report their interface's count.
	assert.Equal(t, uint64(700), unknownVRIDs([][]uint64{{500, 500, 500}, {200, 200}}))
	assert.Zero(t, unknownVRIDs([][]uint64{{0}, {}}))
}

func TestKeepalivedConf(t *testing.T) {
	c := config{links: 2, vridsPerLink: 3, advert: 10 * time.Millisecond, version: 3}
	conf := keepalivedConf(c, "a", true)
	assert.Contains(t, conf, "vrrp_version 3\n")
	assert.Equal(t, 6, strings.Count(conf, "vrrp_instance "))
	assert.Equal(t, 6, strings.Count(conf, "state MASTER\n"))
	assert.Equal(t, 6, strings.Count(conf, "priority 200\n"))
	assert.Equal(t, 6, strings.Count(conf, "advert_int 0.01\n"))
	assert.Contains(t, conf, "vrrp_instance VI_1_3 {\n  state MASTER\n  interface eth1\n  virtual_router_id 3\n")
	assert.Contains(t, conf, "    198.51.100.6/32\n")
	assert.NotContains(t, conf, "vrrp_rt_priority")
	b := keepalivedConf(c, "b", false)
	assert.Equal(t, 6, strings.Count(b, "state BACKUP\n"))
	assert.Equal(t, 6, strings.Count(b, "priority 100\n"))
	c.rtPriority = 10
	assert.Contains(t, keepalivedConf(c, "a", true), "  vrrp_rt_priority 10\n  vrrp_rlimit_rttime 4294967295\n}\n")
	assert.Equal(t, "1", keepalivedSeconds(time.Second))
	assert.Equal(t, "0.1", keepalivedSeconds(100*time.Millisecond))
}

func TestKeepalivedLog(t *testing.T) {
	k := newKeepalivedNode(3)
	for _, line := range []string{
		"Tue Dec  1 07:55:13 2026: (VI_0_1) Entering BACKUP STATE (init)",
		"Tue Dec  1 07:55:13 2026: (VI_0_2) Entering BACKUP STATE (init)",
		"Tue Dec  1 07:55:13 2026: (VI_0_1) Entering MASTER STATE",
		"Tue Dec  1 07:55:13 2026: (VI_0_1) received lower priority (100) advert from 192.0.2.2 - discarding",
		"Tue Dec  1 07:55:14 2026: (VI_0_2) Entering FAULT STATE",
		"Tue Dec  1 07:55:14 2026: Startup complete",
	} {
		k.onLine(line)
	}
	s := k.snapshot()
	assert.Equal(t, nodeState{Routers: 3, Masters: 1, Faults: 1, Others: 1, Transitions: 4, ToMaster: 1, ToBackup: 2, ToFault: 1}, s)
}

// TestScale runs the benchmark, built as a program, with a few routers per
// node for both implementations, and checks its JSON line and that it
// left no namespace and no process behind.
func TestScale(t *testing.T) {
	netlab.Require(t)
	if _, err := findKeepalived(); err != nil {
		t.Skipf("scale: %v; the benchmark compares vipkit with keepalived", err)
	}
	bin := netlab.Build(t)
	tmp := t.TempDir()
	const links, vrids = 1, 5
	res, pid := runBench(t, bin, tmp, "-links", strconv.Itoa(links), "-vrids-per-link", strconv.Itoa(vrids),
		"-advert-int", "100ms", "-window", "2s", "-warmup", "1s", "-settle-timeout", "20s")
	assert.Equal(t, links*vrids, res.Routers)
	nominal := float64(links*vrids) / 0.1
	assert.InDelta(t, nominal, res.NominalPerS, 1e-9)
	var pids []int
	for _, impl := range []string{implVipkit, implKeepalived} {
		ir := res.Implementations[impl]
		require.NotNil(t, ir, "%s was not measured", impl)
		assert.True(t, ir.Settled, "%s did not settle: %v", impl, ir.Notes)
		assert.InDelta(t, 2, ir.WindowS, 0.5, impl)
		for _, n := range []struct {
			name   string
			r      nodeResult
			master bool
		}{{"a", ir.A, true}, {"b", ir.B, false}} {
			what := impl + " " + n.name
			assert.Zero(t, n.r.Transitions, "%s: transitions in the window", what)
			assert.Positive(t, n.r.RSSMB, what)
			assert.Positive(t, n.r.FDs, what)
			assert.NotEmpty(t, n.r.PIDs, what)
			assert.GreaterOrEqual(t, n.r.CPUPct, 0.0, what)
			assert.Less(t, n.r.CPUPct, 50.0, "%s: %v%% CPU for %d routers at 100 ms", what, n.r.CPUPct, links*vrids)
			assert.Zero(t, n.r.SocketDrops, what)
			pids = append(pids, n.r.PIDs...)
			if n.master {
				assert.InDelta(t, nominal, n.r.SentPerS, 0.25*nominal, "%s: adverts sent per second", what)
				assert.Less(t, n.r.ReceivedPerS, 0.1*nominal, "%s: adverts received per second", what)
				assert.Equal(t, links*vrids, n.r.MastersAtEnd, what)
			} else {
				assert.InDelta(t, nominal, n.r.ReceivedPerS, 0.25*nominal, "%s: adverts received per second", what)
				assert.Less(t, n.r.SentPerS, 0.1*nominal, "%s: adverts sent per second", what)
				assert.Equal(t, links*vrids, n.r.BackupsAtEnd, what)
			}
			if impl == implVipkit {
				require.NotNil(t, n.r.Goroutines, what)
				require.NotNil(t, n.r.RouterPacketErrors, what)
				assert.Zero(t, *n.r.RouterPacketErrors, what)
				assert.Equal(t, 1, n.r.Processes, what)
			} else {
				assert.Nil(t, n.r.Goroutines, what)
				assert.Equal(t, 2, n.r.Processes, "%s: keepalived and its VRRP child", what)
			}
		}
	}
	assert.NotEmpty(t, res.Ratio["a"], "no vipkit/keepalived ratio")

	// Nothing left: no namespace of the run's labs, no process running
	// the program or with a file in tmp on its command line.
	prefix := fmt.Sprintf("vk%dx", pid)
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		assert.False(t, strings.HasPrefix(e.Name(), prefix), "namespace %s left behind", e.Name())
	}
	for _, pid := range pids {
		if cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
			assert.False(t, bytes.Contains(cl, []byte(tmp)) || bytes.Contains(cl, []byte(bin)), "process %d left behind: %q", pid, cl)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cl, err := os.ReadFile(p)
		if err != nil || bytes.Contains(cl, []byte("go test")) {
			continue
		}
		assert.False(t, bytes.Contains(cl, []byte(tmp)) || bytes.HasPrefix(cl, []byte(bin)), "%s left behind: %q", p, cl)
	}
	tmps, _ := filepath.Glob(filepath.Join(tmp, "vipkit-scale-*"))
	assert.Empty(t, tmps, "temporary directories left behind")
}

// TestScaleFlood runs the benchmark with a small flood, for vipkit only,
// and checks that the flood ran at the rate asked, node b counted all of
// it as unknown VRIDs, and nobody took over.
func TestScaleFlood(t *testing.T) {
	bin := netlab.Build(t)
	const links, vrids, flood = 1, 5, 2000
	res, _ := runBench(t, bin, t.TempDir(), "-links", strconv.Itoa(links), "-vrids-per-link", strconv.Itoa(vrids),
		"-advert-int", "100ms", "-window", "2s", "-warmup", "1s", "-settle-timeout", "20s", "-flood", strconv.Itoa(flood), "-impl", implVipkit)
	assert.Equal(t, flood, res.FloodPerS)
	assert.Equal(t, vrids+1, res.FloodVRID)
	ir := res.Implementations[implVipkit]
	require.NotNil(t, ir, "not measured")
	assert.True(t, ir.Settled, "did not settle: %v", ir.Notes)
	assert.Empty(t, ir.Notes)
	assert.InEpsilon(t, flood, ir.FloodSentPerS, 0.1, "flood sent per second")
	nominal := float64(links*vrids) / 0.1
	for _, n := range []nodeResult{ir.A, ir.B} {
		assert.Zero(t, n.Transitions, "%s: transitions in the window", n.Role)
		assert.Zero(t, n.SocketDrops, n.Role)
		require.NotNil(t, n.RouterPacketErrors, n.Role)
		assert.Zero(t, *n.RouterPacketErrors, n.Role)
	}
	assert.InDelta(t, nominal, ir.A.SentPerS, 0.25*nominal, "a's adverts sent per second, the flood taken out")
	assert.InDelta(t, nominal, ir.B.ReceivedPerS, 0.25*nominal, "b's adverts received per second, the flood taken out")
	require.NotNil(t, ir.B.RouterUnknownVRIDsPerS)
	assert.InEpsilon(t, ir.FloodSentPerS, *ir.B.RouterUnknownVRIDsPerS, 0.1, "b's unknown VRIDs per second")
	assert.Zero(t, *ir.A.RouterUnknownVRIDsPerS, "a gets none of the flood")
}

// runBench runs the benchmark program bin with args, with every file of
// the run (keepalived's too) in tmp, and returns its JSON result, checked
// to be OK, and the program's PID.
func runBench(t *testing.T, bin, tmp string, args ...string) (result, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("scale said:\n%s%s", stderr.String(), stdout.String())
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res result
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &res), "the last line is not the JSON result")
	assert.True(t, res.OK, res.Error)
	return res, cmd.Process.Pid
}
