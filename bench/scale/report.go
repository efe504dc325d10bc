package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// result is the JSON line the benchmark ends with.
type result struct {
	Links        int     `json:"links"`
	VRIDsPerLink int     `json:"vrids_per_link"`
	Routers      int     `json:"routers_per_node"`
	Version      int     `json:"version"`
	AdvertIntMs  float64 `json:"advert_int_ms"`
	WindowS      float64 `json:"window_s"`
	NominalPerS  float64 `json:"nominal_adverts_per_s"`
	FloodPerS    int     `json:"flood_per_s"`          // asked, over all links; 0: no flood
	FloodVRID    int     `json:"flood_vrid,omitempty"` // the VRID of the flood
	UniqueVIPs   bool    `json:"unique_vips"`          // false: routers of different links share addresses
	CPUs         int     `json:"cpus"`

	Implementations map[string]*implResult `json:"implementations"`
	// Ratio is vipkit / keepalived for each node and metric both have.
	Ratio map[string]map[string]float64 `json:"ratio,omitempty"`
	OK    bool                          `json:"ok"`
	Error string                        `json:"error,omitempty"`
}

// implResult is one implementation's measurement.
type implResult struct {
	Settled bool       `json:"settled"`  // a master and b backup of every router, quietly, before the window
	SettleS float64    `json:"settle_s"` // from b's start
	WindowS float64    `json:"window_s"` // measured
	LoadAvg float64    `json:"load_avg_1m"`
	A       nodeResult `json:"a"`
	B       nodeResult `json:"b"`
	Notes   []string   `json:"notes,omitempty"`

	// FloodSentPerS is the flood's rate achieved over the window, over all
	// links; 0 without a flood.
	FloodSentPerS float64 `json:"flood_sent_per_s"`
}

// nodeResult is one node's measurement over the window.
type nodeResult struct {
	Role      string `json:"role"`
	PIDs      []int  `json:"pids"`
	Processes int    `json:"processes"`
	Threads   int    `json:"threads"`

	CPUPct         float64 `json:"cpu_pct"`                // of one core
	CPUSysPct      float64 `json:"cpu_sys_pct"`            // of one core, in the kernel (stime)
	CPUusPerAdvert float64 `json:"cpu_us_per_advert"`      // per advert sent (master) or received (backup)
	CPUusPerPacket float64 `json:"cpu_us_per_packet"`      // per advert sent or received: the cost when a node flaps
	RSSMB          float64 `json:"rss_mb"`                 // VmRSS at the end
	PeakRSSMB      float64 `json:"peak_rss_mb"`            // VmHWM at the end
	FDs            int     `json:"fds"`                    // at the end
	SentPerS       float64 `json:"adverts_sent_per_s"`     // veth tx packets, the flood's taken out
	ReceivedPerS   float64 `json:"adverts_received_per_s"` // veth rx packets, the flood's taken out
	SentPctNominal float64 `json:"sent_pct_nominal"`
	RecvPctNominal float64 `json:"received_pct_nominal"`
	Transitions    uint64  `json:"transitions"`
	ToMaster       uint64  `json:"to_master"`
	ToBackup       uint64  `json:"to_backup"`
	ToFault        uint64  `json:"to_fault"`
	SocketDrops    uint64  `json:"socket_drops"` // raw sockets
	InterfaceDrops uint64  `json:"interface_drops"`
	MastersAtEnd   int     `json:"masters_at_end"`
	BackupsAtEnd   int     `json:"backups_at_end"`
	OthersAtEnd    int     `json:"others_at_end"` // fault, initialize, or not yet logged

	// vipkit only.
	Goroutines         *int     `json:"goroutines,omitempty"`
	AllocsPerAdvert    *float64 `json:"allocs_per_advert,omitempty"` // per advert sent or received, counted by the routers
	RouterSentPerS     *float64 `json:"router_sent_per_s,omitempty"`
	RouterReceivedPerS *float64 `json:"router_received_per_s,omitempty"`
	RouterPacketErrors *uint64  `json:"router_packet_errors,omitempty"` // but unknown VRIDs
	RouterSendErrors   *uint64  `json:"router_send_errors,omitempty"`
	AddressListErrors  *uint64  `json:"address_list_errors,omitempty"`
	HeapInuseMB        *float64 `json:"heap_inuse_mb,omitempty"`

	// RouterUnknownVRIDsPerS, vipkit only too, is the messages per second
	// for a VRID that no router runs, counted once per interface (see
	// unknownVRIDs).
	RouterUnknownVRIDsPerS *float64 `json:"router_unknown_vrids_per_s,omitempty"`
}

