package keepalived_test

import (
	"errors"
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

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/keepalived"
	"github.com/vipkit/vipkit/vrrp"
)

// load writes files (name → text) in a directory of the test's and loads
// the first, "keepalived.conf". Its errors are lines without the
// directory.
func load(t *testing.T, files map[string]string) (*keepalived.Config, []string, error) {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		path := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	}
	cfg, err := keepalived.Load(filepath.Join(dir, "keepalived.conf"))
	var lines []string
	if err != nil {
		lines = strings.Split(strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""), "\n")
	}
	return cfg, lines, err
}

// refusedLines returns the line of each *keepalived.Error in err.
func refusedLines(t *testing.T, err error) []int {
	t.Helper()
	joined, ok := err.(interface{ Unwrap() []error })
	require.True(t, ok, "not a list of errors: %v", err)
	var lines []int
	for _, e := range joined.Unwrap() {
		var ke *keepalived.Error
		require.ErrorAs(t, e, &ke)
		lines = append(lines, ke.Pos.Line)
	}
	return lines
}

// TestSamples reads keepalived 2.2.7's own sample configurations and the
// vrrp_instance of Tencent Cloud's HAVIP guide: those of VRRP alone check,
// each keyword vipkit does not honour a note with its line; those with LVS,
// routes or weighted interfaces are refused at those lines.
func TestSamples(t *testing.T) {
	cases := []struct {
		file      string
		instances int
		notes     []string // "line keyword", in order
		refused   []int    // the lines of the errors, in order
	}{
		{file: "samples/keepalived.conf.vrrp", instances: 4, notes: []string{
			"4 notification_email", "7 notification_email_from", "8 smtp_server", "9 smtp_connect_timeout",
			"14 state", "17 smtp_alert", "25 virtual_ipaddress", "38 smtp_alert", "50 state", "52 smtp_alert", "69 smtp_alert"}},
		{file: "samples/keepalived.conf.vrrp.scripts", instances: 3, notes: []string{"17 state", "19 smtp_alert", "40 state", "50 state"}},
		{file: "samples/keepalived.conf.vrrp.sync", instances: 9, notes: []string{
			"27 state", "37 state", "64 state", "74 state", "84 state", "94 state", "104 state"}},
		{file: "samples/keepalived.conf.vrrp.localcheck", instances: 9, notes: []string{"44 state", "66 state", "104 state", "115 state", "125 state", "135 state", "145 state"}},
		{file: "samples/keepalived.conf.track_interface", refused: []int{7, 25, 26, 28}}, // its weighted interfaces are taken
		{file: "samples/keepalived.conf.IPv6", refused: []int{7, 13}},
		{file: "samples/keepalived.conf.sample", refused: []int{26}},
		{file: "tencent-havip.conf", instances: 1, notes: []string{"34 track_script"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			cfg, err := keepalived.Load(filepath.Join("testdata", c.file))
			if c.refused != nil {
				require.Error(t, err)
				assert.Equal(t, c.refused, refusedLines(t, err), "%v", err)
				var e *keepalived.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, filepath.Join("testdata", c.file), e.Pos.File)
				return
			}
			require.NoError(t, err)
			assert.Len(t, cfg.Instances, c.instances)
			var notes []string
			for _, n := range cfg.Notes {
				notes = append(notes, strings.TrimPrefix(n.Pos.String(), filepath.Join("testdata", c.file)+":")+" "+n.Keyword)
			}
			assert.Equal(t, c.notes, notes)
			for _, in := range cfg.Instances {
				assert.NoError(t, in.Router.Validate(), in.Name)
				assert.NoError(t, in.HAVIP().Validate(), in.Name)
			}
		})
	}
}

