// Package vipcmd is what the example commands share: flags for one
// keepalived vrrp_instance, the vrrp.Router and havip.Client they describe,
// and the loop that runs the two and reports transitions as JSON lines.
package vipcmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/havip/tencentcloud"
	"github.com/vipkit/vipkit/vrrp"
)

// UsageError is a bad command line; [Exit] turns it into exit status 2.
type UsageError struct{ error }

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
}

// Flags are the vrrp_instance flags registered on a flag.FlagSet.
type Flags struct {
	fs                      *flag.FlagSet
	opts                    Options
	vrid, priority, version uint
	checksum, src, cloud    string
	vips                    prefixList
	peers                   addrList
	track                   Strings
}

// AddFlags registers on fs the flags of a keepalived vrrp_instance:
// -interface, -vrid, -priority, -version, -advert-int, -vip, -src, -peer,
// -nopreempt, -preempt-delay, -auth-pass, -checksum, -track-interface, the
// garp_master_* settings as -garp-*, and -tencentcloud with its endpoint
// flags. Call [Flags.Options] after fs.Parse.
func AddFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs, opts: Options{Announce: havip.KeepalivedAnnounce}}
	cfg, garp, cloud := &f.opts.Router, &f.opts.Announce, &f.opts.Cloud
	fs.StringVar(&cfg.Interface, "interface", "", "interface to run on (required; keepalived interface)")
	fs.UintVar(&f.vrid, "vrid", 0, "virtual router ID, 1..255 (required; virtual_router_id)")
	fs.UintVar(&f.priority, "priority", 100, "priority, 1..255 (255: address owner)")
	fs.UintVar(&f.version, "version", 3, "VRRP version, 2 or 3 (keepalived's default is 2)")
	fs.StringVar(&f.checksum, "checksum", "rfc5798", "VRRPv3 IPv4 checksum: rfc5798 (with pseudo-header) or rfc9568 (without; keepalived v3_checksum_as_v2)")
	fs.DurationVar(&cfg.AdvertInterval, "advert-int", time.Second, "advertisement interval (advert_int)")
	fs.Var(&f.vips, "vip", "virtual address `PREFIX`, repeatable, at least one (virtual_ipaddress); a bare address is /32 or /128")
	fs.StringVar(&f.src, "src", "", "unicast source `ADDR` (unicast_src_ip)")
	fs.Var(&f.peers, "peer", "unicast peer `ADDR`, repeatable; none means multicast (unicast_peer)")
	fs.BoolVar(&cfg.NoPreempt, "nopreempt", false, "do not preempt a lower-priority master")
	fs.DurationVar(&cfg.PreemptDelay, "preempt-delay", 0, "no preemption for this long after start (preempt_delay)")
	fs.StringVar(&cfg.AuthPass, "auth-pass", "", "VRRPv2 simple password, at most 8 bytes (authentication auth_type PASS)")
	fs.Var(&f.track, "track-interface", "another `IFACE` whose loss puts the router in FAULT, repeatable (track_interface; -interface is always tracked)")
	fs.IntVar(&garp.Repeat, "garp-master-repeat", garp.Repeat, "gratuitous ARPs per address on becoming master")
	fs.DurationVar(&garp.Interval, "garp-interval", garp.Interval, "time between gratuitous ARPs of a burst")
	fs.DurationVar(&garp.Delay, "garp-master-delay", garp.Delay, "second burst this long after becoming master (0: none)")
	fs.DurationVar(&garp.Refresh, "garp-master-refresh", garp.Refresh, "announce again this often while master (0: never)")
	fs.IntVar(&garp.RefreshRepeat, "garp-master-refresh-repeat", garp.RefreshRepeat, "gratuitous ARPs per address of each refresh")
	fs.StringVar(&f.cloud, "tencentcloud", "", "claim the addresses from Tencent Cloud's VPC: havip (verify the binding) or private-ip (migrate through the API); keys from TENCENTCLOUD_SECRET_ID/KEY or the CAM role")
	fs.StringVar(&cloud.Endpoint, "tencentcloud-endpoint", "", "VPC API endpoint (default: the SDK's)")
	fs.StringVar(&cloud.Scheme, "tencentcloud-scheme", "", "VPC API scheme (default https)")
	fs.StringVar(&cloud.Region, "tencentcloud-region", "", "region (default: the instance's)")
	fs.StringVar(&cloud.Metadata.BaseURL, "tencentcloud-metadata", "", "metadata service base URL (default "+tencentcloud.DefaultMetadataURL+")")
	return f
}

