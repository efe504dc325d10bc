// Package vipcmd is what the example commands share: flags for one
// keepalived vrrp_instance, the vrrp.Router and havip.Client they describe,
// and the loop that runs the two and reports transitions as JSON lines.
// Errors about the configuration are said in the words of the command
// line: the flag as the user typed it, not the Go field it sets, and its
// value (a repeatable flag's as typed, another's as Go prints it: 1.5s for
// 1500ms).
package vipcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/havip/tencentcloud"
	"github.com/vipkit/vipkit/vrrp"
)

// UsageError is a bad command line; [Exit] turns it into exit status 2.
type UsageError struct{ error }

// Unwrap returns the error that says what is wrong.
func (e UsageError) Unwrap() error { return e.error }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error { return UsageError{fmt.Errorf(format, args...)} }

// Options are one virtual router and the addresses it holds while master.
type Options struct {
	Router vrrp.Config
	// VIPs are the virtual addresses with the prefix length they get on
	// the interface; Router.VirtualAddresses are their addresses.
	VIPs     []netip.Prefix
	Announce havip.Announce
	// Cloud, when its Mode is set, claims the addresses from Tencent Cloud.
	Cloud tencentcloud.Config
	// ElectionOnly says that the program runs the election without holding
	// the addresses (vrrpd -no-vip): it needs no CAP_NET_ADMIN.
	ElectionOnly bool
	// Reassert is havip.Config.ReassertInterval: how often a master
	// claims the addresses from the cloud again.
	Reassert time.Duration
	// HoldFailureWeight is havip.Config.FailureWeight: 0 puts a master that
	// cannot hold the addresses in FAULT, a negative weight lowers its
	// priority instead.
	HoldFailureWeight int
	// RealtimePriority, 1..99, runs the routers' timers under SCHED_RR
	// ([vrrp.SetRealtimePriority]); 0: the ordinary policy.
	RealtimePriority int
	// StatusFile, if set, is where [Options.Serve] keeps the router's
	// [Status].
	StatusFile string
	// Instance names the router in its Transition lines (a vrrp_instance
	// of a keepalived.conf), when one process runs several.
	Instance string

	flags *Flags // for errors in the flags' words; nil in Options made by hand
}

// Flags are the vrrp_instance flags registered on a flag.FlagSet.
type Flags struct {
	fs                      *flag.FlagSet
	opts                    Options
	vrid, priority, version uint
	maxPriority             uint // 255, or 254 with MovingPriority
	checksum, src, cloud    string
	authPassFile            string
	higherPrioSendAdvert    bool
	vips                    list[netip.Prefix]
	peers                   list[netip.Addr]
	track                   Strings
	setBy                   map[string]string // the program's own: config field → flag
}

