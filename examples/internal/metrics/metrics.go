// Package metrics serves the example daemons' Prometheus metrics over
// HTTP: the state, priority and RFC 6527 counters of each virtual router
// (vrrp.Router) and what its havip client has done.
//
// Where keepalived has a metric, the name, type and labels are those of
// github.com/mehdy/keepalived-exporter (internal/collector/collector.go),
// so that its Grafana dashboard (grafana/dashboards/keepalived-exporter.json)
// works, but for the panels of the metrics left out (below): counters carry the labels iname (the vrrp_instance
// name), intf and vrid, keepalived_vrrp_state one series per virtual
// address with ip_address besides. What keepalived does not count is
// named vipkit_..., with the same labels. Every field of vrrp.Stats and of
// havip.Status is exported by some metric; TestStatsComplete fails when a
// field is added there and not mapped here.
//
// The keepalived-exporter metrics left out, for want of a source:
// keepalived_authentication_invalid_total, _mismatch_total and
// _failure_total (vrrp.Stats counts the three in one, AuthErrors: see
// vipkit_authentication_errors_total), keepalived_gratuitous_arp_delay_total
// (keepalived's garp_master_delay setting, which havip.Client does not
// expose), keepalived_vrrp_excluded_state (the router knows no excluded
// addresses), keepalived_script_status and keepalived_script_state (a
// Router does not expose its Checks' results) and
// keepalived_exporter_check_script_status (the exporter's own script).
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/vrrp"
)

// An Instance is one virtual router the metrics describe.
type Instance struct {
	Name   string // the vrrp_instance name (label iname)
	Router *vrrp.Router
	Client *havip.Client // nil when the instance holds no addresses
}

// Handler returns an http.Handler serving the metrics of the instances
// list returns at each scrape (the set may change between scrapes, as on
// reload), in the Prometheus text format. It uses a registry of its own,
// which also holds the Go runtime's and the process's metrics (go_...,
// process_...).
func Handler(list func() []Instance) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newCollector(list),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// ContinueOnError: one bad instance (two of the same labels, say)
	// must not hide the others.
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Registry: reg})
}

// Serve serves Handler(list) at /metrics on addr until ctx ends; it
// returns once listening fails or the server has shut down: an error if
// listening failed, nil after ctx ended.
func Serve(ctx context.Context, addr string, list func() []Instance) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return ServeOn(ctx, ln, list)
}

// shutdownTimeout is how long a scrape under way may finish once Serve's
// context has ended.
const shutdownTimeout = 5 * time.Second

