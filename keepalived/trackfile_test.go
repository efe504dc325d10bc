package keepalived_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/keepalived"
	"github.com/vipkit/vipkit/vrrp"
)

// fakeTracker records what a track_file tells a router.
type fakeTracker struct {
	mu       sync.Mutex
	adjusted map[string]int
	faults   map[string]string
	calls    []string
}

func newFakeTracker() *fakeTracker {
	return &fakeTracker{adjusted: map[string]int{}, faults: map[string]string{}}
}

func (f *fakeTracker) Adjust(name string, delta int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if delta < -253 || delta > 253 {
		return fmt.Errorf("Adjust %q: %d outside -253..253", name, delta)
	}
	f.calls = append(f.calls, fmt.Sprintf("Adjust %s %d", name, delta))
	if delta == 0 {
		delete(f.adjusted, name)
	} else {
		f.adjusted[name] = delta
	}
	return nil
}

func (f *fakeTracker) Report(name string, weight int, err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if weight != 0 {
		return fmt.Errorf("Report %q: weight %d", name, weight)
	}
	if err == nil {
		f.calls = append(f.calls, "Report "+name+" ok")
		delete(f.faults, name)
	} else {
		f.calls = append(f.calls, "Report "+name+" FAULT")
		f.faults[name] = err.Error()
	}
	return nil
}

// state returns "FAULT" or the sum of the adjustments, as "+N".
func (f *fakeTracker) state() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.faults) > 0 {
		return "FAULT"
	}
	sum := 0
	for _, d := range f.adjusted {
		sum += d
	}
	return fmt.Sprintf("%+d", sum)
}

// priority returns the priority base has with the adjustments, in
// 1..254 as a router keeps it, or 0 for FAULT.
func (f *fakeTracker) priority(base int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.faults) > 0 {
		return 0
	}
	for _, name := range slices.Sorted(maps.Keys(f.adjusted)) {
		base += f.adjusted[name]
	}
	return min(max(base, 1), 254)
}

func (f *fakeTracker) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// oneFile returns a Config with one track_file, "tf", of path, and an
// instance tracking it.
func oneFile(path string, weight int, reverse bool) (*keepalived.Config, *keepalived.Instance) {
	cfg := &keepalived.Config{TrackFiles: []*keepalived.TrackFile{{Name: "tf", File: path, Weight: weight, Reverse: reverse}}}
	in := &keepalived.Instance{Name: "VI_1", TrackFiles: []keepalived.TrackedFile{{Name: "tf"}}}
	cfg.Instances = []*keepalived.Instance{in}
	return cfg, in
}

// watch runs WatchFiles until the test ends.
func watch(t *testing.T, cfg *keepalived.Config, in *keepalived.Instance) *fakeTracker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ft := newFakeTracker()
	log, _ := newLog(t)
	require.NoError(t, cfg.WatchFiles(ctx, in, ft, log))
	return ft
}

