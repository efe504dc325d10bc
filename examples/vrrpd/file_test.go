package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/keepalived"
	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// fileConf is the keepalived.conf both nodes of TestKeepalivedConfFile run,
// but for the priority and the unicast source: VRRPv2 with a password, as
// keepalived users run it, unicast, a vrrp_script that checks a file the
// test removes and puts back, and a notify script that appends its
// arguments to a log.
func fileConf(dir string, prio int, self, peer netip.Addr) string {
	return fmt.Sprintf(`! keepalived.conf of the test, node %[3]v
global_defs {
    router_id node-%[3]v
    script_user root
    vrrp_notify_fifo %[1]s/fifo
}

vrrp_script chk_service {
    script "/bin/test -f %[1]s/service-up"
    interval 1
    fall 1
    rise 1
}

vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %[2]d
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    unicast_src_ip %[3]v
    unicast_peer {
        %[4]v
    }
    virtual_ipaddress {
        192.0.2.100/24
    }
    garp_master_delay 1
    track_script {
        chk_service
    }
    notify "%[1]s/notify.sh"
}
`, dir, prio, self, peer)
}

// notifyScript appends its arguments as one line to notify.log beside it.
const notifyScript = `#!/bin/sh
echo "$@" >> "$(dirname "$0")/notify.log"
`

// fileNode is a node of the test with its own directory for the file, the
// check's file and the notify log.
type fileNode struct {
	*node
	dir string
}

func newFileNode(t *testing.T, n *node) *fileNode {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notify.sh"), []byte(notifyScript), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "service-up"), nil, 0o644))
	return &fileNode{node: n, dir: dir}
}

// conf is the node's keepalived.conf at priority prio, with peer its
// unicast peer.
func (f *fileNode) conf(prio int, peer *node) string { return fileConf(f.dir, prio, f.addr, peer.addr) }

// write writes the node's keepalived.conf and returns its path.
func (f *fileNode) write(t *testing.T, prio int, peer *node) string {
	path := filepath.Join(f.dir, "keepalived.conf")
	require.NoError(t, os.WriteFile(path, []byte(f.conf(prio, peer)), 0o644))
	return path
}

// notified returns the lines the notify script logged.
func (f *fileNode) notified() []string {
	b, _ := os.ReadFile(filepath.Join(f.dir, "notify.log"))
	return strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(b)), " ", "_"))
}

// scrape returns the metrics vrrpd serves on 127.0.0.1:9650 in h.
func scrape(t *testing.T, h *netlab.Host) string {
	t.Helper()
	var conn net.Conn
	// Dialled on the host's thread, so in its namespace; http.Get would
	// dial from a goroutine of its own, outside it.
	require.NoError(t, h.Do(func() (err error) {
		conn, err = net.DialTimeout("tcp", "127.0.0.1:9650", 2*time.Second)
		return err
	}))
	defer conn.Close()
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:9650/metrics", nil)
	require.NoError(t, err)
	require.NoError(t, req.Write(conn))
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}