// TestTencentInstance: the HAVIP guide's instance means what it means to
// keepalived: VRRPv2 with its password, unicast, nopreempt, the garp_*
// rhythm, and the address at /32.
func TestTencentInstance(t *testing.T) {
	cfg, err := keepalived.Load("testdata/tencent-havip.conf")
	require.NoError(t, err)
	in := cfg.Instances[0]
	addr := netip.MustParseAddr
	assert.Equal(t, vrrp.Config{
		Interface: "eth0", VRID: 51, Version: vrrp.Version2, Priority: 80, AdvertInterval: time.Second,
		VirtualAddresses: []netip.Addr{addr("172.17.16.3")}, NoPreempt: true, QuietStepDown: true, AuthPass: "1111",
		UnicastSource: addr("172.17.16.7"), UnicastPeers: []netip.Addr{addr("172.17.16.13")},
		TrackInterfaces: []string{"eth0"},
	}, in.Router)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("172.17.16.3/32")}, in.Addresses)
	assert.Equal(t, havip.Announce{Repeat: 5, Delay: time.Second, Refresh: 5 * time.Second, RefreshRepeat: 1}, in.Announce)
	assert.False(t, in.InitialMaster)
	h := in.HAVIP()
	assert.Equal(t, "eth0", h.Interface)
	assert.False(t, h.Owner)
}

// TestSyntax reads keepalived's language as keepalived does: comments,
// quotes, braces anywhere, a keyword's '{' on the next line, continued
// lines, includes by pattern relative to the including file.
func TestSyntax(t *testing.T) {
	// files is the configuration with the vrrp_script's interval line and
	// VI_A's priority lines as given.
	files := func(interval, priority string) map[string]string {
		return map[string]string{
			"keepalived.conf": `! a comment
global_defs { router_id "node one" }   # braces on one line
include conf.d/*.conf
vrrp_script chk { script "/usr/bin/test -f '/run/ok' # not a comment"
` + interval + `
  weight -20 reverse
  fall 3
  rise 2 }
`,
			"conf.d/b.conf": `vrrp_instance VI_B
{
    interface eth0
    virtual_router_id 52
    virtual_ipaddress { 192.0.2.52/24 }
    track_script {
        chk weight 10
    }
}
`,
			"conf.d/a.conf": `vrrp_instance VI_A {
    interface eth0
    virtual_router_id 51
` + priority + `
    virtual_ipaddress {
        192.0.2.51/24 label eth0:vip
    }
}
`,
		}
	}
	_, lines, err := load(t, files("  interval 2 ; fall 3", "    priority 150 \\\n    ! a comment ends the continued line"))
	require.Error(t, err, "';' separates nothing")
	assert.Equal(t, []string{"keepalived.conf:5: interval: takes one value, not 4"}, lines)

	cfg, _, err := load(t, files("  interval 2", "    priority \\\n      150"))
	require.NoError(t, err)
	assert.Equal(t, "node one", cfg.RouterID)
	require.Len(t, cfg.Scripts, 1)
	assert.Equal(t, keepalived.Script{Name: "chk", Pos: cfg.Scripts[0].Pos, Command: "/usr/bin/test -f '/run/ok' # not a comment",
		Interval: 2 * time.Second, Weight: -20, Reverse: true, Rise: 2, Fall: 3}, *cfg.Scripts[0])
	require.Len(t, cfg.Instances, 2)
	a, b := cfg.Instances[0], cfg.Instances[1]
	assert.Equal(t, "VI_A", a.Name, "includes in the order of their names")
	assert.Equal(t, uint8(150), a.Router.Priority)
	assert.Equal(t, "eth0:vip", a.Label)
	assert.Equal(t, "a.conf:1", filepath.Base(a.Pos.String()))
	assert.Equal(t, "VI_B", b.Name)
	assert.Equal(t, []keepalived.TrackScript{{Pos: b.TrackScripts[0].Pos, Name: "chk", Weight: 10, WeightSet: true}}, b.TrackScripts)
	assert.Equal(t, uint8(100), b.Router.Priority, "keepalived's default")
}

