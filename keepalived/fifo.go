package keepalived

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"
)

// A FIFO is a notify_fifo or vrrp_notify_fifo of global_defs: a named
// pipe that every change of an instance or a group is written to, a line
// each, for a program of the administrator's to read.
type FIFO struct {
	Pos     Pos
	Keyword string // notify_fifo or vrrp_notify_fifo
	Path    string
	User    string // "USER [GROUP]" who owns a FIFO made here; empty: ours
	// Script is notify_fifo_script or vrrp_notify_fifo_script: a program
	// started with the FIFO's path after its words, to read it.
	Script NotifyScript
}

// FIFOs writes to the notify FIFOs of a Config.
type FIFOs struct {
	log   *slog.Logger
	mu    sync.Mutex
	files []*fifoFile
}

type fifoFile struct {
	FIFO
	f       *os.File
	created bool          // made by OpenFIFOs: removed by Close
	script  *exec.Cmd     // the FIFO's script, running
	ended   chan struct{} // closed when the script has ended
}

// OpenFIFOs opens c's notify FIFOs as keepalived's fifo_open (lib/notify.c)
// does: it makes a FIFO that is not there (mode 0644, owned by its user)
// and opens it for writing without blocking, so that a change is written
// whether or not anyone reads, and lost when no one has for a pipe's
// worth. A path that is there but is no FIFO is refused, where keepalived
// would write into the file.
//
// A FIFO's script is started then, as keepalived starts it: with the
// FIFO's path after its own words, as its user or script_user's, prepared
// as a notify script (enable_script_security and all), and never timed
// out. Its end is logged to log; Close, or a Reload that drops the FIFO,
// closes the FIFO first, so that the script reads its end, then sends its
// process group SIGTERM (keepalived's parent-death signal) and SIGKILL 2 s
// later.
func (c *Config) OpenFIFOs(log *slog.Logger) (*FIFOs, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &FIFOs{log: log}
	if err := w.Reload(c); err != nil {
		return nil, err
	}
	return w, nil
}

// Reload makes w write to c's notify FIFOs. One of the same path stays
// open as it is, so that its reader sees nothing happen (given to its new
// user if w made it and c names another), and its script runs on unless
// c changes it; one no longer in c is closed (and removed if w made it)
// and its script stopped; a new one is opened, and its script started, as
// OpenFIFOs does. keepalived's reload differs: it kills every script,
// closes every FIFO, removing those it made, then opens them and starts
// their scripts again. If a FIFO cannot be opened or a script prepared,
// nothing changes and the error names it.
func (w *FIFOs) Reload(c *Config) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	// First what can fail, changing nothing: open the new FIFOs, prepare
	// the new scripts.
	type plan struct {
		ff     FIFO
		f      *fifoFile
		kept   bool     // f is one of w.files
		script *command // to start: new, or changed
	}
	var plans []plan
	fail := func(ff FIFO, err error) error {
		for _, p := range plans {
			if !p.kept {
				p.f.close()
			}
		}
		return &Error{Pos: ff.Pos, Msg: err.Error()}
	}
	for _, ff := range c.FIFOs {
		if slices.ContainsFunc(plans, func(p plan) bool { return p.ff.Path == ff.Path }) {
			continue // notify_fifo and vrrp_notify_fifo the same: keepalived writes once
		}
		p := plan{ff: ff}
		if i := slices.IndexFunc(w.files, func(f *fifoFile) bool { return f.Path == ff.Path }); i >= 0 {
			p.f, p.kept = w.files[i], true
			if _, _, err := lookupUser(ff.User); ff.User != "" && err != nil {
				return fail(ff, fmt.Errorf("notify FIFO %s: %w", ff.Path, err))
			}
		} else {
			f, err := openFIFO(ff)
			if err != nil {
				return fail(ff, err)
			}
			p.f = f
		}
		if ff.Script.Command != "" && (!p.kept || p.f.Script != ff.Script) {
			cmd, err := prepareFIFOScript(c, ff, w.log)
			if err != nil {
				if !p.kept {
					p.f.close()
				}
				return fail(ff, err)
			}
			p.script = cmd
		}
		plans = append(plans, p)
	}
	// Then the rest.
	for _, f := range w.files {
		if !slices.ContainsFunc(plans, func(p plan) bool { return p.f == f }) {
			f.close()
		}
	}
	w.files = w.files[:0]
	for _, p := range plans {
		if p.kept && p.f.Script != p.ff.Script {
			p.f.stopScript()
		}
		if p.kept && p.f.created && p.f.User != p.ff.User {
			if err := chown(p.ff); err != nil {
				w.log.Error("notify FIFO not given to its new user", "err", err)
			}
		}
		p.f.FIFO = p.ff
		if p.script != nil {
			w.startScript(p.f, p.script)
		}
		w.files = append(w.files, p.f)
	}
	return nil
}

