package keepalived

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/vipkit/vipkit/vrrp"
)

// A Tracker is what a track_file moves: a *vrrp.Router satisfies it.
type Tracker interface {
	// Adjust adds delta, -253..253, to the priority under name; 0 ends it.
	Adjust(name string, delta int) error
	// Report with weight 0 and a non-nil err puts the router in FAULT
	// until Report(name, 0, nil).
	Report(name string, weight int, err error) error
}

var _ Tracker = (*vrrp.Router)(nil)

// trackFile returns the track_file block of that name that keepalived
// tracks, the first, or nil.
func (c *Config) trackFile(name string) *TrackFile {
	for _, f := range c.TrackFiles {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// WatchFiles applies the instance's track_files to t as keepalived 2.2.7
// does (trackers/track_file.c): it performs init_file, reads each file once
// and applies its value before it returns, then follows the files until
// ctx ends, with the one inotify descriptor and goroutine of the process,
// which the WatchFiles of every instance share, closed when the last
// context ends. An error means nothing is watched (the values of
// the files before the one that failed may have been applied: a
// vrrp.Router takes every one); it is an *Error naming the track_file block when a file cannot
// be initialised or its directory does not exist, which keepalived reports
// as a configuration error before it drops the track_file.
//
// Each file's number moves t under the name "track_file NAME":
//
//   - The number is what C's strtol(text, NULL, 0) makes of the file's
//     first 127 bytes: white space, a sign, then decimal digits, octal
//     after a leading 0 or hexadecimal after 0x, the rest ignored, no
//     digits 0. A missing, unreadable or empty file counts as 0, and so
//     does a file deleted or renamed away. A number beyond a long or
//     outside -2147483648..2147483648 is logged and ignored: the value
//     before it stays.
//   - With weight 0, a number other than 0 (with reverse, a 0) is FAULT:
//     Report(name, 0, err) until it is no longer.
//   - Otherwise the number times the weight, negated with reverse, is
//     added to the priority (Adjust), at most 253; at -254 or below the
//     instance is in FAULT instead. The priority in force stays within
//     1..254, as keepalived's does.
//
// keepalived watches each file's directory for IN_CLOSE_WRITE, IN_MOVED_TO
// (read the file), IN_MOVED_FROM and IN_DELETE (the file now counts 0), and
// so does WatchFiles: a change applies as soon as the writer closes the
// file or renames it into place. It resolves symbolic links once, at start,
// as keepalived does; if the directory itself is removed, the file's value
// stays and it is no longer followed (keepalived the same). Unlike
// keepalived, an overflow of the inotify queue reads every file again
// rather than losing the changes.
//
// One known difference: keepalived 2.2.7 computes the previous
// contribution of a file in 32 bits, so a number whose product with the
// weight leaves the range of an int (beyond ±2147483647, as 2147483648
// times weight 1) can leave its priority wrong or an instance in FAULT;
// WatchFiles computes it exactly.
func (c *Config) WatchFiles(ctx context.Context, in *Instance, t Tracker, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &fileWatcher{instance: in.Name, t: t, log: log}
	for _, tf := range in.TrackFiles {
		f := c.trackFile(tf.Name)
		if f == nil {
			return &Error{Pos: tf.Pos, Msg: fmt.Sprintf("track_file: no track_file %s", tf.Name)}
		}
		wf := &watchedFile{block: f, key: "track_file " + f.Name, weight: f.Weight, reverse: f.Reverse}
		if tf.WeightSet {
			wf.weight = tf.Weight
		}
		if tf.ReverseSet {
			wf.reverse = tf.Reverse
		}
		if wf.weight < -254 || wf.weight > 254 {
			return &Error{Pos: tf.Pos, Msg: fmt.Sprintf("track_file: %s: weight %d outside -254..254", f.Name, wf.weight)}
		}
		w.files = append(w.files, wf)
	}
	if len(w.files) == 0 {
		return nil
	}
	for _, wf := range w.files {
		if err := initFile(wf.block); err != nil {
			return err
		}
	}
	for _, wf := range w.files {
		path, exists, err := resolveTrackFile(wf.block.File)
		if err != nil {
			return &Error{Pos: wf.block.Pos, Msg: fmt.Sprintf("track_file %s: %v", wf.block.Name, err)}
		}
		wf.path, wf.exists = path, exists
		wf.dir, wf.base = filepath.Dir(path), filepath.Base(path)
	}

	if err := inotify.add(w); err != nil {
		return err
	}
	// Watching first, then reading: a change in between is read again.
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, wf := range w.files {
		if wf.exists {
			wf.value, _ = w.read(wf)
		}
		if err := w.apply(wf, true); err != nil {
			inotify.remove(w)
			return fmt.Errorf("keepalived: track_file %s: %w", wf.block.Name, err)
		}
	}
	context.AfterFunc(ctx, func() { inotify.remove(w) })
	return nil
}

// inotify is the process's inotify descriptor, which every WatchFiles
// shares, as keepalived has one: the kernel allows a user 128 of them
// (fs.inotify.max_user_instances). It is made by the first WatchFiles and
// closed when the last one's context ends; one goroutine reads it.
var inotify inotifyWatch

type inotifyWatch struct {
	mu   sync.Mutex
	file *os.File                 // nil while no one watches
	byWD map[int32][]*watchedFile // the files of each watched directory
	of   map[*watchedFile]*fileWatcher
}

// add watches the directories of w's files.
func (n *inotifyWatch) add(w *fileWatcher) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.file == nil {
		fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
		if err != nil {
			return fmt.Errorf("keepalived: track_file: inotify: %w", err)
		}
		n.file = os.NewFile(uintptr(fd), "inotify") // non-blocking: Read waits in the runtime's poller
		n.byWD, n.of = map[int32][]*watchedFile{}, map[*watchedFile]*fileWatcher{}
		go n.read(n.file, w.log)
	}
	for i, wf := range w.files {
		// The same directory twice is the same watch descriptor.
		wd, err := unix.InotifyAddWatch(int(n.file.Fd()), wf.dir, unix.IN_CLOSE_WRITE|unix.IN_DELETE|unix.IN_MOVE)
		if err != nil {
			n.removeLocked(w.files[:i])
			return &Error{Pos: wf.block.Pos, Msg: fmt.Sprintf("track_file %s: watching %s: %v", wf.block.Name, wf.dir, err)}
		}
		wf.wd = int32(wd)
		n.byWD[wf.wd] = append(n.byWD[wf.wd], wf)
		n.of[wf] = w
	}
	return nil
}

// remove stops watching w's files, and the descriptor if no one watches.
func (n *inotifyWatch) remove(w *fileWatcher) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.removeLocked(w.files)
}

