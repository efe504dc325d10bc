package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// clockTicks is the unit of utime and stime in /proc/PID/stat.
var clockTicks = func() float64 {
	// AT_CLKTCK (17) in the auxiliary vector; 100 on every Linux we know.
	b, err := os.ReadFile("/proc/self/auxv")
	if err == nil {
		for i := 0; i+16 <= len(b); i += 16 {
			key, val := binary.NativeEndian.Uint64(b[i:]), binary.NativeEndian.Uint64(b[i+8:])
			if key == 17 && val > 0 {
				return float64(val)
			}
		}
	}
	return 100
}()

// procStat is what the benchmark reads of one process.
type procStat struct {
	pid, ppid, sid int
	state          byte
	cpu            cpuTicks
}

// cpuTicks is a process's CPU time in clock ticks: in user space (utime)
// and in the kernel on its behalf (stime).
type cpuTicks struct{ user, sys uint64 }

// readStat reads /proc/PID/stat.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name is in parentheses and may hold anything: the
	// fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	// f[0] is field 3 (state) of proc(5).
	ppid, _ := strconv.Atoi(f[1])
	sid, _ := strconv.Atoi(f[3])
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return procStat{pid: pid, ppid: ppid, sid: sid, state: f[0][0], cpu: cpuTicks{ut, st}}, nil
}

// allProcs reads the stat of every process.
func allProcs() []procStat {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []procStat
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if s, err := readStat(pid); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// sessionMembers returns the live (not zombie) processes of session sid.
func sessionMembers(sid int) []int {
	var pids []int
	for _, s := range allProcs() {
		if s.sid == sid && s.state != 'Z' {
			pids = append(pids, s.pid)
		}
	}
	return pids
}

// statusKB returns fields of /proc/PID/status given in kB (VmRSS, VmHWM).
func statusKB(pid int, keys ...string) map[string]uint64 {
	out := map[string]uint64{}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return out
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		for _, want := range keys {
			if k == want {
				f := strings.Fields(v)
				if len(f) > 0 {
					out[k], _ = strconv.ParseUint(f[0], 10, 64)
				}
			}
		}
	}
	return out
}

// countFDs counts /proc/PID/fd.
func countFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	return len(ents)
}

// A sample is one reading of a node: its processes and its namespace.
type sample struct {
	at      time.Time
	pids    []int
	cpu     map[int]cpuTicks // by PID
	rssKB   uint64
	hwmKB   uint64
	fds     int
	threads int
	net     netCounters
	flood   uint64 // the flood's messages sent when net was read; 0 without a flood
}

// netCounters are the counters of a namespace: its veths' packets and
// drops, and the drops of its raw sockets by inode.
type netCounters struct {
	txPackets, rxPackets, txDrops, rxDrops uint64
	rawDrops                               map[string]uint64
}

// take samples the node whose processes are pids, in host h, on ifaces,
// with the count of flood (nil: no flood) as the namespace's counters are
// read.
func take(h *netlab.Host, ifaces []string, pids []int, flood *flooder) (sample, error) {
	s := sample{pids: pids, cpu: map[int]cpuTicks{}}
	net, err := readNet(h, ifaces)
	if err != nil {
		return s, err
	}
	s.net, s.flood = net, flood.count()
	s.at = time.Now()
	for _, pid := range pids {
		st, err := readStat(pid)
		if err != nil {
			continue // gone since it was listed
		}
		s.cpu[pid] = st.cpu
		kb := statusKB(pid, "VmRSS", "VmHWM", "Threads")
		s.rssKB += kb["VmRSS"]
		s.hwmKB += kb["VmHWM"]
		s.threads += int(kb["Threads"])
		s.fds += countFDs(pid)
	}
	return s, nil
}

// readNet reads the namespace's counters from inside it:
// /proc/thread-self/net is the namespace of the calling thread, which Do
// has switched into the host's.
func readNet(h *netlab.Host, ifaces []string) (netCounters, error) {
	c := netCounters{rawDrops: map[string]uint64{}}
	err := h.Do(func() error {
		dev, err := os.ReadFile("/proc/thread-self/net/dev")
		if err != nil {
			return err
		}
		want := map[string]bool{}
		for _, n := range ifaces {
			want[n] = true
		}
		found := 0
		for line := range strings.Lines(string(dev)) {
			name, rest, ok := strings.Cut(line, ":")
			if !ok || !want[strings.TrimSpace(name)] {
				continue
			}
			f := strings.Fields(rest)
			if len(f) < 12 {
				return fmt.Errorf("/proc/net/dev: short line %q", line)
			}
			n := func(i int) uint64 { v, _ := strconv.ParseUint(f[i], 10, 64); return v }
			c.rxPackets += n(1)
			c.rxDrops += n(3)
			c.txPackets += n(9)
			c.txDrops += n(11)
			found++
		}
		if found != len(ifaces) {
			return fmt.Errorf("/proc/net/dev lists %d of the %d interfaces %v", found, len(ifaces), ifaces)
		}
		for _, file := range []string{"raw", "raw6"} {
			b, err := os.ReadFile("/proc/thread-self/net/" + file)
			if err != nil {
				continue // no IPv6
			}
			for i, line := range strings.Split(string(b), "\n") {
				f := strings.Fields(line)
				if i == 0 || len(f) < 13 {
					continue
				}
				// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
				d, _ := strconv.ParseUint(f[len(f)-1], 10, 64)
				c.rawDrops[file+":"+f[9]] = d
			}
		}
		return nil
	})
	return c, err
}

// cpuSeconds returns the CPU time the node's processes used between two
// samples, in all and in the kernel: of every process, since the first
// sample, or since it started if it is new.
func cpuSeconds(before, after sample) (total, sys float64) {
	var ticks cpuTicks
	for pid, t := range after.cpu {
		b, ok := before.cpu[pid]
		if ok && (b.user > t.user || b.sys > t.sys) {
			continue // not the same process: the PID was reused
		}
		ticks.user += t.user - b.user
		ticks.sys += t.sys - b.sys
	}
	return float64(ticks.user+ticks.sys) / clockTicks, float64(ticks.sys) / clockTicks
}

// rawDropsSince returns the raw-socket drops between two readings: of
// every socket, what it dropped since the first reading, or since it was
// opened if it is new.
func rawDropsSince(before, after map[string]uint64) uint64 {
	var sum uint64
	for k, v := range after {
		if b, ok := before[k]; ok && b <= v {
			sum += v - b
		} else if !ok {
			sum += v
		}
	}
	return sum
}

// loadAvg returns the 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// numCPU counts the CPUs this process may run on.
func numCPU() int { return runtime.NumCPU() }