// TestRefused: what keepalived would not take, and what vipkit cannot
// honour, is refused with the line and the keyword as written.
func TestRefused(t *testing.T) {
	instance := func(lines ...string) string {
		return "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    192.0.2.100\n  }\n" +
			strings.Join(lines, "\n") + "\n}\n"
	}
	cases := []struct {
		name, conf, want string
	}{
		{"priority 0", instance("  priority 0"), "keepalived.conf:7: priority: \"0\": need a whole number 1..255"},
		{"priority 256", instance("  priority 256"), "keepalived.conf:7: priority: \"256\": need a whole number 1..255"},
		{"advert_int below 10 ms", instance("  advert_int 0.005"), "keepalived.conf:7: advert_int: \"0.005\": need seconds from 10ms to 4m15s"},
		{"VRRPv2 in half seconds", instance("  advert_int 0.5"), "keepalived.conf:7: advert_int: 500ms: VRRPv2 carries whole seconds (RFC 3768 §5.3.7); keepalived rounds it to 1s with a configuration error: write advert_int 1"},
		{"VRRPv2 in tenths", instance("  advert_int 2.4"), "keepalived.conf:7: advert_int: 2.4s: VRRPv2 carries whole seconds (RFC 3768 §5.3.7); keepalived rounds it to 2s with a configuration error: write advert_int 2"},
		{"VRRPv3 in milliseconds", "global_defs {\n  vrrp_version 3\n}\n" + instance("  advert_int 0.125"),
			"keepalived.conf:10: advert_int: 125ms: VRRPv3 carries centiseconds (RFC 5798 §5.2.7); keepalived rounds it to 130ms with a configuration error: write advert_int 0.13"},
		{"a weighted script in a sync group", "vrrp_script chk {\n  script /bin/true\n  weight -20\n}\nvrrp_sync_group G {\n  group {\n    VI_1\n  }\n}\n" +
			instance("  track_script {", "    chk", "  }"),
			"keepalived.conf:17: track_script: chk has weight -20 in a member of vrrp_sync_group G without sync_group_tracking_weight, which keepalived ignores with an error: give it weight 0"},
		{"a weighted script in the owner", "vrrp_script chk {\n  script /bin/true\n}\n" +
			instance("  priority 255", "  track_script {", "    chk weight 5", "  }"),
			"keepalived.conf:12: track_script: chk has weight 5 in the address owner (priority 255), which keepalived ignores with an error: give it weight 0"},
		{"unknown keyword", instance("  priorty 150"), "keepalived.conf:7: priorty: unknown keyword of a vrrp_instance"},
		{"no_accept", instance("  no_accept"), "keepalived.conf:7: no_accept: not supported: vipkit adds the addresses as ordinary local addresses and always accepts traffic to them"},
		{"track_file of no block", instance("  track_file {", "    f", "  }"), "keepalived.conf:8: track_file: no track_file f: keepalived ignores it with an error"},
		{"auth_pass too long", instance("  authentication {", "    auth_type PASS", "    auth_pass 123456789", "  }"),
			"keepalived.conf:9: auth_pass: 9 bytes; keepalived takes the first 8, vipkit refuses more"},
		{"a password in VRRPv3", "global_defs {\n  vrrp_version 3\n}\n" + instance("  authentication {", "    auth_type PASS", "    auth_pass 1111", "  }"),
			"keepalived.conf:10: authentication: VRRPv3 has no authentication (RFC 5798 §9)"},
		{"no interface", "vrrp_instance VI_1 {\n  virtual_router_id 51\n  virtual_ipaddress {\n    192.0.2.100\n  }\n}\n",
			"keepalived.conf:1: vrrp_instance VI_1: interface: empty"},
		{"an address on another device", instance("  virtual_ipaddress {", "    192.0.2.101 dev eth1", "  }"),
			"keepalived.conf:8: 192.0.2.101/32 dev eth1: vipkit holds an instance's addresses on its interface, eth0"},
		{"two labels", instance("  virtual_ipaddress {", "    192.0.2.101 label eth0:a", "    192.0.2.102 label eth0:b", "  }"),
			"keepalived.conf:9: label eth0:b: vipkit gives every address of an instance one label, here eth0:a"},
		{"LVS", "virtual_server 192.0.2.1 80 {\n}\n", "keepalived.conf:1: virtual_server: LVS (IPVS) is not supported: vipkit holds virtual addresses, it does not balance"},
		{"vrrp_strict", "global_defs {\n  vrrp_strict\n}\n", "keepalived.conf:2: vrrp_strict: not supported: it implies no_accept, which vipkit does not honour"},
		{"unterminated quote", "global_defs {\n  router_id \"a\n}\n", "keepalived.conf:2: unterminated quote"},
		{"no closing brace", "global_defs {\n  router_id a\n", "keepalived.conf:1: global_defs: no '}' closes its block"},
		{"an extra brace", "global_defs {\n}\n}\n", "keepalived.conf:3: extra '}'"},
		{"two instances of one name", instance() + instance(), "keepalived.conf:9: vrrp_instance VI_1: a second one of that name (the first at keepalived.conf:1)"},
		{"a sync group of no instance", "vrrp_sync_group G {\n  group {\n    VI_9\n  }\n}\n", "keepalived.conf:1: vrrp_sync_group G: no vrrp_instance VI_9"},
		{"a script without its command", "vrrp_script chk {\n  interval 1\n}\n", "keepalived.conf:1: vrrp_script: chk has no script"},
		{"an include loop", "include keepalived.conf\n", "keepalived.conf:1: include nested more than 16 deep (a loop?)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, lines, err := load(t, map[string]string{"keepalived.conf": c.conf})
			require.Error(t, err)
			require.NotEmpty(t, lines)
			assert.True(t, strings.HasPrefix(lines[0], c.want), "got %q, want %q", lines[0], c.want)
			var e *keepalived.Error
			assert.True(t, errors.As(err, &e), "not a *keepalived.Error: %v", err)
		})
	}
}

