package keepalived

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"weak"

	"github.com/vipkit/vipkit/vrrp"
)

// This file runs vrrp_scripts as keepalived 2.2.7 runs them. The source
// files and functions named are keepalived's, at tag v2.2.7.
//
// A script line is split into words as alloc_strvec_quoted_escaped
// (lib/parser.c) splits it, and prepared once, when Checks is called, as
// check_script_secure (lib/notify.c) prepares it at startup: a first
// word without '/' is searched in $PATH (find_path), the path resolved
// (realpath), the file must be executable by the script's user
// (is_executable), and one run as root is checked by check_security. The
// command is then executed directly with the words as its argv, never
// through a shell (system_call_script: execve of args[0]), in a process
// group of its own (setpgid(0, 0)), with stdin, stdout and stderr on
// /dev/null (set_std_fd), as the script's user with that user's group
// alone (set_script_env: setgid, setgroups(1, &gid), setuid), SIGTERM as
// its parent-death signal, in "/" (xdaemon, keepalived/core/daemon.c). The
// one exception is a line whose first word starts with '<' and then '/'
// (after blanks), such as "</dev/tcp/127.0.0.1/80": check_script_secure
// returns SC_SYSTEM for it, and it is run by system(3), /bin/sh -c, with
// every word but a first that starts with '<' or '>' in single quotes
// (cmd_str_r). /bin/sh must then be bash for /dev/tcp to mean a
// connection, as the samples say: dash, Debian's /bin/sh, fails it.

// killGrace is how long a script that timed out has to die of SIGTERM
// before SIGKILL, and then of SIGKILL before keepalived complains
// (vrrp_script_child_thread: "timeout = 2" after each signal).
const killGrace = 2 * time.Second

// A command is a script line prepared to run.
type command struct {
	args     []string // argv; args[0] is the file executed
	shell    bool     // run by /bin/sh -c cmdString(args), as system(3)
	uid, gid uint32
}

func (c *command) equal(d *command) bool {
	return c.shell == d.shell && c.uid == d.uid && c.gid == d.gid && strings.Join(c.args, "\x00") == strings.Join(d.args, "\x00")
}

// splitCommand splits a script line into words as keepalived's
// alloc_strvec_quoted_escaped (lib/parser.c) does: words are separated by
// blanks (" \t\f\n\r\v"); "..." and '...' quote, anywhere in a word; a
// backslash escapes, inside quotes too: \a \b \E \f \n \r \t \v, \xHH...,
// \cX (a control character), \NNN (octal, up to three digits), and any
// other character stands for itself. A '#' is no comment here: the
// reader removed comments from the line already.
func splitCommand(line string) ([]string, error) {
	const blanks = " \t\f\n\r\v"
	var words []string
	i := 0
	for {
		for i < len(line) && strings.IndexByte(blanks, line[i]) >= 0 {
			i++
		}
		if i == len(line) {
			break
		}
		var w []byte
		var quote byte
	word:
		for i < len(line) {
			c := line[i]
			switch {
			case c == '\\':
				i++
				if i == len(line) {
					return nil, fmt.Errorf("%q: a '\\' ends it", line)
				}
				var b byte
				i, b = unescape(line, i)
				w = append(w, b)
			case quote != 0:
				if c == quote {
					quote = 0
				} else {
					w = append(w, c)
				}
				i++
			case c == '"' || c == '\'':
				quote = c
				i++
			case strings.IndexByte(blanks, c) >= 0:
				break word
			default:
				w = append(w, c)
				i++
			}
		}
		if quote != 0 {
			return nil, fmt.Errorf("%q: no closing %c", line, quote)
		}
		words = append(words, string(w))
	}
	if len(words) == 0 {
		return nil, errors.New("no command")
	}
	return words, nil
}

