// Command lab is vipkit's one-command demonstration. It builds a small
// network out of Linux network namespaces (a client, two halb load
// balancers sharing the virtual address 192.0.2.100, two backends), shows
// who holds the address, drives client connections through it, kills the
// master with SIGKILL and prints what followed: the old master's last
// advertisement, the backup's transition, its first advertisement and
// gratuitous ARP, the cloud re-binding the address (in a simulated VPC),
// and the first client connection served through the new master, with the
// outage the client saw next to Master_Down_Interval. Then it removes
// everything it made, also on Ctrl-C, SIGTERM, SIGHUP or failure.
//
//	sudo go run ./examples/lab                    # a LAN, VRRP multicast
//	sudo go run ./examples/lab -mode havip        # a Tencent Cloud HAVIP, simulated
//	sudo go run ./examples/lab -mode private-ip   # an ordinary private IP, moved through the API
//	sudo go run ./examples/lab -version 2 -advert-int 1s
//
// In the VPC modes the network is package vpcsim's: an SDN that re-binds
// an HAVIP to whoever announces it by gratuitous ARP, ignores ARP for an
// ordinary private IP, and serves a fake Tencent Cloud API and metadata
// service that the halb nodes call with the real SDK; the nodes use
// unicast VRRP, as a VPC carries no multicast.
//
// The last line on standard output is one JSON object for scripts:
//
//	{"mode":"lan","version":3,"advert_int_ms":100,"master_down_ms":361,"outage_ms":372,"ok":true}
//
// ok says the client was served through the new master and everything
// the lab made was removed. The exit status
// is 0 when ok, 1 when not, 2 for bad flags or without the privileges:
// the lab needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN for namespaces,
// CAP_NET_RAW for its packet sockets) and iproute2's ip command.
//
// The halb nodes are this program run as "lab halb ARGS" (see package
// examples/halb/lb), so the lab needs nothing built beforehand.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vipkit/vipkit/examples/halb/lb"
	"github.com/vipkit/vipkit/examples/internal/vipcmd"
	"github.com/vipkit/vipkit/vrrp"
)

// nodeCommand is the first argument that makes this program a halb node.
const nodeCommand = "halb"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == nodeCommand {
		os.Exit(lb.Run(ctx, os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// The modes.
const (
	modeLAN       = "lan"
	modeHAVIP     = "havip"
	modePrivateIP = "private-ip"
)

// config is what the command line asks for.
type config struct {
	mode    string
	version vrrp.Version
	advert  time.Duration
}

// result is the JSON line the lab ends with.
type result struct {
	Mode         string `json:"mode"`
	Version      int    `json:"version"`
	AdvertIntMs  int64  `json:"advert_int_ms"`
	MasterDownMs int64  `json:"master_down_ms"`
	OutageMs     int64  `json:"outage_ms"`
	OK           bool   `json:"ok"`
	Error        string `json:"error,omitempty"`
}

func parse(args []string, usage io.Writer) (config, error) {
	fs := flag.NewFlagSet("lab", flag.ContinueOnError)
	var (
		c       config
		version uint
	)
	fs.StringVar(&c.mode, "mode", modeLAN, "lan (one LAN, VRRP multicast), havip (a simulated Tencent Cloud HAVIP) or private-ip (a simulated ordinary private IP, moved through the API)")
	fs.UintVar(&version, "version", 3, "VRRP version, 2 or 3")
	fs.DurationVar(&c.advert, "advert-int", 100*time.Millisecond, "VRRP advertisement interval (whole seconds for version 2)")
	if err := vipcmd.Parse(fs, args, "sudo go run ./examples/lab [-mode lan|havip|private-ip] [-version 2|3] [-advert-int D]", usage); err != nil {
		return c, err
	}
	switch c.mode {
	case modeLAN, modeHAVIP, modePrivateIP:
	default:
		return c, vipcmd.Usagef("-mode %q: need lan, havip or private-ip", c.mode)
	}
	if version != 2 && version != 3 {
		return c, vipcmd.Usagef("-version %d: need 2 or 3", version)
	}
	c.version = vrrp.Version(version)
	// The nodes' configuration, checked before anything is built.
	err := vrrp.Config{Interface: "eth0", VRID: labVRID, Version: c.version, AdvertInterval: c.advert,
		VirtualAddresses: []netip.Addr{labVIP}}.Validate()
	if err != nil {
		return c, vipcmd.Usagef("-advert-int %v with -version %d: %v", c.advert, version, strings.TrimPrefix(err.Error(), vrrp.ErrConfig.Error()+": "))
	}
	return c, nil
}

// run runs the lab and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return vipcmd.Exit(stderr, "lab", err)
	}
	r := &runner{log: stderr}
	if msg, missing := r.require(); missing {
		fmt.Fprintf(stderr, "lab: %s; run it as root: sudo go run ./examples/lab\n", strings.TrimPrefix(msg, "netlab: "))
		return 2
	}
	res := result{Mode: cfg.mode, Version: int(cfg.version), AdvertIntMs: cfg.advert.Milliseconds()}
	defer func() {
		if p := recover(); p != nil { // a bug: still remove what was built
			r.cleanup()
			panic(p)
		}
	}()
	err = demo(ctx, r, cfg, stdout, &res)
	fmt.Fprintln(stdout, "lab: removing the namespaces and processes")
	r.cleanup()
	if err == nil && r.failed {
		err = errors.New("removing the lab failed (see above)")
	}
	res.OK = err == nil
	if err != nil {
		res.Error = err.Error()
		fmt.Fprintf(stderr, "lab: %v\n", err)
	}
	json.NewEncoder(stdout).Encode(res)
	if !res.OK {
		return 1
	}
	return 0
}
