package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vipkit/vipkit/vrrp"
)

// nodeCommand is the hidden first argument that makes the program a
// vipkit node: "scale node -links 4 -vrids-per-link 250 ...", run by the
// benchmark inside a node's namespace.
const nodeCommand = "node"

// A nodeStatus is one line a vipkit node writes on standard output: "ready"
// once every router runs, "status" for each SIGUSR1, "final" when it has
// stopped, "error" when it cannot go on. The counters are totals since the
// node started: the benchmark subtracts two of them.
type nodeStatus struct {
	Kind string `json:"kind"`
	Seq  int    `json:"seq"`

	Routers int `json:"routers"`
	Masters int `json:"masters"`
	Backups int `json:"backups"`
	Faults  int `json:"faults"`
	Others  int `json:"others"`

	Transitions uint64 `json:"transitions"`
	ToMaster    uint64 `json:"to_master"`
	ToBackup    uint64 `json:"to_backup"`
	ToFault     uint64 `json:"to_fault"`

	// The routers' Stats, summed, but UnknownVRIDs.
	AdvertsSent       uint64 `json:"adverts_sent"`
	AdvertsReceived   uint64 `json:"adverts_received"`
	SendErrors        uint64 `json:"send_errors"`
	PacketErrors      uint64 `json:"packet_errors"` // every kind of bad packet but an unknown VRID
	AddressListErrors uint64 `json:"address_list_errors"`
	// UnknownVRIDs counts the messages for a VRID that no router runs,
	// once per interface (see unknownVRIDs).
	UnknownVRIDs uint64 `json:"unknown_vrids"`

	Goroutines int    `json:"goroutines"`
	Mallocs    uint64 `json:"mallocs"`
	HeapInuse  uint64 `json:"heap_inuse"`

	Error string `json:"error,omitempty"`
}

// nodeConfig is what a node's command line says.
type nodeConfig struct {
	links, vridsPerLink int
	advert, window      time.Duration
	version             uint
	priority            uint
	rtPriority          int
}

// nodeMain runs a vipkit node: links × vrids-per-link routers, vrrp only
// (nothing is added to interfaces), logs discarded. It writes a status line
// for each SIGUSR1 and a final one after SIGTERM or the window.
func nodeMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scale node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c nodeConfig
	fs.IntVar(&c.links, "links", 4, "interfaces eth0.., one link each")
	fs.IntVar(&c.vridsPerLink, "vrids-per-link", 250, "routers per interface, VRIDs 1..N")
	fs.DurationVar(&c.advert, "advert-int", 100*time.Millisecond, "advertisement interval")
	fs.UintVar(&c.version, "version", 3, "VRRP version")
	fs.UintVar(&c.priority, "priority", 100, "priority of every router")
	fs.DurationVar(&c.window, "window", 0, "stop after this long (0: at SIGTERM)")
	fs.IntVar(&c.rtPriority, "rt-priority", 0, "real-time priority of the timers (0: none)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if c.window > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.window)
		defer cancel()
	}
	out := json.NewEncoder(stdout)
	var outMu sync.Mutex
	emit := func(s nodeStatus) {
		outMu.Lock()
		defer outMu.Unlock()
		out.Encode(s)
	}
	logger := slog.New(slog.DiscardHandler)
	if err := vrrp.SetRealtimePriority(c.rtPriority); err != nil {
		emit(nodeStatus{Kind: "error", Error: err.Error()})
		return 1
	}

	var routers []*vrrp.Router
	for l := range c.links {
		for v := 1; v <= c.vridsPerLink; v++ {
			r, err := vrrp.NewRouter(vrrp.Config{
				Interface: ifaceName(l), VRID: uint8(v), Version: vrrp.Version(c.version),
				Priority: uint8(c.priority), AdvertInterval: c.advert,
				VirtualAddresses: []netip.Addr{vip(l*c.vridsPerLink + v - 1)}, Logger: logger,
			})
			if err != nil {
				for _, r := range routers {
					r.Close()
				}
				emit(nodeStatus{Kind: "error", Error: fmt.Sprintf("router %s VRID %d: %v", ifaceName(l), v, err)})
				return 1
			}
			routers = append(routers, r)
		}
	}

	var tr transitions
	var wg, subs sync.WaitGroup
	for _, r := range routers {
		ch := r.Subscribe(context.Background()) // closed when the router stops
		subs.Go(func() {
			for e := range ch {
				if e.Kind == vrrp.EventTransition {
					tr.count(e.To)
				}
			}
		})
	}
	for _, r := range routers {
		wg.Go(func() { r.Run(ctx) })
	}

	usr1 := make(chan os.Signal, 16)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	seq := 0
	status := func(kind string) nodeStatus {
		seq++
		s := nodeStatus{Kind: kind, Seq: seq, Routers: len(routers)}
		vridErrors := make([][]uint64, c.links) // by interface, by router
		for i, r := range routers {
			switch r.State() {
			case vrrp.Master:
				s.Masters++
			case vrrp.Backup:
				s.Backups++
			case vrrp.Fault:
				s.Faults++
			default:
				s.Others++
			}
			st := r.Stats()
			s.AdvertsSent += st.AdvertsSent
			s.AdvertsReceived += st.AdvertsReceived
			s.SendErrors += st.SendErrors
			// LengthErrors also holds, in every router of an interface, its
			// count of messages too short to carry a VRID; the benchmark
			// sends none.
			s.PacketErrors += st.TTLErrors + st.ChecksumErrors + st.VersionErrors +
				st.IntervalErrors + st.AuthErrors + st.LengthErrors + st.TypeErrors + st.AddressErrors + st.PeerErrors
			s.AddressListErrors += st.AddressListErrors
			l := i / c.vridsPerLink // the routers were made link by link
			vridErrors[l] = append(vridErrors[l], st.VRIDErrors)
		}
		s.UnknownVRIDs = unknownVRIDs(vridErrors)
		s.ToMaster, s.ToBackup, s.ToFault = tr.toMaster.Load(), tr.toBackup.Load(), tr.toFault.Load()
		s.Transitions = tr.all.Load()
		s.Goroutines = runtime.NumGoroutine()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.Mallocs, s.HeapInuse = ms.Mallocs, ms.HeapInuse
		return s
	}
	emit(status("ready"))
	for {
		select {
		case <-usr1:
			emit(status("status"))
			continue
		case <-ctx.Done():
		}
		break
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); subs.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		fmt.Fprintln(stderr, "scale node: routers still running 10 s after the stop")
	}
	emit(status("final"))
	return 0
}

// unknownVRIDs counts the messages for a VRID that no router runs from the
// VRIDErrors of each router, by interface: every router of an interface
// reports the interface's count in its VRIDErrors (see vrrp.Stats), plus
// those it counted itself, which the interface's dispatch by VRID leaves
// at none. Summing over the routers would count each message once per
// router; this takes the largest of each interface, summed over the
// interfaces.
func unknownVRIDs(byInterface [][]uint64) uint64 {
	var sum uint64
	for _, counts := range byInterface {
		var most uint64
		for _, n := range counts {
			most = max(most, n)
		}
		sum += most
	}
	return sum
}

// transitions counts a node's transitions by the state entered.
type transitions struct {
	all, toMaster, toBackup, toFault atomic.Uint64
}

func (t *transitions) count(to vrrp.State) {
	t.all.Add(1)
	switch to {
	case vrrp.Master:
		t.toMaster.Add(1)
	case vrrp.Backup:
		t.toBackup.Add(1)
	case vrrp.Fault:
		t.toFault.Add(1)
	}
}