// unescape decodes the escape whose character after the '\' is at s[i],
// as alloc_strvec_quoted_escaped does, and returns the index after it.
func unescape(s string, i int) (int, byte) {
	isHex := func(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f' }
	switch c := s[i]; {
	case c == 'x' && i+1 < len(s) && isHex(s[i+1]):
		var b byte
		for i++; i < len(s) && isHex(s[i]); i++ {
			d := s[i] - '0'
			if s[i] > '9' {
				d = s[i] | 0x20 - 'a' + 10
			}
			b = b<<4 | d // a char: the digits beyond two shift out
		}
		return i, b
	case c == 'c' && i+1 < len(s):
		return i + 2, s[i+1] & 0x1f
	case '0' <= c && c <= '7':
		b := c - '0'
		i++
		for n := 0; n < 2 && i < len(s) && '0' <= s[i] && s[i] <= '7'; n++ {
			b = b<<3 + s[i] - '0'
			i++
		}
		return i, b
	default:
		if b, ok := map[byte]byte{'a': '\a', 'b': '\b', 'E': 0x1b, 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}[c]; ok {
			return i + 1, b
		}
		return i + 1, c
	}
}

// cmdString is the line system(3) runs, as keepalived's cmd_str_r
// (lib/notify.c) writes it: each word in single quotes (a quote inside one
// is not escaped), but for a first word that starts with '<' or '>'.
func cmdString(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if i == 0 && (strings.HasPrefix(a, "<") || strings.HasPrefix(a, ">")) {
			b.WriteString(a)
			continue
		}
		b.WriteString("'" + a + "'")
	}
	return b.String()
}

// lookupUser resolves "USER [GROUP]" as set_uid_gid (lib/notify.c) does:
// the user's uid and primary group, or the group named.
func lookupUser(spec string) (uid, gid uint32, err error) {
	f := strings.Fields(spec)
	if len(f) == 0 || len(f) > 2 {
		return 0, 0, fmt.Errorf("%q: want USER [GROUP]", spec)
	}
	u, err := user.Lookup(f[0])
	if err != nil {
		return 0, 0, fmt.Errorf("script user %q does not exist", f[0])
	}
	id, err1 := strconv.ParseUint(u.Uid, 10, 32)
	g, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("script user %q: uid %s gid %s", f[0], u.Uid, u.Gid)
	}
	if len(f) == 2 {
		grp, err := user.LookupGroup(f[1])
		if err != nil {
			return 0, 0, fmt.Errorf("script group %q does not exist", f[1])
		}
		if g, err = strconv.ParseUint(grp.Gid, 10, 32); err != nil {
			return 0, 0, fmt.Errorf("script group %q: gid %s", f[1], grp.Gid)
		}
	}
	return uint32(id), uint32(g), nil
}

// defaultUser returns the user of scripts that name none, as
// get_default_script_user and set_default_script_user (lib/notify.c):
// global_defs script_user, which must exist; or keepalived_script if that
// user exists; or the user vipkit runs as, except under
// enable_script_security, where keepalived then runs no such script
// ("Unable to set default user keepalived_script for script").
func (c *Config) defaultUser() (uid, gid uint32, err error) {
	if c.ScriptUser != "" {
		uid, gid, err := lookupUser(c.ScriptUser)
		if err != nil {
			return 0, 0, fmt.Errorf("global_defs script_user: %w: keepalived runs no script as the default user then", err)
		}
		return uid, gid, nil
	}
	if uid, gid, err := lookupUser("keepalived_script"); err == nil {
		return uid, gid, nil
	}
	if c.ScriptSecurity {
		return 0, 0, errors.New("enable_script_security without script_user, and no user keepalived_script: keepalived will not run a script as root by default; set script_user (or a user for the script)")
	}
	return uint32(os.Geteuid()), uint32(os.Getegid()), nil
}

// isExecutable is keepalived's is_executable (lib/notify.c): root needs
// any x bit; the owner the owner's; the group, if the file's, the group's;
// anyone else the others'. Supplementary groups do not count: a script
// runs with its group alone.
func isExecutable(fi os.FileInfo, uid, gid uint32) bool {
	st := fi.Sys().(*syscall.Stat_t)
	m := fi.Mode().Perm()
	switch {
	case uid == 0:
		return m&0o111 != 0
	case uid == st.Uid:
		return m&0o100 != 0
	case gid == st.Gid:
		return m&0o010 != 0
	}
	return m&0o001 != 0
}