// ServeOn is Serve on ln, which it closes: a program that must not start
// without its metrics listens first.
func ServeOn(ctx context.Context, ln net.Listener, list func() []Instance) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler(list))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done: // accepting failed
		return fmt.Errorf("metrics: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if srv.Shutdown(sctx) != nil {
		srv.Close()
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// The label sets: keepalived-exporter's commonLabels, and those of its
// keepalived_vrrp_state.
var (
	routerLabels = []string{"iname", "intf", "vrid"}
	addrLabels   = []string{"iname", "intf", "vrid", "ip_address"}
)

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// The metrics that are not a vrrp.Stats or havip.Status counter.
var (
	// keepalived_up is 1: the daemon serving the metrics is up
	// (keepalived-exporter: 1 when it could read keepalived's data).
	upDesc = newDesc("keepalived_up", "Whether the VRRP daemon is up: always 1 when it answers.")

	// keepalived_vrrp_state is Router.State in keepalived's encoding
	// (VRRP_STATE_INIT 0, _BACK 1, _MAST 2, _FAULT 3; keepalived-exporter's
	// VRRPStates), one series per virtual address, ip_address bare (no
	// /prefix) and intf the interface the addresses go on
	// (Router.AddressInterface), as keepalived's "addr dev intf".
	stateDesc = newDesc("keepalived_vrrp_state",
		"State of the VRRP instance: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT; one series per virtual address.",
		addrLabels...)

	// keepalived_release_master_total (keepalived's release_master) has no
	// Stats field of its own: it is Stats.MasterTransitions less one while
	// the router is master. See snapshot.released.
	releaseDesc = newDesc("keepalived_release_master_total",
		"Times the instance left MASTER.", routerLabels...)

	// vrrpv3OperationsPriority: the priority in force (Router.Priority).
	priorityDesc = newDesc("vipkit_vrrp_priority",
		"Priority in force: the configured one moved by checks, reports and SetPriority (vrrpv3OperationsPriority).",
		routerLabels...)
	configuredPriorityDesc = newDesc("vipkit_vrrp_configured_priority",
		"Configured priority (Config.Priority).", routerLabels...)

	// Stats.NewMasterReason, vrrpv3StatisticsNewMasterReason: 1 for the
	// reason of the last transition to MASTER, as vrrp.Reason names it;
	// reason "none" (the MIB's notMaster) before the first.
	newMasterReasonDesc = newDesc("vipkit_vrrp_new_master_reason",
		"Why the instance last became MASTER (vrrpv3StatisticsNewMasterReason): 1 for that reason, none before the first time.",
		append(routerLabels, "reason")...)

	// Router.LastMaster, the last advertisement heard from another router;
	// no series until one is heard.
	lastAdvertPriorityDesc = newDesc("vipkit_vrrp_last_advert_priority",
		"Priority of the last advertisement heard from another router, whose address is source.",
		append(routerLabels, "source")...)
	lastAdvertTimeDesc = newDesc("vipkit_vrrp_last_advert_timestamp_seconds",
		"When the last advertisement from another router was heard, in seconds since the epoch.", routerLabels...)
)

// A statsCounter is a counter of vrrp.Stats.
type statsCounter struct {
	desc  *prometheus.Desc
	value func(*vrrp.Stats) uint64
}

// statsCounters maps the counters of vrrp.Stats, each to its metric: the
// keepalived-exporter name where keepalived counts the same (its stats
// field beside it), vipkit_ otherwise. Stats.NewMasterReason, the one that
// is not a counter, is newMasterReasonDesc.
var statsCounters = []statsCounter{
	// MasterTransitions: vrrpv3StatisticsMasterTransitions; become_master.
	{newDesc("keepalived_become_master_total", "Times the instance became MASTER (vrrpv3StatisticsMasterTransitions).",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.MasterTransitions }},
	// AdvertsReceived: vrrpv3StatisticsRcvdAdvertisements; advert_rcvd.
	{newDesc("keepalived_advertisements_received_total", "Advertisements received (vrrpv3StatisticsRcvdAdvertisements).",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.AdvertsReceived }},
	// AdvertsSent: no MIB object; advert_sent.
	{newDesc("keepalived_advertisements_sent_total", "Advertisements sent.",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.AdvertsSent }},
	// PriorityZeroReceived: vrrpv3StatisticsRcvdPriZeroPackets; pri_zero_rcvd.
	{newDesc("keepalived_priority_zero_received_total", "Advertisements of priority 0 received (vrrpv3StatisticsRcvdPriZeroPackets).",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.PriorityZeroReceived }},
	// PriorityZeroSent: vrrpv3StatisticsSentPriZeroPackets; pri_zero_sent.
	{newDesc("keepalived_priority_zero_sent_total", "Advertisements of priority 0 sent (vrrpv3StatisticsSentPriZeroPackets).",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.PriorityZeroSent }},
	// TTLErrors: vrrpv3StatisticsIpTtlErrors; ip_ttl_err.
	{newDesc("keepalived_ip_ttl_errors_total", "Messages dropped for their TTL or hop limit (vrrpv3StatisticsIpTtlErrors).",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.TTLErrors }},
	// IntervalErrors: vrrpv3StatisticsAdvIntervalErrors; advert_interval_err.
	{newDesc("keepalived_advertisements_interval_errors_total",
		"Messages dropped for their advertisement interval (vrrpv3StatisticsAdvIntervalErrors).",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.IntervalErrors }},
	// LengthErrors: vrrpv3StatisticsPacketLengthErrors; packet_len_err.
	{newDesc("keepalived_packet_length_errors_total",
		"Messages dropped for their length (vrrpv3StatisticsPacketLengthErrors); those too short to carry a VRID are counted for the interface, in every instance on it.",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.LengthErrors }},
	// TypeErrors: vrrpv3StatisticsRcvdInvalidTypePackets; invalid_type_rcvd.
	{newDesc("keepalived_invalid_type_received_total", "Messages dropped for not being an advertisement (vrrpv3StatisticsRcvdInvalidTypePackets).",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.TypeErrors }},
	// AddressListErrors: vrrpv3StatisticsAddressListErrors; addr_list_err.
	{newDesc("keepalived_address_list_errors_total",
		"Advertisements whose addresses are not ours, dropped or (AcceptAddressMismatch) taken (vrrpv3StatisticsAddressListErrors).",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.AddressListErrors }},

	// AuthErrors: keepalived counts invalid_authtype, authtype_mismatch
	// and auth_failure apart; this is their sum (VRRPv2 only; RFC 2787's
	// vrrpRouterStatsTable has the three, RFC 6527 none).
	{newDesc("vipkit_authentication_errors_total",
		"VRRPv2 messages dropped for their authentication type or password: keepalived's invalid, mismatch and failure together.",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.AuthErrors }},
	// ChecksumErrors: vrrpv3RouterChecksumErrors.
	{newDesc("vipkit_checksum_errors_total", "Messages dropped for their checksum (vrrpv3RouterChecksumErrors).",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.ChecksumErrors }},
	// VersionErrors: vrrpv3RouterVersionErrors.
	{newDesc("vipkit_version_errors_total", "Messages dropped for their VRRP version (vrrpv3RouterVersionErrors).",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.VersionErrors }},
	// VRIDErrors: vrrpv3RouterVrIdErrors.
	{newDesc("vipkit_vrid_errors_total",
		"Messages for a VRID no instance runs on the interface (vrrpv3RouterVrIdErrors): counted for the interface and family, in every instance on it.",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.VRIDErrors }},
	// AddressErrors: no MIB object.
	{newDesc("vipkit_address_errors_total", "Messages dropped for addresses of the wrong family.",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.AddressErrors }},
	// PeerErrors: no MIB object.
	{newDesc("vipkit_peer_errors_total", "Messages dropped in unicast mode for coming from an address that is not a peer.",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.PeerErrors }},
	// OwnerDiscards: no MIB object (keepalived's owner_ignore_adverts).
	{newDesc("vipkit_owner_discards_total", "Advertisements the address owner discarded (OwnerIgnoreAdverts).",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.OwnerDiscards }},
	// SendErrors: no MIB object.
	{newDesc("vipkit_send_errors_total", "Advertisements that could not be sent.",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.SendErrors }},
	// SocketDrops: no MIB object (SO_RXQ_OVFL).
	{newDesc("vipkit_socket_drops_total",
		"Messages the socket dropped for want of room in its receive queue: counted for the interface and family, in every instance on it, as of the last message received.",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.SocketDrops }},
	// EventsDropped: no MIB object.
	{newDesc("vipkit_events_dropped_total", "Events a subscriber too slow to take them lost.",
		routerLabels...), func(s *vrrp.Stats) uint64 { return s.EventsDropped }},
}

// A havipMetric is a field of havip.Status; value says false for no
// series (a time that is zero).
type havipMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*havip.Status) (float64, bool)
}

