package keepalived_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/keepalived"
	"github.com/vipkit/vipkit/vrrp"
)

// logBuf collects a logger's lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// count returns how many lines contain s.
func (l *logBuf) count(s string) int { return strings.Count(l.String(), s) }

func newLog(t *testing.T) (*slog.Logger, *logBuf) {
	t.Helper()
	lb := &logBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", lb.String())
		}
	})
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// writeScript writes an executable /bin/sh script of body in dir.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	return path
}

// readLines returns the lines of the file at path, or none.
func readLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

var scriptPos = keepalived.Pos{File: "keepalived.conf", Line: 7}

// track returns a Config of the scripts and an instance tracking each.
func track(scripts ...*keepalived.Script) (*keepalived.Config, *keepalived.Instance) {
	in := &keepalived.Instance{Name: "VI_1"}
	for _, s := range scripts {
		if s.Pos == (keepalived.Pos{}) {
			s.Pos = scriptPos
		}
		if s.Interval == 0 {
			s.Interval = 100 * time.Millisecond
		}
		if s.Timeout == 0 {
			s.Timeout = 10 * time.Second // a script of the shell takes longer than the interval on a loaded machine
		}
		in.TrackScripts = append(in.TrackScripts, keepalived.TrackScript{Name: s.Name})
	}
	return &keepalived.Config{Scripts: scripts, Instances: []*keepalived.Instance{in}}, in
}

// checks returns the checks of in, which must be made.
func checks(t *testing.T, c *keepalived.Config, in *keepalived.Instance) ([]vrrp.Check, *logBuf) {
	t.Helper()
	log, lb := newLog(t)
	cs, err := c.Checks(in, log)
	require.NoError(t, err)
	require.Len(t, cs, len(in.TrackScripts))
	return cs, lb
}

// run runs a check once, as a vrrp.Router does: with its timeout.
func run(t *testing.T, c vrrp.Check) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	return c.Run(ctx)
}

// ups runs a check n times and returns whether it was up each time.
func ups(t *testing.T, c vrrp.Check, n int) []bool {
	t.Helper()
	var out []bool
	for range n {
		out = append(out, run(t, c) == nil)
	}
	return out
}

func TestCheckSucceedsOnStatusZero(t *testing.T) {
	dir := t.TempDir()
	ok := &keepalived.Script{Name: "ok", Command: writeScript(t, dir, "ok.sh", "exit 0"), Interval: 2 * time.Second, Weight: 20, Rise: 3, Fall: 2}
	bad := &keepalived.Script{Name: "bad", Command: writeScript(t, dir, "bad.sh", "exit 3"), Weight: -20}
	c, in := track(ok, bad)
	cs, lb := checks(t, c, in)

	assert.Equal(t, "ok", cs[0].Name)
	assert.Equal(t, 2*time.Second, cs[0].Interval)
	assert.Equal(t, 20, cs[0].Weight)
	assert.Equal(t, 1, cs[0].Rise, "rise and fall are counted as keepalived counts them, before Run returns")
	assert.Equal(t, 1, cs[0].Fall)
	assert.Greater(t, cs[0].Timeout, 2*time.Second+2*time.Second, "a Router must not time out a Run before the script does")
	assert.NoError(t, run(t, cs[0]))

	assert.Equal(t, -20, cs[1].Weight)
	err := run(t, cs[1])
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited with status 3")
	assert.Equal(t, 1, lb.count("script is down"))
}

// TestCheckWords: the line is split as keepalived splits it, quotes and
// escapes, and run with no shell: $0 is the script's path.
func TestCheckWords(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	path := writeScript(t, dir, "args.sh", `for a in "$0" "$@"; do echo "[$a]"; done > `+out)
	c, in := track(&keepalived.Script{Name: "args", Command: path + ` 'a b' c\x41 "d \"e\"" $HOME *`})
	cs, _ := checks(t, c, in)
	require.NoError(t, run(t, cs[0]))
	assert.Equal(t, []string{"[" + path + "]", "[a b]", "[cA]", `[d "e"]`, "[$HOME]", "[*]"}, readLines(out))
}

// TestCheckShellRedirect: a line that starts "</" is run by /bin/sh, as
// keepalived runs it with system(3).
func TestCheckShellRedirect(t *testing.T) {
	dir := t.TempDir()
	c, in := track(
		&keepalived.Script{Name: "there", Command: "</etc/passwd"},
		&keepalived.Script{Name: "missing", Command: "<" + filepath.Join(dir, "missing")},
	)
	cs, _ := checks(t, c, in)
	assert.NoError(t, run(t, cs[0]))
	assert.Error(t, run(t, cs[1]), "/bin/sh cannot open it")
}