// AddFlags registers on fs the flags of a keepalived vrrp_instance:
// -interface, -vrid, -priority, -version, -advert-int, -vip, -src, -peer,
// -nopreempt, -preempt-delay, -higher-prio-send-advert, -auth-pass,
// -checksum, -track-interface, -hold-failure-weight, -rt-priority, the
// garp_master_* settings as -garp-*, -tencentcloud with its endpoint
// flags, and -status-file, where [Options.Serve] keeps the daemon's [Status] as
// one JSON object (rewritten at start, after each transition and on
// SIGUSR1). Call [Flags.Options] after fs.Parse.
func AddFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs, opts: Options{Announce: havip.KeepalivedAnnounce}, maxPriority: 255, setBy: map[string]string{},
		vips: list[netip.Prefix]{parse: parsePrefix}, peers: list[netip.Addr]{parse: parseAddr}}
	cfg, garp, cloud := &f.opts.Router, &f.opts.Announce, &f.opts.Cloud
	fs.StringVar(&cfg.Interface, "interface", "", "interface to run on (required; keepalived interface)")
	fs.UintVar(&f.vrid, "vrid", 0, "virtual router ID, 1..255 (required; virtual_router_id)")
	fs.UintVar(&f.priority, "priority", 100, "priority, 1..255 (255: address owner, the addresses are the interface's own)")
	fs.UintVar(&f.version, "version", 3, "VRRP version, 2 or 3 (keepalived's default is 2)")
	fs.StringVar(&f.checksum, "checksum", "rfc5798", "VRRPv3 IPv4 checksum: rfc5798 (with pseudo-header) or rfc9568 (without; keepalived v3_checksum_as_v2)")
	fs.DurationVar(&cfg.AdvertInterval, "advert-int", time.Second, "advertisement interval (advert_int)")
	fs.Var(&f.vips, "vip", "virtual address `PREFIX`, repeatable, at least one (virtual_ipaddress); a bare address is /32 or /128")
	fs.StringVar(&f.src, "src", "", "unicast source `ADDR` (unicast_src_ip)")
	fs.Var(&f.peers, "peer", "unicast peer `ADDR`, repeatable; none means multicast (unicast_peer)")
	fs.BoolVar(&cfg.NoPreempt, "nopreempt", false, "do not preempt a lower-priority master")
	fs.BoolVar(&f.higherPrioSendAdvert, "higher-prio-send-advert", true, "a master that hears a higher priority sends one advertisement before it steps down, so that the winner announces the addresses again after a split brain (higher_prio_send_advert; off by default in keepalived)")
	fs.DurationVar(&cfg.PreemptDelay, "preempt-delay", 0, "do not preempt a lower-priority master until this long after first hearing one since start or since a FAULT cleared (preempt_delay)")
	fs.BoolVar(&cfg.AcceptAddressMismatch, "accept-address-mismatch", false, "take advertisements whose addresses differ from -vip (counted and logged) instead of dropping them, as keepalived 2.3.3 and later do; set it on every node or on none")
	fs.BoolVar(&cfg.OwnerIgnoreAdverts, "owner-ignore-adverts", false, "with -priority 255, discard every advertisement received (owner_ignore_adverts)")
	fs.StringVar(&cfg.AuthPass, "auth-pass", "", "VRRPv2 simple password, at most 8 bytes (authentication auth_type PASS); every local user can read it in ps: prefer -auth-pass-file or $"+AuthPassEnv)
	fs.StringVar(&f.authPassFile, "auth-pass-file", "", "read the VRRPv2 password from the first line of `FILE` (keep it readable by root only)")
	fs.BoolVar(&cfg.VirtualMAC, "vmac", false, "speak from the virtual MAC 00:00:5e:00:01:VRID (IPv6 00:00:5e:00:02:VRID) on a macvlan holding the addresses, so that a failover changes no neighbour's ARP cache; not in clouds, which drop unknown MACs (use_vmac)")
	fs.StringVar(&cfg.VirtualMACInterface, "vmac-interface", "", "name of the -vmac macvlan (default vrrp.VRID, IPv6 vrrp6.VRID)")
	fs.BoolVar(&cfg.VirtualMACTransmitBase, "vmac-xmit-base", false, "with -vmac, send advertisements from -interface's own MAC (vmac_xmit_base)")
	fs.Var(&f.track, "track-interface", "another `IFACE` whose loss puts the router in FAULT, repeatable (track_interface; -interface is always tracked)")
	fs.IntVar(&f.opts.HoldFailureWeight, "hold-failure-weight", 0, "what a master does that cannot add the addresses or claim them from the cloud: 0 goes to FAULT so that a backup takes over; -253..-1 lowers the priority by that much instead, so that it stays master if alone")
	fs.IntVar(&f.opts.RealtimePriority, "rt-priority", 0, "run the timers and sends under SCHED_RR at this priority, 1..99, needs CAP_SYS_NICE; 0: the ordinary policy (vrrp_rt_priority)")
	fs.IntVar(&garp.Repeat, "garp-master-repeat", garp.Repeat, "gratuitous ARPs per address on becoming master")
	fs.DurationVar(&garp.Interval, "garp-interval", garp.Interval, "time between gratuitous ARPs of a burst")
	fs.DurationVar(&garp.Delay, "garp-master-delay", garp.Delay, "second burst this long after becoming master (0: none)")
	fs.DurationVar(&garp.Refresh, "garp-master-refresh", garp.Refresh, "announce again this often while master (0: never)")
	fs.IntVar(&garp.RefreshRepeat, "garp-master-refresh-repeat", garp.RefreshRepeat, "gratuitous ARPs per address of each refresh")
	fs.IntVar(&garp.LowerPriorityRepeat, "garp-lower-prio-repeat", 0, "gratuitous ARPs per address when a master hears a lower priority (0: -garp-master-repeat; -1: none)")
	fs.DurationVar(&garp.LowerPriorityDelay, "garp-lower-prio-delay", 0, "second burst this long after one for a lower priority (0: -garp-master-delay; negative: none)")
	fs.StringVar(&f.cloud, "tencentcloud", "", "claim the addresses from Tencent Cloud's VPC: havip (verify the binding) or private-ip (migrate through the API); keys from TENCENTCLOUD_SECRET_ID/KEY or the CAM role")
	fs.StringVar(&cloud.Endpoint, "tencentcloud-endpoint", "", "VPC API endpoint (default: the SDK's)")
	fs.StringVar(&cloud.Scheme, "tencentcloud-scheme", "", "VPC API scheme (default https)")
	fs.StringVar(&cloud.Region, "tencentcloud-region", "", "region (default: the instance's)")
	fs.DurationVar(&f.opts.Reassert, "tencentcloud-reassert", 30*time.Second, "while master, claim the addresses from the cloud again this often")
	fs.StringVar(&cloud.Metadata.BaseURL, "tencentcloud-metadata", "", "metadata service base URL (default "+tencentcloud.DefaultMetadataURL+")")
	fs.StringVar(&f.opts.StatusFile, "status-file", "", "keep the state and the RFC 6527 counters as one JSON object in `FILE`, replaced (mode 0644) at start, after each transition and on SIGUSR1; without it SIGUSR1 writes them as a JSON line on standard error")
	return f
}