func newResult(c config) *result {
	r := &result{
		Links: c.links, VRIDsPerLink: c.vridsPerLink, Routers: c.routers(), Version: int(c.version),
		AdvertIntMs: float64(c.advert.Microseconds()) / 1000, WindowS: c.window.Seconds(),
		NominalPerS: round(c.nominal(), 1), FloodPerS: c.flood, UniqueVIPs: c.routers() <= vipPool, CPUs: numCPU(),
		Implementations: map[string]*implResult{},
	}
	if c.flood > 0 {
		r.FloodVRID = int(c.floodVRID())
	}
	return r
}

func round(v float64, digits int) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// per divides, 0 when there is nothing to divide by.
func per(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// nodeResultFrom computes a node's metrics from the readings at the start
// and end of the window. The flood's messages, which a's veths send and
// b's receive, are not advertisements of the routers: they are taken out
// of a's packets sent and b's received (as if the veth lost none).
func nodeResultFrom(c config, master bool, r0, r1 reading) nodeResult {
	s0, s1 := r0.sample, r1.sample
	dt := s1.at.Sub(s0.at).Seconds()
	cpu, sys := cpuSeconds(s0, s1)
	tx := float64(s1.net.txPackets - s0.net.txPackets)
	rx := float64(s1.net.rxPackets - s0.net.rxPackets)
	flood := float64(s1.flood - s0.flood)
	res := nodeResult{Role: "backup"}
	var handled float64
	if master {
		tx = max(0, tx-flood)
		handled, res.Role = tx, "master"
	} else {
		rx = max(0, rx-flood)
		handled = rx
	}
	res.PIDs, res.Processes, res.Threads = s1.pids, len(s1.pids), s1.threads
	res.CPUPct = round(100*per(cpu, dt), 1)
	res.CPUSysPct = round(100*per(sys, dt), 1)
	res.CPUusPerAdvert = round(1e6*per(cpu, handled), 2)
	res.CPUusPerPacket = round(1e6*per(cpu, tx+rx), 2)
	res.RSSMB = round(float64(s1.rssKB)/1024, 1)
	res.PeakRSSMB = round(float64(s1.hwmKB)/1024, 1)
	res.FDs = s1.fds
	res.SentPerS, res.ReceivedPerS = round(per(tx, dt), 1), round(per(rx, dt), 1)
	res.SentPctNominal = round(100*per(res.SentPerS, c.nominal()), 2)
	res.RecvPctNominal = round(100*per(res.ReceivedPerS, c.nominal()), 2)
	st0, st1 := r0.state, r1.state
	res.Transitions = st1.Transitions - st0.Transitions
	res.ToMaster, res.ToBackup, res.ToFault = st1.ToMaster-st0.ToMaster, st1.ToBackup-st0.ToBackup, st1.ToFault-st0.ToFault
	res.SocketDrops = rawDropsSince(s0.net.rawDrops, s1.net.rawDrops)
	res.InterfaceDrops = (s1.net.rxDrops + s1.net.txDrops) - (s0.net.rxDrops + s0.net.txDrops)
	res.MastersAtEnd, res.BackupsAtEnd = st1.Masters, st1.Backups
	res.OthersAtEnd = st1.Routers - st1.Masters - st1.Backups
	if v0, v1 := st0.vipkit, st1.vipkit; v0 != nil && v1 != nil {
		g := v1.Goroutines
		sent, recv := float64(v1.AdvertsSent-v0.AdvertsSent), float64(v1.AdvertsReceived-v0.AdvertsReceived)
		allocs := round(per(float64(v1.Mallocs-v0.Mallocs), sent+recv), 2)
		rs, rr := round(per(sent, dt), 1), round(per(recv, dt), 1)
		pe, se, am := v1.PacketErrors-v0.PacketErrors, v1.SendErrors-v0.SendErrors, v1.AddressListErrors-v0.AddressListErrors
		uv := round(per(float64(v1.UnknownVRIDs-v0.UnknownVRIDs), dt), 1)
		heap := round(float64(v1.HeapInuse)/(1<<20), 1)
		res.Goroutines, res.AllocsPerAdvert, res.RouterSentPerS, res.RouterReceivedPerS = &g, &allocs, &rs, &rr
		res.RouterPacketErrors, res.RouterSendErrors, res.AddressListErrors, res.HeapInuseMB = &pe, &se, &am, &heap
		res.RouterUnknownVRIDsPerS = &uv
	}
	return res
}

// ratioMetrics are the metrics whose vipkit/keepalived ratio is given.
var ratioMetrics = []struct {
	key string
	get func(nodeResult) float64
}{
	{"cpu_pct", func(n nodeResult) float64 { return n.CPUPct }},
	{"cpu_sys_pct", func(n nodeResult) float64 { return n.CPUSysPct }},
	{"cpu_us_per_advert", func(n nodeResult) float64 { return n.CPUusPerAdvert }},
	{"cpu_us_per_packet", func(n nodeResult) float64 { return n.CPUusPerPacket }},
	{"rss_mb", func(n nodeResult) float64 { return n.RSSMB }},
	{"peak_rss_mb", func(n nodeResult) float64 { return n.PeakRSSMB }},
	{"fds", func(n nodeResult) float64 { return float64(n.FDs) }},
	{"adverts_sent_per_s", func(n nodeResult) float64 { return n.SentPerS }},
	{"adverts_received_per_s", func(n nodeResult) float64 { return n.ReceivedPerS }},
	{"transitions", func(n nodeResult) float64 { return float64(n.Transitions) }},
	{"socket_drops", func(n nodeResult) float64 { return float64(n.SocketDrops) }},
}

// finish computes the ratios, when both implementations were measured.
func (r *result) finish() {
	v, k := r.Implementations[implVipkit], r.Implementations[implKeepalived]
	if v == nil || k == nil || v.WindowS == 0 || k.WindowS == 0 {
		return
	}
	r.Ratio = map[string]map[string]float64{"a": {}, "b": {}}
	for _, side := range []struct {
		name string
		v, k nodeResult
	}{{"a", v.A, k.A}, {"b", v.B, k.B}} {
		for _, m := range ratioMetrics {
			if kv := m.get(side.k); kv != 0 {
				r.Ratio[side.name][m.key] = round(m.get(side.v)/kv, 3)
			}
		}
	}
}

// printTable writes the table: a row per metric, a column per node of each
// implementation, then the ratios.
func printTable(w io.Writer, c config, r *result) {
	var cols []struct {
		head string
		n    *nodeResult
		ir   *implResult
	}
	for _, impl := range c.impls {
		ir := r.Implementations[impl]
		if ir == nil || ir.WindowS == 0 {
			continue
		}
		cols = append(cols, struct {
			head string
			n    *nodeResult
			ir   *implResult
		}{impl + " a", &ir.A, ir}, struct {
			head string
			n    *nodeResult
			ir   *implResult
		}{impl + " b", &ir.B, ir})
	}
	flood := ""
	if c.flood > 0 {
		flood = fmt.Sprintf(", flood of VRID %d toward b %d adverts/s (%.0f per link)", c.floodVRID(), c.flood, c.floodPerLink())
	}
	fmt.Fprintf(w, "\nscale: %d links × %d VRIDs = %d routers per node, VRRPv%d multicast, advert_int %v (nominal %.0f adverts/s)%s, window %v, %d CPUs\n",
		c.links, c.vridsPerLink, c.routers(), c.version, c.advert, c.nominal(), flood, c.window, r.CPUs)
	if len(cols) == 0 {
		fmt.Fprintln(w, "scale: nothing measured")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"metric"}
	for _, col := range cols {
		head = append(head, col.head)
	}
	withRatio := r.Ratio != nil
	if withRatio {
		head = append(head, "ratio a", "ratio b")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	row := func(name, key string, f func(n *nodeResult, ir *implResult) string) {
		cells := []string{name}
		for _, col := range cols {
			cells = append(cells, f(col.n, col.ir))
		}
		if withRatio {
			for _, side := range []string{"a", "b"} {
				if v, ok := r.Ratio[side][key]; ok && key != "" {
					cells = append(cells, fmt.Sprintf("%.2f", v))
				} else {
					cells = append(cells, "–")
				}
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	f1 := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	opt := func(p *float64, format string) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprintf(format, *p)
	}
	optU := func(p *uint64) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprint(*p)
	}
	row("CPU % of a core", "cpu_pct", func(n *nodeResult, _ *implResult) string { return f1(n.CPUPct) })
	row("  of which in the kernel", "cpu_sys_pct", func(n *nodeResult, _ *implResult) string { return f1(n.CPUSysPct) })
	row("CPU µs per advert (a sent, b received)", "cpu_us_per_advert", func(n *nodeResult, _ *implResult) string { return fmt.Sprintf("%.2f", n.CPUusPerAdvert) })
	row("CPU µs per advert sent+received", "cpu_us_per_packet", func(n *nodeResult, _ *implResult) string { return fmt.Sprintf("%.2f", n.CPUusPerPacket) })
	row("adverts sent /s (veth)", "adverts_sent_per_s", func(n *nodeResult, _ *implResult) string { return fmt.Sprintf("%.0f", n.SentPerS) })
	row("adverts received /s (veth)", "adverts_received_per_s", func(n *nodeResult, _ *implResult) string { return fmt.Sprintf("%.0f", n.ReceivedPerS) })
	row("% of nominal sent", "", func(n *nodeResult, _ *implResult) string { return fmt.Sprintf("%.2f", n.SentPctNominal) })
	row("% of nominal received", "", func(n *nodeResult, _ *implResult) string { return fmt.Sprintf("%.2f", n.RecvPctNominal) })
	row("flood sent /s", "", func(_ *nodeResult, ir *implResult) string {
		if c.flood == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f", ir.FloodSentPerS)
	})
	row("transitions in window", "transitions", func(n *nodeResult, _ *implResult) string { return fmt.Sprint(n.Transitions) })
	row("masters/backups/other at end", "", func(n *nodeResult, _ *implResult) string {
		return fmt.Sprintf("%d/%d/%d", n.MastersAtEnd, n.BackupsAtEnd, n.OthersAtEnd)
	})
	row("raw socket drops", "socket_drops", func(n *nodeResult, _ *implResult) string { return fmt.Sprint(n.SocketDrops) })
	row("veth drops", "", func(n *nodeResult, _ *implResult) string { return fmt.Sprint(n.InterfaceDrops) })
	row("RSS MB", "rss_mb", func(n *nodeResult, _ *implResult) string { return f1(n.RSSMB) })
	row("peak RSS MB (VmHWM)", "peak_rss_mb", func(n *nodeResult, _ *implResult) string { return f1(n.PeakRSSMB) })
	row("file descriptors", "fds", func(n *nodeResult, _ *implResult) string { return fmt.Sprint(n.FDs) })
	row("processes / threads", "", func(n *nodeResult, _ *implResult) string { return fmt.Sprintf("%d/%d", n.Processes, n.Threads) })
	row("goroutines", "", func(n *nodeResult, _ *implResult) string {
		if n.Goroutines == nil {
			return "–"
		}
		return fmt.Sprint(*n.Goroutines)
	})
	row("allocs per advert (routers' count)", "", func(n *nodeResult, _ *implResult) string { return opt(n.AllocsPerAdvert, "%.2f") })
	row("routers' adverts sent /s", "", func(n *nodeResult, _ *implResult) string { return opt(n.RouterSentPerS, "%.0f") })
	row("routers' adverts received /s", "", func(n *nodeResult, _ *implResult) string { return opt(n.RouterReceivedPerS, "%.0f") })
	row("routers' packet (but unknown VRID) / send errors", "", func(n *nodeResult, _ *implResult) string {
		if n.RouterPacketErrors == nil {
			return "–"
		}
		return optU(n.RouterPacketErrors) + "/" + optU(n.RouterSendErrors)
	})
	row("routers' unknown VRIDs /s (per interface)", "", func(n *nodeResult, _ *implResult) string { return opt(n.RouterUnknownVRIDsPerS, "%.0f") })
	row("settled before window", "", func(_ *nodeResult, ir *implResult) string {
		if ir.Settled {
			return fmt.Sprintf("yes, %.1f s", ir.SettleS)
		}
		return "NO"
	})
	row("load average (1 min)", "", func(_ *nodeResult, ir *implResult) string { return fmt.Sprintf("%.2f", ir.LoadAvg) })
	tw.Flush()
	for _, impl := range c.impls {
		if ir := r.Implementations[impl]; ir != nil {
			for _, n := range ir.Notes {
				fmt.Fprintf(w, "note: %s: %s\n", impl, n)
			}
		}
	}
}