func TestTrackFileParse(t *testing.T) {
	conf := `track_file a {
  file /run/a
}
vrrp_track_file b {
  file "/run/b b"
  weight -254 reverse
  init_file 7 overwrite
}
track_file c {
  file /run/c
  weight 1
  weight 9
  init_file
}
track_file a {
  file /run/other
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  virtual_ipaddress {
    192.0.2.100
  }
  track_file {
    a
    b weight 3
    c weight -2 reverse
  }
}
track_file b2 {
  file /run/b2
  weight 4 reverse
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 52
  priority 255
  virtual_ipaddress {
    192.0.2.101
  }
  track_file {
    a weight 0
    b2 weight 0 noreverse
  }
}
track_file d {
  file /run/d
  init_file
}
`
	cfg, lines, err := load(t, map[string]string{"keepalived.conf": conf})
	require.NoError(t, err, "%v", lines)
	require.Len(t, cfg.TrackFiles, 6)
	pos := func(tf *keepalived.TrackFile) keepalived.TrackFile { v := *tf; v.Pos = keepalived.Pos{}; return v }
	assert.Equal(t, keepalived.TrackFile{Name: "a", File: "/run/a", Weight: 1}, pos(cfg.TrackFiles[0]))
	assert.Equal(t, keepalived.TrackFile{Name: "b", File: "/run/b b", Weight: -254, Reverse: true, InitFile: true, InitValue: 7, Overwrite: true}, pos(cfg.TrackFiles[1]))
	// keepalived takes a second weight while the first is 1.
	assert.Equal(t, keepalived.TrackFile{Name: "c", File: "/run/c", Weight: 9, InitFile: true}, pos(cfg.TrackFiles[2]))
	assert.Equal(t, 4, cfg.TrackFiles[1].Pos.Line)

	in := cfg.Instances[0]
	for i := range in.TrackFiles {
		in.TrackFiles[i].Pos = keepalived.Pos{}
	}
	assert.Equal(t, []keepalived.TrackedFile{
		{Name: "a", Weight: 1},
		{Name: "b", Weight: 3, WeightSet: true, Reverse: true},
		{Name: "c", Weight: -2, WeightSet: true, Reverse: true, ReverseSet: true},
	}, in.TrackFiles)
	assert.Equal(t, []keepalived.TrackedFile{
		{Name: "a", WeightSet: true},
		{Name: "b2", WeightSet: true, ReverseSet: true},
	}, func() []keepalived.TrackedFile {
		tfs := cfg.Instances[1].TrackFiles
		for i := range tfs {
			tfs[i].Pos = keepalived.Pos{}
		}
		return tfs
	}())
	var notes []string
	for _, n := range cfg.Notes {
		notes = append(notes, fmt.Sprintf("%d %s", n.Pos.Line, n.Keyword))
	}
	assert.Contains(t, notes, "4 vrrp_track_file")
	assert.Contains(t, notes, "15 track_file") // a second "a"
	d := strings.Count(conf[:strings.Index(conf, "track_file d")], "\n") + 1
	assert.Contains(t, notes, fmt.Sprintf("%d init_file", d)) // tracked by none, keepalived writes it anyway
	assert.NotContains(t, notes, "9 init_file")
}

