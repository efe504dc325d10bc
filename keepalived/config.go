package keepalived

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/vrrp"
)

// Config is what a keepalived.conf says of VRRP.
type Config struct {
	RouterID   string // global_defs router_id
	Instances  []*Instance
	Scripts    []*Script
	SyncGroups []*SyncGroup
	// TrackFiles are the track_file (or vrrp_track_file) blocks, in the
	// order of the file; WatchFiles follows those an instance tracks.
	TrackFiles []*TrackFile
	// ScriptUser is global_defs script_user, "USER" or "USER GROUP": the
	// user scripts run as unless they name one; empty means
	// keepalived_script, or root.
	ScriptUser string
	// ScriptSecurity is global_defs enable_script_security.
	ScriptSecurity bool
	// RealtimePriority is global_defs vrrp_rt_priority; 0 if unset.
	RealtimePriority int
	// FIFOs are global_defs notify_fifo and vrrp_notify_fifo: where each
	// instance's and group's change is written as a line (OpenFIFOs).
	FIFOs []FIFO
	// Notes are the keywords read but not honoured as keepalived would,
	// each with what vipkit does instead.
	Notes []Note
}

// A Note is a keyword of the file that vipkit reads but does not honour
// as keepalived does, and what it does instead.
type Note struct {
	Pos     Pos
	Keyword string
	Text    string
}

func (n Note) String() string { return fmt.Sprintf("%v: %s: %s", n.Pos, n.Keyword, n.Text) }

// An Instance is a vrrp_instance.
type Instance struct {
	Name string
	Pos  Pos
	// Router is the virtual router, with keepalived's defaults; its Checks
	// are empty: the scripts it tracks are TrackScripts.
	Router vrrp.Config
	// Addresses are virtual_ipaddress and virtual_ipaddress_excluded with
	// their prefix lengths: what havip holds while master.
	Addresses []netip.Prefix
	// Label is the label of the addresses (their "label" option).
	Label string
	// Announce is the rhythm of gratuitous ARPs (the garp_* keywords).
	Announce havip.Announce
	// TrackScripts are track_script's entries, in order.
	TrackScripts []TrackScript
	// TrackFiles are track_file's entries, in order, each naming one of
	// Config.TrackFiles (WatchFiles).
	TrackFiles []TrackedFile
	// Notify are the instance's notify scripts.
	Notify Notify
	// InitialMaster is "state MASTER". vipkit starts every router as
	// backup (the owner excepted) and reports it as a note.
	InitialMaster bool
}

// HAVIP returns the havip.Config that holds the instance's addresses.
func (i *Instance) HAVIP() havip.Config {
	a := i.Announce
	return havip.Config{Interface: i.Router.AddressInterface(), Addresses: i.Addresses, Label: i.Label,
		Owner: i.Router.Priority == 255, Announce: &a}
}

// A TrackScript is an entry of track_script: a vrrp_script by name, with
// the weight that overrides the script's own when WeightSet.
type TrackScript struct {
	Pos       Pos
	Name      string
	Weight    int
	WeightSet bool
	Group     string // the vrrp_sync_group whose tracking it is, or ""
}

// A TrackedFile is an entry of an instance's track_file: a track_file
// block by name, with the weight and direction that override the block's
// when WeightSet and ReverseSet ("NAME weight W [reverse|noreverse]").
// After Load, Weight and Reverse are what applies, the block's if not
// overridden; Load refuses a weight other than 0 in the address owner, and
// in a member of a sync group without sync_group_tracking_weight.
type TrackedFile struct {
	Pos        Pos
	Name       string
	Weight     int // -254..254
	WeightSet  bool
	Reverse    bool
	ReverseSet bool
	Group      string // the vrrp_sync_group whose tracking it is, or ""
}

// A TrackFile is a track_file block (vrrp_track_file is keepalived's
// deprecated synonym): a file holding a number that, times the weight,
// moves the priority of the instances tracking it (WatchFiles).
type TrackFile struct {
	Name string
	Pos  Pos
	// File is the path of the file, as written.
	File string
	// Weight, -254..254, default 1, multiplies the file's number; 0 means
	// a number other than 0 puts the instance in FAULT.
	Weight int
	// Reverse is "weight W reverse": the number counts negated, and with
	// weight 0 a 0 is the FAULT.
	Reverse bool
	// InitFile is init_file: write InitValue, -254..254 (default 0), to
	// File at start if it does not exist, or, with Overwrite, even if it
	// does (once a process: not again when the file is loaded again).
	InitFile  bool
	InitValue int
	Overwrite bool
}

// A Script is a vrrp_script.
type Script struct {
	Name string
	Pos  Pos
	// Command is the script's command as written: its words, the first
	// the program, run as keepalived runs it (see Config.Checks).
	Command  string
	Interval time.Duration // default 1 s
	Timeout  time.Duration // 0: keepalived's default, the interval
	Weight   int           // -253..253
	Reverse  bool          // "weight N reverse"
	Rise     int           // default 1
	Fall     int           // default 1
	User     string        // "user NAME [GROUP]"; empty means Config.ScriptUser
	InitFail bool          // init_fail: start as failed
}

// A SyncGroup is a vrrp_sync_group: instances that change state together.
type SyncGroup struct {
	Name   string
	Pos    Pos
	Group  []string
	Notify Notify
	// TrackInterfaces, TrackScripts and TrackFiles are the group's own
	// tracking, which Load adds to every member's, as keepalived does
	// (sync_group_tracking_init), marked with the group's name.
	TrackInterfaces    []string
	WeightedInterfaces []vrrp.WeightedInterface
	TrackScripts       []TrackScript
	TrackFiles         []TrackedFile
}

// Notify are notify scripts: one per state and one for every change.
type Notify struct {
	Master, Backup, Fault, Stop, Any NotifyScript
	// Deleted is notify_deleted's script, and NotifyDeleted whether the
	// instance says notify_deleted: an instance a reload removes is then
	// notified as DELETED, where keepalived's default is FAULT.
	Deleted       NotifyScript
	NotifyDeleted bool
	// MasterRxLowerPri is notify_master_rx_lower_pri's script, run with
	// its own words alone when the master hears a lower priority.
	MasterRxLowerPri NotifyScript
}

// A NotifyScript is a notify script: its command, the first word (quoted,
// it holds the arguments), and the "USER [GROUP]" written after it to run
// it as; an empty User means the default, script_user's.
type NotifyScript struct {
	Command string
	User    string
}

// State is the state a notification of state names to the notify scripts
// and FIFOs: keepalived's, but for DELETED, an instance a reload removed,
// which is FAULT unless notify_deleted is set (vrrp_notify.c,
// send_instance_notifies).
func (n Notify) State(state string) string {
	if state == "DELETED" && !n.NotifyDeleted {
		return "FAULT"
	}
	return state
}