// TestKeepalivedConfFile: one node runs keepalived with a keepalived.conf,
// the other vrrpd -f with the same file (its own priority and unicast
// source): they elect, fail over and hand over both ways; a vrrp_script
// that starts failing moves the address (weight 0: FAULT); the notify
// script gets keepalived's arguments, in order; the metrics, scraped
// during the failovers, show the transitions and the counters.
func TestKeepalivedConfFile(t *testing.T) {
	bin := netlab.Build(t)
	a, b, client := trio(t)
	ka, vk := newFileNode(t, a), newFileNode(t, b)
	vip := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.100"), 8080)
	reaches := func(n *node) {
		t.Helper()
		require.Eventually(t, func() bool {
			name, err := client.host.AskName(vip, 200*time.Millisecond)
			return err == nil && name == n.host.Name()
		}, 10*time.Second, 20*time.Millisecond, "the address does not reach %s", n.host.Name())
	}

	// vrrpd alone becomes master; keepalived, of higher priority,
	// preempts it.
	vk.proc = vk.host.Start(bin, "-f", vk.write(t, 100, a), "-metrics-listen", "127.0.0.1:9650")
	var fifo *os.File
	require.Eventually(t, func() bool {
		var err error
		fifo, err = os.OpenFile(filepath.Join(vk.dir, "fifo"), os.O_RDONLY|syscall.O_NONBLOCK, 0)
		return err == nil
	}, 5*time.Second, 5*time.Millisecond, "vrrpd made no notify FIFO")
	defer fifo.Close()
	vk.waitState(t, "MASTER", 10*time.Second)
	reaches(b)
	k := keepalived.Start(t, ka.host, ka.conf(200, b))
	k.WaitState(t, "MASTER", 10*time.Second)
	vk.waitState(t, "BACKUP", 5*time.Second)
	reaches(a)
	tr := vk.transitions(t)
	assert.Equal(t, "VI_1", tr[len(tr)-1].Instance, "transition lines name the instance")
	m := scrape(t, vk.host)
	assert.Contains(t, m, `keepalived_vrrp_state{iname="VI_1",intf="eth0",ip_address="192.0.2.100",vrid="51"} 1`)
	assert.Contains(t, m, `keepalived_become_master_total{iname="VI_1",intf="eth0",vrid="51"} 1`)
	assert.Regexp(t, `keepalived_advertisements_received_total\{iname="VI_1",intf="eth0",vrid="51"\} [1-9]`, m)

	// keepalived's service fails: it goes to FAULT and vrrpd takes over.
	require.NoError(t, os.Remove(filepath.Join(ka.dir, "service-up")))
	k.WaitState(t, "FAULT", 5*time.Second)
	vk.waitState(t, "MASTER", 5*time.Second)
	reaches(b)
	m = scrape(t, vk.host)
	assert.Contains(t, m, `keepalived_vrrp_state{iname="VI_1",intf="eth0",ip_address="192.0.2.100",vrid="51"} 2`, "the transition, scraped")
	assert.Contains(t, m, `keepalived_become_master_total{iname="VI_1",intf="eth0",vrid="51"} 2`)
	assert.Regexp(t, `keepalived_priority_zero_received_total\{iname="VI_1",intf="eth0",vrid="51"\} [1-9]`, m, "keepalived's FAULT sent priority 0")
	// It comes back and preempts.
	require.NoError(t, os.WriteFile(filepath.Join(ka.dir, "service-up"), nil, 0o644))
	k.WaitState(t, "MASTER", 10*time.Second)
	vk.waitState(t, "BACKUP", 5*time.Second)

	// vrrpd's service fails: FAULT; keepalived stops (priority 0) and, as
	// vrrpd cannot, no one is master until vrrpd's service is back.
	require.NoError(t, os.Remove(filepath.Join(vk.dir, "service-up")))
	vk.waitState(t, "FAULT", 5*time.Second)
	require.NoError(t, k.Signal(syscall.SIGTERM))
	require.NoError(t, k.Wait())
	require.NoError(t, os.WriteFile(filepath.Join(vk.dir, "service-up"), nil, 0o644))
	vk.waitState(t, "MASTER", 10*time.Second)
	reaches(b)

	// keepalived of lower priority comes back as backup; vrrpd hands over
	// to it when it stops.
	k = keepalived.Start(t, ka.host, ka.conf(50, b))
	k.WaitState(t, "BACKUP", 10*time.Second)
	stopped := time.Now()
	require.NoError(t, vk.proc.Signal(syscall.SIGTERM))
	k.WaitState(t, "MASTER", 3*time.Second)
	t.Logf("keepalived took over %v after vrrpd's SIGTERM", time.Since(stopped).Round(time.Millisecond))
	require.NoError(t, vk.proc.Wait())
	reaches(a)

	// keepalived's notify gets: INSTANCE, the name, the state, the
	// priority; vrrpd's the same, in the order of its transitions.
	want := []string{"INSTANCE_VI_1_BACKUP_100", "INSTANCE_VI_1_MASTER_100", "INSTANCE_VI_1_BACKUP_100",
		"INSTANCE_VI_1_MASTER_100", "INSTANCE_VI_1_BACKUP_100", "INSTANCE_VI_1_FAULT_100",
		"INSTANCE_VI_1_BACKUP_100", "INSTANCE_VI_1_MASTER_100", "INSTANCE_VI_1_STOP_100"}
	assert.Eventually(t, func() bool { return len(vk.notified()) >= len(want) }, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, want, vk.notified(), "vrrpd's notify")
	lines, _ := io.ReadAll(fifo) // what it wrote, kept by the pipe after it went
	var fifoWant []string
	for _, w := range want {
		f := strings.Split(w, "_")
		fifoWant = append(fifoWant, fmt.Sprintf(`INSTANCE "VI_1" %s %s`, f[len(f)-2], f[len(f)-1]))
	}
	assert.Equal(t, fifoWant, strings.Split(strings.TrimSpace(string(lines)), "\n"), "vrrpd's notify FIFO")
	kaNotified := ka.notified()
	require.NotEmpty(t, kaNotified)
	for _, line := range kaNotified {
		assert.Regexp(t, `^INSTANCE_VI_1_(BACKUP|MASTER|FAULT|STOP)_(200|50)$`, line, "keepalived's notify, the form vrrpd's follows")
	}
}