// TestDefaults: what a file leaves out means what it means to keepalived,
// and global_defs sets what every instance then has.
func TestDefaults(t *testing.T) {
	cfg, _, err := load(t, map[string]string{"keepalived.conf": `
vrrp_instance V4 {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress {
    192.0.2.1/24
  }
  virtual_ipaddress_excluded {
    198.51.100.1/24
  }
}
vrrp_instance V6 {
  interface eth0
  virtual_router_id 1
  preempt_delay 2.5
  higher_prio_send_advert
  use_vmac
  garp_master_repeat 3
  virtual_ipaddress {
    fe80::1
    2001:db8::1/64
  }
}
global_defs {
  vrrp_garp_master_delay 2
  vrrp_garp_lower_prio_repeat 1
  vrrp_rt_priority 10
}
`})
	require.NoError(t, err)
	v4, v6 := cfg.Instances[0], cfg.Instances[1]
	assert.Equal(t, vrrp.Version2, v4.Router.Version, "keepalived's default version")
	assert.True(t, v4.Router.QuietStepDown, "keepalived leaves higher_prio_send_advert off")
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.1")}, v4.Router.VirtualAddresses, "excluded addresses are not advertised")
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("198.51.100.1/24")}, v4.Addresses, "but held")
	assert.Equal(t, havip.Announce{Repeat: 5, Delay: 2 * time.Second, RefreshRepeat: 1, LowerPriorityRepeat: 1}, v4.Announce,
		"global_defs applies wherever it is")

	assert.Equal(t, vrrp.Version3, v6.Router.Version, "IPv6 is VRRPv3")
	assert.Equal(t, 2500*time.Millisecond, v6.Router.PreemptDelay)
	assert.False(t, v6.Router.QuietStepDown)
	assert.True(t, v6.Router.VirtualMAC)
	assert.Equal(t, "vrrp6.1", v6.HAVIP().Interface)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("fe80::1/128"), netip.MustParsePrefix("2001:db8::1/64")}, v6.Addresses)
	assert.Equal(t, 3, v6.Announce.Repeat)
	assert.Equal(t, 10, cfg.RealtimePriority)
}