// Load reads the keepalived.conf at path, includes and all, and returns
// what it says of VRRP. An error lists every line refused, each an *Error
// (errors.As finds the first); a Config is returned only without one.
func Load(path string) (*Config, error) {
	r := &reader{}
	nodes := r.readFile(path, 0)
	c := &converter{reader: r, cfg: &Config{}, global: defaultGlobal()}
	c.convert(nodes)
	if len(r.errs) > 0 {
		slices.SortStableFunc(r.errs, func(a, b error) int {
			var ea, eb *Error
			if !errors.As(a, &ea) || !errors.As(b, &eb) {
				return 0
			}
			return cmp.Or(strings.Compare(ea.Pos.File, eb.Pos.File), cmp.Compare(ea.Pos.Line, eb.Pos.Line))
		})
		return nil, errors.Join(r.errs...)
	}
	return c.cfg, nil
}

// global is what global_defs sets for every instance.
type global struct {
	version              vrrp.Version
	announce             havip.Announce
	lowerRepeatSet       bool
	lowerDelaySet        bool
	higherPrioSendAdvert bool
}

func defaultGlobal() global {
	a := havip.KeepalivedAnnounce
	return global{version: vrrp.Version2, announce: a}
}

// converter turns statements into a Config.
type converter struct {
	*reader
	cfg    *Config
	global global
	devs   []dev // the "dev" options of the instance being read
	// unknownFiles are the instance track_file entries that named no
	// track_file block read before them.
	unknownFiles []unknownFile
	// trackingWeight are the sync groups with sync_group_tracking_weight.
	trackingWeight map[string]bool
	// weightedIfs are the weighted track_interface entries.
	weightedIfs []weightedIf
}

// An unknownFile is an instance's track_file entry that names no
// track_file block read before it.
type unknownFile struct {
	pos   Pos
	name  string
	where string // vrrp_instance NAME or vrrp_sync_group NAME
}

// A dev is the "dev" option of a virtual address.
type dev struct {
	pos  Pos
	addr netip.Prefix
	name string
}

func (c *converter) note(n *node, format string, args ...any) {
	c.cfg.Notes = append(c.cfg.Notes, Note{Pos: n.pos, Keyword: n.keyword(), Text: fmt.Sprintf(format, args...)})
}

func (c *converter) fail(n *node, format string, args ...any) {
	c.errorf(n.pos, "%s: %s", n.keyword(), fmt.Sprintf(format, args...))
}

func (c *converter) convert(nodes []*node) {
	// global_defs first, wherever it is: it sets the defaults of every
	// instance, as keepalived applies them after reading the file.
	for _, n := range nodes {
		if n.keyword() == "global_defs" {
			c.globalDefs(n)
		}
	}
	for _, n := range nodes {
		switch n.keyword() {
		case "global_defs":
		case "vrrp_instance":
			c.instance(n)
		case "vrrp_script":
			c.script(n)
		case "vrrp_sync_group":
			c.syncGroup(n)
		case "virtual_server", "virtual_server_group":
			c.fail(n, "LVS (IPVS) is not supported: vipkit holds virtual addresses, it does not balance")
		case "static_ipaddress", "static_routes", "static_rules":
			c.fail(n, "not supported: add them with the system's network configuration")
		case "track_file", "vrrp_track_file":
			c.trackFile(n)
		case "vrrp_track_process", "track_group", "bfd_instance":
			c.fail(n, "not supported yet")
		case "net_namespace":
			c.fail(n, "not supported: run vrrpd in the namespace (ip netns exec NAME vrrpd ...)")
		case "garp_group":
			c.note(n, "ignored: the addresses are announced with the garp_master_* rhythm")
		case "linkbeat_interfaces", "interface_up_down_delays":
			c.note(n, "ignored: vipkit follows links through rtnetlink, at once")
		case "net_namespace_ipvs", "instance", "use_pid_dir":
			c.note(n, "ignored: vrrpd keeps no pid file and runs no LVS")
		default:
			c.fail(n, "unknown keyword at the top level")
		}
	}
	c.checkInterfaceWeights()
	c.groupTracking()
	c.checkReferences()
	c.checkScriptWeights()
	c.checkTrackedFiles()
}

// globalDefs reads global_defs.
func (c *converter) globalDefs(b *node) {
	g := &c.global
	type fifoScript struct {
		n *node
		s NotifyScript
	}
	scripts := map[string]fifoScript{} // by the keyword of their FIFO
	defer func() {
		for i, f := range c.cfg.FIFOs {
			if s, ok := scripts[f.Keyword]; ok {
				c.cfg.FIFOs[i].Script = s.s
				delete(scripts, f.Keyword)
			}
		}
		for _, k := range []string{"notify_fifo", "vrrp_notify_fifo"} {
			if s, ok := scripts[k]; ok {
				c.note(s.n, "no %s: the script is not run, as in keepalived", k)
			}
		}
	}()
	for _, n := range b.block {
		switch n.keyword() {
		case "router_id":
			c.cfg.RouterID, _ = c.word(n)
		case "vrrp_version":
			if v, ok := c.uint(n, 2, 3); ok {
				g.version = vrrp.Version(v)
			}
		case "vrrp_garp_master_delay", "vrrp_garp_master_repeat", "vrrp_garp_master_refresh", "vrrp_garp_master_refresh_repeat",
			"vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat":
			c.garp(n, strings.TrimPrefix(n.keyword(), "vrrp_"), &g.announce, g)
		case "vrrp_garp_interval", "vrrp_gna_interval":
			c.decimalSeconds(n, &g.announce.Interval, 0, time.Hour)
		case "vrrp_higher_prio_send_advert":
			g.higherPrioSendAdvert = c.flag(n)
		case "vrrp_check_unicast_src":
			c.flag(n) // vipkit always hears only its unicast peers
		case "script_user":
			if len(n.args()) < 1 || len(n.args()) > 2 {
				c.fail(n, "want USER [GROUP]")
			} else {
				c.cfg.ScriptUser = strings.Join(n.args(), " ")
			}
		case "enable_script_security":
			c.cfg.ScriptSecurity = c.flag(n)
		case "vrrp_rt_priority":
			if v, ok := c.uint(n, 1, 99); ok {
				c.cfg.RealtimePriority = v
			}
		case "notify_fifo", "vrrp_notify_fifo":
			if len(n.args()) < 1 || len(n.args()) > 3 {
				c.fail(n, "want FIFO_NAME [USER [GROUP]]")
				continue
			}
			c.cfg.FIFOs = append(c.cfg.FIFOs, FIFO{Pos: n.pos, Keyword: n.keyword(), Path: n.args()[0], User: strings.Join(n.args()[1:], " ")})
		case "notify_fifo_script", "vrrp_notify_fifo_script":
			if s, ok := c.notifyScript(n); ok {
				scripts[strings.TrimSuffix(n.keyword(), "_script")] = fifoScript{n, s}
			}
		case "lvs_notify_fifo", "lvs_notify_fifo_script":
			c.note(n, "ignored: vrrpd runs no LVS")
		case "vrrp_strict":
			c.fail(n, "not supported: it implies no_accept, which vipkit does not honour")
		case "vrrp_mcast_group4", "vrrp_mcast_group6":
			c.fail(n, "not supported: vipkit sends to the RFC's groups, 224.0.0.18 and ff02::12")
		case "vrrp_lower_prio_no_advert":
			c.note(n, "ignored: a vipkit master always answers a lower priority (RFC 9568 §6.4.3), at most once an interval")
		case "vrrp_skip_check_adv_addr":
			c.note(n, "ignored: vipkit compares the address set of every advertisement")
		case "vrrp_iptables", "vrrp_nftables", "vrrp_ipsets":
			c.note(n, "ignored: vipkit sets no firewall rules")
		default:
			c.note(n, "ignored: vipkit reads only the VRRP keywords of global_defs")
		}
	}
}

