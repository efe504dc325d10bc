package vrrp

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// setThreadPriority sets the calling thread's policy: SCHED_RR at prio,
// reset to the ordinary one in a forked child, or the ordinary SCHED_NORMAL (SCHED_OTHER) when prio is 0.
func setThreadPriority(prio int) error {
	attr := unix.SchedAttr{Policy: unix.SCHED_NORMAL}
	if prio > 0 {
		attr = unix.SchedAttr{Policy: unix.SCHED_RR, Flags: unix.SCHED_FLAG_RESET_ON_FORK, Priority: uint32(prio)}
	}
	err := unix.SchedSetAttr(0, &attr, 0)
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("%w: it needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at least the priority", err)
	}
	return err
}