func TestTrackFileRefused(t *testing.T) {
	block := "track_file tf {\n  file /run/tf\n}\n" // lines 1-3
	instance := func(lines ...string) string {
		return "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    192.0.2.100\n  }\n" +
			strings.Join(lines, "\n") + "\n}\n"
	}
	tracks := func(entries ...string) string { // entries from line 11
		return block + instance(append(append([]string{"  track_file {"}, entries...), "  }")...)
	}
	cases := []struct {
		name, conf, want string
	}{
		{"no name", "track_file {\n  file /run/x\n}\n", "keepalived.conf:1: track_file: no name"},
		{"no block", "track_file x\n", "keepalived.conf:1: track_file: wants a block"},
		{"no file", "track_file x {\n  weight 2\n}\n", "keepalived.conf:1: track_file: x has no file"},
		{"file twice", "track_file x {\n  file /a\n  file /b\n}\n", "keepalived.conf:3: file: x has its file already"},
		{"file without name", "track_file x {\n  file\n}\n", "keepalived.conf:2: file: no file name"},
		{"weight 255", "track_file x {\n  file /a\n  weight 255\n}\n", "keepalived.conf:3: weight: \"255\": need -254..254"},
		{"weight -255", "track_file x {\n  file /a\n  weight -255\n}\n", "keepalived.conf:3: weight: \"-255\": need -254..254"},
		{"weight not a number", "track_file x {\n  file /a\n  weight two\n}\n", "keepalived.conf:3: weight: \"two\": need -254..254"},
		{"no weight", "track_file x {\n  file /a\n  weight\n}\n", "keepalived.conf:3: weight: no weight"},
		{"weight option", "track_file x {\n  file /a\n  weight 2 sideways\n}\n", "keepalived.conf:3: weight: \"sideways\": only reverse"},
		{"weight twice", "track_file x {\n  file /a\n  weight 2\n  weight 3\n}\n", "keepalived.conf:4: weight: x has its weight already"},
		{"init value 255", "track_file x {\n  file /a\n  init_file 255\n}\n", "keepalived.conf:3: init_file: \"255\": need a value -254..254"},
		{"init value not a number", "track_file x {\n  file /a\n  init_file 12x\n}\n", "keepalived.conf:3: init_file: \"12x\": need a value"},
		{"init option", "track_file x {\n  file /a\n  init_file keep\n}\n", "keepalived.conf:3: init_file: \"keep\": neither a value nor overwrite"},
		{"init +5", "track_file x {\n  file /a\n  init_file +5\n}\n", "keepalived.conf:3: init_file: \"+5\": neither"},
		{"unknown keyword", "track_file x {\n  file /a\n  interval 2\n}\n", "keepalived.conf:3: interval: unknown keyword of a track_file"},
		{"unknown name", tracks("    nosuch"), "keepalived.conf:11: track_file: no track_file nosuch"},
		{"defined after", instance("  track_file {", "    tf", "  }") + block,
			"keepalived.conf:8: track_file: tf is defined at keepalived.conf:11, after vrrp_instance VI_1"},
		{"a block without its file", "track_file tf {\n}\n" + instance("  track_file {", "    tf", "  }"), "keepalived.conf:1: track_file: tf has no file"},
		{"tracked twice", tracks("    tf", "    tf weight 2"), "keepalived.conf:12: tf: tracked twice"},
		{"unknown option", tracks("    tf wait 3"), "keepalived.conf:11: tf: \"wait\": only weight may follow the name"},
		{"weight without value", tracks("    tf weight"), "keepalived.conf:11: tf: weight without a value"},
		{"weight 255 in the instance", tracks("    tf weight 255"), "keepalived.conf:11: tf: weight \"255\": need -254..254"},
		{"weight direction", tracks("    tf weight 2 sideways"), "keepalived.conf:11: tf: \"sideways\": reverse or noreverse"},
		{"no block in the instance", block + instance("  track_file tf"), "keepalived.conf:10: track_file: wants a block"},
		{"owner, default weight", block + instance("  priority 255", "  track_file {", "    tf", "  }"),
			"keepalived.conf:12: track_file: tf has weight 1 (the default) in the address owner (priority 255)"},
		{"owner, weight 3", block + instance("  priority 255", "  track_file {", "    tf weight 3", "  }"),
			"keepalived.conf:12: track_file: tf has weight 3 in the address owner (priority 255), which keepalived stops tracking"},
		{"sync group member", tracks("    tf weight -3") + "vrrp_sync_group G {\n  group {\n    VI_1\n  }\n}\n",
			"keepalived.conf:11: track_file: tf has weight -3 in a member of vrrp_sync_group G without sync_group_tracking_weight"},
		{"a sync group's track_file of no block", "vrrp_sync_group G {\n  track_file {\n    tf\n  }\n}\n", "keepalived.conf:3: track_file: no track_file tf: keepalived ignores it with an error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, lines, err := load(t, map[string]string{"keepalived.conf": c.conf})
			require.Error(t, err)
			require.NotEmpty(t, lines)
			assert.True(t, slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, c.want) }), "got %q, want %q", lines, c.want)
			var e *keepalived.Error
			assert.True(t, errors.As(err, &e), "not a *keepalived.Error: %v", err)
		})
	}
}

