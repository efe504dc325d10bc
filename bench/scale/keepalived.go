package main

import (
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// findKeepalived returns the path of keepalived: in PATH, else in
// /usr/sbin (which a non-login root shell may lack in PATH).
func findKeepalived() (string, error) {
	if p, err := exec.LookPath("keepalived"); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath("/usr/sbin/keepalived"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("keepalived is not installed (not in PATH nor /usr/sbin)")
}

// instanceName names the keepalived instance of VRID v on link l.
// keepalivedRTTime is the vrrp_rlimit_rttime, in µs, of a keepalived run
// with -rt-priority: the largest it takes, 71 minutes, in effect none.
const keepalivedRTTime = math.MaxUint32

func instanceName(l, v int) string { return fmt.Sprintf("VI_%d_%d", l, v) }

// keepalivedSeconds writes d as keepalived's advert_int: seconds, with a
// decimal fraction for VRRPv3 (0.01 is 10 ms).
func keepalivedSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// keepalivedConf returns the keepalived.conf of a node: one vrrp_instance
// per router, the same routers, VRIDs and virtual addresses as a vipkit
// node's. The master's instances start in state MASTER at priority 200, the
// backup's in BACKUP at 100. keepalived adds each virtual address to the
// master's interface (/32); the gratuitous ARPs it then sends are cut to
// one per address and no second round (vrrp_garp_master_delay 0), which the
// warm-up leaves out of the window anyway.
func keepalivedConf(c config, name string, master bool) string {
	state, prio := "BACKUP", 100
	if master {
		state, prio = "MASTER", 200
	}
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id scale-%s\n  vrrp_version %d\n  vrrp_garp_master_delay 0\n  vrrp_garp_master_repeat 1\n", name, c.version)
	if c.rtPriority > 0 {
		// At its default RLIMIT_RTTIME, 10 ms of CPU without blocking, the
		// kernel kills its VRRP process as it starts a thousand instances;
		// at one second, during the first seconds at 10 ms.
		fmt.Fprintf(&b, "  vrrp_rt_priority %d\n  vrrp_rlimit_rttime %d\n", c.rtPriority, keepalivedRTTime)
	}
	b.WriteString("}\n")
	for l := range c.links {
		for v := 1; v <= c.vridsPerLink; v++ {
			fmt.Fprintf(&b, "vrrp_instance %s {\n  state %s\n  interface %s\n  virtual_router_id %d\n  priority %d\n  advert_int %s\n  virtual_ipaddress {\n    %v/32\n  }\n}\n",
				instanceName(l, v), state, ifaceName(l), v, prio, keepalivedSeconds(c.advert), vip(l*c.vridsPerLink+v-1))
		}
	}
	return b.String()
}

// keepalivedArgs is the command line of a keepalived node: the VRRP
// subsystem only, in the foreground (it still forks its VRRP child, which
// does the work), logging to the console only, not respawning a child that
// dies (so that a crash ends the node and the benchmark sees it), with
// every file in dir.
func keepalivedArgs(bin, conf, dir string) []string {
	return []string{bin, "--vrrp", "--dont-fork", "--log-console", "--no-syslog", "--dont-respawn",
		"--use-file", conf, "--pid", dir + "/keepalived.pid", "--vrrp_pid", dir + "/vrrp.pid"}
}

// keepalivedEntering matches keepalived's transition log lines, such as
// "(VI_0_1) Entering MASTER STATE" and "(VI_0_1) Entering BACKUP STATE (init)".
var keepalivedEntering = regexp.MustCompile(`\((VI_[0-9]+_[0-9]+)\) Entering ([A-Z]+) STATE`)

// keepalivedNode follows a keepalived node's instances through its log.
type keepalivedNode struct {
	routers int

	mu    sync.Mutex
	state map[string]string
	tr    nodeState // the transition counters
}

func newKeepalivedNode(routers int) *keepalivedNode {
	return &keepalivedNode{routers: routers, state: map[string]string{}}
}

// onLine takes one line of keepalived's log.
func (k *keepalivedNode) onLine(line string) {
	m := keepalivedEntering.FindStringSubmatch(line)
	if m == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.state[m[1]] = m[2]
	k.tr.Transitions++
	switch m[2] {
	case "MASTER":
		k.tr.ToMaster++
	case "BACKUP":
		k.tr.ToBackup++
	case "FAULT":
		k.tr.ToFault++
	}
}

// snapshot returns the instances' states as the log last told them.
func (k *keepalivedNode) snapshot() nodeState {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.tr
	s.Routers = k.routers
	for _, st := range k.state {
		switch st {
		case "MASTER":
			s.Masters++
		case "BACKUP":
			s.Backups++
		case "FAULT":
			s.Faults++
		}
	}
	s.Others = s.Routers - s.Masters - s.Backups - s.Faults
	return s
}
