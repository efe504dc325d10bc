package netmon

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// A Netns is a network namespace, held open: the calling thread's when
// [OpenNetns] opened it. Sockets are opened in the namespace of the thread
// that opens them, and a goroutine may run on any thread, so whoever opens
// a socket later, from any goroutine, does it through [Netns.Do].
type Netns struct {
	id uint64
	f  *os.File
}

// ThreadNetns identifies the calling thread's network namespace (the
// inode of its namespace file).
func ThreadNetns() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return 0, fmt.Errorf("network namespace: %w", err)
	}
	return st.Ino, nil
}

// OpenNetns opens the calling thread's network namespace.
func OpenNetns() (*Netns, error) {
	f, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, fmt.Errorf("network namespace: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("network namespace: %w", err)
	}
	return &Netns{id: st.Ino, f: f}, nil
}

// ID is what ThreadNetns returns on a thread of the namespace.
func (n *Netns) ID() uint64 { return n.id }

// Do runs f on a thread in the namespace, whichever thread calls it, and
// returns its error. Entering the namespace needs CAP_SYS_ADMIN, unless
// the thread is in it already, as every thread is in a process that lives
// in one namespace. The thread goes back to its own namespace afterwards;
// one that cannot is ended rather than reused, as is any thread whose
// namespace is not known.
func (n *Netns) Do(f func() error) error {
	res := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored, err := n.enter()
		if err == nil {
			err = f()
		}
		if restored() {
			runtime.UnlockOSThread()
		} // else the thread ends with this goroutine
		res <- err
	}()
	return <-res
}

// enter moves the calling thread, locked, into the namespace, and returns
// a func that moves it back and reports whether the thread is as it was.
func (n *Netns) enter() (restore func() bool, err error) {
	cur, err := ThreadNetns()
	if err != nil {
		return func() bool { return false }, err
	}
	if cur == n.id {
		return func() bool { return true }, nil
	}
	own, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return func() bool { return false }, fmt.Errorf("network namespace: %w", err)
	}
	if err := unix.Setns(int(n.f.Fd()), unix.CLONE_NEWNET); err != nil {
		own.Close()
		return func() bool { return true }, fmt.Errorf("entering the network namespace (needs CAP_SYS_ADMIN): %w", err)
	}
	return func() bool {
		defer own.Close()
		return unix.Setns(int(own.Fd()), unix.CLONE_NEWNET) == nil
	}, nil
}

// Close closes the namespace file.
func (n *Netns) Close() error { return n.f.Close() }