// TestTrackFileAccepted: what keepalived takes without an error.
func TestTrackFileAccepted(t *testing.T) {
	instance := func(name string, vrid int, lines ...string) string {
		return fmt.Sprintf("vrrp_instance %s {\n  interface eth0\n  virtual_router_id %d\n  virtual_ipaddress {\n    192.0.2.%d\n  }\n", name, vrid, vrid) +
			strings.Join(lines, "\n") + "\n}\n"
	}
	conf := "track_file tf {\n  file /run/tf extra\n  weight 2 reverse extra\n}\n" +
		instance("VI_1", 51, "  priority 255", "  track_file {", "    tf weight 0 reverse extra", "  }") +
		instance("VI_2", 52, "  track_file {", "    tf", "  }") +
		instance("VI_3", 53, "  track_file {", "    tf weight 0", "  }") +
		"vrrp_sync_group G {\n  group {\n    VI_2\n  }\n  sync_group_tracking_weight\n}\n" +
		"vrrp_sync_group H {\n  group {\n    VI_3\n  }\n}\n"
	cfg, lines, err := load(t, map[string]string{"keepalived.conf": conf})
	require.NoError(t, err, "%v", lines)
	assert.Equal(t, 2, cfg.Instances[1].TrackFiles[0].Weight)
	assert.True(t, cfg.Instances[1].TrackFiles[0].Reverse)
	assert.True(t, cfg.Instances[0].TrackFiles[0].Reverse)
	var notes []string
	for _, n := range cfg.Notes {
		notes = append(notes, fmt.Sprintf("%d %s", n.Pos.Line, n.Keyword))
	}
	assert.Contains(t, notes, "2 file")
	assert.Contains(t, notes, "3 weight")
	assert.Contains(t, notes, "13 tf")
}

// TestTrackFileValues: what a file's content does at start, for each
// weight and direction, as keepalived 2.2.7 reads it.
func TestTrackFileValues(t *testing.T) {
	missing := "\x00missing"
	cases := []struct {
		content string
		weight  int
		reverse bool
		want    string // "FAULT" or the delta
	}{
		{"5\n", 1, false, "+5"},
		{missing, 1, false, "+0"},
		{"", 1, false, "+0"},
		{"  -7xyz", 1, false, "-7"},
		{"\t\n+3", 1, false, "+3"},
		{"abc", 1, false, "+0"},
		{"- 5", 1, false, "+0"},
		{"0x10", 1, false, "+16"},
		{"0X1f", 1, false, "+31"},
		{"0xg", 1, false, "+0"},
		{"010", 1, false, "+8"},
		{"08", 1, false, "+0"},
		{"-0x10", 1, false, "-16"},
		{"300", 1, false, "+253"},
		{"253", 1, false, "+253"},
		{"-253", 1, false, "-253"},
		{"-254", 1, false, "FAULT"},
		{"2147483648", 1, false, "+253"},
		{"-2147483648", 1, false, "FAULT"},
		{"2147483649", 1, false, "+0"}, // ignored: the value before, 0, stays
		{"-2147483649", 1, false, "+0"},
		{"99999999999999999999999999", 1, false, "+0"},
		{strings.Repeat(" ", 126) + "12", 1, false, "+1"}, // keepalived reads 127 bytes
		{"\x00 5", 1, false, "+0"},
		{"\xff\xfe\x00garbage", 1, false, "+0"},
		{"3", 10, false, "+30"},
		{"3", 10, true, "-30"},
		{"-30", 10, true, "+253"},
		{"26", 10, true, "FAULT"},
		{"-25", 10, false, "-250"},
		{"1", -254, false, "FAULT"},
		{"-1", -254, false, "+253"},
		{"1", 254, true, "FAULT"},
		{"0", 0, false, "+0"},
		{"1", 0, false, "FAULT"},
		{"-1", 0, false, "FAULT"},
		{"abc", 0, false, "+0"},
		{missing, 0, false, "+0"},
		{"0", 0, true, "FAULT"},
		{"7", 0, true, "+0"},
		{missing, 0, true, "FAULT"},
		{"2147483649", 0, false, "+0"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%q weight %d reverse %v", c.content, c.weight, c.reverse), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "value")
			if c.content != missing {
				require.NoError(t, os.WriteFile(path, []byte(c.content), 0o644))
			}
			cfg, in := oneFile(path, c.weight, c.reverse)
			ft := watch(t, cfg, in)
			assert.Equal(t, c.want, ft.state())
		})
	}
	t.Run("a directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "value")
		require.NoError(t, os.Mkdir(path, 0o755))
		cfg, in := oneFile(path, 1, false)
		ft := watch(t, cfg, in)
		assert.Equal(t, "+0", ft.state())
	})
	t.Run("a symbolic link", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "target"), []byte("9\n"), 0o644))
		require.NoError(t, os.Symlink("target", filepath.Join(dir, "link")))
		cfg, in := oneFile(filepath.Join(dir, "link"), 1, false)
		ft := watch(t, cfg, in)
		assert.Equal(t, "+9", ft.state())
		// keepalived watches what the link resolved to at start.
		writeAtomic(t, filepath.Join(dir, "target"), "4\n")
		require.Eventually(t, func() bool { return ft.state() == "+4" }, 10*time.Second, 5*time.Millisecond, ft.state())
	})
}