// pidGone reports whether the process is gone (or a zombie no one reaped).
func pidGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	var pid int
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	return pid
}

// TestCheckTimeout: a script that runs past its timeout gets SIGTERM, it
// and its child die, and the run is a failure; one that ignores SIGTERM
// gets SIGKILL 2 s later.
func TestCheckTimeout(t *testing.T) {
	dir := t.TempDir()
	child := filepath.Join(dir, "child")
	slow := &keepalived.Script{Name: "slow", Command: writeScript(t, dir, "slow.sh", "sleep 1000 & echo $! > "+child+"\nsleep 1000"),
		Interval: 300 * time.Millisecond, Timeout: 200 * time.Millisecond}
	stubbornChild := filepath.Join(dir, "stubborn-child")
	stubborn := &keepalived.Script{Name: "stubborn", Command: writeScript(t, dir, "stubborn.sh", "trap '' TERM\nsleep 1000 & echo $! > "+stubbornChild+"\nsleep 1000"),
		Timeout: 200 * time.Millisecond}
	c, in := track(slow, stubborn)
	cs, _ := checks(t, c, in)

	start := time.Now()
	err := run(t, cs[0])
	require.Error(t, err)
	assert.Contains(t, err.Error(), "timed out")
	assert.Less(t, time.Since(start), 10*time.Second)
	pid := readPID(t, child)
	assert.Eventually(t, func() bool { return pidGone(pid) }, 10*time.Second, 10*time.Millisecond, "the script's child is killed with it")

	start = time.Now()
	err = run(t, cs[1])
	require.Error(t, err)
	assert.Contains(t, err.Error(), "timed out")
	assert.GreaterOrEqual(t, time.Since(start), 2*time.Second, "SIGKILL comes 2 s after SIGTERM")
	pid = readPID(t, stubbornChild)
	assert.Eventually(t, func() bool { return pidGone(pid) }, 10*time.Second, 10*time.Millisecond)
}

// planScript writes a script that exits, at its n-th run, with the n-th
// status of plan (0 after), and counts its runs in dir/NAME.count.
func planScript(t *testing.T, dir, name string, plan ...int) (path, count string) {
	t.Helper()
	var b strings.Builder
	for _, p := range plan {
		fmt.Fprintln(&b, p)
	}
	planFile := filepath.Join(dir, name+".plan")
	require.NoError(t, os.WriteFile(planFile, []byte(b.String()), 0o644))
	count = filepath.Join(dir, name+".count")
	path = writeScript(t, dir, name+".sh", fmt.Sprintf(`n=$(cat %[1]s 2>/dev/null || echo 0)
n=$((n+1))
echo $n > %[1]s
r=$(sed -n "${n}p" %[2]s)
exit ${r:-0}`, count, planFile))
	return path, count
}

// TestCheckRiseFall: keepalived's counting: rise successes in a row up,
// fall failures in a row down, but the first result decides at once.
func TestCheckRiseFall(t *testing.T) {
	dir := t.TempDir()
	path, count := planScript(t, dir, "plan", 1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0)
	c, in := track(&keepalived.Script{Name: "plan", Command: path, Rise: 2, Fall: 3})
	cs, lb := checks(t, c, in)
	assert.Equal(t, []bool{
		false,            // 1: the first failure: down at once
		false,            // 1
		false,            // 0: one success of two
		true,             // 0: two: up
		true, true, true, // 0, 1, 1
		false,        // 1: the third failure in a row
		false, false, // 0, then 1: the successes start again
		false, true, // 0, 0
	}, ups(t, cs[0], 12))
	assert.Equal(t, []string{"12"}, readLines(count), "one run for each Run")
	assert.Equal(t, 4, lb.count("script is down")+lb.count("script is up"), "logged on change of state: %s", lb)
}