// MovingPriority is for a program whose checks move its priority: its
// -priority is 1..254, as the address owner's 255 never moves. by names
// what moves it ("-weight").
func (f *Flags) MovingPriority(by string) {
	f.maxPriority = 254
	f.fs.Lookup("priority").Usage = "priority, 1..254 (" + by + " moves it, and an address owner's 255 would never move)"
}

// SetBy says that the program sets field, a field of vrrp.Config that no
// flag of AddFlags sets (as "Checks"), from its own flag, written as the
// user types it ("-weight", or "-check-*" for a family): an error about
// the field then names the flag.
func (f *Flags) SetBy(field, flag string) { f.setBy[field] = flag }

// Parse parses args with fs. For -h it writes about (one sentence saying
// what the program does), usage, then fs's defaults, to w and returns
// flag.ErrHelp; any other failure, and a positional argument, is a
// UsageError that names the flag.
func Parse(fs *flag.FlagSet, args []string, about, usage string, w io.Writer) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(w)
		fmt.Fprintln(w, about)
		fmt.Fprintln(w, "usage:", usage)
		fs.PrintDefaults()
		return err
	} else if err != nil {
		return UsageError{badValue(fs, err)}
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// invalidValue is the flag package's error for a value its flag refused.
var invalidValue = regexp.MustCompile(`^invalid (?:boolean )?value ("(?:[^"\\]|\\.)*") for (?:flag )?-(\S+): (.*)$`)

// badValue rewrites the flag package's error for a refused value as
// "-name value: reason", with a reason in words for its bare "parse error".
func badValue(fs *flag.FlagSet, err error) error {
	m := invalidValue.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	fl := fs.Lookup(m[2])
	value, qerr := strconv.Unquote(m[1])
	if fl == nil || qerr != nil {
		return err
	}
	reason := m[3]
	if g, ok := fl.Value.(flag.Getter); ok && reason == "parse error" {
		switch g.Get().(type) {
		case time.Duration:
			reason = "not a duration: a number with a unit, as 1s or 100ms"
		case bool:
			reason = "not true or false"
		case int, int64:
			reason = "not an integer"
		case uint, uint64:
			reason = "not a number of 0 or more"
		}
	}
	return fmt.Errorf("-%s %s: %s", fl.Name, show(value), reason)
}

// Options checks the parsed flags and returns the options they give:
// every check that needs no host, the router's (vrrp.Config.Validate) and
// the addresses' (havip) included, so that a bad flag is refused before
// anything is opened. The interface, the unicast source and a cloud's rule
// for the addresses are checked by [Options.NewRouter] and
// [Options.NewClient]. With -tencentcloud, the announcement rhythm
// defaults to tencentcloud.Announce unless a -garp- flag was given.
func (f *Flags) Options() (Options, error) {
	var o Options // returned on error
	cfg := &f.opts.Router
	given := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	switch {
	case cfg.Interface == "":
		return o, Usagef("-interface is required")
	case !given["vrid"]:
		return o, Usagef("-vrid is required: the virtual router ID, 1..255")
	case f.vrid == 0 || f.vrid > 255:
		return o, Usagef("-vrid %d: need 1..255", f.vrid)
	case len(f.vips.values) == 0:
		return o, Usagef("-vip is required: at least one virtual address")
	case f.priority == 0 || f.priority > f.maxPriority:
		return o, Usagef("-priority %d: need 1..%d", f.priority, f.maxPriority)
	case f.version != 2 && f.version != 3:
		return o, Usagef("-version %d: need 2 or 3", f.version)
	case f.opts.RealtimePriority < 0 || f.opts.RealtimePriority > 99:
		return o, Usagef("-rt-priority %d: need 0 (none) or 1..99", f.opts.RealtimePriority)
	}
	if err := f.readAuthPass(given); err != nil {
		return o, err
	}
	cfg.VRID, cfg.Priority, cfg.Version = uint8(f.vrid), uint8(f.priority), vrrp.Version(f.version)
	cfg.QuietStepDown = !f.higherPrioSendAdvert
	switch f.checksum {
	case "rfc5798":
		cfg.Checksum = vrrp.ChecksumPseudoHeader
	case "rfc9568":
		cfg.Checksum = vrrp.ChecksumMessageOnly
	default:
		return o, Usagef("-checksum %s: need rfc5798 or rfc9568", show(f.checksum))
	}
	if f.src != "" {
		a, err := parseAddr(f.src)
		if err != nil {
			return o, Usagef("-src %s: %v", show(f.src), err)
		}
		cfg.UnicastSource = a
	}
	switch f.cloud {
	case "":
	case "havip":
		f.opts.Cloud.Mode = tencentcloud.ModeHAVIP
	case "private-ip":
		f.opts.Cloud.Mode = tencentcloud.ModePrivateIP
	default:
		return o, Usagef("-tencentcloud %s: need havip or private-ip", show(f.cloud))
	}
	garpSet := false
	for name := range given {
		garpSet = garpSet || strings.HasPrefix(name, "garp-")
	}
	if f.opts.Cloud.Mode != 0 && !garpSet {
		f.opts.Announce = tencentcloud.Announce
	}
	cfg.VirtualAddresses = nil
	for _, p := range f.vips.values {
		cfg.VirtualAddresses = append(cfg.VirtualAddresses, p.Addr())
	}
	cfg.UnicastPeers, cfg.TrackInterfaces = f.peers.values, f.track
	// In private-IP mode the binder takes the address from a peer's
	// interface only.
	f.opts.Cloud.Peers = f.peers.values
	f.opts.VIPs = f.vips.values
	f.opts.flags = f
	if err := cfg.Validate(); err != nil {
		return o, f.inFlags(err)
	}
	if err := f.opts.clientConfig(nil).Validate(); err != nil {
		return o, f.inFlags(err)
	}
	return f.opts, nil
}

// AuthPassEnv is the environment variable that may carry the VRRPv2
// password instead of -auth-pass, which shows it to every local user in
// ps.
const AuthPassEnv = "VIPKIT_AUTH_PASS"

// readAuthPass sets the password from -auth-pass-file, or from
// $VIPKIT_AUTH_PASS when neither -auth-pass nor -auth-pass-file was given;
// errors about it then name where it came from.
func (f *Flags) readAuthPass(given map[string]bool) error {
	cfg := &f.opts.Router
	switch {
	case given["auth-pass"] && given["auth-pass-file"]:
		return Usagef("-auth-pass and -auth-pass-file: give one")
	case given["auth-pass-file"]:
		b, err := os.ReadFile(f.authPassFile)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return Usagef("-auth-pass-file %s: %v", show(f.authPassFile), err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		if cfg.AuthPass = strings.TrimSuffix(line, "\r"); cfg.AuthPass == "" {
			return Usagef("-auth-pass-file %s: the first line is empty", show(f.authPassFile))
		}
		f.SetBy("AuthPass", "-auth-pass-file")
	case !given["auth-pass"]:
		if v := os.Getenv(AuthPassEnv); v != "" {
			cfg.AuthPass = v
			f.SetBy("AuthPass", "$"+AuthPassEnv)
		}
	}
	return nil
}

// NewRouter returns the router o.Router describes, with what the program
// added to it (Checks, Logger), after setting the process's real-time
// priority when o has one. An error about a field names the flag that set
// it. A process without the capabilities it needs, CAP_NET_RAW and, unless
// ElectionOnly, CAP_NET_ADMIN, is refused first with a UsageError that
// names them: a node that could not hold the addresses must not run, or
// it would become a master that holds nothing.
func (o Options) NewRouter() (*vrrp.Router, error) {
	if missing := missingCapabilities(!o.ElectionOnly); len(missing) > 0 {
		return nil, Usagef("needs %s: run it as root or grant them (setcap, or systemd's AmbientCapabilities=)",
			strings.Join(missing, " and "))
	}
	if o.RealtimePriority != 0 {
		if err := vrrp.SetRealtimePriority(o.RealtimePriority); err != nil {
			return nil, fmt.Errorf("-rt-priority: %w", err)
		}
	}
	r, err := vrrp.NewRouter(o.Router)
	return r, o.flags.inFlags(err)
}

// NewClient returns the havip client that holds o's addresses, as the
// address owner when the priority is 255, with the Tencent Cloud binder
// when o.Cloud.Mode is set. An error about a field names the flag that
// set it.
func (o Options) NewClient(ctx context.Context, logger *slog.Logger) (*havip.Client, error) {
	cfg := o.clientConfig(logger)
	if o.Cloud.Mode != 0 {
		o.Cloud.Logger = logger
		b, err := tencentcloud.New(ctx, o.Cloud)
		if err != nil {
			return nil, err
		}
		cfg.Binder = b
	}
	c, err := havip.New(cfg)
	return c, o.flags.inFlags(err)
}

func (o *Options) clientConfig(logger *slog.Logger) havip.Config {
	return havip.Config{Interface: o.Router.AddressInterface(), Addresses: o.VIPs, Owner: o.Router.Priority == 255,
		Announce: &o.Announce, ReassertInterval: o.Reassert, FailureWeight: o.HoldFailureWeight, Logger: logger}
}

// Transition is the JSON line [Serve] writes for each state transition.
type Transition struct {
	Time     string `json:"time"`               // RFC 3339 with microseconds, UTC
	Instance string `json:"instance,omitempty"` // Options.Instance
	VRID     uint8  `json:"vrid"`
	From     string `json:"from"`
	To       string `json:"to"`
	Reason   string `json:"reason"`
}

// Transitions reads the Transition lines from output, a command's standard
// output (with or without its logs), in order. Lines that do not start with
// '{' are skipped, and so are [Status] lines (SIGUSR1 writes one on
// standard error); another that is not a Transition is an error.
func Transitions(output string) ([]Transition, error) {
	var trs []Transition
	for line := range strings.SplitSeq(output, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var probe struct {
			Instance json.RawMessage `json:"instance"` // a Status's is an object, a Transition's a name
		}
		if err := json.Unmarshal([]byte(line), &probe); err != nil {
			return trs, fmt.Errorf("transition line %q: %w", line, err)
		}
		if bytes.HasPrefix(probe.Instance, []byte("{")) {
			continue
		}
		var t Transition
		if err := json.Unmarshal([]byte(line), &t); err != nil {
			return trs, fmt.Errorf("transition line %q: %w", line, err)
		}
		trs = append(trs, t)
	}
	return trs, nil
}

// Serve runs r until ctx ends, c (if not nil) holding the addresses while r
// is master, and writes each of r's transitions to stdout as a JSON
// [Transition] line. When ctx ends a master hands over with priority 0;
// then c removes the addresses and Serve returns.
//
// With a StatusFile, Serve writes r's [Status] there, replacing the file: before r starts (a failure is
// returned, after closing r and c), after each transition, on SIGUSR1 and
// once r and c have stopped. Without one, SIGUSR1 writes the Status as one
// line on the process's standard error, beside its logs: stdout has
// Transition lines only.
func (o Options) Serve(ctx context.Context, r *vrrp.Router, c *havip.Client, stdout io.Writer) error {
	status, err := startStatus(r, c, o.StatusFile)
	if err != nil {
		if c != nil {
			c.Close()
		}
		r.Close()
		return err
	}
	var wg sync.WaitGroup
	events := r.Subscribe(context.Background())
	wg.Go(func() {
		enc := json.NewEncoder(stdout)
		for e := range events {
			if e.Kind == vrrp.EventTransition {
				enc.Encode(Transition{Time: e.Time.UTC().Format("2006-01-02T15:04:05.000000Z07:00"), Instance: o.Instance,
					VRID: e.VRID, From: e.From.String(), To: e.To.String(), Reason: e.Reason.String()})
			}
		}
	})
	var holdErr error
	hold, release := context.WithCancel(context.Background())
	defer release()
	if c != nil {
		wg.Go(func() { c.Follow(hold, r) })
		wg.Go(func() { holdErr = c.Run(hold) })
	}
	wg.Go(status.follow)
	err = r.Run(ctx) // a master has handed over with priority 0 when it returns
	release()        // then the addresses go
	wg.Wait()
	status.stop()
	return errors.Join(err, holdErr)
}

// Exit reports err, if any, as one line "prog: message" on stderr and
// returns the exit status: 0 without error, 2 for a bad command line or
// configuration, 1 otherwise.
func Exit(stderr io.Writer, prog string, err error) int {
	if err == nil {
		return 0
	}
	msg := err.Error()
	for _, prefix := range []string{"vrrp: ", "havip: ", "tencentcloud: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	fmt.Fprintf(stderr, "%s: %s\n", prog, strings.ReplaceAll(msg, "\n", "; "))
	if errors.As(err, new(UsageError)) || errors.Is(err, vrrp.ErrConfig) || errors.Is(err, havip.ErrConfig) {
		return 2
	}
	return 1
}

// flagOf names the flag that sets each field of vrrp.Config and
// havip.Config that AddFlags's flags set, by the field's Go path without
// an index.
var flagOf = map[string]string{
	"Interface":              "-interface",
	"VRID":                   "-vrid",
	"Priority":               "-priority",
	"Version":                "-version",
	"Checksum":               "-checksum",
	"AdvertInterval":         "-advert-int",
	"VirtualAddresses":       "-vip",
	"Addresses":              "-vip",
	"UnicastSource":          "-src",
	"UnicastPeers":           "-peer",
	"PreemptDelay":           "-preempt-delay",
	"OwnerIgnoreAdverts":     "-owner-ignore-adverts",
	"VirtualMAC":             "-vmac",
	"VirtualMACInterface":    "-vmac-interface",
	"VirtualMACTransmitBase": "-vmac-xmit-base",
	"NoPreempt":              "-nopreempt",
	"AuthPass":               "-auth-pass",
	"TrackInterfaces":        "-track-interface",
	"FailureWeight":          "-hold-failure-weight",
	"ReassertInterval":       "-tencentcloud-reassert",
	"Announce.Repeat":        "-garp-master-repeat",
	"Announce.Interval":      "-garp-interval",
	"Announce.Delay":         "-garp-master-delay",
	"Announce.Refresh":       "-garp-master-refresh",
	"Announce.RefreshRepeat": "-garp-master-refresh-repeat",

	"Announce.LowerPriorityRepeat": "-garp-lower-prio-repeat",
}

// flagFor returns the flag that sets field (without an index), or "".
func (f *Flags) flagFor(field string) string {
	if fl, ok := f.setBy[field]; ok {
		return fl
	}
	return flagOf[field]
}

// A flagError is a vrrp or havip ConfigError said in the words of the
// command line.
type flagError struct {
	msg string
	err error // the ConfigError
}

func (e *flagError) Error() string { return e.msg }
func (e *flagError) Unwrap() error { return e.err }

// inFlags returns err, when it is a vrrp or havip ConfigError, as a
// UsageError that names the flag behind the field instead of the field:
// "-advert-int 5ms: VRRPv3 takes centiseconds ...". It still wraps the
// ConfigError. Any other error, and any error when f is nil, is returned
// as it is.
func (f *Flags) inFlags(err error) error {
	var field, reason string
	var ve *vrrp.ConfigError
	var he *havip.ConfigError
	switch {
	case f == nil || err == nil:
		return err
	case errors.As(err, &ve):
		field, reason = ve.Field, ve.Reason
	case errors.As(err, &he):
		field, reason = he.Field, he.Reason
	default:
		return err
	}
	return UsageError{&flagError{f.describe(field, reason), err}}
}

// describe says what reason says about field, naming the flag that sets
// it and, where the reason starts with the value, the value as typed.
func (f *Flags) describe(field, reason string) string {
	base, index := cutIndex(field)
	reason = f.reword(field, reason)
	name := f.flagFor(base)
	if name == "" {
		return field + ": " + reason
	}
	typed, forms := f.typed(strings.TrimPrefix(name, "-"), index)
	for _, v := range forms {
		rest, ok := strings.CutPrefix(reason, v)
		if !ok || rest != "" && !strings.ContainsAny(rest[:1], " ;:,") {
			continue
		}
		if r, ok := strings.CutPrefix(rest, "; "); ok {
			rest = ": " + r
		}
		return name + " " + show(typed) + rest
	}
	return name + ": " + reason
}

// typed returns what the user gave flag name: its value, or the index'th
// value of a repeatable flag (index >= 0); and the forms a reason may spell
// it in: as typed, then an address's forms ("192.0.2.3" is also
// "192.0.2.3/32"). Both are empty if there is no such flag or value.
func (f *Flags) typed(name string, index int) (string, []string) {
	fl := f.fs.Lookup(name)
	if fl == nil {
		return "", nil
	}
	v := fl.Value.String()
	if index >= 0 {
		l, ok := fl.Value.(interface{ typedValues() []string })
		if !ok || index >= len(l.typedValues()) {
			return "", nil
		}
		v = l.typedValues()[index]
	}
	if v == "" {
		return "", nil
	}
	forms := []string{v}
	if p, err := parsePrefix(v); err == nil {
		forms = append(forms, p.String(), p.Addr().String())
	}
	return v, forms
}

// goName matches a Go field path in a reason: "UnicastSource",
// "VirtualAddresses[0]", "Config.Interface".
var goName = regexp.MustCompile(`\b(?:Config\.)?[A-Z][A-Za-z]*(?:\.[A-Z][A-Za-z]*)?(?:\[\d+\])?`)

// reword replaces the Go field paths in reason, a reason about field, by
// their flags: "none, but UnicastSource is set" becomes "none, but -src is
// set". A name is first looked up beside field ("Refresh" in a reason
// about Announce.RefreshRepeat is Announce.Refresh). Quoted text (an
// interface's name) is left alone.
func (f *Flags) reword(field, reason string) string {
	scope := field[:strings.LastIndex(field, ".")+1]
	parts := strings.Split(reason, `"`)
	for i := 0; i < len(parts); i += 2 {
		parts[i] = goName.ReplaceAllStringFunc(parts[i], func(w string) string {
			base, index := cutIndex(strings.TrimPrefix(w, "Config."))
			name := f.flagFor(scope + base)
			if name == "" {
				name = f.flagFor(base)
			}
			switch {
			case name == "":
				return w
			case index == 0:
				return "the first " + name
			case index > 0:
				return fmt.Sprintf("%s #%d", name, index+1)
			}
			return name
		})
	}
	return strings.Join(parts, `"`)
}

// cutIndex splits "VirtualAddresses[1]" into "VirtualAddresses" and 1; a
// field without an index has -1.
func cutIndex(field string) (string, int) {
	base, rest, ok := strings.Cut(field, "[")
	if !ok {
		return field, -1
	}
	i, err := strconv.Atoi(strings.TrimSuffix(rest, "]"))
	if err != nil {
		return field, -1
	}
	return base, i
}

// show returns a value as an error line shows it: as it is, or quoted if
// it is empty or has spaces or quotes.
func show(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\"") {
		return strconv.Quote(v)
	}
	return v
}

// parseAddr parses an IP address; the error says in words what s is not.
func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, notA("an address", err)
	}
	return a, nil
}

