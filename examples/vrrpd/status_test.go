package main

import (
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/examples/internal/vipcmd"
	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// statusWait bounds how long a test waits for a status to be written: the
// machine may be busy.
const statusWait = 20 * time.Second

// readStatus reads the status file at path.
func readStatus(path string) (vipcmd.Status, error) {
	var s vipcmd.Status
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	return s, err
}

// waitStatus waits until n's status file at path holds a status for
// which ok is true, and returns it.
func (n *node) waitStatus(t *testing.T, path, what string, ok func(vipcmd.Status) bool) vipcmd.Status {
	t.Helper()
	deadline := time.Now().Add(statusWait)
	for {
		s, err := readStatus(path)
		if err == nil && ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s: not within %v; last read %+v (%v)\n%s", path, what, statusWait, s, err, n.proc.Output())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// refresh sends SIGUSR1 to n and waits for the status file to be written
// again after prev, until it holds a status for which ok is true.
func (n *node) refresh(t *testing.T, path string, prev vipcmd.Status, what string, ok func(vipcmd.Status) bool) vipcmd.Status {
	t.Helper()
	deadline := time.Now().Add(statusWait)
	for {
		require.NoError(t, n.proc.Signal(syscall.SIGUSR1))
		s := n.waitStatus(t, path, "rewritten on SIGUSR1", func(s vipcmd.Status) bool { return s.Time > prev.Time })
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s: not within %v of SIGUSR1s; last %+v", path, what, statusWait, s)
		}
		prev = s
	}
}

// TestStatusFile runs a master and a backup with -status-file: the
// master's file is written when it becomes master, and again with larger
// counters on SIGUSR1; the backup's names the master it hears; on SIGTERM
// the file is written a last time, INIT and holding nothing.
func TestStatusFile(t *testing.T) {
	bin := netlab.Build(t)
	a, b := pair(t)
	dir := t.TempDir()
	aPath, bPath := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	a.start(bin, "-priority", "150", "-advert-int", "100ms", "-status-file", aPath)

	first := a.waitStatus(t, aPath, "MASTER", func(s vipcmd.Status) bool { return s.State == "MASTER" })
	assert.Equal(t, vipcmd.Instance{Interface: a.iface.Name(), VRID: 51, Version: 3, Priority: 150, EffectivePriority: 150}, first.Instance)
	assert.Equal(t, uint64(1), first.Stats.MasterTransitions)
	assert.Equal(t, "master-down", first.Stats.NewMasterReason)
	assert.Nil(t, first.LastMaster, "a heard a master that is not there")
	require.NotNil(t, first.HAVIP)
	fi, err := os.Stat(aPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())

	b.start(bin, "-priority", "100", "-advert-int", "100ms", "-status-file", bPath)
	b.waitState(t, "BACKUP", 5*time.Second)

	// SIGUSR1 rewrites the file with what has been counted since.
	second := a.refresh(t, aPath, first, "more advertisements sent, the addresses held", func(s vipcmd.Status) bool {
		return s.Stats.AdvertsSent > first.Stats.AdvertsSent && s.HAVIP != nil && s.HAVIP.Master
	})
	assert.Equal(t, "MASTER", second.State)
	assert.Positive(t, second.Stats.AdvertsSent)
	assert.Greater(t, second.Time, first.Time)
	assert.Equal(t, uint64(1), second.Stats.MasterTransitions)
	assert.Positive(t, second.HAVIP.Bursts)
	assert.NotEmpty(t, second.HAVIP.Since)
	third := a.refresh(t, aPath, second, "still more advertisements sent", func(s vipcmd.Status) bool {
		return s.Stats.AdvertsSent > second.Stats.AdvertsSent
	})
	assert.Equal(t, "MASTER", third.State)

	// The backup's file: the master it hears, and no addresses.
	bStatus := b.waitStatus(t, bPath, "BACKUP", func(s vipcmd.Status) bool { return s.State == "BACKUP" })
	bStatus = b.refresh(t, bPath, bStatus, "advertisements received from a", func(s vipcmd.Status) bool {
		return s.Stats.AdvertsReceived > 0 && s.LastMaster != nil
	})
	assert.Equal(t, "BACKUP", bStatus.State)
	assert.Equal(t, vipcmd.MasterHeard{Address: a.addr, Priority: 150, IntervalMS: 100, Time: bStatus.LastMaster.Time}, *bStatus.LastMaster)
	assert.NotEmpty(t, bStatus.LastMaster.Time)
	require.NotNil(t, bStatus.HAVIP)
	assert.False(t, bStatus.HAVIP.Master)
	assert.Zero(t, bStatus.Stats.MasterTransitions)

	// On SIGTERM a steps down (priority 0) and writes its file a last time.
	require.NoError(t, a.proc.Signal(syscall.SIGTERM))
	require.NoError(t, a.proc.Wait(), "vrrpd did not exit 0 on SIGTERM:\n%s", a.proc.Output())
	last, err := readStatus(aPath)
	require.NoError(t, err)
	assert.Equal(t, "INIT", last.State)
	assert.Positive(t, last.Stats.PriorityZeroSent)
	require.NotNil(t, last.HAVIP)
	assert.False(t, last.HAVIP.Master, "the last status says a still holds the addresses")
	b.waitStatus(t, bPath, "MASTER after a stepped down", func(s vipcmd.Status) bool { return s.State == "MASTER" })

	// Only the two status files, no temporary file left; and only
	// Transition lines among the JSON lines of the output.
	require.NoError(t, b.proc.Stop())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"a.json", "b.json"}, names)
	for _, n := range []*node{a, b} {
		assertTransitionsOnly(t, n.proc.Output())
	}
}