// TestCheckFirstResult: the first success is enough whatever rise, the
// first failure whatever fall; init_fail changes nothing, as in 2.2.7.
func TestCheckFirstResult(t *testing.T) {
	dir := t.TempDir()
	up, _ := planScript(t, dir, "up", 0, 1, 1)
	down, _ := planScript(t, dir, "down", 1, 0)
	initFail, _ := planScript(t, dir, "initfail", 0)
	c, in := track(
		&keepalived.Script{Name: "up", Command: up, Rise: 5, Fall: 2},
		&keepalived.Script{Name: "down", Command: down, Rise: 2, Fall: 5},
		&keepalived.Script{Name: "initfail", Command: initFail, Rise: 3, Fall: 1, InitFail: true},
	)
	cs, lb := checks(t, c, in)
	assert.Equal(t, []bool{true, true, false}, ups(t, cs[0], 3))
	assert.Equal(t, []bool{false, false}, ups(t, cs[1], 2))
	assert.Equal(t, []bool{true}, ups(t, cs[2], 1), "init_fail: keepalived 2.2.7 starts the script as any other")
	assert.Equal(t, 1, lb.count("init_fail has no effect"))
}

// TestCheckWeights: the entry's weight overrides the script's, the
// script's reverse stays, ±254 is ±253, and a reverse script's Check is
// up while the script fails, with the weight negated, so that the
// priority moves as keepalived moves it.
func TestCheckWeights(t *testing.T) {
	dir := t.TempDir()
	okPath := writeScript(t, dir, "ok.sh", "exit 0")
	failPath := writeScript(t, dir, "fail.sh", "exit 1")
	cases := []struct {
		name       string
		script     keepalived.Script
		entry      keepalived.TrackScript
		weight     int
		okUp       bool // the Check is up while the script succeeds
		effectUp   int  // the priority's change while the script succeeds
		effectDown int  // and while it fails
	}{
		{name: "positive", script: keepalived.Script{Weight: 10}, weight: 10, okUp: true, effectUp: 10},
		{name: "negative", script: keepalived.Script{Weight: -10}, weight: -10, okUp: true, effectDown: -10},
		{name: "positive reverse", script: keepalived.Script{Weight: 10, Reverse: true}, weight: -10, effectUp: -10},
		{name: "negative reverse", script: keepalived.Script{Weight: -10, Reverse: true}, weight: 10, effectDown: 10},
		{name: "zero", script: keepalived.Script{}, weight: 0, okUp: true},
		{name: "zero reverse", script: keepalived.Script{Reverse: true}, weight: 0},
		{name: "entry overrides", script: keepalived.Script{Weight: -10},
			entry: keepalived.TrackScript{Weight: 5, WeightSet: true}, weight: 5, okUp: true, effectUp: 5},
		{name: "entry keeps reverse", script: keepalived.Script{Weight: -10, Reverse: true},
			entry: keepalived.TrackScript{Weight: 5, WeightSet: true}, weight: -5, effectUp: -5},
		{name: "entry 0", script: keepalived.Script{Weight: -10},
			entry: keepalived.TrackScript{Weight: 0, WeightSet: true}, weight: 0, okUp: true},
		{name: "entry -254", script: keepalived.Script{},
			entry: keepalived.TrackScript{Weight: -254, WeightSet: true}, weight: -253, okUp: true, effectDown: -253},
	}
	// effect is how keepalived moves the priority (vrrp.Check's rule).
	effect := func(c vrrp.Check, up bool) int {
		if c.Weight > 0 && up || c.Weight < 0 && !up {
			return c.Weight
		}
		return 0
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, fail := tc.script, tc.script
			ok.Name, ok.Command = "ok", okPath
			fail.Name, fail.Command = "fail", failPath
			c, in := track(&ok, &fail)
			for i := range in.TrackScripts {
				in.TrackScripts[i].Weight, in.TrackScripts[i].WeightSet = tc.entry.Weight, tc.entry.WeightSet
			}
			cs, _ := checks(t, c, in)
			assert.Equal(t, tc.weight, cs[0].Weight)
			okUp, failUp := run(t, cs[0]) == nil, run(t, cs[1]) == nil
			assert.Equal(t, tc.okUp, okUp, "Check up while the script succeeds")
			assert.Equal(t, !tc.okUp, failUp, "Check up while the script fails")
			assert.Equal(t, tc.effectUp, effect(cs[0], okUp))
			assert.Equal(t, tc.effectDown, effect(cs[1], failUp))
		})
	}
}

// TestCheckShared: a script tracked by two instances runs once for both,
// as keepalived runs a vrrp_script once; a duplicate entry is ignored.
func TestCheckShared(t *testing.T) {
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	s := &keepalived.Script{Name: "chk", Command: writeScript(t, dir, "chk.sh", "echo run >> "+runs), Interval: 300 * time.Millisecond}
	c, a := track(s)
	b := &keepalived.Instance{Name: "VI_2", TrackScripts: []keepalived.TrackScript{{Name: "chk"}, {Name: "chk", Weight: 3, WeightSet: true}}}
	c.Instances = append(c.Instances, b)
	ca, _ := checks(t, c, a)
	log, _ := newLog(t)
	cb, err := c.Checks(b, log)
	require.NoError(t, err)
	require.Len(t, cb, 1, "the duplicate entry is ignored")
	for range 3 {
		var wg sync.WaitGroup
		for _, ch := range []vrrp.Check{ca[0], cb[0]} {
			wg.Go(func() { assert.NoError(t, run(t, ch)) })
		}
		wg.Wait()
	}
	assert.Len(t, readLines(runs), 3)
}