// parsePrefix parses an IP prefix; a bare address is a host prefix.
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, notA("an address or prefix", err)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, notA("an address or prefix", err)
	}
	return p, nil
}

// notA says that a value is not what, with the detail of err, netip's
// parse error, without netip's function names and quoted input.
func notA(what string, err error) error {
	detail := err.Error()
	if i := strings.LastIndex(detail, "): "); i >= 0 {
		detail = detail[i+len("): "):]
	}
	if detail == "unable to parse IP" {
		return errors.New("not " + what)
	}
	return fmt.Errorf("not %s: %s", what, detail)
}

// list is a repeatable flag: its values as typed and parsed.
type list[T any] struct {
	typed  []string
	values []T
	parse  func(string) (T, error)
}

func (l *list[T]) String() string        { return strings.Join(l.typed, ",") }
func (l *list[T]) typedValues() []string { return l.typed }

func (l *list[T]) Set(s string) error {
	v, err := l.parse(s)
	if err != nil {
		return err
	}
	l.typed, l.values = append(l.typed, s), append(l.values, v)
	return nil
}

// Strings is a repeatable string flag.
type Strings []string

func (l *Strings) String() string        { return strings.Join(*l, ",") }
func (l *Strings) Set(s string) error    { *l = append(*l, s); return nil }
func (l *Strings) typedValues() []string { return *l }
