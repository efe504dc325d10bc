// Command vrrpd runs one VRRP virtual router, as one keepalived
// vrrp_instance does, on the vipkit vrrp and havip packages: while master
// it holds the virtual addresses on the interface and announces them with
// gratuitous ARP and unsolicited neighbour advertisements.
//
// It writes one JSON object per line on standard output for each
// transition, for example
//
//	{"time":"2026-11-24T05:39:14.123456Z","vrid":51,"from":"BACKUP","to":"MASTER","reason":"master-down"}
//
// and logs to standard error. On SIGTERM or SIGINT it steps down (a master
// sends priority 0, so a backup takes over after Skew_Time) and exits 0.
// A bad flag is a one-line error and exit status 2.
//
// With -no-vip it runs the election only.
//
//	vrrpd -interface eth0 -vrid 51 -priority 150 -vip 192.0.2.100/24
//	vrrpd -interface eth0 -vrid 51 -src 192.0.2.1 -peer 192.0.2.2 -nopreempt -vip 192.0.2.100/24 \
//		-garp-master-delay 1s -garp-master-refresh 5s
//
// It needs CAP_NET_RAW for the raw sockets and CAP_NET_ADMIN for the
// addresses.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/havip/tencentcloud"
	"github.com/vipkit/vipkit/vrrp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
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

// usageError is a bad command line: exit status 2.
type usageError struct{ error }

// options are what the command line asks for.
type options struct {
	router vrrp.Config
	vips   []netip.Prefix
	noVIP  bool
	garp   havip.Announce
	cloud  tencentcloud.Config // Mode 0: no cloud
}

// parse turns the command line into options. For -h it writes the usage
// to usage and returns flag.ErrHelp.
func parse(args []string, usage io.Writer) (options, error) {
	fs := flag.NewFlagSet("vrrpd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		opts     = options{garp: havip.KeepalivedAnnounce}
		cfg      = &opts.router
		vips     prefixList
		peers    addrList
		src      string
		vrid     = fs.Uint("vrid", 0, "virtual router ID, 1..255 (required)")
		prio     = fs.Uint("priority", 100, "priority, 1..255 (255: address owner)")
		version  = fs.Uint("version", 3, "VRRP version, 2 or 3")
		checksum = fs.String("checksum", "rfc5798", "VRRPv3 IPv4 checksum: rfc5798 (with pseudo-header) or rfc9568 (without; keepalived v3_checksum_as_v2)")
	)
	fs.StringVar(&cfg.Interface, "interface", "", "interface to run on (required)")
	fs.DurationVar(&cfg.AdvertInterval, "advert-int", time.Second, "advertisement interval")
	fs.Var(&vips, "vip", "virtual address `PREFIX`, repeatable (at least one)")
	fs.StringVar(&src, "src", "", "unicast source address (keepalived unicast_src_ip)")
	fs.Var(&peers, "peer", "unicast peer `ADDR`, repeatable; none means multicast")
	fs.BoolVar(&cfg.NoPreempt, "nopreempt", false, "do not preempt a lower-priority master")
	fs.DurationVar(&cfg.PreemptDelay, "preempt-delay", 0, "no preemption for this long after start")
	fs.StringVar(&cfg.AuthPass, "auth-pass", "", "VRRPv2 simple password, at most 8 bytes")
	fs.BoolVar(&opts.noVIP, "no-vip", false, "run the election only: do not hold or announce the addresses")
	fs.IntVar(&opts.garp.Repeat, "garp-master-repeat", opts.garp.Repeat, "gratuitous ARPs per address on becoming master")
	fs.DurationVar(&opts.garp.Interval, "garp-interval", opts.garp.Interval, "time between gratuitous ARPs of a burst")
	fs.DurationVar(&opts.garp.Delay, "garp-master-delay", opts.garp.Delay, "second burst this long after becoming master (0: none)")
	fs.DurationVar(&opts.garp.Refresh, "garp-master-refresh", opts.garp.Refresh, "announce again this often while master (0: never)")
	fs.IntVar(&opts.garp.RefreshRepeat, "garp-master-refresh-repeat", opts.garp.RefreshRepeat, "gratuitous ARPs per address of each refresh")
	cloud := fs.String("tencentcloud", "", "claim the addresses from Tencent Cloud's VPC: havip (verify the binding) or private-ip (migrate through the API); keys from TENCENTCLOUD_SECRET_ID/KEY or the CAM role")
	fs.StringVar(&opts.cloud.Endpoint, "tencentcloud-endpoint", "", "VPC API endpoint (default: the SDK's)")
	fs.StringVar(&opts.cloud.Scheme, "tencentcloud-scheme", "", "VPC API scheme (default https)")
	fs.StringVar(&opts.cloud.Region, "tencentcloud-region", "", "region (default: the instance's)")
	fs.StringVar(&opts.cloud.Metadata.BaseURL, "tencentcloud-metadata", "", "metadata service base URL (default "+tencentcloud.DefaultMetadataURL+")")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(usage)
		fmt.Fprintln(usage, "usage: vrrpd -interface IF -vrid N -vip PREFIX [flags]")
		fs.PrintDefaults()
		return opts, err
	} else if err != nil {
		return opts, usageError{err}
	}
	if fs.NArg() > 0 {
		return opts, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *vrid == 0 || *vrid > 255 {
		return opts, usageError{fmt.Errorf("-vrid %d: need 1..255", *vrid)}
	}
	if *prio == 0 || *prio > 255 {
		return opts, usageError{fmt.Errorf("-priority %d: need 1..255", *prio)}
	}
	if *version != 2 && *version != 3 {
		return opts, usageError{fmt.Errorf("-version %d: need 2 or 3", *version)}
	}
	cfg.VRID, cfg.Priority, cfg.Version = uint8(*vrid), uint8(*prio), vrrp.Version(*version)
	switch *checksum {
	case "rfc5798":
		cfg.Checksum = vrrp.ChecksumPseudoHeader
	case "rfc9568":
		cfg.Checksum = vrrp.ChecksumMessageOnly
	default:
		return opts, usageError{fmt.Errorf("-checksum %q: need rfc5798 or rfc9568", *checksum)}
	}
	for _, p := range vips {
		cfg.VirtualAddresses = append(cfg.VirtualAddresses, p.Addr())
	}
	opts.vips = vips
	switch *cloud {
	case "":
	case "havip":
		opts.cloud.Mode = tencentcloud.ModeHAVIP
	case "private-ip":
		opts.cloud.Mode = tencentcloud.ModePrivateIP
	default:
		return opts, usageError{fmt.Errorf("-tencentcloud %q: need havip or private-ip", *cloud)}
	}
	if opts.cloud.Mode != 0 && opts.noVIP {
		return opts, usageError{errors.New("-tencentcloud needs the addresses: drop -no-vip")}
	}
	// In Tencent Cloud the guide's rhythm is the default
	// (garp_master_delay 1, garp_master_refresh 5), unless set by flags.
	garpSet := false
	fs.Visit(func(f *flag.Flag) { garpSet = garpSet || strings.HasPrefix(f.Name, "garp-") })
	if opts.cloud.Mode != 0 && !garpSet {
		opts.garp = havip.TencentAnnounce
	}
	cfg.UnicastPeers = peers
	if src != "" {
		a, err := netip.ParseAddr(src)
		if err != nil {
			return opts, usageError{fmt.Errorf("-src: %v", err)}
		}
		cfg.UnicastSource = a
	}
	return opts, nil
}