func counter(v uint64) (float64, bool) { return float64(v), true }

func boolean(b bool) (float64, bool) {
	if b {
		return 1, true
	}
	return 0, true
}

func timestamp(t time.Time) (float64, bool) {
	if t.IsZero() {
		return 0, false
	}
	return float64(t.UnixNano()) / 1e9, true
}

// havipMetrics maps every field of havip.Status, vipkit_havip_..., with
// the labels of the router's counters, so that they join. keepalived
// counts none of it.
// The two strings, errors, are whether they are set: their text is in the
// log and in the daemon's status.
var havipMetrics = []havipMetric{
	{newDesc("vipkit_havip_master", "Whether the addresses are ours (havip Status.Master).", routerLabels...),
		prometheus.GaugeValue, func(s *havip.Status) (float64, bool) { return boolean(s.Master) }},
	{newDesc("vipkit_havip_master_changed_timestamp_seconds", "When vipkit_havip_master last changed, in seconds since the epoch.", routerLabels...),
		prometheus.GaugeValue, func(s *havip.Status) (float64, bool) { return timestamp(s.Since) }},
	{newDesc("vipkit_havip_bursts_total", "Bursts of gratuitous ARP or unsolicited neighbour advertisements sent.", routerLabels...),
		prometheus.CounterValue, func(s *havip.Status) (float64, bool) { return counter(s.Bursts) }},
	{newDesc("vipkit_havip_burst_errors_total", "Bursts that failed.", routerLabels...),
		prometheus.CounterValue, func(s *havip.Status) (float64, bool) { return counter(s.BurstErrors) }},
	{newDesc("vipkit_havip_readded_total", "Addresses added back after someone removed them.", routerLabels...),
		prometheus.CounterValue, func(s *havip.Status) (float64, bool) { return counter(s.Readded) }},
	{newDesc("vipkit_havip_reannounces_held_total", "Requests to announce again for a lower priority left to the last answer.", routerLabels...),
		prometheus.CounterValue, func(s *havip.Status) (float64, bool) { return counter(s.ReannouncesHeld) }},
	{newDesc("vipkit_havip_claims_total", "Cloud claims of the addresses that succeeded.", routerLabels...),
		prometheus.CounterValue, func(s *havip.Status) (float64, bool) { return counter(s.Claims) }},
	{newDesc("vipkit_havip_claim_errors_total", "Cloud claims that failed (a contest is not one).", routerLabels...),
		prometheus.CounterValue, func(s *havip.Status) (float64, bool) { return counter(s.ClaimErrors) }},
	{newDesc("vipkit_havip_last_claim_failed", "Whether the last cloud claim failed or was contested (havip Status.LastClaimErr set).", routerLabels...),
		prometheus.GaugeValue, func(s *havip.Status) (float64, bool) { return boolean(s.LastClaimErr != "") }},
	{newDesc("vipkit_havip_last_claim_timestamp_seconds", "When the addresses were last claimed from the cloud, in seconds since the epoch.", routerLabels...),
		prometheus.GaugeValue, func(s *havip.Status) (float64, bool) { return timestamp(s.LastClaimTime) }},
	{newDesc("vipkit_havip_contested_total", "Times the cloud found another node holding the addresses.", routerLabels...),
		prometheus.CounterValue, func(s *havip.Status) (float64, bool) { return counter(s.Contested) }},
	{newDesc("vipkit_havip_last_contested_timestamp_seconds", "When the addresses were last contested, in seconds since the epoch.", routerLabels...),
		prometheus.GaugeValue, func(s *havip.Status) (float64, bool) { return timestamp(s.LastContested) }},
	{newDesc("vipkit_havip_hold_failing", "Whether the client cannot hold the addresses now (havip Status.HoldError set).", routerLabels...),
		prometheus.GaugeValue, func(s *havip.Status) (float64, bool) { return boolean(s.HoldError != "") }},
	{newDesc("vipkit_havip_hold_failures_total", "Times the client began to fail to hold the addresses.", routerLabels...),
		prometheus.CounterValue, func(s *havip.Status) (float64, bool) { return counter(s.HoldFailures) }},
}