func (n *inotifyWatch) removeLocked(files []*watchedFile) {
	if n.file == nil {
		return
	}
	for _, wf := range files {
		if _, ok := n.of[wf]; !ok {
			continue
		}
		delete(n.of, wf)
		left := slices.DeleteFunc(n.byWD[wf.wd], func(o *watchedFile) bool { return o == wf })
		if len(left) > 0 {
			n.byWD[wf.wd] = left
			continue
		}
		delete(n.byWD, wf.wd)
		unix.InotifyRmWatch(int(n.file.Fd()), uint32(wf.wd))
	}
	if len(n.of) == 0 {
		n.file.Close() // its reader returns
		n.file = nil
	}
}

// read reads the events of file until it is closed, and hands each to the
// watchers of its files.
func (n *inotifyWatch) read(file *os.File, log *slog.Logger) {
	buf := make([]byte, 16*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		nr, err := file.Read(buf)
		if err != nil {
			n.mu.Lock()
			closed := n.file != file
			n.mu.Unlock()
			if !closed {
				log.Error("track_file: reading inotify events; the files are no longer followed", "err", err)
			}
			return
		}
		n.events(file, buf[:nr])
	}
}

// A watchedFile is one track_file of the instance.// A watchedFile is one track_file of the instance.
type watchedFile struct {
	block     *TrackFile
	key       string // the name given to the Tracker
	weight    int
	reverse   bool
	path      string // resolved, absolute
	dir, base string
	exists    bool  // at start
	wd        int32 // its directory's watch
	value     int64
	delta     int  // what the Tracker was told: Adjust's delta
	fault     bool // and whether Report said FAULT
}

// A fileWatcher follows the track_files of one instance.
type fileWatcher struct {
	instance string
	t        Tracker
	log      *slog.Logger
	files    []*watchedFile
	mu       sync.Mutex // serializes what its files' events do
}