// twoInstances is a keepalived.conf of VI_1 (VRID 51, 192.0.2.100) and,
// unless only1, VI_2 (VRID 52, 192.0.2.101), at priorities p1 and p2.
func twoInstances(p1, p2 int, only1 bool) string {
	inst := func(name string, vrid, prio int, vip string) string {
		return fmt.Sprintf(`vrrp_instance %s {
    interface eth0
    virtual_router_id %d
    priority %d
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    virtual_ipaddress {
        %s/24
    }
}
`, name, vrid, prio, vip)
	}
	conf := inst("VI_1", 51, p1, "192.0.2.100")
	if !only1 {
		conf += inst("VI_2", 52, p2, "192.0.2.101")
	}
	return conf
}

// lastOf returns the last transition vrrpd reported for instance, and how
// many it reported.
func (n *node) lastOf(t *testing.T, instance string) (to string, count int) {
	for _, tr := range n.transitions(t) {
		if tr.Instance == instance {
			to, count = tr.To, count+1
		}
	}
	return to, count
}

func (n *node) waitInstance(t *testing.T, instance, state string, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { s, _ := n.lastOf(t, instance); return s == state }, within, 5*time.Millisecond,
		"%s's %s is not %s:\n%s", n.host.Name(), instance, state, n.proc.Output())
}

// TestKeepalivedConfFileReload: SIGHUP reloads the file. With VI_1's
// priority lowered, VI_1 moves to keepalived while VI_2, unchanged, keeps
// running as it was: not one transition. A file that does not check is
// refused and changes nothing. VI_2 removed from the file steps down with
// priority 0, and keepalived takes it over at once.
func TestKeepalivedConfFileReload(t *testing.T) {
	bin := netlab.Build(t)
	a, b, _ := trio(t)
	k := keepalived.Start(t, a.host, "global_defs {\n  vrrp_version 2\n}\n"+twoInstances(100, 100, false))
	path := filepath.Join(t.TempDir(), "keepalived.conf")
	write := func(conf string) { require.NoError(t, os.WriteFile(path, []byte(conf), 0o644)) }
	write(twoInstances(200, 200, false))
	b.proc = b.host.Start(bin, "-f", path)
	b.waitInstance(t, "VI_1", "MASTER", 10*time.Second)
	b.waitInstance(t, "VI_2", "MASTER", 10*time.Second)
	k.WaitStateOf(t, "VI_1", "BACKUP", 10*time.Second)
	k.WaitStateOf(t, "VI_2", "BACKUP", 10*time.Second)
	_, vi2Before := b.lastOf(t, "VI_2")

	write(twoInstances(50, 200, false))
	require.NoError(t, b.proc.Signal(syscall.SIGHUP))
	k.WaitStateOf(t, "VI_1", "MASTER", 5*time.Second)
	b.waitInstance(t, "VI_1", "BACKUP", 10*time.Second)
	require.True(t, b.proc.WaitOutput("reloaded", 5*time.Second), "%s", b.proc.Output())
	assert.Contains(t, b.proc.Output(), "kept=1 started=1")
	state, vi2After := b.lastOf(t, "VI_2")
	assert.Equal(t, "MASTER", state)
	assert.Equal(t, vi2Before, vi2After, "the unchanged VI_2 went through a transition")
	assert.Equal(t, "BACKUP", k.StateOf("VI_2"))

	write(twoInstances(50, 200, false) + "vrrp_instance VI_3 {\n  priorty 7\n}\n")
	require.NoError(t, b.proc.Signal(syscall.SIGHUP))
	require.True(t, b.proc.WaitOutput("reload refused", 5*time.Second), "%s", b.proc.Output())
	assert.Contains(t, b.proc.Output(), "priorty: unknown keyword of a vrrp_instance")
	time.Sleep(1500 * time.Millisecond) // what runs stays: no transition follows
	_, vi1Count := b.lastOf(t, "VI_1")
	_, vi2Count := b.lastOf(t, "VI_2")
	state1, _ := b.lastOf(t, "VI_1")
	assert.Equal(t, "BACKUP", state1)
	assert.Equal(t, vi2Before, vi2Count)

	stopped := time.Now()
	write(twoInstances(50, 200, true))
	require.NoError(t, b.proc.Signal(syscall.SIGHUP))
	k.WaitStateOf(t, "VI_2", "MASTER", 3*time.Second)
	t.Logf("keepalived took VI_2 over %v after the reload that removed it", time.Since(stopped).Round(time.Millisecond))
	b.waitInstance(t, "VI_2", "INIT", time.Second)
	_, vi1After := b.lastOf(t, "VI_1")
	assert.Equal(t, vi1Count, vi1After, "VI_1, unchanged, went through a transition")
}