// TestNotifyKeywords: a notify script is its command, quoted if it has
// arguments, then the user and group to run it as, if given; notify_deleted
// alone says DELETED, with a command it runs that too.
func TestNotifyKeywords(t *testing.T) {
	cfg, lines, err := load(t, map[string]string{"keepalived.conf": `
vrrp_sync_group G {
  group {
    V1
  }
  notify_fault "/etc/keepalived/group.sh fault"
}
vrrp_instance V1 {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress {
    192.0.2.1/24
  }
  notify_master "/etc/keepalived/master.sh an-arg" nobody
  notify_backup /etc/keepalived/backup.sh
  notify /etc/keepalived/any.sh root root
  notify_deleted
  notify_master_rx_lower_pri /etc/keepalived/lower.sh
}
vrrp_instance V2 {
  interface eth0
  virtual_router_id 2
  virtual_ipaddress {
    192.0.2.2/24
  }
  notify_deleted /etc/keepalived/deleted.sh
}
`})
	require.NoError(t, err, "%v", lines)
	assert.Equal(t, keepalived.Notify{
		Master:           keepalived.NotifyScript{Command: "/etc/keepalived/master.sh an-arg", User: "nobody"},
		Backup:           keepalived.NotifyScript{Command: "/etc/keepalived/backup.sh"},
		Any:              keepalived.NotifyScript{Command: "/etc/keepalived/any.sh", User: "root root"},
		NotifyDeleted:    true,
		MasterRxLowerPri: keepalived.NotifyScript{Command: "/etc/keepalived/lower.sh"},
	}, cfg.Instances[0].Notify)
	assert.Equal(t, keepalived.Notify{Deleted: keepalived.NotifyScript{Command: "/etc/keepalived/deleted.sh"}, NotifyDeleted: true},
		cfg.Instances[1].Notify)
	assert.Equal(t, keepalived.Notify{Fault: keepalived.NotifyScript{Command: "/etc/keepalived/group.sh fault"}}, cfg.SyncGroups[0].Notify)

	_, lines, err = load(t, map[string]string{"keepalived.conf": "vrrp_instance V1 {\n  notify_stop /etc/keepalived/stop.sh with its args\n}\n"})
	require.Error(t, err)
	assert.Contains(t, lines, `keepalived.conf:2: notify_stop: "/etc/keepalived/stop.sh with its args": want COMMAND [USER [GROUP]] (quote a command that has arguments)`)
	_, lines, err = load(t, map[string]string{"keepalived.conf": "vrrp_instance V1 {\n  notify_stop /etc/keepalived/stop.sh no-such-user-vipkit\n}\n"})
	require.Error(t, err)
	assert.Contains(t, strings.Join(lines, "\n"), `keepalived.conf:2: notify_stop: `)
	assert.Contains(t, strings.Join(lines, "\n"), `no-such-user-vipkit`)
	assert.Contains(t, strings.Join(lines, "\n"), `keepalived ignores the script; quote a command that has arguments`)
}

// TestSyncGroupTracking: what a sync group tracks, every member tracks,
// with the group's weights (keepalived's sync_group_tracking_init), but
// none if a member is the address owner; a member that tracks it too is
// refused.
func TestSyncGroupTracking(t *testing.T) {
	conf := func(prio2 int, own string) string {
		return `vrrp_script chk {
  script /bin/true
  weight -10
}
track_file tf {
  file /run/vipkit-tf
}
vrrp_sync_group G {
  group {
    V1
    V2
  }
  track_interface {
    eth1
  }
  track_script {
    chk
  }
  track_file {
    tf
  }
}
vrrp_instance V1 {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress {
    192.0.2.1/24
  }
` + own + `}
vrrp_instance V2 {
  interface eth0
  virtual_router_id 2
  priority ` + strconv.Itoa(prio2) + `
  virtual_ipaddress {
    192.0.2.2/24
  }
}
`
	}
	cfg, lines, err := load(t, map[string]string{"keepalived.conf": conf(100, "")})
	require.NoError(t, err, "%v", lines)
	for _, in := range cfg.Instances {
		assert.Equal(t, []string{"eth1"}, in.Router.TrackInterfaces, in.Name)
		require.Len(t, in.TrackScripts, 1, in.Name)
		assert.Equal(t, keepalived.TrackScript{Pos: in.TrackScripts[0].Pos, Name: "chk", Group: "G"}, in.TrackScripts[0], in.Name)
		assert.Equal(t, 17, in.TrackScripts[0].Pos.Line, "the group's line")
		require.Len(t, in.TrackFiles, 1, in.Name)
		assert.Equal(t, keepalived.TrackedFile{Pos: in.TrackFiles[0].Pos, Name: "tf", Weight: 1, Group: "G"}, in.TrackFiles[0], in.Name)
	}

	_, lines, err = load(t, map[string]string{"keepalived.conf": conf(255, "")})
	require.Error(t, err)
	assert.Contains(t, lines, "keepalived.conf:17: track_script: chk has weight -10 in vrrp_sync_group G, whose member V2 is the address owner (priority 255), which keepalived ignores with an error: give it weight 0")

	// Tracked by a member too: with weight 0 there, that entry stays.
	cfg, lines, err = load(t, map[string]string{"keepalived.conf": conf(100, "  track_script {\n    chk weight 0\n  }\n")})
	require.NoError(t, err, "%v", lines)
	require.Len(t, cfg.Instances[0].TrackScripts, 1)
	assert.Equal(t, keepalived.TrackScript{Pos: cfg.Instances[0].TrackScripts[0].Pos, Name: "chk", WeightSet: true}, cfg.Instances[0].TrackScripts[0])
	assert.Contains(t, fmt.Sprint(cfg.Notes), "keepalived.conf:17: track_script: chk is tracked by vrrp_instance V1 too: its entry there stays, as in keepalived")
	// Weighted there, in a group without sync_group_tracking_weight: the
	// member's weight is refused, as keepalived refuses it.
	_, lines, err = load(t, map[string]string{"keepalived.conf": conf(100, "  track_script {\n    chk weight 5\n  }\n")})
	require.Error(t, err)
	assert.Contains(t, lines, "keepalived.conf:30: track_script: chk has weight 5 in a member of vrrp_sync_group G without sync_group_tracking_weight, which keepalived ignores with an error: give it weight 0")
	// With sync_group_tracking_weight, the group's entry replaces it.
	cfg, lines, err = load(t, map[string]string{"keepalived.conf": strings.Replace(conf(100, "  track_script {\n    chk weight 5\n  }\n"),
		"  track_interface {", "  sync_group_tracking_weight\n  track_interface {", 1)})
	require.NoError(t, err, "%v", lines)
	require.Len(t, cfg.Instances[0].TrackScripts, 1)
	assert.Equal(t, "G", cfg.Instances[0].TrackScripts[0].Group)
	assert.False(t, cfg.Instances[0].TrackScripts[0].WeightSet, "the group's entry, the script's weight")
}