// searchable reports whether uid:gid may look up names in every directory
// above path: keepalived resolves the script's path as its user
// (check_script_secure: seteuid, then realpath), and one that user cannot
// reach is "not found".
func searchable(path string, uid, gid uint32) error {
	if uid == 0 {
		return nil
	}
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			return err
		}
		if !isExecutable(fi, uid, gid) {
			return fmt.Errorf("directory %s is not searchable by uid:gid %d:%d", dir, uid, gid)
		}
		if dir == "/" || dir == "." {
			return nil
		}
	}
}

// findPath searches $PATH for a bare file name, as keepalived's find_path
// (lib/notify.c, after glibc's execvp): the first regular file executable
// by uid:gid. Without $PATH it searches confstr(_CS_PATH), /bin:/usr/bin.
func findPath(file string, uid, gid uint32) (string, error) {
	path, ok := os.LookupEnv("PATH")
	if !ok {
		path = "/bin:/usr/bin"
	}
	denied := false
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join("/", dir, file) // an empty element is the working directory, "/"
		fi, err := os.Stat(p)
		if err != nil || searchable(p, uid, gid) != nil {
			continue
		}
		if fi.Mode().IsRegular() && isExecutable(fi, uid, gid) {
			return p, nil
		}
		denied = true
	}
	if denied {
		return "", fmt.Errorf("permissions failure for script %s in path", file)
	}
	return "", fmt.Errorf("cannot find script %s in path", file)
}