// syncConf is a keepalived.conf with VI_1 on eth0 (192.0.2.100) and VI_2
// on eth1 (198.51.100.100) in one vrrp_sync_group whose notify script
// logs to dir.
func syncConf(dir string, prio int) string {
	inst := func(name, iface string, vrid int, vip string) string {
		return fmt.Sprintf(`vrrp_instance %s {
    interface %s
    virtual_router_id %d
    priority %d
    advert_int 1
    virtual_ipaddress {
        %s/24
    }
}
`, name, iface, vrid, prio, vip)
	}
	return fmt.Sprintf(`global_defs {
    vrrp_version 3
    script_user root
}
vrrp_sync_group G1 {
    group {
        VI_1
        VI_2
    }
    notify "%s/notify.sh"
}
`, dir) + inst("VI_1", "eth0", 51, "192.0.2.100") + inst("VI_2", "eth1", 52, "198.51.100.100")
}

// TestKeepalivedConfFileSyncGroup: a vrrp_sync_group of two instances on
// two interfaces fails over together. vrrpd is master of both; its eth1
// goes down, VI_2 goes to FAULT and takes VI_1 with it, so keepalived
// becomes master of both; eth1 back, both come back to vrrpd, of higher
// priority. The group's notify script hears the group's changes.
func TestKeepalivedConfFileSyncGroup(t *testing.T) {
	bin := netlab.Build(t)
	hosts, eth1 := syncLab(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notify.sh"), []byte(notifyScript), 0o755))
	kdir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(kdir, "notify.sh"), []byte(notifyScript), 0o755))
	k := keepalived.Start(t, hosts[0], syncConf(kdir, 100))
	k.WaitStateOf(t, "VI_1", "MASTER", 10*time.Second)
	k.WaitStateOf(t, "VI_2", "MASTER", 10*time.Second)
	path := filepath.Join(dir, "keepalived.conf")
	require.NoError(t, os.WriteFile(path, []byte(syncConf(dir, 200)), 0o644))
	vk := &node{host: hosts[1]}
	vk.proc = vk.host.Start(bin, "-f", path)
	vk.waitInstance(t, "VI_1", "MASTER", 10*time.Second)
	vk.waitInstance(t, "VI_2", "MASTER", 10*time.Second)
	k.WaitStateOf(t, "VI_1", "BACKUP", 5*time.Second)
	k.WaitStateOf(t, "VI_2", "BACKUP", 5*time.Second)

	down := time.Now()
	eth1[1].SetUp(false)
	vk.waitInstance(t, "VI_2", "FAULT", 3*time.Second)
	vk.waitInstance(t, "VI_1", "FAULT", 3*time.Second) // with it, though eth0 is up
	// keepalived's VI_1 hears priority 0 at once, but its group holds it
	// until VI_2 has heard nothing for Master_Down_Interval (3.6 s).
	k.WaitStateOf(t, "VI_2", "MASTER", 8*time.Second)
	k.WaitStateOf(t, "VI_1", "MASTER", 3*time.Second)
	t.Logf("keepalived master of both %v after vrrpd's eth1 went down", time.Since(down).Round(time.Millisecond))

	eth1[1].SetUp(true)
	vk.waitInstance(t, "VI_2", "MASTER", 10*time.Second)
	vk.waitInstance(t, "VI_1", "MASTER", 10*time.Second)
	k.WaitStateOf(t, "VI_1", "BACKUP", 5*time.Second)
	k.WaitStateOf(t, "VI_2", "BACKUP", 5*time.Second)

	require.NoError(t, vk.proc.Signal(syscall.SIGTERM))
	require.NoError(t, vk.proc.Wait())
	log, _ := os.ReadFile(filepath.Join(dir, "notify.log"))
	assert.Equal(t, "GROUP G1 BACKUP 0\nGROUP G1 MASTER 0\nGROUP G1 FAULT 0\nGROUP G1 BACKUP 0\nGROUP G1 MASTER 0\nGROUP G1 STOP 0\n",
		string(log), "vrrpd's group notify")
	klog, _ := os.ReadFile(filepath.Join(kdir, "notify.log"))
	require.NotEmpty(t, klog)
	for _, line := range strings.Split(strings.TrimSpace(string(klog)), "\n") {
		assert.Regexp(t, `^GROUP G1 (BACKUP|MASTER|FAULT|STOP) 0$`, line, "keepalived's group notify, the form vrrpd's follows")
	}
}

