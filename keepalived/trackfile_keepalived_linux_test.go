package keepalived_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/keepalived"
	"github.com/vipkit/vipkit/internal/testkit/netlab"
	kconf "github.com/vipkit/vipkit/keepalived"
)

// adverts records the priority of the last advertisement of each VRID
// that a raw socket received, and when.
type adverts struct {
	mu   sync.Mutex
	prio map[byte]byte
	at   map[byte]time.Time
}

func (a *adverts) last(vrid byte) (byte, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.prio[vrid], a.at[vrid]
}

// listenAdverts receives the VRRP messages sent to host at addr until the
// test ends.
func listenAdverts(t *testing.T, host *netlab.Host, addr string) *adverts {
	t.Helper()
	var conn net.PacketConn
	require.NoError(t, host.Do(func() (err error) {
		conn, err = net.ListenPacket("ip4:112", addr)
		return err
	}))
	a := &adverts{prio: map[byte]byte{}, at: map[byte]time.Time{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if n >= 8 {
				a.mu.Lock()
				a.prio[buf[1]], a.at[buf[1]] = buf[2], time.Now()
				a.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return a
}

// TestTrackFileAgainstKeepalived runs keepalived 2.2.7 with instances that
// track files of each weight and direction, writes contents to the files
// and checks that keepalived's effective priority, as it advertises it (or
// its FAULT, as it logs it), is what WatchFiles gives for the same
// keepalived.conf, the same files and the same events.
func TestTrackFileAgainstKeepalived(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs keepalived in network namespaces")
	}
	if _, err := os.Stat("/usr/sbin/keepalived"); err != nil {
		t.Skip("needs /usr/sbin/keepalived (apt-get install keepalived)")
	}
	lab := netlab.New(t)
	ka, obs := lab.Host("ka"), lab.Host("obs")
	ia, ib := lab.Link(ka, obs)
	ia.AddAddr(mustPrefix("192.0.2.1/24"))
	ib.AddAddr(mustPrefix("192.0.2.2/24"))
	seen := listenAdverts(t, obs, "192.0.2.2")

	dir := t.TempDir()
	type tracked struct {
		instance string
		vrid     byte
		weight   string // as written in the track_file block
	}
	files := []tracked{{"VI_1", 1, "1"}, {"VI_2", 2, "10 reverse"}, {"VI_3", 3, "0"}, {"VI_4", 4, "0 reverse"}, {"VI_5", 5, "-2"}}
	path := func(i int) string { return filepath.Join(dir, fmt.Sprintf("f%d", i+1)) }
	var conf strings.Builder
	conf.WriteString("global_defs {\n  router_id tf\n  vrrp_version 3\n}\n")
	for i, f := range files {
		fmt.Fprintf(&conf, "track_file f%d {\n  file %s\n  weight %s\n}\n", i+1, path(i), f.weight)
	}
	fmt.Fprintf(&conf, "track_file f6 {\n  file %s/f6\n  init_file 4 overwrite\n}\n", dir)
	for i, f := range files {
		fmt.Fprintf(&conf, "vrrp_instance %s {\n  interface %s\n  virtual_router_id %d\n  priority 100\n  advert_int 0.1\n"+
			"  unicast_src_ip 192.0.2.1\n  unicast_peer {\n    192.0.2.2\n  }\n  virtual_ipaddress {\n    198.51.100.%d/32\n  }\n"+
			"  track_file {\n    f%d\n  }\n}\n", f.instance, ia.Name(), f.vrid, f.vrid, i+1)
	}
	// f6 is tracked by no instance: keepalived writes its init_file all
	// the same, vipkit does not (a Note says so).
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f6"), []byte("9\n"), 0o644))

	// Before keepalived starts: the value read at start.
	for i := range files {
		require.NoError(t, os.WriteFile(path(i), []byte("3\n"), 0o644))
	}
	confPath := filepath.Join(dir, "keepalived.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(conf.String()), 0o644))
	cfg, err := kconf.Load(confPath)
	require.NoError(t, err)
	var noted bool
	for _, n := range cfg.Notes {
		noted = noted || n.Keyword == "init_file"
	}
	assert.True(t, noted, "a note says vipkit does not write f6's init_file")

	k := keepalived.Start(t, ka, conf.String())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ours := make([]*fakeTracker, len(files))
	for i := range files {
		ours[i] = newFakeTracker()
		require.NoError(t, cfg.WatchFiles(ctx, cfg.Instances[i], ours[i], nil))
	}
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "f6"))
		return err == nil && string(b) == "4\n"
	}, 10*time.Second, 10*time.Millisecond, "keepalived's init_file overwrites f6 at start:\n%s", k.Output())
	st, err := os.Stat(filepath.Join(dir, "f6"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "keepalived writes init_file with mode 0600")

	// theirs returns keepalived's priority for instance i, 0 for FAULT,
	// -1 if unknown: not MASTER or no advertisement since since.
	theirs := func(i int, since time.Time) int {
		switch stateOf(k.Output(), files[i].instance) {
		case "FAULT":
			return 0
		case "MASTER":
			if prio, at := seen.last(files[i].vrid); at.After(since) {
				return int(prio)
			}
		}
		return -1
	}
	// agree waits until keepalived and WatchFiles agree on every instance
	// and returns keepalived's priorities.
	agree := func(step string, since time.Time) []int {
		t.Helper()
		var got, want []int
		ok := assert.Eventually(t, func() bool {
			got, want = got[:0], want[:0]
			for i := range files {
				got, want = append(got, theirs(i, since)), append(want, ours[i].priority(100))
			}
			return fmt.Sprint(got) == fmt.Sprint(want)
		}, 15*time.Second, 10*time.Millisecond)
		if !ok {
			t.Fatalf("%s: keepalived's priorities %v (0 FAULT, -1 not master), WatchFiles' %v; keepalived said:\n%s", step, got, want, k.Output())
		}
		return got
	}
	// At start: 3 times 1, 10 reverse, 0, 0 reverse, -2.
	assert.Equal(t, []int{103, 70, 0, 100, 94}, agree("start", time.Now()))

	write := func(content string, how string) {
		for i := range files {
			p := path(i)
			switch {
			case how == "delete":
				require.NoError(t, os.Remove(p))
			case how == "rename away":
				require.NoError(t, os.Rename(p, p+".away"))
			case how == "rename over":
				writeAtomic(t, p, content)
			default:
				require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
			}
		}
	}
	const baseline = "1\n"
	cases := []struct {
		content, how string
		ignored      bool // keepalived logs an invalid number and keeps the value
	}{
		{content: "5\n"},
		{content: "5\n", how: "rename over"},
		{content: ""},
		{how: "delete"},
		{how: "rename away"},
		{content: "abc"},
		{content: "  -7xyz"},
		{content: "+3", how: "rename over"},
		{content: "0x10"},
		{content: "010"},
		{content: "08"},
		{content: "300"},
		{content: "-253"},
		{content: "-254"},
		{content: "26"},
		{content: "-30"},
		{content: "127", how: "rename over"},
		{content: "-127"},
		{content: strings.Repeat(" ", 126) + "34"},
		{content: "\x00 5"},
		{content: "4294967296", ignored: true},
		{content: "-2147483649", ignored: true},
		{content: "99999999999999999999999", ignored: true},
	}
	for _, c := range cases {
		write(baseline, "")
		agree("baseline", time.Now())
		step := fmt.Sprintf("%q %s", c.content, c.how)
		invalid := strings.Count(k.Output(), "Invalid number")
		write(c.content, c.how)
		since := time.Now()
		if c.ignored {
			require.Eventually(t, func() bool { return strings.Count(k.Output(), "Invalid number") == invalid+len(files) }, 10*time.Second, 10*time.Millisecond,
				"%s: keepalived logs an invalid number for each file:\n%s", step, k.Output())
			since = time.Now()
		}
		got := agree(step, since)
		t.Logf("%s: %v", step, got)
		for i := range files {
			os.Remove(path(i) + ".away")
		}
	}

	// The known difference: keepalived 2.2.7 computes a file's previous
	// contribution in 32 bits. 2147483648 times weight 1 adds 253 to VI_1,
	// in both; leaving it, keepalived takes the previous contribution for
	// a FAULT (2147483648 is -2147483648 in 32 bits) and adds the new
	// value without taking the 253 away: its priority stays 254.
	write(baseline, "")
	agree("baseline", time.Now())
	write("2147483648", "")
	agree("2147483648", time.Now())
	leaving := "(VI_1): tracked file f1 leaving FAULT state" // what keepalived logs on taking that path, with --log-detail
	before := strings.Count(k.Output(), leaving)
	write(baseline, "")
	require.Eventually(t, func() bool { return strings.Count(k.Output(), leaving) > before && ours[0].priority(100) == 101 }, 10*time.Second, 10*time.Millisecond,
		"keepalived:\n%s", k.Output())
	since := time.Now()
	require.Eventually(t, func() bool { return theirs(0, since) != -1 }, 10*time.Second, 10*time.Millisecond)
	t.Logf("after 2147483648 then 1: keepalived %d, WatchFiles %d", theirs(0, since), ours[0].priority(100))
	assert.Equal(t, 254, theirs(0, since), "keepalived 2.2.7's 32-bit previous contribution")
	assert.Equal(t, 101, ours[0].priority(100))

}

// entering is keepalived's log line of a transition: "(VI_1) Entering
// MASTER STATE", and at start "(VI_1) entering FAULT state".
var entering = regexp.MustCompile(`\((\w+)\) [Ee]ntering (\w+) (?:STATE|state)`)

// stateOf returns the state keepalived last said the instance entered.
func stateOf(output, instance string) string {
	state := ""
	for _, m := range entering.FindAllStringSubmatch(output, -1) {
		if m[1] == instance {
			state = m[2]
		}
	}
	return state
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
