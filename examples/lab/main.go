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
//	sudo go run ./examples/lab -version 2         # VRRPv2: advert_int 1s unless -advert-int says otherwise
//
// In the VPC modes the network is package vpcsim's: an SDN that re-binds
// an HAVIP to whoever announces it by gratuitous ARP, ignores ARP for an
// ordinary private IP, and serves a fake Tencent Cloud API and metadata
// service that the halb nodes call with the real SDK; the nodes use
// unicast VRRP, as a VPC carries no multicast.
//
// The client is this program too, run in the client's namespace: it starts
// a connection to the VIP every 5 ms without waiting for the earlier ones,
// and each backend answers with its name and the balancer the connection
// came through, so every connection is counted for the balancer that
// really served it. The outage is the time from the client's last
// connection served through lb1 to its first served through lb2.
//
// The last line on standard output is one JSON object for scripts:
//
//	{"mode":"lan","version":3,"advert_int_ms":100,"master_down_ms":361,"outage_ms":372,"ok":true}
//
// ok says that the failover was what VRRP promises and that everything the
// lab made was removed: the client was served through lb2, never through
// lb1 again afterwards, and its outage was at most Master_Down_Interval
// plus 500 ms (for lb2 to claim the address and the client's next
// connection to get through, on a loaded machine); lb2 became master no
// sooner than Master_Down_Interval after lb1's last advertisement, and did
// not serve the client before. When not ok, error says which. The timeline
// is printed before the verdict, also when the lab fails after the kill.
// The exit status is 0 when ok, 1 when not, 2 for bad flags or without
// the privileges: the lab needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN for
// namespaces, CAP_NET_RAW for its packet sockets) and iproute2's ip
// command.
//
// The halb nodes are this program run as "lab halb ARGS" (see package
// examples/halb/lb), and the client as "lab client HOST:PORT", so the lab
// needs nothing built beforehand.
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
	"github.com/vipkit/vipkit/internal/testkit/netlab"
	"github.com/vipkit/vipkit/vrrp"
)

// nodeCommand is the first argument that makes this program a halb node.
const nodeCommand = "halb"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case nodeCommand:
			os.Exit(lb.Run(ctx, os.Args[2:], os.Stdout, os.Stderr))
		case clientCommand:
			os.Exit(runClient(ctx, os.Args[2:], os.Stdout, os.Stderr))
		}
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

// about is the first line of -h.
const about = "lab builds a client, two halb load balancers sharing a VRRP virtual address and two backends in network namespaces, kills the master and shows what the client and the wire saw during the failover."

// usage is the second line of -h.
const usage = "sudo go run ./examples/lab [-mode lan|havip|private-ip] [-version 2|3] [-advert-int D]"

// defaultAdvert is the advertisement interval of a version when
// -advert-int is not given: 100 ms for VRRPv3, and for VRRPv2, which
// counts whole seconds, the shortest it can say, 1 s.
func defaultAdvert(v vrrp.Version) time.Duration {
	if v == vrrp.Version2 {
		return time.Second
	}
	return 100 * time.Millisecond
}

func parse(args []string, w io.Writer) (config, error) {
	fs := flag.NewFlagSet("lab", flag.ContinueOnError)
	var (
		c       config
		version uint
	)
	fs.StringVar(&c.mode, "mode", modeLAN, "lan (one LAN, VRRP multicast), havip (a simulated Tencent Cloud HAVIP) or private-ip (a simulated ordinary private IP, moved through the API)")
	fs.UintVar(&version, "version", 3, "VRRP version, 2 or 3")
	fs.DurationVar(&c.advert, "advert-int", 0, "VRRP advertisement interval (default 100ms with -version 3, 1s with -version 2, which takes whole seconds)")
	if err := vipcmd.Parse(fs, args, about, usage, w); err != nil {
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
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if !given["advert-int"] {
		c.advert = defaultAdvert(c.version)
	} else if c.advert <= 0 {
		return c, vipcmd.Usagef("-advert-int %v: need a positive duration", c.advert)
	}
	// The nodes' configuration, checked before anything is built.
	err := vrrp.Config{Interface: "eth0", VRID: labVRID, Version: c.version, AdvertInterval: c.advert,
		VirtualAddresses: []netip.Addr{labVIP}}.Validate()
	var ce *vrrp.ConfigError
	if errors.As(err, &ce) {
		flags := fmt.Sprintf("-advert-int %v", c.advert)
		if given["version"] {
			flags = fmt.Sprintf("-version %d %s", version, flags)
		}
		return c, vipcmd.Usagef("%s: %s", flags, strings.TrimPrefix(ce.Reason, c.advert.String()+"; "))
	}
	return c, err
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
	r := netlab.NewProgram("lab", stderr)
	if err := r.Require(); err != nil {
		fmt.Fprintf(stderr, "lab: %s; run it as root: sudo go run ./examples/lab\n", strings.TrimPrefix(err.Error(), "netlab: "))
		return 2
	}
	res := result{Mode: cfg.mode, Version: int(cfg.version), AdvertIntMs: cfg.advert.Milliseconds()}
	defer func() {
		if p := recover(); p != nil { // a bug: still remove what was built
			r.Close()
			panic(p)
		}
	}()
	err = demo(ctx, r, cfg, stdout, &res)
	fmt.Fprintln(stdout, "lab: removing the namespaces and processes")
	if cerr := r.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("removing the lab: %w", cerr)
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
