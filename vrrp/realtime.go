package vrrp

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

// realtime is the real-time priority asked for the schedulers' threads;
// 0: none.
var realtime atomic.Int32

// SetRealtimePriority runs the threads that fire the routers' timers and
// send their advertisements under the real-time policy SCHED_RR at
// priority prio, 1..99, as keepalived's vrrp_rt_priority does for its VRRP
// process; 0 returns them to the ordinary policy. It is for the whole
// process: every router, those running included, from the next time their
// timers fire.
//
// An ordinary thread can be preempted in the middle of sending a batch of
// advertisements and resume only when the kernel's scheduler gives it the
// CPU again, tens of milliseconds later on a busy host: with many routers
// at short intervals enough advertisements go late that backups take over
// (the README's scale benchmark measures it). Only these threads become
// real-time, not the sockets' readers, the Go runtime's or the program's
// own; a process they fork starts ordinary (SCHED_RESET_ON_FORK).
//
// It needs CAP_SYS_NICE, or an RLIMIT_RTPRIO of at least prio. It tries the
// policy first, on a thread of its own, and when the kernel refuses it
// returns the error and changes nothing.
func SetRealtimePriority(prio int) error {
	if prio < 0 || prio > 99 {
		return fmt.Errorf("vrrp: real-time priority %d: need 0 (none) or 1..99", prio)
	}
	if prio > 0 {
		tried := make(chan error)
		go func() {
			runtime.LockOSThread()
			err := setThreadPriority(prio)
			if err == nil {
				unlockOrdinary()
			}
			tried <- err
		}()
		if err := <-tried; err != nil {
			return fmt.Errorf("vrrp: real-time priority %d: %w", prio, err)
		}
	}
	realtime.Store(int32(prio))
	return nil
}

// followPriority gives the scheduler's thread the priority last set by
// SetRealtimePriority, when it changed. A real-time priority locks the
// goroutine to its thread, so that the runtime runs nothing else there,
// until the thread is ordinary again. A failure is logged by r, a router
// of the scheduler, and leaves the thread ordinary.
func (s *scheduler) followPriority(r *Router) {
	want := int(realtime.Load())
	if want == s.prio {
		return
	}
	if s.prio == 0 {
		runtime.LockOSThread()
	}
	if want > 0 {
		if err := setThreadPriority(want); err != nil {
			r.log.Warn("cannot run the timers at real-time priority; they run at the ordinary one",
				"priority", want, "err", err)
			want = 0
		}
	}
	if want == 0 {
		unlockOrdinary()
	}
	s.prio = want
}

// unlockOrdinary returns the calling thread, locked to its goroutine, to
// the ordinary policy and unlocks it. Should the kernel refuse, the thread
// stays locked and ends with its goroutine (or, the process's main thread,
// is parked for good): the runtime never runs anything else under the
// real-time policy.
func unlockOrdinary() {
	if setThreadPriority(0) == nil {
		runtime.UnlockOSThread()
	}
}