// events handles what one read of file, the inotify descriptor, returned.
// Read before the descriptor was closed, they are no one's: a descriptor
// made since numbers its watches from 1 again.
func (n *inotifyWatch) events(file *os.File, b []byte) {
	type target struct {
		w    *fileWatcher
		wf   *watchedFile
		gone bool
	}
	for len(b) >= unix.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(b[0:]))
		mask := binary.NativeEndian.Uint32(b[4:])
		size := int(binary.NativeEndian.Uint32(b[12:]))
		b = b[unix.SizeofInotifyEvent:]
		if size > len(b) {
			return
		}
		name := string(b[:size])
		for len(name) > 0 && name[len(name)-1] == 0 {
			name = name[:len(name)-1]
		}
		b = b[size:]
		var targets []target
		n.mu.Lock()
		if n.file != file {
			n.mu.Unlock()
			return
		}
		switch {
		case mask&unix.IN_Q_OVERFLOW != 0:
			for wf, w := range n.of {
				targets = append(targets, target{w, wf, false})
			}
			if len(targets) > 0 {
				targets[0].w.log.Warn("track_file: inotify queue overflowed; reading every file again")
			}
		case mask&unix.IN_IGNORED != 0:
			for _, wf := range n.byWD[wd] {
				n.of[wf].log.Warn("track_file: its directory is gone; the file is no longer followed and its value stays",
					"instance", n.of[wf].instance, "track_file", wf.block.Name, "file", wf.path)
			}
			delete(n.byWD, wd)
		case mask&unix.IN_ISDIR != 0, mask&(unix.IN_CLOSE_WRITE|unix.IN_DELETE|unix.IN_MOVE) == 0:
		default:
			for _, wf := range n.byWD[wd] {
				if wf.base == name {
					targets = append(targets, target{n.of[wf], wf, mask&(unix.IN_MOVED_FROM|unix.IN_DELETE) != 0})
				}
			}
		}
		n.mu.Unlock()
		for _, t := range targets {
			t.w.mu.Lock()
			t.w.update(t.wf, t.gone)
			t.w.mu.Unlock()
		}
	}
}

// update applies the file's value after an event: 0 if it is gone,
// else what it holds. w.mu is held.
func (w *fileWatcher) update(wf *watchedFile, gone bool) {
	v := int64(0)
	if !gone {
		var ok bool
		if v, ok = w.read(wf); !ok {
			return
		}
	}
	if v == wf.value {
		return
	}
	wf.value = v
	if err := w.apply(wf, false); err != nil {
		w.log.Error("track_file: the router refused the change", "instance", w.instance, "track_file", wf.block.Name, "err", err)
	}
}

// read returns the file's value as keepalived reads it
// (process_track_file), ok false if keepalived ignores what it holds.
func (w *fileWatcher) read(wf *watchedFile) (int64, bool) {
	text, err := readTrackFile(wf.path)
	if err != nil {
		w.log.Debug("track_file: counts 0", "instance", w.instance, "track_file", wf.block.Name, "file", wf.path, "why", err)
		return 0, true
	}
	v, ok := parseTrackValue(text)
	if !ok {
		w.log.Warn("track_file: invalid number read; ignored", "instance", w.instance, "track_file", wf.block.Name,
			"file", wf.path, "text", string(text))
	}
	return v, ok
}

// apply tells the Tracker what the file's value now means, what changed
// (all of it at the start).
func (w *fileWatcher) apply(wf *watchedFile, start bool) error {
	delta, fault := trackEffect(wf.value, wf.weight, wf.reverse)
	if !start {
		w.log.Info("track_file changed", "instance", w.instance, "track_file", wf.block.Name, "file", wf.path,
			"value", wf.value, "delta", delta, "fault", fault)
	} else if delta != 0 || fault {
		w.log.Info("track_file", "instance", w.instance, "track_file", wf.block.Name, "file", wf.path,
			"value", wf.value, "delta", delta, "fault", fault)
	}
	// Leave FAULT last and enter it first, so that no priority in
	// between is advertised.
	if fault && (start || !wf.fault) {
		err := fmt.Errorf("%s holds %d", wf.path, wf.value)
		if e := w.t.Report(wf.key, 0, err); e != nil {
			return e
		}
	}
	if start || delta != wf.delta {
		if err := w.t.Adjust(wf.key, delta); err != nil {
			return err
		}
	}
	if !fault && (start || wf.fault) {
		if err := w.t.Report(wf.key, 0, nil); err != nil {
			return err
		}
	}
	wf.delta, wf.fault = delta, fault
	return nil
}