// transition is the JSON line written for each transition.
type transition struct {
	Time   string `json:"time"`
	VRID   uint8  `json:"vrid"`
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
}

// run runs vrrpd until ctx ends and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var (
		r *vrrp.Router
		c *havip.Client
	)
	if err == nil {
		logger := slog.New(slog.NewTextHandler(stderr, nil))
		opts.router.Logger = logger
		r, err = vrrp.NewRouter(opts.router)
		if err == nil && !opts.noVIP {
			c, err = newClient(ctx, opts, logger)
			if err != nil {
				r.Close()
			}
		}
	}
	if err != nil {
		msg := err.Error()
		for _, prefix := range []string{"vrrp: ", "havip: ", "tencentcloud: "} {
			msg = strings.TrimPrefix(msg, prefix)
		}
		fmt.Fprintf(stderr, "vrrpd: %s\n", msg)
		if errors.As(err, new(usageError)) || errors.Is(err, vrrp.ErrConfig) || errors.Is(err, havip.ErrConfig) {
			return 2
		}
		return 1
	}
	return serve(ctx, r, c, stdout, stderr)
}

// newClient makes the havip client, with the Tencent Cloud binder if asked.
func newClient(ctx context.Context, opts options, logger *slog.Logger) (*havip.Client, error) {
	cfg := havip.Config{Interface: opts.router.Interface, Addresses: opts.vips, Announce: &opts.garp, Logger: logger}
	if opts.cloud.Mode != 0 {
		opts.cloud.Logger = logger
		b, err := tencentcloud.New(ctx, opts.cloud)
		if err != nil {
			return nil, err
		}
		cfg.Binder = b
	}
	return havip.New(cfg)
}

// serve runs r, and c following it, and writes r's transitions to stdout.
func serve(ctx context.Context, r *vrrp.Router, c *havip.Client, stdout, stderr io.Writer) int {
	var wg sync.WaitGroup
	events := r.Subscribe(context.Background())
	wg.Go(func() {
		enc := json.NewEncoder(stdout)
		for e := range events {
			if e.Kind == vrrp.EventTransition {
				enc.Encode(transition{Time: e.Time.UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
					VRID: e.VRID, From: e.From.String(), To: e.To.String(), Reason: e.Reason.String()})
			}
		}
	})
	var holdErr error
	hold, stopHolding := context.WithCancel(context.Background())
	defer stopHolding()
	if c != nil {
		wg.Go(func() { c.Follow(hold, r) })
		wg.Go(func() { holdErr = c.Run(hold) })
	}
	err := r.Run(ctx) // a master has handed over with priority 0 when it returns
	stopHolding()     // then the addresses go
	wg.Wait()
	if err = errors.Join(err, holdErr); err != nil {
		fmt.Fprintf(stderr, "vrrpd: %v\n", err)
		return 1
	}
	return 0
}