// Parse parses args with fs. For -h it writes usage, then fs's defaults,
// to w and returns flag.ErrHelp; any other failure, and a positional
// argument, is a UsageError.
func Parse(fs *flag.FlagSet, args []string, usage string, w io.Writer) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(w)
		fmt.Fprintln(w, "usage:", usage)
		fs.PrintDefaults()
		return err
	} else if err != nil {
		return UsageError{err}
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// Options checks the parsed flags and returns the options they give. The
// router's own fields are checked by vrrp.NewRouter, the addresses by
// havip.New. With -tencentcloud, the announcement rhythm defaults to
// tencentcloud.Announce unless a -garp- flag was given.
func (f *Flags) Options() (Options, error) {
	var o Options // returned on error
	cfg := &f.opts.Router
	if f.vrid == 0 || f.vrid > 255 {
		return o, Usagef("-vrid %d: need 1..255", f.vrid)
	}
	if f.priority == 0 || f.priority > 255 {
		return o, Usagef("-priority %d: need 1..255", f.priority)
	}
	if f.version != 2 && f.version != 3 {
		return o, Usagef("-version %d: need 2 or 3", f.version)
	}
	cfg.VRID, cfg.Priority, cfg.Version = uint8(f.vrid), uint8(f.priority), vrrp.Version(f.version)
	switch f.checksum {
	case "rfc5798":
		cfg.Checksum = vrrp.ChecksumPseudoHeader
	case "rfc9568":
		cfg.Checksum = vrrp.ChecksumMessageOnly
	default:
		return o, Usagef("-checksum %q: need rfc5798 or rfc9568", f.checksum)
	}
	if f.src != "" {
		a, err := netip.ParseAddr(f.src)
		if err != nil {
			return o, Usagef("-src: %v", err)
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
		return o, Usagef("-tencentcloud %q: need havip or private-ip", f.cloud)
	}
	garpSet := false
	f.fs.Visit(func(fl *flag.Flag) { garpSet = garpSet || strings.HasPrefix(fl.Name, "garp-") })
	if f.opts.Cloud.Mode != 0 && !garpSet {
		f.opts.Announce = tencentcloud.Announce
	}
	cfg.VirtualAddresses = nil
	for _, p := range f.vips {
		cfg.VirtualAddresses = append(cfg.VirtualAddresses, p.Addr())
	}
	cfg.UnicastPeers, cfg.TrackInterfaces = f.peers, f.track
	f.opts.VIPs = f.vips
	return f.opts, nil
}

// NewClient returns the havip client that holds o's addresses, with the
// Tencent Cloud binder when o.Cloud.Mode is set.
func (o Options) NewClient(ctx context.Context, logger *slog.Logger) (*havip.Client, error) {
	cfg := havip.Config{Interface: o.Router.Interface, Addresses: o.VIPs, Announce: &o.Announce, Logger: logger}
	if o.Cloud.Mode != 0 {
		o.Cloud.Logger = logger
		b, err := tencentcloud.New(ctx, o.Cloud)
		if err != nil {
			return nil, err
		}
		cfg.Binder = b
	}
	return havip.New(cfg)
}

// Transition is the JSON line [Serve] writes for each state transition.
type Transition struct {
	Time   string `json:"time"` // RFC 3339 with microseconds, UTC
	VRID   uint8  `json:"vrid"`
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
}

// Transitions reads the Transition lines from output, a command's standard
// output (with or without its logs), in order. Lines that do not start with
// '{' are skipped; one that does and is not a Transition is an error.
func Transitions(output string) ([]Transition, error) {
	var trs []Transition
	for line := range strings.SplitSeq(output, "\n") {
		if !strings.HasPrefix(line, "{") {
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
func Serve(ctx context.Context, r *vrrp.Router, c *havip.Client, stdout io.Writer) error {
	var wg sync.WaitGroup
	events := r.Subscribe(context.Background())
	wg.Go(func() {
		enc := json.NewEncoder(stdout)
		for e := range events {
			if e.Kind == vrrp.EventTransition {
				enc.Encode(Transition{Time: e.Time.UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
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
	err := r.Run(ctx) // a master has handed over with priority 0 when it returns
	release()         // then the addresses go
	wg.Wait()
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

// addrList is a repeatable flag of addresses.
type addrList []netip.Addr

func (l *addrList) String() string { return fmt.Sprint(*l) }

func (l *addrList) Set(s string) error {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return err
	}
	*l = append(*l, a)
	return nil
}

// prefixList is a repeatable flag of prefixes; a bare address is a host prefix.
type prefixList []netip.Prefix

func (l *prefixList) String() string { return fmt.Sprint(*l) }

func (l *prefixList) Set(s string) error {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return err
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	*l = append(*l, p)
	return nil
}

// Strings is a repeatable string flag.
type Strings []string

func (l *Strings) String() string     { return strings.Join(*l, ",") }
func (l *Strings) Set(s string) error { *l = append(*l, s); return nil }