// writeAtomic writes text to a new file renamed over path.
func writeAtomic(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(text), 0o644))
	require.NoError(t, os.Rename(tmp, path))
}

// TestTrackFileChanges: a change applies as soon as the file is closed,
// renamed over, deleted or created again.
func TestTrackFileChanges(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(other, "c")
	sentinel := filepath.Join(other, "sentinel")
	require.NoError(t, os.WriteFile(a, []byte("1\n"), 0o644))
	cfg := &keepalived.Config{TrackFiles: []*keepalived.TrackFile{
		{Name: "a", File: a, Weight: 1},
		{Name: "b", File: b, Weight: 0}, // missing: 0, not FAULT
		{Name: "c", File: c, Weight: 2, Reverse: true},
		{Name: "sentinel", File: sentinel, Weight: 1},
	}}
	in := &keepalived.Instance{Name: "VI_1", TrackFiles: []keepalived.TrackedFile{{Name: "a"}, {Name: "b"}, {Name: "c", Weight: 3, WeightSet: true}, {Name: "sentinel"}}}
	ft := watch(t, cfg, in)
	require.Equal(t, 101, ft.priority(100))

	steps := []struct {
		name string
		do   func()
		want int // priority from 100, 0 for FAULT
	}{
		{"write", func() { require.NoError(t, os.WriteFile(a, []byte("20\n"), 0o644)) }, 120},
		{"rename over", func() { writeAtomic(t, a, "-30\n") }, 70},
		{"an invalid number keeps the value", func() { writeAtomic(t, a, "4294967296\n") }, 70},
		{"write after it", func() { writeAtomic(t, a, "-31\n") }, 69},
		{"delete", func() { require.NoError(t, os.Remove(a)) }, 100},
		{"create again", func() { require.NoError(t, os.WriteFile(a, []byte("7"), 0o644)) }, 107},
		{"rename away", func() { require.NoError(t, os.Rename(a, a+".old")) }, 100},
		{"rename back", func() { require.NoError(t, os.Rename(a+".old", a)) }, 107},
		{"weight 0 and a number", func() { require.NoError(t, os.WriteFile(b, []byte("1"), 0o644)) }, 0},
		{"weight 0 and 0", func() { writeAtomic(t, b, "0") }, 107},
		{"a file in another directory, weight 3 reverse", func() { require.NoError(t, os.WriteFile(c, []byte("5"), 0o644)) }, 92},
		{"below -253: FAULT", func() { require.NoError(t, os.WriteFile(c, []byte("85"), 0o644)) }, 0},
		{"out of FAULT", func() { require.NoError(t, os.WriteFile(c, []byte("-1"), 0o644)) }, 110},
		{"the sum stays in 1..254", func() { require.NoError(t, os.WriteFile(a, []byte("200"), 0o644)) }, 254},
		{"a file beside it is not tracked", func() { require.NoError(t, os.WriteFile(filepath.Join(dir, "d"), []byte("9"), 0o644)) }, 254},
		{"nor a directory of that name", func() {
			require.NoError(t, os.Remove(b))
			require.NoError(t, os.Mkdir(b, 0o755))
			require.NoError(t, os.Remove(b))
		}, 254},
	}
	for _, s := range steps {
		before := ft.callCount()
		s.do()
		require.Eventually(t, func() bool { return ft.priority(100) == s.want }, 10*time.Second, 2*time.Millisecond,
			"%s: priority %d, want %d", s.name, ft.priority(100), s.want)
		if s.name == "an invalid number keeps the value" || strings.HasPrefix(s.name, "a file beside") || strings.HasPrefix(s.name, "nor a") {
			// A change of the sentinel after it, once applied, says the
			// step's events were handled: one call, the sentinel's.
			require.NoError(t, os.WriteFile(sentinel, []byte("1"), 0o644))
			want := min(s.want+1, 254)
			require.Eventually(t, func() bool { return ft.callCount() > before }, 10*time.Second, 2*time.Millisecond, "%s: the sentinel", s.name)
			assert.Equal(t, before+1, ft.callCount(), "%s: the tracker was called for more than the sentinel", s.name)
			assert.Equal(t, want, ft.priority(100), s.name)
			require.NoError(t, os.Remove(sentinel))
			require.Eventually(t, func() bool { return ft.callCount() == before+2 }, 10*time.Second, 2*time.Millisecond, "%s: the sentinel removed", s.name)
		}
	}
}