// trackEffect returns what a track_file's value does to an instance
// tracking it with weight and reverse: the delta of its priority, or
// FAULT (keepalived's update_track_file_status and
// process_update_vrrp_track_file_status).
func trackEffect(value int64, weight int, reverse bool) (delta int, fault bool) {
	if weight == 0 {
		return 0, (value != 0) != reverse
	}
	p := value * int64(weight)
	if reverse {
		p = -p
	}
	if p <= -254 {
		return 0, true
	}
	return int(min(p, 253)), false
}

// maxTrackRead is what keepalived reads of a track file: its buffer of
// 128 bytes less the terminating NUL.
const maxTrackRead = 127

// readTrackFile returns the first bytes of the file, opened and read as
// keepalived does (non-blocking, so a FIFO does not hang it).
func readTrackFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, maxTrackRead)
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			return nil, errors.New("empty")
		}
		return buf[:n], nil
	}
}

// parseTrackValue reads the number at the start of b as C's strtol(b,
// NULL, 0) does and keepalived then checks it: ok is false for a number
// that overflows a long or lies outside -2^31..2^31.
func parseTrackValue(b []byte) (v int64, ok bool) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] >= '\t' && b[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	base := uint64(10)
	if i < len(b) && b[i] == '0' {
		base = 8
		if i+2 < len(b) && b[i+1]|0x20 == 'x' && digit(b[i+2]) < 16 {
			base, i = 16, i+2
		}
	}
	const limit = 1 << 31
	var mag uint64
	for ; i < len(b) && digit(b[i]) < base; i++ {
		if mag = mag*base + digit(b[i]); mag > limit {
			mag = limit + 1 // stays beyond; the digits go on, as strtol's
		}
	}
	if mag > limit {
		return 0, false
	}
	if neg {
		return -int64(mag), true
	}
	return int64(mag), true
}

// digit returns the value of c as a digit up to base 36, or 36.
func digit(c byte) uint64 {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0')
	case c|0x20 >= 'a' && c|0x20 <= 'z':
		return uint64(c|0x20-'a') + 10
	}
	return 36
}

// resolveTrackFile returns the path keepalived watches (init_track_files):
// the file's with its symbolic links resolved, or if it does not exist,
// its directory's, which must exist, and whether the file exists.
func resolveTrackFile(path string) (string, bool, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", false, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err == nil {
		return real, true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("%s is not accessible (keepalived ignores the track_file with an error): %w", path, err)
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err == nil {
		var st os.FileInfo
		if st, err = os.Stat(dir); err == nil && !st.IsDir() {
			err = errors.New("not a directory")
		}
	}
	if err != nil {
		return "", false, fmt.Errorf("the directory of %s does not exist (keepalived removes the track_file with an error): %w", path, err)
	}
	return filepath.Join(dir, filepath.Base(abs)), false, nil
}

// overwritten are the files init_file overwrote in this process: as
// keepalived overwrites them only at start, not on a reload, they are
// only created again if missing.
var overwritten sync.Map

// initFile performs the track_file's init_file as keepalived does when it
// reads the block (track_file_end_handler): it writes the value and a
// newline to the file if it does not exist, or with overwrite, if it is a
// regular file, in a new file of mode 0600 (keepalived's default umask)
// renamed into place (fopen_safe).
func initFile(f *TrackFile) error {
	if !f.InitFile {
		return nil
	}
	fail := func(format string, args ...any) error {
		return &Error{Pos: f.Pos, Msg: fmt.Sprintf("track_file %s: init_file: %s", f.Name, fmt.Sprintf(format, args...))}
	}
	abs, err := filepath.Abs(f.File)
	if err != nil {
		return fail("%v", err)
	}
	if st, err := os.Stat(abs); err == nil {
		if !f.Overwrite {
			return nil
		}
		if !st.Mode().IsRegular() {
			return fail("%s is not a regular file", f.File)
		}
		if _, again := overwritten.Load(abs); again {
			return nil
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(abs), filepath.Base(abs)+".*")
	if err != nil {
		return fail("%v", err)
	}
	_, err = tmp.WriteString(strconv.Itoa(f.InitValue) + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), abs)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fail("%v", err)
	}
	if f.Overwrite {
		overwritten.Store(abs, true)
	}
	return nil
}