// TestCheckLogsOnChange: a script failing every run is logged once, and
// again when it fails otherwise.
func TestCheckLogsOnChange(t *testing.T) {
	dir := t.TempDir()
	path, _ := planScript(t, dir, "f", 1, 1, 1, 1, 1, 2, 2, 2)
	c, in := track(&keepalived.Script{Name: "f", Command: path})
	cs, lb := checks(t, c, in)
	assert.Equal(t, make([]bool, 8), ups(t, cs[0], 8))
	assert.Equal(t, 1, lb.count("script is down"), "%s", lb)
	assert.Equal(t, 1, lb.count("exited with status 1"), "%s", lb)
	assert.Equal(t, 1, lb.count("script now exited with status 2"), "%s", lb)
}

// TestCheckExecFailureSucceeds: a script that cannot be executed any
// more counts as a success, as keepalived's child then exits 0.
func TestCheckExecFailureSucceeds(t *testing.T) {
	dir := t.TempDir()
	path := writeScript(t, dir, "gone.sh", "exit 1")
	c, in := track(&keepalived.Script{Name: "gone", Command: path})
	cs, lb := checks(t, c, in)
	require.NoError(t, os.Remove(path))
	assert.NoError(t, run(t, cs[0]))
	assert.Contains(t, lb.String(), "which keepalived counts as success")
}