// A collector is the prometheus.Collector of the instances list returns:
// it reads each router's state and counters when scraped.
type collector struct {
	list func() []Instance

	mu       sync.Mutex              // serializes Collect
	released map[*vrrp.Router]uint64 // the release_master last exported, of the routers of the last scrape
}

func newCollector(list func() []Instance) *collector {
	return &collector{list: list, released: map[*vrrp.Router]uint64{}}
}

// Describe sends every Desc the collector uses.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{upDesc, stateDesc, releaseDesc, priorityDesc, configuredPriorityDesc,
		newMasterReasonDesc, lastAdvertPriorityDesc, lastAdvertTimeDesc} {
		ch <- d
	}
	for _, m := range statsCounters {
		ch <- m.desc
	}
	for _, m := range havipMetrics {
		ch <- m.desc
	}
}

// Collect sends the metrics of the instances list returns now.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)
	released := make(map[*vrrp.Router]uint64, len(c.released))
	for _, in := range c.list() {
		if in.Router == nil {
			continue
		}
		s := read(in)
		// Never below what was exported: see snapshot.released.
		s.released = max(s.released, c.released[in.Router])
		released[in.Router] = s.released
		s.collect(ch)
	}
	c.released = released
}

// A snapshot is what the metrics say of one instance.
type snapshot struct {
	name     string
	cfg      vrrp.Config
	addrIntf string // Router.AddressInterface
	state    vrrp.State
	prio     uint8
	last     vrrp.MasterInfo
	stats    vrrp.Stats
	havip    *havip.Status // nil without a client
	// released is keepalived's release_master: the times the router left
	// Master, which is MasterTransitions less one while it is Master. The
	// router stores its state before it counts the transition, and Stats
	// is read before State, so that this never counts a release that has
	// not happened; it may miss one for a scrape that falls within a
	// transition to Master, and Collect keeps it from going down then.
	released uint64
}