// syncLab is two hosts on two LANs: eth0 on 192.0.2.0/24 and eth1 on
// 198.51.100.0/24, h1 at .1 and h2 at .2 on each.
func syncLab(t *testing.T) (hosts [2]*netlab.Host, eth1 [2]*netlab.Iface) {
	lab := netlab.New(t)
	sw0, sw1 := lab.Switch("sw0"), lab.Switch("sw1")
	for i := range hosts {
		hosts[i] = lab.Host(fmt.Sprintf("h%d", i+1))
		sw0.Attach(hosts[i]).AddAddr(netip.MustParsePrefix(fmt.Sprintf("192.0.2.%d/24", i+1)))
		eth1[i] = sw1.Attach(hosts[i])
		eth1[i].AddAddr(netip.MustParsePrefix(fmt.Sprintf("198.51.100.%d/24", i+1)))
		require.Equal(t, "eth1", eth1[i].Name())
	}
	return hosts, eth1
}

// TestSyncGroupMovesTogether: the members of a vrrp_sync_group become
// BACKUP and MASTER together, as keepalived's do; the test checks it of
// keepalived too, in its place. The node runs syncConf (VI_1 on eth0, VI_2
// on eth1, priority 100); its peer, keepalived, runs VI_1 alone at 200,
// in no group, and starts later. The peer preempts VI_1, and the node's
// VI_2 leaves MASTER with it, its address removed, though no other router
// runs VRID 52; it stays BACKUP, held by the group, however long it hears
// nothing. The peer stopped, both members are MASTER again.
func TestSyncGroupMovesTogether(t *testing.T) {
	for _, runner := range []string{"vrrpd", "keepalived"} {
		t.Run(runner, func(t *testing.T) {
			hosts, _ := syncLab(t)
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "notify.sh"), []byte(notifyScript), 0o755))
			var state func(instance string) string
			var stop func()
			if runner == "vrrpd" {
				bin := netlab.Build(t)
				path := filepath.Join(dir, "keepalived.conf")
				require.NoError(t, os.WriteFile(path, []byte(syncConf(dir, 100)), 0o644))
				n := &node{host: hosts[1]}
				n.proc = n.host.Start(bin, "-f", path)
				state = func(instance string) string { s, _ := n.lastOf(t, instance); return s }
				stop = func() {
					require.NoError(t, n.proc.Signal(syscall.SIGTERM))
					require.NoError(t, n.proc.Wait())
				}
			} else {
				k := keepalived.Start(t, hosts[1], syncConf(dir, 100))
				state = k.StateOf
				stop = func() {
					require.NoError(t, k.Signal(syscall.SIGTERM))
					require.NoError(t, k.Wait())
				}
			}
			wait := func(instance, want string, within time.Duration) {
				t.Helper()
				require.Eventually(t, func() bool { return state(instance) == want }, within, 5*time.Millisecond,
					"%s's %s is %q, want %q", runner, instance, state(instance), want)
			}
			vip2 := func() bool {
				return strings.Contains(hosts[1].MustRun("ip", "-br", "addr", "show", "dev", "eth1"), "198.51.100.100")
			}

			wait("VI_1", "MASTER", 10*time.Second)
			wait("VI_2", "MASTER", 5*time.Second)
			require.True(t, vip2(), "VI_2's address is not on eth1")

			peer := keepalived.Start(t, hosts[0], "global_defs {\n    vrrp_version 3\n}\n"+`vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 200
    advert_int 1
    virtual_ipaddress {
        192.0.2.100/24
    }
}
`)
			peer.WaitStateOf(t, "VI_1", "MASTER", 10*time.Second)
			wait("VI_1", "BACKUP", 3*time.Second)
			wait("VI_2", "BACKUP", 3*time.Second)
			require.Eventually(t, func() bool { return !vip2() }, 3*time.Second, 10*time.Millisecond, "VI_2's address stayed")
			// Twice VI_2's Master_Down_Interval (3.6 s): held, it stays.
			for end := time.Now().Add(7500 * time.Millisecond); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
				require.Equal(t, "BACKUP", state("VI_2"), "VI_2 left the group's BACKUP")
			}
			require.False(t, vip2(), "VI_2's address came back while BACKUP")

			handover := time.Now()
			require.NoError(t, peer.Signal(syscall.SIGTERM))
			require.NoError(t, peer.Wait())
			wait("VI_1", "MASTER", 3*time.Second)
			wait("VI_2", "MASTER", time.Second)
			t.Logf("%s master of both %v after the peer's SIGTERM (it sends priority 0 as it stops)", runner, time.Since(handover).Round(time.Millisecond))
			require.Eventually(t, vip2, 3*time.Second, 10*time.Millisecond, "VI_2's address is not back")

			stop()
			log, _ := os.ReadFile(filepath.Join(dir, "notify.log"))
			assert.Equal(t, "GROUP G1 BACKUP 0\nGROUP G1 MASTER 0\nGROUP G1 BACKUP 0\nGROUP G1 MASTER 0\nGROUP G1 STOP 0\n",
				string(log), "%s's group notify", runner)
		})
	}
}

