// Package keepalived runs keepalived in a netlab host, for tests that talk
// to it as a real peer: in the foreground, logging to the test's capture
// of its output, with its configuration, pid files and nothing else in a
// directory of the test's.
package keepalived

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// A Process is keepalived running vrrp_instances, VI_1 the one State and
// WaitState follow.
type Process struct {
	*netlab.Process
}

// entering is keepalived's log line of an instance's transitions (vrrp.c).
var entering = regexp.MustCompile(`\((\w+)\) Entering (\w+) STATE`)

// Start runs keepalived's VRRP process with conf in host. Without
// keepalived the test is skipped, or fails under CI, which installs it.
func Start(t *testing.T, host *netlab.Host, conf string) *Process {
	t.Helper()
	bin, err := exec.LookPath("keepalived")
	if err != nil && os.Getenv("CI") == "" {
		t.Skip("keepalived is not installed (apt-get install keepalived)")
	}
	require.NoError(t, err, "keepalived is needed")
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
	p := host.Start(bin, "--dont-fork", "--log-console", "--log-detail", "--vrrp", "--use-file", path,
		"--pid", filepath.Join(dir, "keepalived.pid"), "--vrrp_pid", filepath.Join(dir, "vrrp.pid"))
	return &Process{p}
}

// State returns the state VI_1 last said it entered (MASTER, BACKUP,
// FAULT), or "".
func (k *Process) State() string { return k.StateOf("VI_1") }

// StateOf returns the state the instance name last said it entered.
func (k *Process) StateOf(name string) string {
	state := ""
	for _, m := range entering.FindAllStringSubmatch(k.Output(), -1) {
		if m[1] == name {
			state = m[2]
		}
	}
	return state
}

// WaitState waits for VI_1 to enter state.
func (k *Process) WaitState(t *testing.T, state string, within time.Duration) {
	t.Helper()
	k.WaitStateOf(t, "VI_1", state, within)
}

// WaitStateOf waits for the instance name to enter state.
func (k *Process) WaitStateOf(t *testing.T, name, state string, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return k.StateOf(name) == state }, within, 5*time.Millisecond,
		"keepalived's %s is %q, want %q; it said:\n%s", name, k.StateOf(name), state, k.Output())
}