// checkSecurity is keepalived's check_security (lib/notify.c), for a
// script run as root: every element of path, from "/", must be root's and
// writable by no one else (a directory with the sticky bit, as /tmp, may
// be), each but the last a directory (a symbolic link to one will not do)
// and the last a file or a symbolic link. It returns an error for what
// keepalived always refuses, and insecure for what it refuses only under
// enable_script_security (and otherwise logs).
func checkSecurity(path string) (insecure string, err error) {
	elems := []string{"/"}
	for i := 1; i < len(path); i++ {
		if path[i] == '/' {
			elems = append(elems, path[:i])
		}
	}
	if path != "/" {
		elems = append(elems, path)
	}
	for i, e := range elems {
		fi, err := os.Lstat(e)
		if err != nil {
			return "", fmt.Errorf("could not find script %s: %w", path, err)
		}
		last := i == len(elems)-1
		m := fi.Mode()
		if !last && !m.IsDir() || last && !m.IsRegular() && m&os.ModeSymlink == 0 {
			return "", fmt.Errorf("wrong file type found in script path %s: %s", path, e)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != 0 {
			return fmt.Sprintf("%s is owned by uid %d, not root", e, st.Uid), nil
		}
		if m.IsDir() && m&os.ModeSticky == 0 || m.IsRegular() {
			if st.Gid != 0 && m&0o020 != 0 {
				return fmt.Sprintf("%s is writable by group %d", e, st.Gid), nil
			}
			if m&0o002 != 0 {
				return fmt.Sprintf("%s is writable by anyone", e), nil
			}
		}
	}
	return "", nil
}

// prepare prepares a script line to run as uid:gid, as keepalived's
// check_script_secure (lib/notify.c) does at startup, and returns what
// keepalived would log as warnings. A notify script must be executable
// (check_notify_script_secure): the "</path" form is a track script's only.
//
// keepalived 2.2.7 execve()s a script that is not a binary: built with
// libmagic, it runs one without a "#!" line through /bin/sh instead
// ("Please add a #! shebang"); built without, as Debian's and Ubuntu's
// are, the execve fails and the script counts as succeeding without
// having run. A track script without "#!" is refused, as the two differ;
// a notify script without it is run by /bin/sh, as the script means.
func prepare(line string, uid, gid uint32, security, notify bool) (*command, []string, error) {
	args, err := splitCommand(line)
	if err != nil {
		return nil, nil, err
	}
	var warn []string
	if a := args[0]; strings.HasPrefix(a, "<") && strings.HasPrefix(strings.TrimLeft(a[1:], " \t"), "/") {
		if notify {
			return nil, nil, fmt.Errorf("%s: a notify script must be an executable file", a)
		}
		return &command{args: args, shell: true, uid: uid, gid: gid}, nil, nil // SC_SYSTEM
	}
	if !strings.Contains(args[0], "/") {
		p, err := findPath(args[0], uid, gid)
		if err != nil {
			return nil, nil, err
		}
		warn = append(warn, fmt.Sprintf("script %s resolved by path search to %s: please specify the full path", args[0], p))
		args[0] = p
	}
	orig := args[0]
	abs := orig
	if !filepath.IsAbs(abs) {
		abs = filepath.Join("/", abs)
	}
	if err := searchable(abs, uid, gid); err != nil {
		return nil, nil, fmt.Errorf("script %s cannot be accessed: %w", orig, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err == nil && !filepath.IsAbs(real) {
		real = filepath.Join("/", real)
	}
	if err == nil {
		err = searchable(real, uid, gid)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("script %s cannot be accessed: %w", orig, err)
	}
	// check_script_secure keeps the file name as written when the
	// resolved one differs and names the same file there: some programs
	// behave by the name they are called by.
	realFile := ""
	if orig != real {
		newPath := real
		if filepath.Base(orig) != filepath.Base(real) {
			cand := filepath.Join(filepath.Dir(real), filepath.Base(orig))
			rfi, rerr := os.Stat(real)
			cfi, cerr := os.Stat(cand)
			if rerr != nil || cerr == nil && os.SameFile(rfi, cfi) {
				newPath, realFile = cand, real
			}
		}
		args[0] = newPath
	}
	statPath := args[0]
	if realFile != "" {
		statPath = realFile
	}
	fi, err := os.Stat(statPath)
	if err != nil {
		return nil, nil, fmt.Errorf("unable to access script %s: %w", args[0], err)
	}
	if !fi.Mode().IsRegular() || !isExecutable(fi, uid, gid) {
		return nil, nil, fmt.Errorf("script %s is not executable for uid:gid %d:%d", args[0], uid, gid)
	}
	st := fi.Sys().(*syscall.Stat_t)
	m := fi.Mode()
	if uid == 0 || gid == 0 || st.Uid == 0 && m&0o100 != 0 && m&os.ModeSetuid != 0 || st.Gid == 0 && m&0o010 != 0 && m&os.ModeSetgid != 0 {
		for _, p := range []string{args[0], realFile} {
			if p == "" {
				continue
			}
			insecure, err := checkSecurity(p)
			if err != nil {
				return nil, nil, err
			}
			if insecure != "" {
				if security {
					return nil, nil, fmt.Errorf("unsafe permissions for script %s, run as uid:gid %d:%d: %s (enable_script_security)", p, uid, gid, insecure)
				}
				warn = append(warn, fmt.Sprintf("unsafe permissions for script %s: %s", p, insecure))
				break
			}
		}
	}
	cmd := &command{args: args, uid: uid, gid: gid}
	if !hasMagic(statPath) {
		if !notify {
			return nil, nil, fmt.Errorf("script %s has no #! line: keepalived built with libmagic runs it with /bin/sh, one without (Debian's) counts it as succeeding without running it; add #!/bin/sh", args[0])
		}
		warn = append(warn, fmt.Sprintf("script %s has no #! line: run with /bin/sh, as keepalived built with libmagic runs it", args[0]))
		cmd.shell = true
	}
	return cmd, warn, nil
}

// hasMagic reports whether the file starts as a program execve runs: "#!"
// or ELF.
func hasMagic(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true // execve will tell
	}
	defer f.Close()
	b := make([]byte, 4)
	n, _ := io.ReadFull(f, b)
	return bytes.HasPrefix(b[:n], []byte("#!")) || bytes.Equal(b[:n], []byte("\x7fELF"))
}

// forker starts the scripts, on a thread of its own that never ends: the
// kernel sends a child its parent-death signal when the thread that forked
// it ends, and the Go runtime ends a thread now and then (one locked to a
// goroutine that exits), where keepalived means the signal for its own
// death.
var forker = struct {
	once sync.Once
	reqs chan func()
}{reqs: make(chan func())}

// start starts cmd on the forker's thread.
func start(cmd *exec.Cmd) error {
	forker.once.Do(func() {
		go func() {
			runtime.LockOSThread() // for ever
			for f := range forker.reqs {
				f()
			}
		}()
	})
	errc := make(chan error, 1)
	forker.reqs <- func() { errc <- cmd.Start() }
	return <-errc
}

// An outcome is what became of one run of a script.
type outcome struct {
	exited   bool
	status   int            // if exited
	signal   syscall.Signal // if killed by a signal
	timedOut bool
	// noFork: no process was made (keepalived: fork failed, no result).
	noFork bool
	// execErr: the process could not become the script (user switch or
	// execve failed); keepalived's child then exits 0 ("Script errors
	// aren't server errors", system_call_script), a success.
	execErr error
	// notFound: system(3) ran /bin/sh, which could not run the command
	// (126, 127); keepalived's child then exits 0 too.
	notFound int
}

// ok reports whether keepalived counts the run a success: an exit status
// of 0 (vrrp_script_child_thread: WIFEXITED and WEXITSTATUS 0).
func (o outcome) ok() bool {
	return o.exited && o.status == 0 || o.execErr != nil || o.notFound != 0
}

func (o outcome) String() string {
	switch {
	case o.noFork:
		return "could not be started (no result)"
	case o.execErr != nil:
		return fmt.Sprintf("could not be executed (%v), which keepalived counts as success", o.execErr)
	case o.notFound != 0:
		return fmt.Sprintf("/bin/sh exited with status %d (command not found or not executable), which keepalived counts as success", o.notFound)
	case o.timedOut:
		return "timed out"
	case o.exited:
		return fmt.Sprintf("exited with status %d", o.status)
	}
	return fmt.Sprintf("killed by signal %d (%v)", int(o.signal), o.signal)
}

// cmd returns the process that runs the command, as keepalived's
// system_call_script makes it: in "/", in a process group of its own, as
// the command's user with that user's group alone, and with SIGTERM as its
// parent-death signal (but under /bin/sh, which system(3) runs).
func (c *command) cmd() *exec.Cmd {
	cmd := &exec.Cmd{Path: c.args[0], Args: c.args, Dir: "/"}
	if c.shell {
		cmd.Path, cmd.Args = "/bin/sh", []string{"sh", "-c", cmdString(c.args)}
	}
	attr := &syscall.SysProcAttr{Setpgid: true}
	if !c.shell {
		attr.Pdeathsig = syscall.SIGTERM // prctl(PR_SET_PDEATHSIG, SIGTERM)
	}
	if os.Geteuid() == 0 || c.uid != uint32(os.Geteuid()) || c.gid != uint32(os.Getegid()) {
		attr.Credential = &syscall.Credential{Uid: c.uid, Gid: c.gid, Groups: []uint32{c.gid}}
	}
	cmd.SysProcAttr = attr
	return cmd
}

// run runs the command once. At timeout its process group is sent
// SIGTERM, then SIGKILL killGrace later, and SIGKILL again every 10 s
// until it dies (vrrp_script_child_thread); with killAtTimeout it is sent
// SIGKILL at once (child_killed_thread, for notify_stop). A script that
// dies of the signal sent timed out, a failure, and what is left of its
// group is killed; one that exits with a status after SIGTERM has that
// status, and its group is left alone, as keepalived leaves it. When ctx
// ends the group is killed at once.
func (c *command) run(ctx context.Context, timeout time.Duration, killAtTimeout bool) outcome {
	cmd := c.cmd()
	if err := start(cmd); err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) && (errno == syscall.EAGAIN || errno == syscall.ENOMEM) {
			return outcome{noFork: true}
		}
		return outcome{execErr: err}
	}
	pid := cmd.Process.Pid
	done := make(chan struct{})
	go func() {
		cmd.Wait() // the status is in cmd.ProcessState
		close(done)
	}()
	const (
		running = iota
		terminating
		forcing
	)
	state := running
	timer := time.NewTimer(timeout)
	defer timer.Stop()
wait:
	for {
		select {
		case <-done:
			break wait
		case <-ctx.Done():
			syscall.Kill(-pid, syscall.SIGKILL)
			<-done
			return outcome{timedOut: true}
		case <-timer.C:
			sig, next := syscall.SIGTERM, killGrace
			switch {
			case state == running && killAtTimeout:
				sig, state = syscall.SIGKILL, forcing
			case state == running:
				state = terminating
			case state == terminating:
				sig, state = syscall.SIGKILL, forcing
			default:
				sig, next = syscall.SIGKILL, 10*time.Second // "failed to terminate after kill"
			}
			syscall.Kill(-pid, sig)
			timer.Reset(next)
		}
	}
	if cmd.ProcessState == nil {
		return outcome{noFork: true}
	}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Exited():
		o := outcome{exited: true, status: ws.ExitStatus()}
		if c.shell && (o.status == 126 || o.status == 127) {
			return outcome{notFound: o.status}
		}
		return o
	case ws.Signaled():
		sig := ws.Signal()
		if state == terminating && sig == syscall.SIGTERM {
			syscall.Kill(-pid, syscall.SIGKILL) // its children too
			return outcome{timedOut: true}
		}
		if state == forcing && (sig == syscall.SIGKILL || sig == syscall.SIGTERM) {
			return outcome{timedOut: true}
		}
		return outcome{signal: sig}
	}
	return outcome{noFork: true}
}