// read takes the snapshot of in, whose Router is not nil.
func read(in Instance) snapshot {
	r := in.Router
	s := snapshot{name: in.Name, cfg: r.Config(), addrIntf: r.AddressInterface(), prio: r.Priority(), last: r.LastMaster()}
	s.stats = r.Stats()
	s.state = r.State() // after Stats: see released
	s.released = s.stats.MasterTransitions
	if s.state == vrrp.Master && s.released > 0 {
		s.released--
	}
	if in.Client != nil {
		hs := in.Client.Status()
		s.havip = &hs
	}
	return s
}

// keepalivedState is s in keepalived's encoding.
func keepalivedState(s vrrp.State) (float64, bool) {
	switch s {
	case vrrp.Initialize:
		return 0, true
	case vrrp.Backup:
		return 1, true
	case vrrp.Master:
		return 2, true
	case vrrp.Fault:
		return 3, true
	}
	return 0, false
}

// collect sends the metrics of s.
func (s *snapshot) collect(ch chan<- prometheus.Metric) {
	labels := []string{s.name, s.cfg.Interface, strconv.Itoa(int(s.cfg.VRID))}
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64, extra ...string) {
		m, err := prometheus.NewConstMetric(d, t, v, append(labels[:len(labels):len(labels)], extra...)...)
		if err != nil { // a label that is not UTF-8
			m = prometheus.NewInvalidMetric(d, err)
		}
		ch <- m
	}

	if v, ok := keepalivedState(s.state); ok {
		for _, a := range s.cfg.VirtualAddresses {
			m, err := prometheus.NewConstMetric(stateDesc, prometheus.GaugeValue, v,
				s.name, s.addrIntf, labels[2], a.String())
			if err != nil {
				m = prometheus.NewInvalidMetric(stateDesc, err)
			}
			ch <- m
		}
	}
	emit(releaseDesc, prometheus.CounterValue, float64(s.released))
	emit(priorityDesc, prometheus.GaugeValue, float64(s.prio))
	emit(configuredPriorityDesc, prometheus.GaugeValue, float64(s.cfg.Priority))
	reason := "none"
	if s.stats.NewMasterReason != 0 {
		reason = s.stats.NewMasterReason.String()
	}
	emit(newMasterReasonDesc, prometheus.GaugeValue, 1, reason)
	if s.last != (vrrp.MasterInfo{}) {
		emit(lastAdvertPriorityDesc, prometheus.GaugeValue, float64(s.last.Priority), s.last.Addr.String())
		if v, ok := timestamp(s.last.Time); ok {
			emit(lastAdvertTimeDesc, prometheus.GaugeValue, v)
		}
	}
	for _, m := range statsCounters {
		emit(m.desc, prometheus.CounterValue, float64(m.value(&s.stats)))
	}

	if s.havip == nil {
		return
	}
	for _, m := range havipMetrics {
		if v, ok := m.value(s.havip); ok {
			emit(m.desc, m.kind, v)
		}
	}
}
