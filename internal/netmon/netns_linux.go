package netmon

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// CurrentNetns identifies the network namespace of the calling thread (the
// inode of /proc/thread-self/ns/net), so that followers in different
// namespaces of one process (as in tests) get Hubs of their own.
func CurrentNetns() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return 0, fmt.Errorf("network namespace: %w", err)
	}
	return st.Ino, nil
}
