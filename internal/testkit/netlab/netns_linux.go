//go:build linux

package netlab

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// errGoexit is what Do returns when fn ends its goroutine instead of
// returning.
var errGoexit = errors.New("netlab: Do: fn did not return (runtime.Goexit; t.FailNow, t.Fatal and t.Skip must not be called inside Do)")

func (h *Host) do(fn func() error) error {
	type result struct {
		err      error
		panicked bool
		value    any
	}
	ch := make(chan result, 1)
	go func() {
		var res result
		returned := false
		defer func() {
			if !returned {
				if v := recover(); v != nil {
					res.panicked, res.value = true, v
				} else {
					res.err = errors.Join(errGoexit, res.err)
				}
			}
			ch <- res
		}()

		runtime.LockOSThread()
		orig, err := unix.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			res.err, returned = fmt.Errorf("netlab: host %s: Do: open own namespace: %w", h.name, err), true
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open(h.Path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			res.err, returned = fmt.Errorf("netlab: host %s: Do: %w", h.name, err), true
			return
		}
		err = unix.Setns(target, unix.CLONE_NEWNET)
		unix.Close(target)
		if err != nil {
			runtime.UnlockOSThread()
			res.err, returned = fmt.Errorf("netlab: host %s: Do: setns: %w", h.name, err), true
			return
		}
		defer func() {
			if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
				// Leave the thread locked: the runtime ends it with
				// this goroutine instead of running others in the
				// wrong namespace.
				res.err = errors.Join(res.err, fmt.Errorf("netlab: host %s: Do: restoring the namespace: %w", h.name, err))
				return
			}
			runtime.UnlockOSThread()
		}()

		res.err = fn()
		returned = true
	}()
	res := <-ch
	if res.panicked {
		panic(res.value)
	}
	return res.err
}

func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// waitNoReap waits for the child pid to exit and leaves it a zombie.
func waitNoReap(pid int) error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return err
		}
	}
}

// killGroup sends sig to the process group pgid.
func killGroup(pgid int, sig syscall.Signal) error {
	return syscall.Kill(-pgid, sig)
}

// hasNetCaps reports whether this process has CAP_NET_ADMIN and
// CAP_SYS_ADMIN in its effective set.
func hasNetCaps() bool {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		v, ok := strings.CutPrefix(s.Text(), "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return false
		}
		const need = 1<<unix.CAP_NET_ADMIN | 1<<unix.CAP_SYS_ADMIN
		return caps&need == need
	}
	return false
}

// inNetns reports whether process pid is in the network namespace whose
// bind mount is at path.
func inNetns(pid int, path string) bool {
	var p, n unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &p) != nil || unix.Stat(path, &n) != nil {
		return false
	}
	return p.Ino == n.Ino && p.Dev == n.Dev
}