// assertTransitionsOnly checks that every line of output that starts with
// '{' is a Transition: none is a Status.
func assertTransitionsOnly(t *testing.T, output string) {
	t.Helper()
	for line := range strings.SplitSeq(output, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		var tr vipcmd.Transition
		if assert.NoError(t, dec.Decode(&tr), "not a Transition line: %s", line) {
			assert.NotEmpty(t, tr.To, "%s", line)
		}
	}
}

// TestStatusOnStderr: without -status-file, SIGUSR1 writes the status as
// one JSON line on standard error; standard output has Transition lines
// only.
func TestStatusOnStderr(t *testing.T) {
	bin := netlab.Build(t)
	lab := netlab.New(t)
	sw := lab.Switch("sw")
	h := lab.Host("h1")
	ifc := sw.Attach(h)
	addr := netip.MustParseAddr("192.0.2.1")
	ifc.AddAddr(netip.PrefixFrom(addr, 24))
	n := &node{host: h, iface: ifc, addr: addr}
	stderrPath := filepath.Join(t.TempDir(), "stderr")
	// The output netlab collects is then standard output alone.
	n.proc = h.Start("sh", "-c", `exec "$@" 2>"$0"`, stderrPath,
		bin, "-interface", ifc.Name(), "-vrid", "51", "-vip", "192.0.2.100/24", "-advert-int", "100ms")
	n.waitState(t, "MASTER", 10*time.Second)

	jsonLines := func() []string {
		b, err := os.ReadFile(stderrPath)
		require.NoError(t, err)
		var lines []string
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.HasPrefix(line, "{") {
				lines = append(lines, line)
			}
		}
		return lines
	}
	require.Empty(t, jsonLines(), "a status before SIGUSR1")
	require.NoError(t, n.proc.Signal(syscall.SIGUSR1))
	deadline := time.Now().Add(statusWait)
	for len(jsonLines()) == 0 {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(stderrPath)
			t.Fatalf("no status line on standard error within %v of SIGUSR1:\n%s", statusWait, b)
		}
		time.Sleep(5 * time.Millisecond)
	}

	require.NoError(t, n.proc.Signal(syscall.SIGTERM))
	require.NoError(t, n.proc.Wait(), "vrrpd did not exit 0 on SIGTERM:\n%s", n.proc.Output())
	lines := jsonLines()
	require.Len(t, lines, 1, "not one status line: %q", lines)
	var s vipcmd.Status
	dec := json.NewDecoder(strings.NewReader(lines[0]))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&s), "%s", lines[0])
	assert.Equal(t, "MASTER", s.State)
	assert.Equal(t, vipcmd.Instance{Interface: ifc.Name(), VRID: 51, Version: 3, Priority: 100, EffectivePriority: 100}, s.Instance)
	assert.Equal(t, uint64(1), s.Stats.MasterTransitions)
	require.NotNil(t, s.HAVIP)

	stdout := n.proc.Output()
	assertTransitionsOnly(t, stdout)
	for line := range strings.SplitSeq(strings.TrimSuffix(stdout, "\n"), "\n") {
		assert.True(t, strings.HasPrefix(line, "{"), "standard output has a line that is not a Transition: %q", line)
	}
	var states []string
	for _, tr := range n.transitions(t) {
		states = append(states, tr.To)
	}
	assert.Equal(t, []string{"BACKUP", "MASTER", "INIT"}, states, "%s", stdout)
}

// TestStatusFileUnwritable: a status file that cannot be written at start
// stops vrrpd before it runs, exit status 1, with one line naming the flag.
func TestStatusFileUnwritable(t *testing.T) {
	bin := netlab.Build(t)
	a, _ := pair(t)
	path := filepath.Join(t.TempDir(), "missing", "status.json")
	a.start(bin, "-status-file", path)
	err := a.proc.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "vrrpd ran:\n%s", a.proc.Output())
	assert.Equal(t, 1, ee.ExitCode())
	assert.Equal(t, "vrrpd: -status-file "+path+": no such file or directory\n", a.proc.Output())
	assert.Empty(t, a.transitions(t))
}