// TestKeepalivedConfFileReloadNotify: a reload that changes only the
// notify script and the notify FIFO keeps the instance running, master,
// and what follows goes to the new script and FIFO; the FIFO vrrpd made and
// no longer has is removed.
func TestKeepalivedConfFileReloadNotify(t *testing.T) {
	bin := netlab.Build(t)
	a, _, _ := trio(t)
	dir := t.TempDir()
	for _, name := range []string{"a", "b"} {
		sh := "#!/bin/sh\necho \"" + name + " $@\" >> \"$(dirname \"$0\")/notify.log\"\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".sh"), []byte(sh), 0o755))
	}
	conf := func(script, fifo string, prio int) string {
		return fmt.Sprintf("global_defs {\n    script_user root\n    vrrp_notify_fifo %s/%s\n}\n", dir, fifo) +
			strings.Replace(twoInstances(prio, 0, true), "    advert_int 1\n", fmt.Sprintf("    advert_int 1\n    notify %s/%s\n", dir, script), 1)
	}
	path := filepath.Join(dir, "keepalived.conf")
	write := func(conf string) { require.NoError(t, os.WriteFile(path, []byte(conf), 0o644)) }
	notified := func() string { b, _ := os.ReadFile(filepath.Join(dir, "notify.log")); return string(b) }
	write(conf("a.sh", "f1", 100))
	a.proc = a.host.Start(bin, "-f", path)
	a.waitInstance(t, "VI_1", "MASTER", 10*time.Second)
	require.Eventually(t, func() bool { return strings.Contains(notified(), "a INSTANCE VI_1 MASTER 100") }, 5*time.Second, 10*time.Millisecond)
	_, before := a.lastOf(t, "VI_1")

	write(conf("b.sh", "f2", 100))
	require.NoError(t, a.proc.Signal(syscall.SIGHUP))
	require.True(t, a.proc.WaitOutput("reloaded", 5*time.Second), "%s", a.proc.Output())
	assert.Contains(t, a.proc.Output(), "kept=1 started=0")
	_, err := os.Stat(filepath.Join(dir, "f1"))
	assert.ErrorIs(t, err, os.ErrNotExist, "the FIFO vrrpd made is removed")
	// A raw descriptor, read with read(2): an *os.File would wait in the
	// poller for more.
	fd, err := syscall.Open(filepath.Join(dir, "f2"), syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	require.NoError(t, err, "the new FIFO")
	defer syscall.Close(fd)

	write(conf("b.sh", "f2", 90)) // changed: VI_1 restarts, and tells the new script and FIFO
	require.NoError(t, a.proc.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(notified(), "b INSTANCE VI_1 MASTER 90") }, 10*time.Second, 10*time.Millisecond)
	_, after := a.lastOf(t, "VI_1")
	assert.Equal(t, before+3, after, "STOP, BACKUP, MASTER: the first reload kept VI_1 as it was")
	assert.Equal(t, "a INSTANCE VI_1 BACKUP 100\na INSTANCE VI_1 MASTER 100\nb INSTANCE VI_1 STOP 100\nb INSTANCE VI_1 BACKUP 90\nb INSTANCE VI_1 MASTER 90\n", notified())
	buf := make([]byte, 4096)
	n, err := syscall.Read(fd, buf)
	require.NoError(t, err)
	assert.Equal(t, "INSTANCE \"VI_1\" STOP 100\nINSTANCE \"VI_1\" BACKUP 90\nINSTANCE \"VI_1\" MASTER 90\n", string(buf[:n]))

	// notify_deleted, taken in place; then VI_1 removed: DELETED, not STOP.
	write(strings.Replace(conf("b.sh", "f2", 90), "    advert_int 1\n", "    advert_int 1\n    notify_deleted\n", 1))
	require.NoError(t, a.proc.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Count(a.proc.Output(), "reloaded") == 3 }, 5*time.Second, 10*time.Millisecond)
	assert.Contains(t, a.proc.Output(), "kept=1 started=0")
	write(strings.Replace(conf("b.sh", "f2", 90), "VI_1", "VI_2", 1))
	require.NoError(t, a.proc.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(notified(), "b INSTANCE VI_1 DELETED 90") }, 10*time.Second, 10*time.Millisecond,
		"%s", notified())
	assert.NotContains(t, notified(), "VI_1 STOP 90")
	require.Eventually(t, func() bool {
		n, _ := syscall.Read(fd, buf)
		return n > 0 && strings.Contains(string(buf[:n]), "INSTANCE \"VI_1\" DELETED 90\n")
	}, 5*time.Second, 10*time.Millisecond, "the FIFO's DELETED line")
}

