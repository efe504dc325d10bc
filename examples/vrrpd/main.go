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
// A bad flag is a one-line error that names the flag, and exit status 2.
//
// With -status-file FILE it keeps its state, the last master heard, its
// RFC 6527 counters and what it holds as one JSON object in FILE
// (vipcmd.Status), replaced whole at start, after each transition and on
// SIGUSR1. Without it, SIGUSR1 writes that object as one line on standard
// error, among the logs, and standard output keeps its transition lines
// only.
//
// With -f FILE it runs every vrrp_instance of a keepalived.conf (package
// keepalived), with its vrrp_scripts and notify scripts, logging each
// keyword it does not honour with its line; a file that does not check is
// refused, each line it refuses on standard error, exit status 1. With
// -t -f FILE it checks the file as keepalived -t does: it prints each
// vrrp_instance as it would run it and each keyword it does not honour,
// and exits 0 or 1.
//
// With -no-vip it runs the election only. With -priority 255 it is the
// address owner: the addresses are the interface's own, it becomes master
// at once, and they stay on the interface when it stops.
//
//	vrrpd -interface eth0 -vrid 51 -priority 150 -vip 192.0.2.100/24
//	vrrpd -interface eth0 -vrid 51 -src 192.0.2.1 -peer 192.0.2.2 -nopreempt -vip 192.0.2.100/24 \
//		-garp-master-delay 1s -garp-master-refresh 5s
//
// It needs CAP_NET_RAW for the raw sockets and CAP_NET_ADMIN for the
// addresses (not with -no-vip); without them it exits 2 at start, naming
// what it lacks.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/vipkit/vipkit/examples/internal/metrics"
	"github.com/vipkit/vipkit/examples/internal/vipcmd"
	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/keepalived"
	"github.com/vipkit/vipkit/vrrp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// about is the first line of -h.
const about = "vrrpd runs one VRRP virtual router, as a keepalived vrrp_instance does: while master it holds the virtual addresses on the interface and announces them."

// options are what the command line asks for.
type options struct {
	vipcmd.Options
	noVIP   bool
	file    string // -f: a keepalived.conf
	test    bool   // -t: check it and exit
	metrics string // -metrics-listen
}

// parse turns the command line into options. For -h it writes the usage
// to usage and returns flag.ErrHelp.
func parse(args []string, usage io.Writer) (options, error) {
	fs := flag.NewFlagSet("vrrpd", flag.ContinueOnError)
	flags := vipcmd.AddFlags(fs)
	var opts options
	fs.BoolVar(&opts.noVIP, "no-vip", false, "run the election only: do not hold or announce the addresses")
	fs.StringVar(&opts.file, "f", "", "run every vrrp_instance of this keepalived.conf (with -t: check it: what vrrpd would run and what it does not honour, each with its line)")
	fs.BoolVar(&opts.test, "t", false, "check the -f file and exit 0 if it checks, 1 if not (keepalived -t)")
	fs.StringVar(&opts.metrics, "metrics-listen", "", "serve Prometheus metrics at http://`ADDR`/metrics (keepalived-exporter's names)")
	if err := vipcmd.Parse(fs, args, about, "vrrpd -interface IF -vrid N -vip PREFIX [flags] | vrrpd -t -f keepalived.conf", usage); err != nil {
		return opts, err
	}
	switch {
	case opts.test && opts.file == "":
		return opts, vipcmd.Usagef("-t checks the file -f names: give -f")
	case opts.file != "":
		others := 0
		fs.Visit(func(f *flag.Flag) {
			if f.Name != "f" && f.Name != "t" && f.Name != "metrics-listen" {
				others++
			}
		})
		if others > 0 {
			return opts, vipcmd.Usagef("-f takes everything from the file: no other flag but -t and -metrics-listen")
		}
		return opts, nil
	}
	var err error
	if opts.Options, err = flags.Options(); err != nil {
		return opts, err
	}
	if opts.Cloud.Mode != 0 && opts.noVIP {
		return opts, vipcmd.Usagef("-tencentcloud needs the addresses: drop -no-vip")
	}
	opts.ElectionOnly = opts.noVIP
	return opts, nil
}

// run runs vrrpd until ctx ends and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var metricsOn net.Listener
	if err == nil && opts.metrics != "" && !opts.test {
		// Listened on first: a node must not run without the metrics it
		// was asked for.
		if metricsOn, err = net.Listen("tcp", opts.metrics); err != nil {
			err = vipcmd.Usagef("-metrics-listen %s: %v", opts.metrics, err)
		} else {
			defer metricsOn.Close() // served, it is closed already
		}
	}
	switch {
	case err == nil && opts.test:
		return checkFile(opts.file, stdout, stderr)
	case err == nil && opts.file != "":
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		err = runFile(ctx, opts.file, metricsOn, hup, stdout, stderr)
		if errors.As(err, new(*keepalived.Error)) {
			return refused(opts.file, err, stderr)
		}
		return vipcmd.Exit(stderr, "vrrpd", err)
	}
	var (
		r *vrrp.Router
		c *havip.Client
	)
	if err == nil {
		logger := slog.New(slog.NewTextHandler(stderr, nil))
		opts.Router.Logger = logger
		r, err = opts.NewRouter()
		if err == nil && !opts.noVIP {
			if c, err = opts.NewClient(ctx, logger); err != nil {
				r.Close()
			}
		}
	}
	if err == nil && metricsOn != nil {
		name := fmt.Sprintf("VRID_%d", opts.Router.VRID)
		list := func() []metrics.Instance { return []metrics.Instance{{Name: name, Router: r, Client: c}} }
		go func() {
			if err := metrics.ServeOn(ctx, metricsOn, list); err != nil {
				fmt.Fprintf(stderr, "vrrpd: -metrics-listen %s: %v\n", opts.metrics, err)
			}
		}()
	}
	if err == nil {
		err = opts.Serve(ctx, r, c, stdout)
	}
	return vipcmd.Exit(stderr, "vrrpd", err)
}
