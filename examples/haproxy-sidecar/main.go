// Command haproxy-sidecar does keepalived's job beside HAProxy: it runs one
// VRRP virtual router (a keepalived vrrp_instance) with a health check of
// the local HAProxy (its track_script), and while master it holds the
// virtual address on the interface and announces it with gratuitous ARP,
// and with -tencentcloud claims it from Tencent Cloud's VPC.
//
// The keepalived.conf of Tencent Cloud's HAVIP guide,
//
//	vrrp_instance VI_1 {
//	    state BACKUP
//	    interface eth0
//	    virtual_router_id 51
//	    nopreempt
//	    priority 80
//	    advert_int 1
//	    authentication {
//	        auth_type PASS
//	        auth_pass 1111
//	    }
//	    unicast_src_ip 172.17.16.7
//	    unicast_peer {
//	        172.17.16.13
//	    }
//	    virtual_ipaddress {
//	        172.17.16.3
//	    }
//	    garp_master_delay 1
//	    garp_master_refresh 5
//	    track_interface {
//	        eth0
//	    }
//	    track_script {
//	        checkhaproxy
//	    }
//	}
//
// is this command line:
//
//	haproxy-sidecar -interface eth0 -vrid 51 -nopreempt -priority 80 \
//		-version 2 -auth-pass 1111 -src 172.17.16.7 -peer 172.17.16.13 \
//		-vip 172.17.16.3 -garp-master-delay 1s -garp-master-refresh 5s \
//		-haproxy-url http://127.0.0.1:8404/healthz
//
// state BACKUP needs no flag (every router starts as backup), advert_int 1
// is the default -advert-int, and -interface is always tracked. The
// track_script is -haproxy-url, HAProxy's health endpoint, for example
//
//	frontend health
//	    mode http
//	    bind 127.0.0.1:8404
//	    monitor-uri /healthz
//
// and/or -haproxy-socket, HAProxy's CLI ("stats socket" in the global
// section, or the master CLI of haproxy -W -S). With both, HAProxy is up
// only when both answer. The check runs every -check-interval (vrrp_script
// interval, 1s), gives up after -check-timeout (timeout, the interval),
// and changes state after -check-rise successes or -check-fall failures in
// a row (rise, fall: 1). With -check-weight 0, the default, HAProxy down
// puts the router in FAULT, as a track_script without weight does in
// keepalived: it gives up the address and, if it was master, sends
// priority 0 so that the peer takes over after Skew_Time. When HAProxy is
// up again it returns as backup. Any other -check-weight (-253..253)
// moves the priority instead, as keepalived's weight does; it moves the
// address only when the peer preempts, so not with -nopreempt.
//
// It writes one JSON object per line on standard output for each
// transition, for example
//
//	{"time":"2026-11-24T05:39:14.123456Z","vrid":51,"from":"BACKUP","to":"MASTER","reason":"master-down"}
//
// and logs to standard error. On SIGTERM or SIGINT it steps down (a master
// sends priority 0) and exits 0. A bad flag is a one-line error that
// names the flag, and exit status 2. It needs CAP_NET_RAW for the raw
// sockets and CAP_NET_ADMIN for the address.
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vipkit/vipkit/examples/internal/vipcmd"
)

// prog is the command's name in errors.
const prog = "haproxy-sidecar"

// about is the first line of -h.
const about = prog + " does keepalived's job beside HAProxy: it runs a VRRP virtual router that checks the local HAProxy, and while master it holds the virtual address."

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are what the command line asks for.
type options struct {
	vipcmd.Options
	check checkConfig
}

// parse turns the command line into options. For -h it writes the usage
// to usage and returns flag.ErrHelp.
func parse(args []string, usage io.Writer) (options, error) {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	flags := vipcmd.AddFlags(fs)
	var o options
	c := &o.check
	fs.StringVar(&c.url, "haproxy-url", "", "HAProxy's health `URL` (a monitor-uri frontend): up on a 2xx answer within -check-timeout (track_script checkhaproxy)")
	fs.StringVar(&c.socket, "haproxy-socket", "", "HAProxy's CLI unix socket `PATH` (stats socket, or the master CLI of -S): up when \"show info\" answers with a Pid and not Stopping (track_script checkhaproxy)")
	fs.DurationVar(&c.interval, "check-interval", time.Second, "time between checks of HAProxy (vrrp_script interval)")
	fs.DurationVar(&c.timeout, "check-timeout", 0, "time a check may take; 0 means -check-interval (vrrp_script timeout)")
	fs.IntVar(&c.rise, "check-rise", 1, "successes in a row that make HAProxy up (vrrp_script rise)")
	fs.IntVar(&c.fall, "check-fall", 1, "failures in a row that make HAProxy down (vrrp_script fall)")
	fs.IntVar(&c.weight, "check-weight", 0, "-253..253: priority added while HAProxy is up (positive) or down (negative); 0 means FAULT while it is down (vrrp_script weight)")
	flags.SetBy("Checks", "-check-*") // the track_script
	if err := vipcmd.Parse(fs, args, about, prog+" -interface IF -vrid N -vip PREFIX (-haproxy-url URL | -haproxy-socket PATH) [flags]", usage); err != nil {
		return o, err
	}
	var err error
	if o.Options, err = flags.Options(); err != nil {
		return o, err
	}
	switch {
	case c.url == "" && c.socket == "":
		return o, vipcmd.Usagef("need -haproxy-url or -haproxy-socket (the track_script)")
	case c.interval <= 0:
		return o, vipcmd.Usagef("-check-interval %v: need a positive duration", c.interval)
	case c.timeout < 0:
		return o, vipcmd.Usagef("-check-timeout %v: need a positive duration, or 0 for -check-interval", c.timeout)
	case c.rise < 1:
		return o, vipcmd.Usagef("-check-rise %d: need 1 or more", c.rise)
	case c.fall < 1:
		return o, vipcmd.Usagef("-check-fall %d: need 1 or more", c.fall)
	case c.weight < -253 || c.weight > 253:
		return o, vipcmd.Usagef("-check-weight %d: need -253..253", c.weight)
	case c.weight != 0 && o.Router.Priority == 255:
		return o, vipcmd.Usagef("-check-weight %d with -priority 255: an address owner's priority does not move; use -check-weight 0 or priority 1..254", c.weight)
	}
	if c.url != "" {
		u, err := url.Parse(c.url)
		if err != nil {
			return o, vipcmd.Usagef("-haproxy-url %s: %v", c.url, errors.Unwrap(err))
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return o, vipcmd.Usagef("-haproxy-url %q: need http://HOST[:PORT]/PATH or https://...", c.url)
		}
	}
	return o, nil
}

// run runs the sidecar until ctx ends and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return vipcmd.Exit(stderr, prog, err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	o.Router.Logger = logger
	o.Router.Checks = append(o.Router.Checks, o.check.check(logger))
	r, err := o.NewRouter()
	if err != nil {
		return vipcmd.Exit(stderr, prog, err)
	}
	c, err := o.NewClient(ctx, logger)
	if err != nil {
		r.Close()
		return vipcmd.Exit(stderr, prog, err)
	}
	return vipcmd.Exit(stderr, prog, o.Serve(ctx, r, c, stdout))
}