// TestKeepalivedConfFileLowerPriority: vrrpd -f's master hears keepalived
// advertise a lower priority, as in a split brain (keepalived hears
// nothing: nftables drops VRRP on its way in), and runs
// notify_master_rx_lower_pri, alone, and writes the event on its FIFO, as
// keepalived does.
func TestKeepalivedConfFileLowerPriority(t *testing.T) {
	bin := netlab.Build(t)
	a, b, _ := trio(t)
	nft(t, a.host, "table inet deaf {\n\tchain in {\n\t\ttype filter hook input priority 0;\n\t\tip protocol vrrp drop\n\t}\n}\n")
	k := keepalived.Start(t, a.host, "global_defs {\n  vrrp_version 2\n}\n"+twoInstances(50, 0, true))
	k.WaitState(t, "MASTER", 10*time.Second)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notify.sh"), []byte(notifyScript), 0o755))
	path := filepath.Join(dir, "keepalived.conf")
	conf := fmt.Sprintf("global_defs {\n    script_user root\n    vrrp_notify_fifo %s/fifo\n}\n", dir) +
		strings.Replace(twoInstances(90, 0, true), "    advert_int 1\n",
			fmt.Sprintf("    advert_int 1\n    notify_master_rx_lower_pri \"%s/notify.sh lower\"\n    notify %s/notify.sh\n", dir, dir), 1)
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o644))
	b.proc = b.host.Start(bin, "-f", path)
	b.waitInstance(t, "VI_1", "MASTER", 10*time.Second)
	fd, err := syscall.Open(filepath.Join(dir, "fifo"), syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	require.NoError(t, err)
	defer syscall.Close(fd)
	notified := func() string { b, _ := os.ReadFile(filepath.Join(dir, "notify.log")); return string(b) }
	require.Eventually(t, func() bool { return strings.Contains(notified(), "lower\n") }, 5*time.Second, 10*time.Millisecond, "%s", notified())
	assert.Equal(t, "MASTER", k.State(), "keepalived, deaf, stays master")
	assert.NotContains(t, notified(), "MASTER_RX_LOWER_PRI", "notify does not hear the event: its script alone runs")
	assert.Contains(t, notified(), "INSTANCE VI_1 MASTER 90\n")
	buf := make([]byte, 4096)
	require.Eventually(t, func() bool {
		n, _ := syscall.Read(fd, buf)
		return n > 0 && strings.Contains(string(buf[:n]), "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 90\n")
	}, 5*time.Second, 10*time.Millisecond, "the FIFO's event line")
}

// trackFileConf is a keepalived.conf whose VI_1, at priority prio, tracks
// the number in dir/prio with weight 10.
func trackFileConf(dir string, prio int) string {
	return fmt.Sprintf(`track_file prio {
    file %s/prio
    weight 10
    init_file 0
}
`, dir) + strings.Replace(twoInstances(prio, 0, true), "    advert_int 1\n", "    advert_int 1\n    track_file {\n        prio\n    }\n", 1)
}