// inotifyFDs counts this process's inotify descriptors.
func inotifyFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	n := 0
	for _, e := range entries {
		if link, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && link == "anon_inode:inotify" {
			n++
		}
	}
	return n
}

// watchers counts the goroutines that read the inotify descriptor.
func watchers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "keepalived.(*inotifyWatch).read")
}

// TestTrackFileStops: every WatchFiles shares one inotify descriptor and
// goroutine, which end with the last context, and a failed WatchFiles
// leaves neither.
func TestTrackFileStops(t *testing.T) {
	// Those of the tests before end with their Cleanups, soon after.
	require.Eventually(t, func() bool { return watchers() == 0 }, 10*time.Second, 5*time.Millisecond)
	fds, goroutines := inotifyFDs(t), 0
	dir := t.TempDir()
	path := filepath.Join(dir, "v")
	require.NoError(t, os.WriteFile(path, []byte("3"), 0o644))
	cfg, in := oneFile(path, 1, false)
	ctx, cancel := context.WithCancel(context.Background())
	ft := newFakeTracker()
	require.NoError(t, cfg.WatchFiles(ctx, in, ft, nil))
	assert.Equal(t, fds+1, inotifyFDs(t))
	require.Eventually(t, func() bool { return watchers() == goroutines+1 }, time.Second, time.Millisecond, "the reader started")

	// A second instance, its file in the same directory: the same
	// descriptor; it follows its file after the first has stopped.
	other := filepath.Join(dir, "w")
	require.NoError(t, os.WriteFile(other, []byte("5"), 0o644))
	cfg2, in2 := oneFile(other, 1, false)
	ctx2, cancel2 := context.WithCancel(context.Background())
	ft2 := newFakeTracker()
	require.NoError(t, cfg2.WatchFiles(ctx2, in2, ft2, nil))
	assert.Equal(t, fds+1, inotifyFDs(t), "one descriptor for both")
	assert.Equal(t, goroutines+1, watchers())
	cancel()
	require.NoError(t, os.WriteFile(other, []byte("6"), 0o644))
	require.Eventually(t, func() bool { return ft2.priority(100) == 106 }, 10*time.Second, 5*time.Millisecond, "the second stopped following its file")
	assert.Equal(t, fds+1, inotifyFDs(t), "the second still watches")
	cancel2()
	require.Eventually(t, func() bool { return inotifyFDs(t) == fds && watchers() == goroutines }, 10*time.Second, 5*time.Millisecond,
		"inotify descriptors %d, want %d; goroutines %d, want %d", inotifyFDs(t), fds, watchers(), goroutines)
	// Nothing follows the file any more.
	calls := ft.callCount()
	require.NoError(t, os.WriteFile(path, []byte("4"), 0o644))
	assert.Equal(t, calls, ft.callCount())

	bad, bin := oneFile(filepath.Join(dir, "no", "such", "dir", "v"), 1, false)
	bad.TrackFiles = append(bad.TrackFiles, &keepalived.TrackFile{Name: "ok", File: path, Weight: 1})
	bin.TrackFiles = append([]keepalived.TrackedFile{{Name: "ok"}}, bin.TrackFiles...)
	ft = newFakeTracker()
	require.Error(t, bad.WatchFiles(context.Background(), bin, ft, nil))
	assert.Equal(t, fds, inotifyFDs(t))
	assert.Equal(t, goroutines, watchers())
	assert.Zero(t, ft.callCount(), "nothing is applied")
}