func openFIFO(ff FIFO) (*fifoFile, error) {
	created := false
	switch err := syscall.Mkfifo(ff.Path, 0o644); {
	case err == nil:
		created = true
		if err := chown(ff); err != nil {
			os.Remove(ff.Path)
			return nil, err
		}
	case errors.Is(err, fs.ErrExist):
		fi, err := os.Lstat(ff.Path)
		if err != nil {
			return nil, fmt.Errorf("notify FIFO: %w", err)
		}
		if fi.Mode()&fs.ModeNamedPipe == 0 {
			return nil, fmt.Errorf("notify FIFO %s is there, and is not a FIFO", ff.Path)
		}
	default:
		return nil, fmt.Errorf("notify FIFO: %w", err)
	}
	f, err := os.OpenFile(ff.Path, os.O_RDWR|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if created {
			os.Remove(ff.Path)
		}
		return nil, fmt.Errorf("notify FIFO: %w", err)
	}
	return &fifoFile{FIFO: ff, f: f, created: created}, nil
}

// Write writes a change of the instance or group name (kind "INSTANCE" or
// "GROUP") to state, as keepalived's notify_fifo does: INSTANCE "VI_1"
// MASTER 100. It never blocks: a line that finds the pipe full is lost, as
// in keepalived.
func (w *FIFOs) Write(kind, name, state string, priority int) {
	line := []byte(fmt.Sprintf("%s \"%s\" %s %d\n", kind, name, state, priority))
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.files {
		// One write(2), never waited on: os.File.Write would park until
		// the pipe has room.
		if rc, err := f.f.SyscallConn(); err == nil {
			rc.Write(func(fd uintptr) bool {
				syscall.Write(int(fd), line)
				return true
			})
		}
	}
}

// Close closes the FIFOs, removing those OpenFIFOs made, first, as
// keepalived's fifo_close: a reader that opens it again finds none.
func (w *FIFOs) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.files {
		f.close()
	}
	w.files = nil
}

// chown gives the FIFO ff, which OpenFIFOs made, to its user, or to
// vipkit's if it names none.
func chown(ff FIFO) error {
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	if ff.User != "" {
		var err error
		if uid, gid, err = lookupUser(ff.User); err != nil {
			return fmt.Errorf("notify FIFO %s: %w", ff.Path, err)
		}
	}
	if err := os.Chown(ff.Path, int(uid), int(gid)); err != nil {
		return fmt.Errorf("notify FIFO %s: %w", ff.Path, err)
	}
	return nil
}

// close closes f, removing it first if OpenFIFOs made it, as keepalived's
// fifo_close, so that a script that loops opening it again finds none;
// then it stops f's script.
func (f *fifoFile) close() {
	if f.created {
		os.Remove(f.Path)
	}
	f.f.Close()
	f.stopScript()
}

// stopScript stops f's script, if it runs: SIGTERM to its process group,
// SIGKILL killGrace later.
func (f *fifoFile) stopScript() {
	if f.script == nil {
		return
	}
	defer func() { f.script = nil }()
	select {
	case <-f.ended:
		return // its process group may be another's by now
	default:
	}
	pgid := f.script.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-f.ended:
	case <-time.After(killGrace):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-f.ended
	}
}

// prepareFIFOScript prepares the script of ff, of c, as a notify script,
// with the FIFO's path after its words; what enable_script_security
// warns of goes to log.
func prepareFIFOScript(c *Config, ff FIFO, log *slog.Logger) (*command, error) {
	uid, gid, err := c.defaultUser()
	if ff.Script.User != "" {
		uid, gid, err = lookupUser(ff.Script.User)
	}
	if err != nil {
		return nil, fmt.Errorf("%s_script: %w", ff.Keyword, err)
	}
	cmd, warnings, err := prepare(ff.Script.Command, uid, gid, c.ScriptSecurity, true)
	if err != nil {
		return nil, fmt.Errorf("%s_script: %w", ff.Keyword, err)
	}
	for _, warning := range warnings {
		log.Warn(warning, "keyword", ff.Keyword+"_script")
	}
	cmd.args = append(cmd.args, ff.Path)
	return cmd, nil
}

// startScript starts cmd, f's script, and logs its end.
func (w *FIFOs) startScript(f *fifoFile, cmd *command) {
	log := w.log.With("keyword", f.Keyword+"_script", "fifo", f.Path, "command", cmdString(cmd.args))
	p := cmd.cmd()
	if err := start(p); err != nil {
		log.Error("notify fifo script not started", "err", err)
		return
	}
	ended := make(chan struct{})
	f.script, f.ended = p, ended
	go func() {
		defer close(ended)
		p.Wait()
		log.Info("notify fifo script terminated", "status", p.ProcessState.String())
	}()
}