// TestChecksRefused: what keepalived would not run is an error naming
// the script and its line.
func TestChecksRefused(t *testing.T) {
	dir := t.TempDir()
	noExec := filepath.Join(dir, "noexec.sh")
	require.NoError(t, os.WriteFile(noExec, []byte("#!/bin/sh\n"), 0o644))
	noShebang := filepath.Join(dir, "noshebang.sh")
	require.NoError(t, os.WriteFile(noShebang, []byte("exit 0\n"), 0o755))
	cases := []struct {
		name, command, user, want string
	}{
		{"missing", filepath.Join(dir, "missing.sh"), "", "cannot be accessed"},
		{"not executable", noExec, "", "is not executable"},
		{"no #!", noShebang, "", "has no #! line"},
		{"not in PATH", "no-such-command-vipkit", "", "cannot find script no-such-command-vipkit in path"},
		{"unknown user", writeScript(t, dir, "ok.sh", "exit 0"), "no-such-user-vipkit", `script user "no-such-user-vipkit" does not exist`},
		{"unknown group", writeScript(t, dir, "ok.sh", "exit 0"), "root no-such-group-vipkit", `script group "no-such-group-vipkit" does not exist`},
		{"unterminated quote", `/bin/true "a`, "", "no closing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, in := track(&keepalived.Script{Name: "chk", Command: tc.command, User: tc.user})
			_, err := c.Checks(in, nil)
			require.Error(t, err)
			var e *keepalived.Error
			require.True(t, errors.As(err, &e), "%v", err)
			assert.Equal(t, scriptPos, e.Pos)
			assert.Contains(t, err.Error(), "keepalived.conf:7: vrrp_script chk: ")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	// A bare name is searched in $PATH.
	c, in := track(&keepalived.Script{Name: "true", Command: "true"})
	cs, lb := checks(t, c, in)
	assert.NoError(t, run(t, cs[0]))
	assert.Contains(t, lb.String(), "resolved by path search")
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: switching users and root-owned paths")
	}
}

// nobody returns the uid and gid of user nobody, or skips.
func nobody(t *testing.T) (uid, gid string) {
	t.Helper()
	requireRoot(t)
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	return u.Uid, u.Gid
}

// openDir returns a directory of the test that everyone may enter, and
// one in it that everyone may write to.
func openDir(t *testing.T) (dir, out string) {
	t.Helper()
	dir = t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	out = filepath.Join(dir, "out")
	require.NoError(t, os.Mkdir(out, 0o777))
	require.NoError(t, os.Chmod(out, 0o777))
	return dir, out
}

// TestCheckUser: a script runs as its user, with that user's group alone,
// or as script_user, or as root.
func TestCheckUser(t *testing.T) {
	uid, gid := nobody(t)
	dir, out := openDir(t)
	id := func(name string) *keepalived.Script {
		return &keepalived.Script{Name: name, Command: writeScript(t, dir, name+".sh", fmt.Sprintf(`echo "$(id -u) $(id -g) $(id -G)" > %s/%s`, out, name))}
	}
	own, group, global := id("own"), id("group"), id("global")
	own.User, group.User = "nobody", "nobody root"
	c, in := track(own, group, global)
	c.ScriptUser = "nobody"
	cs, _ := checks(t, c, in)
	for _, ch := range cs {
		require.NoError(t, run(t, ch), ch.Name)
	}
	assert.Equal(t, []string{uid + " " + gid + " " + gid}, readLines(filepath.Join(out, "own")))
	assert.Equal(t, []string{uid + " 0 0"}, readLines(filepath.Join(out, "group")))
	assert.Equal(t, []string{uid + " " + gid + " " + gid}, readLines(filepath.Join(out, "global")), "script_user")

	if _, err := user.Lookup("keepalived_script"); err == nil {
		return // the default is that user, not root
	}
	root := id("root")
	c, in = track(root)
	cs, _ = checks(t, c, in)
	require.NoError(t, run(t, cs[0]))
	assert.Equal(t, []string{"0 0 0"}, readLines(filepath.Join(out, "root")), "no keepalived_script: root, with root's group alone")
}

// TestCheckScriptSecurity: under enable_script_security, a script run as
// root must be writable by root alone, in directories writable by root
// alone (or sticky); without, it runs, with a warning.
func TestCheckScriptSecurity(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	require.NoError(t, os.Mkdir(open, 0o777))
	require.NoError(t, os.Chmod(open, 0o777))
	inOpen := writeScript(t, open, "chk.sh", "exit 0")
	sticky := filepath.Join(dir, "sticky")
	require.NoError(t, os.Mkdir(sticky, 0o777))
	require.NoError(t, os.Chmod(sticky, 0o777|os.ModeSticky))
	inSticky := writeScript(t, sticky, "chk.sh", "exit 0")
	writable := writeScript(t, dir, "writable.sh", "exit 0")
	require.NoError(t, os.Chmod(writable, 0o757))
	owned := writeScript(t, dir, "owned.sh", "exit 0")
	require.NoError(t, os.Chown(owned, 65534, 0))

	for _, tc := range []struct{ path, want string }{
		{inOpen, open + " is writable by anyone"},
		{writable, writable + " is writable by anyone"},
		{owned, owned + " is owned by uid 65534"},
	} {
		c, in := track(&keepalived.Script{Name: "chk", Command: tc.path, User: "root"})
		c.ScriptSecurity = true
		_, err := c.Checks(in, nil)
		require.Error(t, err, tc.path)
		assert.Contains(t, err.Error(), "keepalived.conf:7: vrrp_script chk: unsafe permissions")
		assert.Contains(t, err.Error(), tc.want)

		c.ScriptSecurity = false
		cs, lb := checks(t, c, in)
		assert.NoError(t, run(t, cs[0]))
		assert.Contains(t, lb.String(), "unsafe permissions")
	}
	c, in := track(&keepalived.Script{Name: "chk", Command: inSticky, User: "root"})
	c.ScriptSecurity = true
	checks(t, c, in)

	if _, err := user.Lookup("keepalived_script"); err == nil {
		return
	}
	c, in = track(&keepalived.Script{Name: "chk", Command: inSticky})
	c.ScriptSecurity = true
	_, err := c.Checks(in, nil)
	require.Error(t, err, "no script_user and no keepalived_script: keepalived removes the script")
	assert.Contains(t, err.Error(), "enable_script_security without script_user")
	c.ScriptUser = "root"
	checks(t, c, in)
}

// TestCheckRunEndsWithContext: Run returns when its context ends (the
// router stops), and the script still ends at its timeout.
func TestCheckRunEndsWithContext(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	c, in := track(&keepalived.Script{Name: "slow", Command: writeScript(t, dir, "slow.sh", "echo $$ > "+pidFile+"\nexec sleep 1000"),
		Interval: time.Second, Timeout: 3 * time.Second})
	cs, _ := checks(t, c, in)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- cs[0].Run(ctx) }()
	pid := readPID(t, pidFile)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
	assert.Eventually(t, func() bool { return pidGone(pid) }, 15*time.Second, 10*time.Millisecond, "the script times out")
}