// TestTrackFileErrors: a file keepalived cannot watch or initialise is an
// *Error naming its track_file block.
func TestTrackFileErrors(t *testing.T) {
	dir := t.TempDir()
	conf := fmt.Sprintf(`track_file gone {
  file %s/no/such/v
}
track_file notdir {
  file %s/plain/v
}
track_file initdir {
  file %s/adir
  init_file overwrite
}
`, dir, dir, dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "plain"), nil, 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "adir"), 0o755))
	for _, name := range []string{"gone", "notdir", "initdir"} {
		conf += fmt.Sprintf("vrrp_instance VI_%s {\n  interface eth0\n  virtual_router_id %d\n  virtual_ipaddress {\n    192.0.2.%d\n  }\n  track_file {\n    %s\n  }\n}\n",
			name, 50+len(name), 50+len(name), name)
	}
	path := filepath.Join(dir, "keepalived.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o644))
	cfg, err := keepalived.Load(path)
	require.NoError(t, err)
	for i, line := range []int{1, 4, 7} {
		err := cfg.WatchFiles(context.Background(), cfg.Instances[i], newFakeTracker(), nil)
		var e *keepalived.Error
		require.ErrorAs(t, err, &e, "%v", err)
		assert.Equal(t, keepalived.Pos{File: path, Line: line}, e.Pos, "%v", err)
	}
}

// TestTrackFileInit: init_file writes the value if the file is missing,
// or with overwrite once a process, as keepalived at start.
func TestTrackFileInit(t *testing.T) {
	dir := t.TempDir()
	created, kept, over := filepath.Join(dir, "created"), filepath.Join(dir, "kept"), filepath.Join(dir, "over")
	require.NoError(t, os.WriteFile(kept, []byte("5\n"), 0o644))
	require.NoError(t, os.WriteFile(over, []byte("5\n"), 0o644))
	cfg := &keepalived.Config{TrackFiles: []*keepalived.TrackFile{
		{Name: "created", File: created, Weight: 1, InitFile: true, InitValue: -3},
		{Name: "kept", File: kept, Weight: 1, InitFile: true, InitValue: 9},
		{Name: "over", File: over, Weight: 10, InitFile: true, InitValue: 2, Overwrite: true},
	}}
	in := &keepalived.Instance{Name: "VI_1", TrackFiles: []keepalived.TrackedFile{{Name: "created"}, {Name: "kept"}, {Name: "over"}}}
	ft := watch(t, cfg, in)
	assert.Equal(t, 100-3+5+20, ft.priority(100), "the values written are read")
	for path, want := range map[string]string{created: "-3\n", kept: "5\n", over: "2\n"} {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, want, string(b), path)
	}
	st, err := os.Stat(created)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 3, "no temporary file stays")

	// Loaded again in the same process (a reload): overwrite does not
	// overwrite again, but a missing file is created again.
	require.NoError(t, os.WriteFile(over, []byte("7\n"), 0o644))
	require.NoError(t, os.Remove(created))
	ft = watch(t, cfg, in)
	b, err := os.ReadFile(over)
	require.NoError(t, err)
	assert.Equal(t, "7\n", string(b))
	b, err = os.ReadFile(created)
	require.NoError(t, err)
	assert.Equal(t, "-3\n", string(b))
	assert.Equal(t, 100-3+5+70, ft.priority(100))
}

// ExampleConfig_WatchFiles follows the track_files of each instance of
// a keepalived.conf: a *vrrp.Router is the Tracker.
func ExampleConfig_WatchFiles() {
	cfg, err := keepalived.Load("/etc/keepalived/keepalived.conf")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	for _, in := range cfg.Instances {
		router, err := vrrp.NewRouter(in.Router)
		if err != nil {
			fmt.Println(err)
			return
		}
		if err := cfg.WatchFiles(ctx, in, router, nil); err != nil {
			fmt.Println(err)
			return
		}
		go router.Run(ctx)
	}
}