// TestTrackInterfaceWeights: a track_interface with a weight moves the
// priority (vrrp.Config.WeightedInterfaces), without one or with weight 0
// it means FAULT; a weight is refused where keepalived refuses it.
func TestTrackInterfaceWeights(t *testing.T) {
	inst := func(prio int, lines ...string) string {
		return "vrrp_instance V1 {\n  interface eth0\n  virtual_router_id 1\n  priority " + strconv.Itoa(prio) +
			"\n  virtual_ipaddress {\n    192.0.2.1/24\n  }\n  track_interface {\n" + strings.Join(lines, "\n") + "\n  }\n}\n"
	}
	cfg, lines, err := load(t, map[string]string{"keepalived.conf": inst(100, "    eth1 weight 2", "    eth2 weight -2 reverse", "    eth3", "    eth4 weight 0", "    eth5 weight 7 noreverse")})
	require.NoError(t, err, "%v", lines)
	r := cfg.Instances[0].Router
	assert.Equal(t, []string{"eth3", "eth4"}, r.TrackInterfaces)
	assert.Equal(t, []vrrp.WeightedInterface{{Name: "eth1", Weight: 2}, {Name: "eth2", Weight: -2, Reverse: true}, {Name: "eth5", Weight: 7}}, r.WeightedInterfaces)

	for _, c := range []struct{ conf, want string }{
		{inst(255, "    eth1 weight 2"), "keepalived.conf:9: track_interface: eth1 has a weight in the address owner (priority 255), which keepalived ignores with an error: track it without one"},
		{inst(100, "    eth1 weight 0 reverse"), "keepalived.conf:9: eth1: weight 0 reverse (FAULT while the interface is up) is not supported"},
		{inst(100, "    eth1 weight 254"), `keepalived.conf:9: eth1: weight "254": need -253..253`},
		{"vrrp_sync_group G {\n  group {\n    V1\n  }\n}\n" + inst(100, "    eth1 weight 2"),
			"keepalived.conf:14: track_interface: eth1 has a weight in a member of vrrp_sync_group G without sync_group_tracking_weight, which keepalived ignores with an error: track it without one"},
	} {
		_, lines, err := load(t, map[string]string{"keepalived.conf": c.conf})
		require.Error(t, err, c.want)
		assert.Contains(t, lines, c.want)
	}

	// A group's weight applies to its members, and replaces theirs.
	cfg, lines, err = load(t, map[string]string{"keepalived.conf": "vrrp_sync_group G {\n  group {\n    V1\n  }\n  sync_group_tracking_weight\n  track_interface {\n    eth1 weight -9\n    eth2\n  }\n}\n" +
		inst(100, "    eth1 weight 2", "    eth2 weight 3")})
	require.NoError(t, err, "%v", lines)
	r = cfg.Instances[0].Router
	assert.Equal(t, []string{"eth2"}, r.TrackInterfaces)
	assert.Equal(t, []vrrp.WeightedInterface{{Name: "eth1", Weight: -9}}, r.WeightedInterfaces)
}