// TestKeepalivedConfFileTrackFile: keepalived (priority 100) and vrrpd -f
// (95) run the same file, whose VI_1 tracks a track_file with weight 10:
// the number each node's file holds moves its priority up or down, and
// mastership with it; below -253 in all, vrrpd's VI_1 is in FAULT.
func TestKeepalivedConfFileTrackFile(t *testing.T) {
	bin := netlab.Build(t)
	a, b, _ := trio(t)
	kdir, vdir := t.TempDir(), t.TempDir()
	k := keepalived.Start(t, a.host, trackFileConf(kdir, 100))
	k.WaitState(t, "MASTER", 10*time.Second)
	path := filepath.Join(vdir, "keepalived.conf")
	require.NoError(t, os.WriteFile(path, []byte(trackFileConf(vdir, 95)), 0o644))
	b.proc = b.host.Start(bin, "-f", path)
	b.waitInstance(t, "VI_1", "BACKUP", 10*time.Second)
	got, err := os.ReadFile(filepath.Join(vdir, "prio"))
	require.NoError(t, err)
	assert.Equal(t, "0\n", string(got), "init_file")
	set := func(dir, value string) {
		// Written beside and renamed into place, as an operator's script would.
		tmp := filepath.Join(dir, "prio.new")
		require.NoError(t, os.WriteFile(tmp, []byte(value+"\n"), 0o644))
		require.NoError(t, os.Rename(tmp, filepath.Join(dir, "prio")))
	}

	set(vdir, "1") // 95 + 10 = 105 > 100
	b.waitInstance(t, "VI_1", "MASTER", 10*time.Second)
	k.WaitState(t, "BACKUP", 3*time.Second)
	set(kdir, "2") // 100 + 20 = 120 > 105
	k.WaitState(t, "MASTER", 10*time.Second)
	b.waitInstance(t, "VI_1", "BACKUP", 3*time.Second)

	set(vdir, "-26") // -260: FAULT
	b.waitInstance(t, "VI_1", "FAULT", 3*time.Second)
	require.NoError(t, os.Remove(filepath.Join(vdir, "prio"))) // gone: 0
	b.waitInstance(t, "VI_1", "BACKUP", 3*time.Second)
	set(kdir, "-1") // 100 - 10 = 90 < 95
	b.waitInstance(t, "VI_1", "MASTER", 10*time.Second)
	k.WaitState(t, "BACKUP", 3*time.Second)
	assert.Contains(t, b.proc.Output(), "track_file changed")
}

// TestKeepalivedConfFileWeightedInterface: keepalived and vrrpd -f run one
// file whose VI_1 tracks eth1 with weight 30 reverse and eth2 with weight
// -20, each node on uplinks of its own; as the uplinks' far ends go down
// and up, both move their priority alike.
func TestKeepalivedConfFileWeightedInterface(t *testing.T) {
	bin := netlab.Build(t)
	lab := netlab.New(t)
	sw := lab.Switch("sw")
	up := lab.Host("up")
	conf := strings.Replace(twoInstances(100, 0, true), "    advert_int 1\n",
		"    advert_int 1\n    track_interface {\n        eth1 weight 30 reverse\n        eth2 weight -20\n    }\n", 1)
	type node struct {
		uplinks []*netlab.Iface
		prio    func() int
	}
	var nodes []node
	for i, name := range []string{"k", "v"} {
		h := lab.Host(name)
		sw.Attach(h).AddAddr(netip.MustParsePrefix(fmt.Sprintf("192.0.2.%d/24", i+1)))
		eth1, _ := lab.Link(h, up)
		eth2, _ := lab.Link(h, up)
		require.Equal(t, []string{"eth1", "eth2"}, []string{eth1.Name(), eth2.Name()})
		n := node{uplinks: []*netlab.Iface{eth1, eth2}}
		var out func() string
		var line *regexp.Regexp
		if name == "k" {
			k := keepalived.Start(t, h, conf)
			out, line = k.Output, regexp.MustCompile(`Changing effective priority from \d+ to (\d+)`)
		} else {
			path := filepath.Join(t.TempDir(), "keepalived.conf")
			require.NoError(t, os.WriteFile(path, []byte(conf), 0o644))
			p := h.Start(bin, "-f", path)
			out, line = p.Output, regexp.MustCompile(`"priority changed".* priority=(\d+)`)
		}
		n.prio = func() int {
			m := line.FindAllStringSubmatch(out(), -1)
			if len(m) == 0 {
				return 100
			}
			v, _ := strconv.Atoi(m[len(m)-1][1])
			return v
		}
		nodes = append(nodes, n)
	}
	for _, step := range []struct {
		name string
		do   func(n node)
		want int
	}{
		{"both up: eth1's 30 reverse taken", func(node) {}, 70},
		{"eth2 down: its -20", func(n node) { n.uplinks[1].Peer().SetUp(false) }, 50},
		{"eth1 down too: its 30 given back", func(n node) { n.uplinks[0].Peer().SetUp(false) }, 80},
		{"eth2 up again", func(n node) { n.uplinks[1].Peer().SetUp(true) }, 100},
	} {
		for i, n := range nodes {
			step.do(n)
			require.Eventually(t, func() bool { return n.prio() == step.want }, 10*time.Second, 10*time.Millisecond,
				"%s: %s's priority %d, want %d", step.name, []string{"keepalived", "vrrpd"}[i], n.prio(), step.want)
		}
	}
}