// instance reads a vrrp_instance.
func (c *converter) instance(b *node) {
	name, ok := c.word(b)
	if !ok {
		return
	}
	if !b.brace {
		c.fail(b, "%s has no block", name)
		return
	}
	g := c.global
	c.devs = nil
	in := &Instance{Name: name, Pos: b.pos, Announce: g.announce}
	r := &in.Router
	r.QuietStepDown = !g.higherPrioSendAdvert
	version, versionSet := g.version, false
	var excluded []netip.Prefix
	fields := map[string]*node{} // the statement that set each vrrp.Config field
	set := func(field string, n *node) { fields[field] = n }
	for _, n := range b.block {
		switch n.keyword() {
		case "interface":
			r.Interface, _ = c.word(n)
			set("Interface", n)
		case "virtual_router_id":
			if v, ok := c.uint(n, 1, 255); ok {
				r.VRID = uint8(v)
			}
			set("VRID", n)
		case "priority":
			if v, ok := c.uint(n, 1, 255); ok {
				r.Priority = uint8(v)
			}
			set("Priority", n)
		case "advert_int":
			c.decimalSeconds(n, &r.AdvertInterval, 10*time.Millisecond, 255*time.Second)
			set("AdvertInterval", n)
		case "version":
			if v, ok := c.uint(n, 2, 3); ok {
				version, versionSet = vrrp.Version(v), true
			}
			set("Version", n)
		case "state":
			switch w, _ := c.word(n); w {
			case "MASTER":
				in.InitialMaster = true
				c.note(n, "vipkit starts every router as backup, which becomes master after Master_Down_Interval if no one else is (only priority 255 starts as master)")
			case "BACKUP", "":
			default:
				c.fail(n, "%q is neither MASTER nor BACKUP", w)
			}
		case "nopreempt":
			r.NoPreempt = true
			set("NoPreempt", n)
		case "preempt":
			r.NoPreempt = false
		case "preempt_delay":
			c.decimalSeconds(n, &r.PreemptDelay, 0, 1000*time.Second)
			set("PreemptDelay", n)
		case "down_timer_adverts":
			if v, ok := c.uint(n, 1, 100); ok {
				r.DownTimerAdverts = v
			}
			set("DownTimerAdverts", n)
		case "authentication":
			c.authentication(n, r)
			set("AuthPass", n)
		case "unicast_src_ip":
			if a, ok := c.addr(n); ok {
				r.UnicastSource = a
			}
			set("UnicastSource", n)
		case "unicast_peer":
			c.peers(n, r)
			set("UnicastPeers", n)
		case "virtual_ipaddress":
			for _, a := range c.addresses(n, in) {
				if slices.Contains(r.VirtualAddresses, a.Addr()) {
					c.note(n, "%v is listed twice: vipkit advertises it once, where keepalived 2.2 advertises it twice and so drops vipkit's advertisements; list it once on every node", a.Addr())
					continue
				}
				r.VirtualAddresses = append(r.VirtualAddresses, a.Addr())
				in.Addresses = append(in.Addresses, a)
			}
			set("VirtualAddresses", n)
		case "virtual_ipaddress_excluded":
			excluded = append(excluded, c.addresses(n, in)...)
		case "track_interface":
			names, weighted := c.trackInterfaces(n, in.Name, "")
			r.TrackInterfaces = append(r.TrackInterfaces, names...)
			r.WeightedInterfaces = append(r.WeightedInterfaces, weighted...)
			set("TrackInterfaces", n)
		case "track_script":
			in.TrackScripts = append(in.TrackScripts, c.trackScripts(n)...)
		case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify", "notify_deleted", "notify_master_rx_lower_pri":
			c.notify(n, &in.Notify)
		case "garp_master_delay", "garp_master_repeat", "garp_master_refresh", "garp_master_refresh_repeat",
			"garp_lower_prio_delay", "garp_lower_prio_repeat":
			c.garp(n, n.keyword(), &in.Announce, &g)
		case "higher_prio_send_advert":
			r.QuietStepDown = !c.flag(n)
		case "use_vmac":
			r.VirtualMAC = true
			if len(n.args()) > 0 {
				r.VirtualMACInterface = n.args()[0]
			}
			set("VirtualMAC", n)
		case "vmac_xmit_base":
			r.VirtualMACTransmitBase = true
			set("VirtualMACTransmitBase", n)
		case "accept", "native_ipv6", "check_unicast_src":
			// accept is what vipkit always does; native_ipv6 and
			// check_unicast_src are how it always works.
		case "no_accept", "strict_mode":
			c.fail(n, "not supported: vipkit adds the addresses as ordinary local addresses and always accepts traffic to them")
		case "virtual_routes", "virtual_rules":
			c.fail(n, "not supported: vipkit adds no routes or rules on becoming master")
		case "track_file":
			c.trackedFiles(n, "vrrp_instance "+in.Name, &in.TrackFiles)
		case "track_process", "track_bfd":
			c.fail(n, "not supported yet: a condition vipkit cannot watch must not be ignored")
		case "use_vmac_addr", "use_ipvlan", "vrf", "mcast_dst_ip", "lvs_sync_daemon_interface", "old_unicast_checksum":
			c.fail(n, "not supported")
		case "mcast_src_ip":
			c.fail(n, "not supported: vipkit sends from the interface's primary address (link-local for IPv6)")
		case "dont_track_primary":
			c.fail(n, "not supported: vipkit always tracks the instance's interface")
		default:
			if instead, ok := ignoredInstanceKeywords[n.keyword()]; ok {
				c.note(n, "ignored: %s", instead)
				continue
			}
			c.fail(n, "unknown keyword of a vrrp_instance")
		}
	}
	if !g.lowerRepeatSet {
		in.Announce.LowerPriorityRepeat = 0 // keepalived: garp_master_repeat
	}
	if !g.lowerDelaySet {
		in.Announce.LowerPriorityDelay = 0 // keepalived: garp_master_delay
	}
	in.Addresses = append(in.Addresses, excluded...)
	for _, d := range c.devs {
		if d.name != r.Interface {
			c.errorf(d.pos, "%v dev %s: vipkit holds an instance's addresses on its interface, %s", d.addr, d.name, r.Interface)
		}
	}
	if len(r.VirtualAddresses) > 0 && r.VirtualAddresses[0].Is6() && !versionSet {
		version = vrrp.Version3 // keepalived: IPv6 is VRRPv3
	}
	r.Version = version
	if r.Priority == 0 {
		r.Priority = 100 // keepalived's defaults
	}
	if r.AdvertInterval == 0 {
		r.AdvertInterval = time.Second
	}
	c.intervalUnit(fields["AdvertInterval"], r)
	c.validate(b, in, fields)
	c.cfg.Instances = append(c.cfg.Instances, in)
}