// Checks returns in's track_script entries as vrrp.Checks, each running its
// vrrp_script's command as keepalived does (user, timeout, rise, fall,
// weight, reverse, init_fail, the entry's weight override). log receives
// each script's failures (rate-limited or on change of state only: a script
// failing every second must not flood the log). An error names the script
// (and its Pos) when it cannot be run as configured (unknown user, a script
// enable_script_security refuses).
//
// As keepalived 2.2.7 (vrrp_scheduler.c, vrrp_track.c):
//
//   - A run succeeds if the script exits with status 0, and fails
//     otherwise, or if it is killed (vrrp_script_child_thread). One that
//     could not be executed at all (a file removed since, a user that
//     cannot be switched to) counts as a success, as keepalived's child
//     then exits 0 (system_call_script); so does a "</path" line whose
//     /bin/sh exits 126 or 127.
//   - A run lasts at most the script's timeout, or its interval without
//     one (vrrp_script_thread): then its process group gets SIGTERM, and
//     SIGKILL 2 s later; it counts as a failure ("timed_out").
//   - It runs every interval, from the start, and the next run is at the
//     first multiple of the interval after the last ends. keepalived
//     2.2.7 starts the next run even while one still runs (fixed in
//     2.3.3, "Skip running not idle vrrp scripts"); vipkit never runs two.
//   - After rise successes in a row the script is up, after fall
//     failures in a row down; but its first result decides at once, one
//     success up, one failure down ("one success is enough",
//     vrrp_init_script; the init_state test of vrrp_script_child_thread).
//   - init_fail has no effect: vrrp_vscript_init_fail_handler sets the
//     script's init_state to FAILED, but alloc_track_script, which reads
//     the track_script entry that must come after the script, sets it
//     back to INIT. keepalived 2.2.7 starts such a script as any other
//     (verified: weight -20 and init_fail start at the base priority).
//   - The weight is the entry's, "chk weight N", if set, else the
//     script's; the reverse is always the script's (alloc_track_script);
//     ±254 is taken as ±253. While the script is up a positive weight is
//     added to the priority, while it is down a negative one is; reverse
//     subtracts instead of adding (multiplier -1,
//     process_script_update_priority): weight N reverse, N > 0, lowers the
//     priority by N while the script is up; N < 0 raises it by -N while
//     down. Weight 0 puts the instance in FAULT while the script is down,
//     or with reverse while it is up.
//   - A script that several instances track runs once, and they all hear
//     the one result: keepalived keeps one state per vrrp_script. Its log
//     is that of the first Checks call that asked for the script.
//
// vrrp.Check counts rise and fall itself and holds the weight's sign: the
// returned Checks count on keepalived's state, kept here, with Rise and
// Fall 1, and a reverse script's Check is up while the script is down,
// with the weight negated, which moves the priority as keepalived does.
//
// What vrrp.Check cannot hold: before a script's first result, keepalived
// moves the priority by neither weight and holds an instance with a
// weight-0 script in its INIT state, sending nothing
// (initialise_track_script_state); a vrrp.Router counts a new Check as up
// from the start, so until the first run ends, a positive weight (or a
// negative one with reverse) is already added, and a weight-0 script's
// router is a backup. A backup takes over only after
// Master_Down_Interval, longer than a script's run, so this matters only
// for a first run longer than that.
func (c *Config) Checks(in *Instance, log *slog.Logger) ([]vrrp.Check, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	scripts := map[string]*Script{}
	for _, s := range c.Scripts {
		if _, dup := scripts[s.Name]; !dup {
			scripts[s.Name] = s
		}
	}
	var checks []vrrp.Check
	var errs []error
	seen := map[string]bool{}
	for _, t := range in.TrackScripts {
		s := scripts[t.Name]
		if s == nil {
			errs = append(errs, &Error{Pos: t.Pos, Msg: fmt.Sprintf("track_script %s: vrrp_instance %s tracks no vrrp_script of that name", t.Name, in.Name)})
			continue
		}
		if seen[t.Name] {
			// alloc_track_script: "duplicate track_script - ignoring".
			log.Info("duplicate track_script ignored, as keepalived ignores it", "instance", in.Name, "script", t.Name, "pos", t.Pos.String())
			continue
		}
		seen[t.Name] = true
		r, err := c.runner(s, log)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		weight := s.Weight
		if t.WeightSet {
			weight = t.Weight
		}
		weight = max(min(weight, 253), -253)
		if s.Reverse {
			weight = -weight
		}
		checks = append(checks, r.check(weight, s.Reverse))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return checks, nil
}

// runner returns the runner of s, made on first use and shared by every
// Check of it.
func (c *Config) runner(s *Script, log *slog.Logger) (*runner, error) {
	fail := func(format string, args ...any) error {
		return &Error{Pos: s.Pos, Msg: fmt.Sprintf("vrrp_script %s: ", s.Name) + fmt.Sprintf(format, args...)}
	}
	var uid, gid uint32
	var err error
	if s.User != "" {
		uid, gid, err = lookupUser(s.User)
	} else {
		uid, gid, err = c.defaultUser()
	}
	if err != nil {
		return nil, fail("%v", err)
	}
	cmd, warnings, err := prepare(s.Command, uid, gid, c.ScriptSecurity, false)
	if err != nil {
		return nil, fail("%v", err)
	}
	r := &runner{name: s.Name, cmd: cmd, interval: s.Interval, timeout: s.Timeout, rise: max(s.Rise, 1), fall: max(s.Fall, 1), log: log}
	if r.interval <= 0 {
		r.interval = time.Second
	}
	if r.timeout <= 0 {
		r.timeout = r.interval
	}
	r.changed = make(chan struct{})
	r.result = r.rise - 1 // vrrp_init_script
	key := weak.Make(s)
	runners.Lock()
	defer runners.Unlock()
	if old := runners.m[key]; old != nil {
		if old.same(r) {
			return old, nil
		}
	} else {
		runtime.AddCleanup(s, func(k weak.Pointer[Script]) {
			runners.Lock()
			delete(runners.m, k)
			runners.Unlock()
		}, key)
	}
	for _, w := range warnings {
		log.Warn(w, "script", s.Name, "pos", s.Pos.String())
	}
	if s.InitFail {
		log.Info("init_fail has no effect, as in keepalived 2.2.7, whose track_script resets the script to its initial state: the first result decides", "script", s.Name, "pos", s.Pos.String())
	}
	runners.m[key] = r
	return r, nil
}

// runners are the runners of the scripts, by script: one for each
// vrrp_script, whatever the instances tracking it, as keepalived runs it.
var runners = struct {
	sync.Mutex
	m map[weak.Pointer[Script]]*runner
}{m: map[weak.Pointer[Script]]*runner{}}

// A runner runs a vrrp_script and keeps keepalived's state of it. It runs
// while a Check of it waits for a result, at most once an interval.
type runner struct {
	name              string
	cmd               *command
	interval, timeout time.Duration
	rise, fall        int
	log               *slog.Logger
	mu                sync.Mutex
	waiting           int           // Runs waiting for a result
	running           bool          // the loop runs
	seq               uint64        // results so far
	changed           chan struct{} // closed at each result
	lastStart         time.Time
	result            int  // keepalived's vscript->result: up from rise
	done              bool // the first result is in (init_state DONE)
	up                bool // as of the last result
	why               string
	lastOutcome       string // logged on change only
}

func (r *runner) same(o *runner) bool {
	return r.cmd.equal(o.cmd) && r.interval == o.interval && r.timeout == o.timeout && r.rise == o.rise && r.fall == o.fall
}

// check returns a vrrp.Check of the runner's script with weight, up while
// the script is (down, with reverse).
func (r *runner) check(weight int, reverse bool) vrrp.Check {
	var seen uint64 // the last result this Check reported
	var mu sync.Mutex
	return vrrp.Check{
		Name:     r.name,
		Interval: r.interval,
		// Run waits for the next run, up to an interval, and a run lasts
		// at most its timeout and the grace of both signals.
		Timeout: r.interval + r.timeout + 2*killGrace + 5*time.Second,
		Rise:    1,
		Fall:    1,
		Weight:  weight,
		Run: func(ctx context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			known, up, why := r.wait(ctx, &seen)
			switch {
			case !known:
				return nil // as a Router holds a new Check
			case reverse && up:
				return fmt.Errorf("%s succeeds, and its weight is reverse", r.name)
			case reverse || up:
				return nil
			}
			return errors.New(why)
		},
	}
}

// wait waits for a result after *seen, or for ctx to end (returning a
// little before its deadline, so that a Router does not count the end of
// its context a failure), and returns the script's state: known once a
// first result is in.
func (r *runner) wait(ctx context.Context, seen *uint64) (known, up bool, why string) {
	var deadline <-chan time.Time
	if d, ok := ctx.Deadline(); ok {
		t := time.NewTimer(time.Until(d) - 100*time.Millisecond)
		defer t.Stop()
		deadline = t.C
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waiting++
	defer func() { r.waiting-- }()
	if !r.running {
		r.running = true
		go r.loop()
	}
	for r.seq <= *seen {
		ch := r.changed
		r.mu.Unlock()
		expired := false
		select {
		case <-ch:
		case <-ctx.Done():
			expired = true
		case <-deadline:
			expired = true
		}
		r.mu.Lock()
		if expired && r.seq <= *seen {
			return r.done, r.up, r.why
		}
	}
	*seen = r.seq
	return r.done, r.up, r.why
}

// loop runs the script while a Check waits for it, at most once an
// interval: the first at once, each next one at the first multiple of
// the interval since the last start that has not passed when it is due.
func (r *runner) loop() {
	for {
		r.mu.Lock()
		if r.waiting == 0 {
			r.running = false
			r.mu.Unlock()
			return
		}
		due := time.Now()
		if !r.lastStart.IsZero() {
			n := (due.Sub(r.lastStart) + r.interval - 1) / r.interval
			due = r.lastStart.Add(max(n, 1) * r.interval)
		}
		r.mu.Unlock()
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		r.mu.Lock()
		if r.waiting == 0 {
			r.running = false
			r.mu.Unlock()
			return
		}
		r.lastStart = due
		r.mu.Unlock()
		o := r.cmd.run(context.Background(), r.timeout, false)
		r.record(o)
	}
}

// record counts a result as vrrp_script_child_thread does, logs what
// changed, and wakes the waiters.
func (r *runner) record(o outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	desc := o.String()
	warn := slog.LevelInfo
	if !o.ok() || o.execErr != nil || o.notFound != 0 {
		warn = slog.LevelWarn
	}
	was, wasDone := r.up, r.done
	if !o.noFork {
		init := !r.done
		if o.ok() {
			if r.result < r.rise-1 {
				r.result++
			} else if r.result != r.rise+r.fall-1 {
				if r.result < r.rise { // == rise-1: up now
					r.up = true
				}
				r.result = r.rise + r.fall - 1
			}
		} else {
			if r.result > r.rise {
				r.result--
			} else {
				if r.result == r.rise || init {
					r.up = false
				}
				r.result = 0
			}
			if !r.up {
				r.why = fmt.Sprintf("script %s %s", r.name, desc)
			}
		}
		r.done = true
	}
	switch {
	case r.done && (!wasDone || r.up != was):
		// "VRRP_Script(chk) succeeded", "... failed (exited with status 1)"
		state := "up"
		if !r.up {
			state, warn = "down", slog.LevelWarn
		}
		r.log.Log(context.Background(), warn, "script is "+state, "script", r.name, "result", desc)
	case desc != r.lastOutcome:
		// "Script `chk` now returning N", on change only.
		r.log.Log(context.Background(), warn, "script now "+desc, "script", r.name, "up", r.up)
	}
	r.lastOutcome = desc
	r.seq++
	close(r.changed)
	r.changed = make(chan struct{})
}
