package keepalived

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
	"syscall"
)

// A FIFO is a notify_fifo or vrrp_notify_fifo of global_defs: a named
// pipe that every change of an instance or a group is written to, a line
// each, for a program of the administrator's to read.
type FIFO struct {
	Pos  Pos
	Path string
	User string // "USER [GROUP]" who owns a FIFO made here; empty: ours
}

// FIFOs writes to the notify FIFOs of a Config.
type FIFOs struct {
	mu    sync.Mutex
	files []*fifoFile
}

type fifoFile struct {
	FIFO
	f       *os.File
	created bool // made by OpenFIFOs: removed by Close
}

// OpenFIFOs opens c's notify FIFOs as keepalived's fifo_open (lib/notify.c)
// does: it makes a FIFO that is not there (mode 0644, owned by its user)
// and opens it for writing without blocking, so that a change is written
// whether or not anyone reads, and lost when no one has for a pipe's
// worth. A path that is there but is no FIFO is refused, where keepalived
// would write into the file.
func (c *Config) OpenFIFOs() (*FIFOs, error) {
	w := &FIFOs{}
	if err := w.Reload(c); err != nil {
		return nil, err
	}
	return w, nil
}

// Reload makes w write to c's notify FIFOs, as keepalived's reload does:
// one of the same path and user stays open as it is, so that its reader
// sees nothing happen; one no longer in c is closed (and removed if w
// made it); a new one is opened as OpenFIFOs opens it. If one cannot be,
// nothing changes and the error names it.
func (w *FIFOs) Reload(c *Config) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var files []*fifoFile
	kept := map[*fifoFile]bool{}
	for _, ff := range c.FIFOs {
		if slices.ContainsFunc(files, func(f *fifoFile) bool { return f.Path == ff.Path }) {
			continue // notify_fifo and vrrp_notify_fifo the same: keepalived writes once
		}
		i := slices.IndexFunc(w.files, func(f *fifoFile) bool { return f.Path == ff.Path && f.User == ff.User })
		if i >= 0 {
			files = append(files, w.files[i])
			kept[w.files[i]] = true
			continue
		}
		f, err := openFIFO(ff)
		if err != nil {
			for _, f := range files {
				if !kept[f] {
					f.close()
				}
			}
			return &Error{Pos: ff.Pos, Msg: err.Error()}
		}
		files = append(files, f)
	}
	for _, f := range w.files {
		if !kept[f] {
			f.close()
		}
	}
	w.files = files
	return nil
}

func openFIFO(ff FIFO) (*fifoFile, error) {
	created := false
	switch err := syscall.Mkfifo(ff.Path, 0o644); {
	case err == nil:
		created = true
		if ff.User != "" {
			uid, gid, err := lookupUser(ff.User)
			if err == nil {
				err = os.Chown(ff.Path, int(uid), int(gid))
			}
			if err != nil {
				os.Remove(ff.Path)
				return nil, fmt.Errorf("notify FIFO %s: %w", ff.Path, err)
			}
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

// close closes f, removing it first if OpenFIFOs made it.
func (f *fifoFile) close() {
	if f.created {
		os.Remove(f.Path)
	}
	f.f.Close()
}