// intervalUnit refuses an advert_int that the version cannot carry, whole
// seconds in VRRPv2 (RFC 3768 §5.3.7), centiseconds in VRRPv3 (RFC 5798
// §5.2.7), saying what keepalived does with it: it reports a
// configuration error and rounds it to the nearest, at least one unit
// (vrrp.c, vrrp_complete_instance). r then has that, so that nothing else
// refuses the line again.
func (c *converter) intervalUnit(n *node, r *vrrp.Config) {
	unit, carries := 10*time.Millisecond, "VRRPv3 carries centiseconds (RFC 5798 §5.2.7)"
	if r.Version == vrrp.Version2 {
		unit, carries = time.Second, "VRRPv2 carries whole seconds (RFC 3768 §5.3.7)"
	}
	d := r.AdvertInterval
	if n == nil || d%unit == 0 {
		return
	}
	r.AdvertInterval = max((d+unit/2)/unit*unit, unit)
	c.fail(n, "%v: %s; keepalived rounds it to %v with a configuration error: write advert_int %s",
		d, carries, r.AdvertInterval, strconv.FormatFloat(r.AdvertInterval.Seconds(), 'f', -1, 64))
}

// ignoredInstanceKeywords are the keywords of a vrrp_instance that vipkit
// reads and does not honour, each with what it does instead.
var ignoredInstanceKeywords = map[string]string{
	"notify_priority_changes": "notify scripts hear of state changes only",
	"smtp_alert":              "vipkit sends no mail",
	"debug":                   "vipkit logs at its own levels",
	"kernel_rx_buf_size":      "vipkit sizes the socket's receive buffer itself",
	"linkbeat_use_polling":    "vipkit follows links through rtnetlink",
	"garp_extra_if":           "vipkit announces on the instance's interface only",
	"vmac_garp_intvl":         "the addresses are announced with the garp_master_* rhythm",
	"promote_secondaries":     "set net.ipv4.conf.IF.promote_secondaries yourself if the addresses share a subnet with the host's",
	"unicast_fault_no_peer":   "an instance with no unicast peer is refused",
	"track_src_ip":            "the source address is always followed: FAULT while the interface has none",
	"unicast_ttl":             "vipkit sends unicast with TTL 255",
	"lower_prio_no_advert":    "a vipkit master always answers a lower priority (RFC 9568 §6.4.3), at most once an interval",
	"skip_check_adv_addr":     "vipkit compares the address set of every advertisement",
}

// validate checks the instance as vrrp and havip would, naming the
// statement that set a field refused.
func (c *converter) validate(b *node, in *Instance, fields map[string]*node) {
	var ce *vrrp.ConfigError
	if err := in.Router.Validate(); errors.As(err, &ce) {
		field, _, _ := strings.Cut(ce.Field, "[")
		if n := fields[field]; n != nil {
			c.fail(n, "%s", ce.Reason)
		} else {
			c.errorf(b.pos, "vrrp_instance %s: %s: %s", in.Name, keywordOf[field], ce.Reason)
		}
	}
	var he *havip.ConfigError
	if err := in.HAVIP().Validate(); errors.As(err, &he) {
		c.fail(b, "%s: %s", he.Field, he.Reason)
	}
}

// garp reads one of the garp_* keywords, named without global_defs's
// "vrrp_", into a; g notes the lower-priority ones as set.
func (c *converter) garp(n *node, name string, a *havip.Announce, g *global) {
	switch name {
	case "garp_master_delay":
		c.seconds(n, &a.Delay)
	case "garp_master_repeat":
		c.count(n, &a.Repeat, 1)
	case "garp_master_refresh":
		c.seconds(n, &a.Refresh)
	case "garp_master_refresh_repeat":
		c.count(n, &a.RefreshRepeat, 1)
	case "garp_lower_prio_delay":
		g.lowerDelaySet = c.seconds(n, &a.LowerPriorityDelay) || g.lowerDelaySet
	case "garp_lower_prio_repeat":
		g.lowerRepeatSet = c.count(n, &a.LowerPriorityRepeat, 0) || g.lowerRepeatSet
	}
}

// notify reads a notify keyword into the script of its state, or notify's.
func (c *converter) notify(n *node, to *Notify) {
	dst := map[string]*NotifyScript{"notify_master": &to.Master, "notify_backup": &to.Backup,
		"notify_fault": &to.Fault, "notify_stop": &to.Stop, "notify": &to.Any,
		"notify_deleted": &to.Deleted, "notify_master_rx_lower_pri": &to.MasterRxLowerPri}[n.keyword()]
	if n.keyword() == "notify_deleted" {
		to.NotifyDeleted = true
		if len(n.args()) == 0 {
			return
		}
	}
	if s, ok := c.notifyScript(n); ok {
		*dst = s
	}
}

// notifyScript reads a notify script: the command, the first word (quoted,
// it holds the arguments), and the next two, if there, the user and group
// to run it as (lib/notify.c, notify_script_init).
func (c *converter) notifyScript(n *node) (NotifyScript, bool) {
	args := n.args()
	switch {
	case len(args) == 0:
		c.fail(n, "no command")
		return NotifyScript{}, false
	case len(args) > 3:
		c.fail(n, "%q: want COMMAND [USER [GROUP]] (quote a command that has arguments)", strings.Join(args, " "))
		return NotifyScript{}, false
	}
	user := strings.Join(args[1:], " ")
	if _, _, err := lookupUser(user); user != "" && err != nil {
		// keepalived drops the script ("Invalid user/group").
		c.fail(n, "%v: keepalived ignores the script; quote a command that has arguments", err)
		return NotifyScript{}, false
	}
	return NotifyScript{Command: args[0], User: user}, true
}

// keywordOf names the keyword that sets each field of vrrp.Config an
// instance may leave unset.
var keywordOf = map[string]string{
	"Interface":        "interface",
	"VRID":             "virtual_router_id",
	"VirtualAddresses": "virtual_ipaddress",
	"Version":          "version",
	"UnicastPeers":     "unicast_peer",
	"AdvertInterval":   "advert_int",
}

// authentication reads an authentication block: auth_type PASS and
// auth_pass (VRRPv2's simple password, RFC 2338 §5.3.6.1).
func (c *converter) authentication(b *node, r *vrrp.Config) {
	typ := ""
	for _, n := range c.lines(b) {
		switch n.keyword() {
		case "auth_type":
			typ, _ = c.word(n)
			if typ == "AH" {
				c.fail(n, "AH is not supported (RFC 3768 removed it); use PASS or none")
			} else if typ != "PASS" {
				c.fail(n, "%q: PASS or AH", typ)
			}
		case "auth_pass":
			pass, _ := c.word(n)
			if len(pass) > 8 {
				c.fail(n, "%d bytes; keepalived takes the first 8, vipkit refuses more", len(pass))
				continue
			}
			r.AuthPass = pass
		default:
			c.fail(n, "unknown keyword of authentication")
		}
	}
	if typ == "" && r.AuthPass != "" {
		c.fail(b, "auth_pass without auth_type PASS")
	}
}

