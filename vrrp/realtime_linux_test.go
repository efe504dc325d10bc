package vrrp_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/fakelan"
	"github.com/vipkit/vipkit/vrrp"
)

// realtimeThreads returns the real-time priority of each thread of this
// process under SCHED_RR, from /proc/self/task/*/stat (fields 40 and 41 of
// proc(5): rt_priority and policy).
func realtimeThreads(t *testing.T) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/self/task/*/stat")
	require.NoError(t, err)
	var prios []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended since the glob
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		require.Greater(t, len(f), 38, "%s: %q", p, b)
		if f[38] == "2" { // SCHED_RR
			prio, err := strconv.Atoi(f[37])
			require.NoError(t, err)
			prios = append(prios, prio)
		}
	}
	return prios
}

func TestRealtimePriority(t *testing.T) {
	require.Empty(t, realtimeThreads(t), "real-time threads before the test")
	for _, bad := range []int{-1, 100} {
		err := vrrp.SetRealtimePriority(bad)
		require.ErrorContains(t, err, fmt.Sprintf("real-time priority %d: need 0 (none) or 1..99", bad))
	}
	err := vrrp.SetRealtimePriority(3)
	refused := err != nil
	if refused {
		// Without CAP_SYS_NICE: the kernel's refusal, said, and nothing
		// changed.
		require.ErrorIs(t, err, os.ErrPermission)
		require.ErrorContains(t, err, "CAP_SYS_NICE")
	}
	t.Cleanup(func() { assert.NoError(t, vrrp.SetRealtimePriority(0)) })

	lan := &fakelan.LAN{}
	a, err := vrrp.NewRouterConn(routerConfig(200), lan.Conn(src4), src4)
	require.NoError(t, err)
	bAddr := netip.MustParseAddr("192.0.2.2")
	b, err := vrrp.NewRouterConn(routerConfig(100), lan.Conn(bAddr), bAddr)
	require.NoError(t, err)
	runRouter(t, a)
	waitState(t, a, vrrp.Master, time.Second)
	stopB := runRouter(t, b)
	waitState(t, b, vrrp.Backup, time.Second)
	if refused {
		time.Sleep(100 * time.Millisecond) // five intervals: each scheduler woke
		assert.Empty(t, realtimeThreads(t), "real-time threads after a refused SetRealtimePriority")
		return
	}
	// Each router has a Conn of its own, so a scheduler of its own: two
	// threads at priority 3, and the thread that tried the policy gone.
	want := []int{3, 3}
	require.Eventually(t, func() bool { return assert.ObjectsAreEqual(want, realtimeThreads(t)) }, 5*time.Second, 5*time.Millisecond,
		"SCHED_RR threads at priority 3: want one per scheduler; have %v", realtimeThreads(t))

	require.NoError(t, vrrp.SetRealtimePriority(0))
	require.Eventually(t, func() bool { return len(realtimeThreads(t)) == 0 }, 5*time.Second, 5*time.Millisecond,
		"real-time threads after SetRealtimePriority(0)")
	require.NoError(t, vrrp.SetRealtimePriority(7))
	want = []int{7, 7}
	require.Eventually(t, func() bool { return assert.ObjectsAreEqual(want, realtimeThreads(t)) }, 5*time.Second, 5*time.Millisecond,
		"SCHED_RR threads at priority 7 after it changed")
	assert.Equal(t, vrrp.Master, a.State())
	assert.Equal(t, vrrp.Backup, b.State())

	// A scheduler's thread ends with it, when its last router stops.
	stopB()
	want = []int{7}
	require.Eventually(t, func() bool { return assert.ObjectsAreEqual(want, realtimeThreads(t)) }, 5*time.Second, 5*time.Millisecond,
		"SCHED_RR threads once b stopped")
}
