package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-mode", "aws"},
		{"-version", "4"},
		{"-version", "2"}, // 100 ms is not whole seconds
		{"-advert-int", "5ms"},
		{"-bogus"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 2, run(context.Background(), args, &stdout, &stderr), "%v", args)
		assert.Empty(t, stdout.String())
		assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "%v: not one line: %q", args, stderr.String())
		assert.True(t, strings.HasPrefix(stderr.String(), "lab: "), "%q", stderr.String())
	}
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 0, run(context.Background(), []string{"-h"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "-mode")
}

// leftovers returns the namespaces and processes a lab run by pid left.
func leftovers(t *testing.T, bin string, pid int) []string {
	t.Helper()
	var left []string
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(line, fmt.Sprintf("vk%dx", pid)) {
			left = append(left, "namespace "+line)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.HasPrefix(b, []byte(bin+"\x00")) {
			left = append(left, "process "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return left
}

// TestLab runs the lab end to end in each mode, as the README tells users
// to, and reads its JSON line.
func TestLab(t *testing.T) {
	bin := netlab.Build(t)
	for _, c := range []struct {
		args       []string
		mode       string
		version    int
		advertMs   int64
		masterDown int64 // 3 × advert_int + Skew_Time at priority 100
		timeline   []string
	}{
		{nil, "lan", 3, 100, 361, []string{"lb2 sends its first gratuitous ARP for 192.0.2.100"}},
		{[]string{"-mode", "havip"}, "havip", 3, 100, 361, []string{"the VPC delivers 192.0.2.100 to eni-lb2"}},
		{[]string{"-mode", "private-ip"}, "private-ip", 3, 100, 361,
			[]string{"lb2 calls the VPC API: MigratePrivateIpAddress (ok)", "the VPC delivers 192.0.2.100 to eni-lb2"}},
		{[]string{"-version", "2", "-advert-int", "1s"}, "lan", 2, 1000, 3609, nil},
	} {
		t.Run(strings.Join(append([]string{c.mode}, c.args...), " "), func(t *testing.T) {
			cmd := exec.Command(bin, c.args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			assert.Empty(t, leftovers(t, bin, cmd.Process.Pid))

			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			var res result
			require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &res), "last line: %q", lines[len(lines)-1])
			assert.True(t, res.OK, "%+v", res)
			assert.Equal(t, c.mode, res.Mode)
			assert.Equal(t, c.version, res.Version)
			assert.Equal(t, c.advertMs, res.AdvertIntMs)
			assert.Equal(t, c.masterDown, res.MasterDownMs)
			// The client waits at least until the backup's timer fires
			// (less what passed between lb1's last advertisement and
			// the kill), and not much longer: the backup announces at once.
			assert.Greater(t, res.OutageMs, res.MasterDownMs-res.AdvertIntMs-10, "%+v", res)
			assert.Less(t, res.OutageMs, res.MasterDownMs+500, "%+v", res)
			for _, want := range append(c.timeline, "lb1 killed", "lb2 becomes MASTER (master-down)",
				"the client's first connection through lb2") {
				assert.Contains(t, stdout.String(), want)
			}
			t.Logf("%s", lines[len(lines)-1])
		})
	}
}

// TestLabInterrupted: Ctrl-C removes everything and says so in the JSON
// line.
func TestLabInterrupted(t *testing.T) {
	bin := netlab.Build(t)
	cmd := exec.Command(bin, "-mode", "havip")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var lines []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), "is MASTER and holds") {
			require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "%s", strings.Join(lines, "\n"))
	assert.Equal(t, 1, exit.ExitCode())
	var res result
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &res), "%s", strings.Join(lines, "\n"))
	assert.False(t, res.OK)
	assert.Equal(t, "interrupted", res.Error)
	assert.Empty(t, leftovers(t, bin, cmd.Process.Pid))
}

// TestNeedsRoot: without root the lab says what it needs in one line.
func TestNeedsRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		bin := netlab.Build(t)
		// Let nobody reach the binary: the test's temporary directories
		// are private.
		for dir := filepath.Dir(bin); strings.HasPrefix(dir, filepath.Clean(os.TempDir())+"/"); dir = filepath.Dir(dir) {
			require.NoError(t, os.Chmod(dir, 0o755))
		}
		cmd := exec.Command(bin)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "%s", stderr.String())
		assert.Equal(t, 2, exit.ExitCode())
		assert.Empty(t, stdout.String())
		assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "%q", stderr.String())
		assert.Contains(t, stderr.String(), "needs root")
		return
	}
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 2, run(context.Background(), nil, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "needs root")
	assert.Empty(t, stdout.String())
}