// peers reads a unicast_peer block: one address a line, with keepalived's
// options refused.
func (c *converter) peers(b *node, r *vrrp.Config) {
	for _, n := range c.lines(b) {
		if len(n.words) > 1 {
			c.fail(n, "options of a unicast peer (%s) are not supported", strings.Join(n.args(), " "))
		}
		a, err := netip.ParseAddr(n.keyword())
		if err != nil {
			c.errorf(n.pos, "unicast_peer: %q is not an address", n.keyword())
			continue
		}
		r.UnicastPeers = append(r.UnicastPeers, a)
	}
}

// addresses reads a virtual_ipaddress block: "ADDR[/LEN] [dev IF] [label
// L] [scope S] [brd B]" a line. A bare address is /32 or /128, as
// keepalived adds it.
func (c *converter) addresses(b *node, in *Instance) []netip.Prefix {
	var out []netip.Prefix
	for _, n := range c.lines(b) {
		p, err := netip.ParsePrefix(n.keyword())
		if err != nil {
			a, aerr := netip.ParseAddr(n.keyword())
			if aerr != nil {
				c.errorf(n.pos, "%q is not an address or ADDR/LEN", n.keyword())
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		opts := n.args()
		for i := 0; i < len(opts); i++ {
			opt, val := opts[i], ""
			if i+1 < len(opts) {
				val = opts[i+1]
			}
			switch opt {
			case "dev":
				c.devs = append(c.devs, dev{pos: n.pos, addr: p, name: val})
				i++
			case "label":
				if in.Label != "" && in.Label != val {
					c.errorf(n.pos, "label %s: vipkit gives every address of an instance one label, here %s", val, in.Label)
				}
				in.Label = val
				i++
			case "scope", "brd", "broadcast":
				c.cfg.Notes = append(c.cfg.Notes, Note{Pos: n.pos, Keyword: opt,
					Text: "ignored: vipkit adds the address with the kernel's default scope and no broadcast address"})
				i++
			case "no_track":
			default:
				c.errorf(n.pos, "%v: option %q is not supported", p, opt)
			}
		}
		out = append(out, p)
	}
	return out
}

// script reads a vrrp_script.
func (c *converter) script(b *node) {
	name, ok := c.word(b)
	if !ok {
		return
	}
	s := &Script{Name: name, Pos: b.pos, Interval: time.Second, Rise: 1, Fall: 1}
	for _, n := range b.block {
		switch n.keyword() {
		case "script":
			s.Command = c.command(n)
		case "interval":
			if v, ok := c.uint(n, 1, 1<<31); ok {
				s.Interval = time.Duration(v) * time.Second
			}
		case "timeout":
			if v, ok := c.uint(n, 1, 1<<31); ok {
				s.Timeout = time.Duration(v) * time.Second
			}
		case "weight":
			args := n.args()
			if len(args) == 0 || len(args) > 2 {
				c.fail(n, "want N [reverse]")
				continue
			}
			w, err := strconv.Atoi(args[0])
			if err != nil || w < -253 || w > 253 {
				c.fail(n, "%q: need -253..253", args[0])
			}
			s.Weight = w
			if len(args) == 2 {
				if args[1] != "reverse" {
					c.fail(n, "%q: only reverse may follow the weight", args[1])
				}
				s.Reverse = true
			}
		case "rise":
			if v, ok := c.uint(n, 1, 1<<31); ok {
				s.Rise = v
			}
		case "fall":
			if v, ok := c.uint(n, 1, 1<<31); ok {
				s.Fall = v
			}
		case "user":
			if len(n.args()) == 0 || len(n.args()) > 2 {
				c.fail(n, "want USER [GROUP]")
				continue
			}
			s.User = strings.Join(n.args(), " ")
		case "init_fail":
			s.InitFail = true
			c.note(n, "no effect, as in keepalived 2.2.7 (alloc_track_script resets the state): the script starts neither up nor down")
		default:
			c.fail(n, "unknown keyword of a vrrp_script")
		}
	}
	if s.Command == "" {
		c.fail(b, "%s has no script", name)
	}
	c.cfg.Scripts = append(c.cfg.Scripts, s)
}

// syncGroup reads a vrrp_sync_group.
func (c *converter) syncGroup(b *node) {
	name, ok := c.word(b)
	if !ok {
		return
	}
	g := &SyncGroup{Name: name, Pos: b.pos}
	for _, n := range b.block {
		switch n.keyword() {
		case "group":
			for _, m := range c.lines(n) {
				g.Group = append(g.Group, m.words...)
			}
		case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
			c.notify(n, &g.Notify)
		case "track_interface":
			names, weighted := c.trackInterfaces(n, "", name)
			g.TrackInterfaces = append(g.TrackInterfaces, names...)
			g.WeightedInterfaces = append(g.WeightedInterfaces, weighted...)
		case "track_script":
			g.TrackScripts = append(g.TrackScripts, c.trackScripts(n)...)
		case "track_file":
			c.trackedFiles(n, "vrrp_sync_group "+name, &g.TrackFiles)
		case "track_process", "track_bfd":
			c.fail(n, "not supported yet: a condition vipkit cannot watch must not be ignored")
		case "smtp_alert":
			c.note(n, "ignored: vipkit sends no mail")
		case "sync_group_tracking_weight":
			// keepalived then lets the members' track_files keep their
			// weights (checkReferences).
			if c.trackingWeight == nil {
				c.trackingWeight = map[string]bool{}
			}
			c.trackingWeight[name] = true
			c.note(n, "ignored: each instance's own tracking decides its priority (a member's track_file keeps its weight, as in keepalived)")
		case "global_tracking", "notify_priority_changes":
			c.note(n, "ignored: each instance's own tracking decides its priority")
		default:
			c.fail(n, "unknown keyword of a vrrp_sync_group")
		}
	}
	c.cfg.SyncGroups = append(c.cfg.SyncGroups, g)
}

// trackFile reads a track_file block, or vrrp_track_file, its deprecated
// synonym, as keepalived 2.2.7 reads them (trackers/track_file.c): each
// line it reports as a configuration error is refused here.
func (c *converter) trackFile(b *node) {
	if len(b.args()) == 0 {
		c.fail(b, "no name")
		return
	}
	name := b.args()[0]
	if b.keyword() == "vrrp_track_file" {
		c.note(b, "deprecated synonym of track_file (keepalived 2.2.7 says so too): read as track_file")
	}
	if len(b.args()) > 1 {
		c.note(b, "%q: ignored, as keepalived ignores what follows the name", strings.Join(b.args()[1:], " "))
	}
	f := &TrackFile{Name: name, Pos: b.pos, Weight: 1}
	for _, n := range c.lines(b) {
		args := n.args()
		switch n.keyword() {
		case "file":
			switch {
			case len(args) == 0:
				c.fail(n, "no file name")
			case f.File != "":
				c.fail(n, "%s has its file already (keepalived keeps the first)", name)
			default:
				f.File = args[0]
				if len(args) > 1 {
					c.note(n, "%q: ignored, as keepalived takes the first word as the file", strings.Join(args[1:], " "))
				}
			}
		case "weight":
			if len(args) == 0 {
				c.fail(n, "no weight")
				continue
			}
			// keepalived takes a second weight only while the first is 1.
			if f.Weight != 1 {
				c.fail(n, "%s has its weight already", name)
				continue
			}
			w, err := strconv.Atoi(args[0])
			if err != nil || w < -254 || w > 254 {
				c.fail(n, "%q: need -254..254", args[0])
				continue
			}
			f.Weight = w
			if len(args) > 1 {
				if args[1] != "reverse" {
					c.fail(n, "%q: only reverse may follow the weight", args[1])
				}
				f.Reverse = true
			}
			if len(args) > 2 {
				c.note(n, "%q: ignored, as keepalived ignores it", strings.Join(args[2:], " "))
			}
		case "init_file":
			// Each init_file starts again from "0, if missing".
			f.InitFile, f.InitValue, f.Overwrite = true, 0, false
			for _, w := range args {
				switch {
				case w == "overwrite":
					f.Overwrite = true
				case w != "" && (w[0] == '-' || w[0] >= '0' && w[0] <= '9'):
					v, err := strconv.Atoi(w)
					if err != nil || v < -254 || v > 254 {
						c.fail(n, "%q: need a value -254..254", w)
						continue
					}
					f.InitValue = v
				default:
					c.fail(n, "%q: neither a value nor overwrite", w)
				}
			}
		default:
			c.fail(n, "unknown keyword of a track_file")
		}
	}
	if f.File == "" {
		c.fail(b, "%s has no file", name)
		return
	}
	if first := c.cfg.trackFile(name); first != nil {
		c.note(b, "a second track_file %s: keepalived tracks the one at %v, and so does vipkit", name, first.Pos)
	}
	c.cfg.TrackFiles = append(c.cfg.TrackFiles, f)
}

// trackInterfaces reads a track_interface block of the instance or the
// group named: interfaces by name, those without a weight (or weight 0:
// FAULT while down) in names, the others, "NAME weight W [reverse|
// noreverse]", in weighted, each remembered for checkInterfaceWeights.
func (c *converter) trackInterfaces(b *node, instance, group string) (names []string, weighted []vrrp.WeightedInterface) {
	for _, t := range c.lines(b) {
		args := t.args()
		if len(args) == 0 || len(args) == 2 && args[0] == "weight" && args[1] == "0" {
			names = append(names, t.keyword())
			continue
		}
		if args[0] != "weight" || len(args) < 2 || len(args) > 3 {
			c.fail(t, "want NAME [weight W [reverse|noreverse]]")
			continue
		}
		w, err := strconv.Atoi(args[1])
		if err != nil || w < -253 || w > 253 {
			c.fail(t, "weight %q: need -253..253", args[1])
			continue
		}
		wi := vrrp.WeightedInterface{Name: t.keyword(), Weight: w}
		if len(args) == 3 {
			switch args[2] {
			case "reverse":
				wi.Reverse = true
			case "noreverse":
			default:
				c.fail(t, "%q: reverse or noreverse may follow the weight", args[2])
				continue
			}
		}
		if w == 0 {
			c.fail(t, "weight 0 reverse (FAULT while the interface is up) is not supported")
			continue
		}
		weighted = append(weighted, wi)
		c.weightedIfs = append(c.weightedIfs, weightedIf{pos: t.pos, name: wi.Name, instance: instance, group: group})
	}
	return names, weighted
}

// A weightedIf is where an instance or a group tracks an interface with a
// weight.
type weightedIf struct {
	pos             Pos
	name            string
	instance, group string
}

// checkInterfaceWeights refuses a weighted track_interface where keepalived
// takes no weight (vrrp_complete_instance, sync_group_tracking_init): in
// the address owner, in a member of a sync group without
// sync_group_tracking_weight, in a group with the owner among its members.
func (c *converter) checkInterfaceWeights() {
	for _, w := range c.weightedIfs {
		for _, in := range c.cfg.Instances {
			if w.instance != "" && in.Name != w.instance {
				continue
			}
			if w.group != "" && !slices.ContainsFunc(c.cfg.SyncGroups, func(g *SyncGroup) bool { return g.Name == w.group && slices.Contains(g.Group, in.Name) }) {
				continue
			}
			if why := c.unweighted(in, w.group); why != "" {
				c.errorf(w.pos, "track_interface: %s has a weight in %s, which keepalived ignores with an error: track it without one", w.name, why)
				break
			}
		}
	}
}

// trackScripts reads a track_script block: vrrp_scripts by name, each
// with the weight that overrides the script's.
func (c *converter) trackScripts(b *node) []TrackScript {
	var out []TrackScript
	for _, t := range c.lines(b) {
		ts := TrackScript{Pos: t.pos, Name: t.keyword()}
		if len(t.words) == 3 && t.words[1] == "weight" {
			if w, err := strconv.Atoi(t.words[2]); err == nil && w >= -254 && w <= 254 {
				ts.Weight, ts.WeightSet = w, true
			} else {
				c.fail(t, "weight %q: need -254..254", t.words[2])
			}
		} else if len(t.words) != 1 {
			c.fail(t, "want a vrrp_script's name, and optionally weight N")
		}
		out = append(out, ts)
	}
	return out
}

// trackedFiles reads an instance's track_file block, "NAME [weight W
// [reverse|noreverse]]" a line. keepalived looks each name up where it is
// used, among the track_file blocks read so far (vrrp_alloc_track_file),
// and so does this; checkReferences refuses those it did not find.
func (c *converter) trackedFiles(b *node, where string, to *[]TrackedFile) {
	for _, t := range c.lines(b) {
		tf := TrackedFile{Pos: t.pos, Name: t.keyword()}
		if args := t.args(); len(args) > 0 {
			if args[0] != "weight" {
				c.fail(t, "%q: only weight may follow the name", args[0])
				continue
			}
			if len(args) == 1 {
				c.fail(t, "weight without a value")
				continue
			}
			w, err := strconv.Atoi(args[1])
			if err != nil || w < -254 || w > 254 {
				c.fail(t, "weight %q: need -254..254", args[1])
				continue
			}
			tf.Weight, tf.WeightSet = w, true
			if len(args) > 2 {
				switch args[2] {
				case "reverse":
					tf.Reverse, tf.ReverseSet = true, true
				case "noreverse":
					tf.ReverseSet = true
				default:
					c.fail(t, "%q: reverse or noreverse may follow the weight", args[2])
					continue
				}
			}
			if len(args) > 3 {
				c.note(t, "%q: ignored, as keepalived ignores it", strings.Join(args[3:], " "))
			}
		}
		if c.cfg.trackFile(tf.Name) == nil {
			c.unknownFiles = append(c.unknownFiles, unknownFile{t.pos, tf.Name, where})
			continue
		}
		if slices.ContainsFunc(*to, func(o TrackedFile) bool { return o.Name == tf.Name }) {
			c.fail(t, "tracked twice by %s", where)
			continue
		}
		*to = append(*to, tf)
	}
}

// checkTrackedFiles refuses the entries that named no track_file read
// before them, gives every entry its weight and direction, and refuses a
// weight where keepalived refuses one (vrrp.c, vrrp_complete_instance): on
// the address owner, and on a member of a sync group without
// sync_group_tracking_weight.
func (c *converter) checkTrackedFiles() {
	for _, u := range c.unknownFiles {
		if f := c.cfg.trackFile(u.name); f != nil {
			c.errorf(u.pos, "track_file: %s is defined at %v, after %s: keepalived looks a track_file up where it is used, and ignores this one with an error",
				u.name, f.Pos, u.where)
		} else {
			c.errorf(u.pos, "track_file: no track_file %s: keepalived ignores it with an error", u.name)
		}
	}
	tracked := map[string]bool{}
	for _, in := range c.cfg.Instances {
		for i := range in.TrackFiles {
			tf := &in.TrackFiles[i]
			f := c.cfg.trackFile(tf.Name)
			tracked[f.Name] = true
			if !tf.WeightSet {
				tf.Weight = f.Weight
			}
			if !tf.ReverseSet {
				tf.Reverse = f.Reverse
			}
			why := c.unweighted(in, tf.Group)
			switch {
			case why == "" || tf.Weight == 0:
			case tf.Weight == 1:
				c.errorf(tf.Pos, "track_file: %s has weight 1 (the default) in %s, which keepalived ignores with an error: write %s weight 0", tf.Name, why, tf.Name)
			default:
				c.errorf(tf.Pos, "track_file: %s has weight %d in %s, which keepalived stops tracking with an error: write %s weight 0", tf.Name, tf.Weight, why, tf.Name)
			}
		}
	}
	for _, f := range c.cfg.TrackFiles {
		if f.InitFile && !tracked[f.Name] && c.cfg.trackFile(f.Name) == f {
			c.cfg.Notes = append(c.cfg.Notes, Note{Pos: f.Pos, Keyword: "init_file",
				Text: fmt.Sprintf("no vrrp_instance tracks %s: keepalived writes its init_file at start all the same, vipkit does not", f.Name)})
		}
	}
}

// groupTracking adds each sync group's tracking to its members', as
// keepalived's sync_group_tracking_init does. What a member tracks too
// keeps one entry (add_vrrp_to_track_script, add_obj_to_track_file): the
// member's if its weight is 0, or if its weight is refused anyway (a
// group without sync_group_tracking_weight); else the group's. Either way
// a note says so.
func (c *converter) groupTracking() {
	scriptWeight := func(ts TrackScript) int {
		if ts.WeightSet {
			return ts.Weight
		}
		for _, sc := range c.cfg.Scripts {
			if sc.Name == ts.Name {
				return sc.Weight
			}
		}
		return 0
	}
	fileWeight := func(tf TrackedFile) int {
		if f := c.cfg.trackFile(tf.Name); f != nil && !tf.WeightSet {
			return f.Weight
		}
		return tf.Weight
	}
	for _, g := range c.cfg.SyncGroups {
		for _, in := range c.cfg.Instances {
			if !slices.Contains(g.Group, in.Name) {
				continue
			}
			// keepalived's add_vrrp_to_interface: the group's weight
			// replaces the member's, unless the member tracks it without
			// one.
			for _, name := range g.TrackInterfaces {
				in.Router.WeightedInterfaces = slices.DeleteFunc(in.Router.WeightedInterfaces, func(o vrrp.WeightedInterface) bool { return o.Name == name })
				if !slices.Contains(in.Router.TrackInterfaces, name) {
					in.Router.TrackInterfaces = append(in.Router.TrackInterfaces, name)
				}
			}
			for _, wi := range g.WeightedInterfaces {
				if slices.Contains(in.Router.TrackInterfaces, wi.Name) {
					continue
				}
				if i := slices.IndexFunc(in.Router.WeightedInterfaces, func(o vrrp.WeightedInterface) bool { return o.Name == wi.Name }); i >= 0 {
					in.Router.WeightedInterfaces[i] = wi
				} else {
					in.Router.WeightedInterfaces = append(in.Router.WeightedInterfaces, wi)
				}
			}
			for _, ts := range g.TrackScripts {
				ts.Group = g.Name
				in.TrackScripts = mergeTracked(c, in, g, "track_script", ts.Name, in.TrackScripts, ts, ts.Pos,
					func(o TrackScript) bool { return o.Name == ts.Name }, scriptWeight)
			}
			for _, tf := range g.TrackFiles {
				tf.Group = g.Name
				in.TrackFiles = mergeTracked(c, in, g, "track_file", tf.Name, in.TrackFiles, tf, tf.Pos,
					func(o TrackedFile) bool { return o.Name == tf.Name }, fileWeight)
			}
		}
	}
}

// mergeTracked returns list, what the member in tracks of a kind (keyword),
// with entry (of that name), its group g's, added. One the member tracks too stays, with
// a note (at pos, the group's), if its weight is 0 or is refused anyway
// (no sync_group_tracking_weight); else the group's replaces it.
func mergeTracked[T any](c *converter, in *Instance, g *SyncGroup, keyword, name string, list []T, entry T, pos Pos,
	same func(T) bool, weight func(T) int) []T {
	i := slices.IndexFunc(list, same)
	switch {
	case i < 0:
		return append(list, entry)
	case weight(list[i]) == 0 || !c.trackingWeight[g.Name]:
		c.cfg.Notes = append(c.cfg.Notes, Note{Pos: pos, Keyword: keyword,
			Text: fmt.Sprintf("%s is tracked by vrrp_instance %s too: its entry there stays, as in keepalived", name, in.Name)})
	default:
		list[i] = entry
		c.cfg.Notes = append(c.cfg.Notes, Note{Pos: pos, Keyword: keyword,
			Text: fmt.Sprintf("%s is tracked by vrrp_instance %s too: the group's weight replaces the instance's, as in keepalived", name, in.Name)})
	}
	return list
}

// unweighted says why keepalived takes no weight in what in tracks, or
// "": it is the address owner, or a member of a sync group without
// sync_group_tracking_weight (vrrp.c, vrrp_complete_instance).
//
// Of what a group tracks (group, its name), keepalived takes the weights,
// unless a member is the address owner (sync_group_tracking_init).
func (c *converter) unweighted(in *Instance, group string) string {
	if group != "" {
		for _, g := range c.cfg.SyncGroups {
			if g.Name != group {
				continue
			}
			for _, o := range c.cfg.Instances {
				if slices.Contains(g.Group, o.Name) && o.Router.Priority == 255 {
					return "vrrp_sync_group " + g.Name + ", whose member " + o.Name + " is the address owner (priority 255)"
				}
			}
		}
		return ""
	}
	if in.Router.Priority == 255 {
		return "the address owner (priority 255)"
	}
	for _, g := range c.cfg.SyncGroups {
		if slices.Contains(g.Group, in.Name) && !c.trackingWeight[g.Name] {
			return "a member of vrrp_sync_group " + g.Name + " without sync_group_tracking_weight"
		}
	}
	return ""
}

// checkScriptWeights refuses a weighted track_script where keepalived
// drops it with an error (vrrp_complete_instance): in the address owner,
// and in a member of a sync group without sync_group_tracking_weight.
func (c *converter) checkScriptWeights() {
	weight := map[string]int{}
	for _, sc := range c.cfg.Scripts {
		if _, dup := weight[sc.Name]; !dup {
			weight[sc.Name] = sc.Weight
		}
	}
	for _, in := range c.cfg.Instances {
		for _, ts := range in.TrackScripts {
			why := c.unweighted(in, ts.Group)
			if why == "" {
				continue
			}
			w := weight[ts.Name]
			if ts.WeightSet {
				w = ts.Weight
			}
			if w != 0 {
				c.errorf(ts.Pos, "track_script: %s has weight %d in %s, which keepalived ignores with an error: give it weight 0", ts.Name, w, why)
			}
		}
	}
}

// checkReferences checks that what refers to a name finds it: every
// tracked script is a vrrp_script, every member of a sync group an
// instance in no other group, and no two instances share a name, or a
// VRID on an interface and family.
func (c *converter) checkReferences() {
	scripts := map[string]bool{}
	for _, s := range c.cfg.Scripts {
		scripts[s.Name] = true
	}
	type vr struct {
		iface string
		vrid  uint8
		ipv6  bool
	}
	names, vrs := map[string]Pos{}, map[vr]string{}
	for _, in := range c.cfg.Instances {
		if p, dup := names[in.Name]; dup {
			c.errorf(in.Pos, "vrrp_instance %s: a second one of that name (the first at %v)", in.Name, p)
		}
		names[in.Name] = in.Pos
		if len(in.Router.VirtualAddresses) > 0 && in.Router.VRID != 0 {
			k := vr{in.Router.Interface, in.Router.VRID, in.Router.VirtualAddresses[0].Is6()}
			if other, dup := vrs[k]; dup {
				c.errorf(in.Pos, "vrrp_instance %s: VRID %d on %s is vrrp_instance %s's too", in.Name, k.vrid, k.iface, other)
			}
			vrs[k] = in.Name
		}
		kept := in.TrackScripts[:0]
		for _, t := range in.TrackScripts {
			if scripts[t.Name] {
				kept = append(kept, t)
				continue
			}
			// keepalived logs it and runs without the check.
			c.cfg.Notes = append(c.cfg.Notes, Note{Pos: t.Pos, Keyword: "track_script",
				Text: fmt.Sprintf("no vrrp_script %s: ignored, as keepalived ignores it; the instance runs without that check", t.Name)})
		}
		in.TrackScripts = kept
	}
	member := map[string]string{}
	for _, g := range c.cfg.SyncGroups {
		for _, m := range g.Group {
			if _, ok := names[m]; !ok {
				c.errorf(g.Pos, "vrrp_sync_group %s: no vrrp_instance %s", g.Name, m)
			}
			if other, dup := member[m]; dup {
				c.errorf(g.Pos, "vrrp_sync_group %s: vrrp_instance %s is in vrrp_sync_group %s too", g.Name, m, other)
			}
			member[m] = g.Name
		}
	}
}

// The values of statements, each refusing what keepalived would not take.

// word returns the statement's one argument.
func (c *converter) word(n *node) (string, bool) {
	if len(n.args()) != 1 {
		c.fail(n, "takes one value, not %d", len(n.args()))
		return "", false
	}
	return n.args()[0], true
}

// command returns a vrrp_script's command: the statement's one word
// (quoted, it holds the arguments).
func (c *converter) command(n *node) string {
	switch len(n.args()) {
	case 0:
		c.fail(n, "no command")
		return ""
	case 1:
		return n.args()[0]
	}
	// keepalived runs the first word and ignores the rest
	// (vrrp_vscript_script_handler): a command whose arguments are not
	// quoted with it would run without them.
	c.fail(n, "%q: keepalived ignores what follows the command: quote the command with its arguments (and set its user with user)", strings.Join(n.args()[1:], " "))
	return ""
}

// uint returns the statement's whole-number argument, in min..max.
func (c *converter) uint(n *node, min, max int) (int, bool) {
	w, ok := c.word(n)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(w)
	if err != nil || v < min || v > max {
		c.fail(n, "%q: need a whole number %d..%d", w, min, max)
		return 0, false
	}
	return v, true
}

// count sets *dst to the statement's count, at least min.
func (c *converter) count(n *node, dst *int, min int) bool {
	v, ok := c.uint(n, min, 1<<31-1)
	if ok {
		*dst = v
	}
	return ok
}

// seconds sets *dst to the statement's whole seconds.
func (c *converter) seconds(n *node, dst *time.Duration) bool {
	v, ok := c.uint(n, 0, 1<<31-1)
	if ok {
		*dst = time.Duration(v) * time.Second
	}
	return ok
}

// decimalSeconds sets *dst to the statement's seconds, with up to six
// decimals as keepalived reads them ("0.5", "1.25"), in min..max.
func (c *converter) decimalSeconds(n *node, dst *time.Duration, min, max time.Duration) bool {
	w, ok := c.word(n)
	if !ok {
		return false
	}
	whole, frac, _ := strings.Cut(w, ".")
	s, err := strconv.ParseUint(whole, 10, 32)
	var us uint64
	if err == nil && frac != "" {
		if len(frac) > 6 {
			err = errors.New("more than six decimals")
		} else if us, err = strconv.ParseUint(frac+strings.Repeat("0", 6-len(frac)), 10, 32); err != nil {
			err = errors.New("not a number")
		}
	}
	d := time.Duration(s)*time.Second + time.Duration(us)*time.Microsecond
	if err != nil || d < min || d > max {
		c.fail(n, "%q: need seconds from %v to %v", w, min, max)
		return false
	}
	*dst = d
	return true
}

// flag reads an optional true/false argument, as keepalived's
// check_true_false: none means true.
func (c *converter) flag(n *node) bool {
	switch len(n.args()) {
	case 0:
		return true
	case 1:
		switch strings.ToLower(n.args()[0]) {
		case "true", "on", "yes":
			return true
		case "false", "off", "no":
			return false
		}
	}
	c.fail(n, "takes true or false, or nothing")
	return false
}

// addr returns the statement's address argument.
func (c *converter) addr(n *node) (netip.Addr, bool) {
	w, ok := c.word(n)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(w)
	if err != nil {
		c.fail(n, "%q is not an address", w)
		return netip.Addr{}, false
	}
	return a, true
}

// lines returns the statements of a block that takes one item a line.
func (c *converter) lines(n *node) []*node {
	if !n.brace {
		c.fail(n, "wants a block: %s { ... }", n.keyword())
		return nil
	}
	for _, m := range n.block {
		if m.brace {
			c.errorf(m.pos, "%s: no block expected inside %s", m.keyword(), n.keyword())
		}
	}
	return n.block
}
