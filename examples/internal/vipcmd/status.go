package vipcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/vrrp"
)

// Status is the JSON object a daemon writes to its -status-file, and on
// SIGUSR1 without one as a line on standard error (as keepalived's
// SIGJSON): the instance, its state, the last master heard, its RFC 6527
// counters and what its havip client has done. A time is written as
// [Transition]'s, RFC 3339 UTC with microseconds; "" is never.
type Status struct {
	Time       string       `json:"time"`
	Instance   Instance     `json:"instance"`
	State      string       `json:"state"`       // vrrp.State: INIT, BACKUP, MASTER, FAULT
	LastMaster *MasterHeard `json:"last_master"` // null until another router is heard
	Stats      Stats        `json:"stats"`
	HAVIP      *HAVIPStatus `json:"havip"` // null when the daemon holds no addresses (vrrpd -no-vip)
}

// Instance is the virtual router a Status is about: as configured, and
// the priority in force, which checks and hold failures move
// (vrrp.Router.Priority).
type Instance struct {
	Interface         string `json:"interface"`
	VRID              uint8  `json:"vrid"`
	Version           uint8  `json:"version"` // 2 or 3
	Priority          uint8  `json:"priority"`
	EffectivePriority uint8  `json:"effective_priority"`
}

// MasterHeard is vrrp.MasterInfo: the last advertisement heard from
// another router.
type MasterHeard struct {
	Address    netip.Addr `json:"address"`
	Priority   uint8      `json:"priority"`
	IntervalMS int64      `json:"interval_ms"` // its advertisement interval
	Time       string     `json:"time"`
}

// Stats is vrrp.Stats. A counter with an object in the VRRPv3-MIB (RFC
// 6527 §4) is named after it, the object beside it ("Rcvd X" is
// x_received); the others, which the MIB has not, keep vrrp's name in
// snake_case (AdvertsSent is adverts_sent).
type Stats struct {
	MasterTransitions    uint64 `json:"master_transitions"` // vrrpv3StatisticsMasterTransitions
	NewMasterReason      string `json:"new_master_reason"`  // vrrpv3StatisticsNewMasterReason, as vrrp.Reason names it; "" before the first
	AdvertsReceived      uint64 `json:"adverts_received"`   // vrrpv3StatisticsRcvdAdvertisements
	AdvertsSent          uint64 `json:"adverts_sent"`
	PriorityZeroReceived uint64 `json:"priority_zero_received"` // vrrpv3StatisticsRcvdPriZeroPackets
	PriorityZeroSent     uint64 `json:"priority_zero_sent"`     // vrrpv3StatisticsSentPriZeroPackets
	SendErrors           uint64 `json:"send_errors"`
	IPTTLErrors          uint64 `json:"ip_ttl_errors"`         // vrrpv3StatisticsIpTtlErrors
	ChecksumErrors       uint64 `json:"checksum_errors"`       // vrrpv3RouterChecksumErrors
	VersionErrors        uint64 `json:"version_errors"`        // vrrpv3RouterVersionErrors
	VRIDErrors           uint64 `json:"vrid_errors"`           // vrrpv3RouterVrIdErrors
	AdvIntervalErrors    uint64 `json:"adv_interval_errors"`   // vrrpv3StatisticsAdvIntervalErrors
	AuthErrors           uint64 `json:"auth_errors"`           // VRRPv2 only
	PacketLengthErrors   uint64 `json:"packet_length_errors"`  // vrrpv3StatisticsPacketLengthErrors
	InvalidTypeReceived  uint64 `json:"invalid_type_received"` // vrrpv3StatisticsRcvdInvalidTypePackets
	AddressErrors        uint64 `json:"address_errors"`
	PeerErrors           uint64 `json:"peer_errors"`
	AddressListErrors    uint64 `json:"address_list_errors"` // vrrpv3StatisticsAddressListErrors
	OwnerDiscards        uint64 `json:"owner_discards"`
	SocketDrops          uint64 `json:"socket_drops"`
	EventsDropped        uint64 `json:"events_dropped"`
}

// HAVIPStatus is havip.Status: what the client holding the addresses has
// done.
type HAVIPStatus struct {
	Master          bool   `json:"master"`
	Since           string `json:"since"`
	Bursts          uint64 `json:"bursts"`
	BurstErrors     uint64 `json:"burst_errors"`
	Readded         uint64 `json:"readded"`
	ReannouncesHeld uint64 `json:"reannounces_held"`
	Claims          uint64 `json:"claims"`
	ClaimErrors     uint64 `json:"claim_errors"`
	LastClaimError  string `json:"last_claim_error"`
	LastClaimTime   string `json:"last_claim_time"`
	Contested       uint64 `json:"contested"`
	LastContested   string `json:"last_contested"`
	HoldError       string `json:"hold_error"`
	HoldFailures    uint64 `json:"hold_failures"`
}

// timeFormat is how Status writes a time, as Serve writes a Transition's.
const timeFormat = "2006-01-02T15:04:05.000000Z07:00"

// stamp writes t as timeFormat in UTC; the zero time is "".
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

// newStatus returns the Status of a router with configuration cfg, in
// state at priority prio, that heard last, with stats, at now; hs is its
// client's status, nil if it has none.
func newStatus(now time.Time, cfg vrrp.Config, state vrrp.State, prio uint8, last vrrp.MasterInfo, stats vrrp.Stats, hs *havip.Status) Status {
	s := Status{
		Time: stamp(now),
		Instance: Instance{Interface: cfg.Interface, VRID: cfg.VRID, Version: uint8(cfg.Version), Priority: cfg.Priority,
			EffectivePriority: prio},
		State: state.String(),
		Stats: statsJSON(stats),
	}
	if last != (vrrp.MasterInfo{}) {
		s.LastMaster = &MasterHeard{Address: last.Addr, Priority: last.Priority,
			IntervalMS: last.Interval.Milliseconds(), Time: stamp(last.Time)}
	}
	if hs != nil {
		h := havipJSON(*hs)
		s.HAVIP = &h
	}
	return s
}

// statsJSON maps every field of vrrp.Stats; a field added there fails
// TestStatusComplete until it is mapped here.
func statsJSON(s vrrp.Stats) Stats {
	reason := ""
	if s.NewMasterReason != 0 {
		reason = s.NewMasterReason.String()
	}
	return Stats{
		MasterTransitions:    s.MasterTransitions,
		NewMasterReason:      reason,
		AdvertsReceived:      s.AdvertsReceived,
		AdvertsSent:          s.AdvertsSent,
		PriorityZeroReceived: s.PriorityZeroReceived,
		PriorityZeroSent:     s.PriorityZeroSent,
		SendErrors:           s.SendErrors,
		IPTTLErrors:          s.TTLErrors,
		ChecksumErrors:       s.ChecksumErrors,
		VersionErrors:        s.VersionErrors,
		VRIDErrors:           s.VRIDErrors,
		AdvIntervalErrors:    s.IntervalErrors,
		AuthErrors:           s.AuthErrors,
		PacketLengthErrors:   s.LengthErrors,
		InvalidTypeReceived:  s.TypeErrors,
		AddressErrors:        s.AddressErrors,
		PeerErrors:           s.PeerErrors,
		AddressListErrors:    s.AddressListErrors,
		OwnerDiscards:        s.OwnerDiscards,
		SocketDrops:          s.SocketDrops,
		EventsDropped:        s.EventsDropped,
	}
}

// havipJSON maps every field of havip.Status; a field added there fails
// TestStatusComplete until it is mapped here.
func havipJSON(s havip.Status) HAVIPStatus {
	return HAVIPStatus{
		Master:          s.Master,
		Since:           stamp(s.Since),
		Bursts:          s.Bursts,
		BurstErrors:     s.BurstErrors,
		Readded:         s.Readded,
		ReannouncesHeld: s.ReannouncesHeld,
		Claims:          s.Claims,
		ClaimErrors:     s.ClaimErrors,
		LastClaimError:  s.LastClaimErr,
		LastClaimTime:   stamp(s.LastClaimTime),
		Contested:       s.Contested,
		LastContested:   stamp(s.LastContested),
		HoldError:       s.HoldError,
		HoldFailures:    s.HoldFailures,
	}
}

// writeStatusFile writes s to path atomically: to a temporary file in the
// same directory, mode 0644, renamed over path, so that a reader sees the
// old status or the new one, whole.
func writeStatusFile(path string, s Status) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	err = errors.Join(err, f.Chmod(0o644), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// writeStatusLine writes s to w as one line, in one Write, so that it is
// not mixed with the log lines beside it.
func writeStatusLine(w io.Writer, s Status) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// A statusWriter writes a router's Status: to its status file, if it has
// one, at start, after each transition, on SIGUSR1 and at the end; else
// on SIGUSR1, to stderr.
type statusWriter struct {
	r      *vrrp.Router
	c      *havip.Client // nil if none
	cfg    vrrp.Config
	path   string // "" for none
	stderr io.Writer
	log    *slog.Logger
	sigs   chan os.Signal
	events <-chan vrrp.Event
}

// startStatus starts writing r's status, before r runs: it writes the
// status file path, if not "", and handles SIGUSR1 from then on. An error
// writing the file is returned, and then nothing was started.
func startStatus(r *vrrp.Router, c *havip.Client, path string) (*statusWriter, error) {
	w := &statusWriter{r: r, c: c, cfg: r.Config(), path: path, stderr: os.Stderr, sigs: make(chan os.Signal, 1)}
	w.log = w.cfg.Logger
	if len(dumpSignals) > 0 {
		signal.Notify(w.sigs, dumpSignals...)
	}
	if w.path != "" {
		if err := writeStatusFile(w.path, w.status()); err != nil {
			signal.Stop(w.sigs)
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the temporary file's name says nothing
			}
			return nil, fmt.Errorf("-status-file %s: %w", show(w.path), err)
		}
	}
	w.events = r.Subscribe(context.Background())
	return w, nil
}

// status returns the router's status now.
func (w *statusWriter) status() Status {
	var hs *havip.Status
	if w.c != nil {
		s := w.c.Status()
		hs = &s
	}
	return newStatus(time.Now(), w.cfg, w.r.State(), w.r.Priority(), w.r.LastMaster(), w.r.Stats(), hs)
}

// follow writes the status after each transition and on SIGUSR1 until the
// router stops.
func (w *statusWriter) follow() {
	for {
		select {
		case e, ok := <-w.events:
			if !ok {
				return
			}
			if e.Kind == vrrp.EventTransition && w.path != "" {
				w.writeFile()
			}
		case <-w.sigs:
			if w.path != "" {
				w.writeFile()
			} else if err := writeStatusLine(w.stderr, w.status()); err != nil {
				w.log.Error("writing the status on standard error", "err", err)
			}
		}
	}
}

// writeFile writes the status file, logging a failure: the router goes on.
func (w *statusWriter) writeFile() {
	if err := writeStatusFile(w.path, w.status()); err != nil {
		w.log.Error("writing the status file", "file", w.path, "err", err)
	}
}

// stop stops handling SIGUSR1 and writes the status file a last time,
// once the router and the client have stopped.
func (w *statusWriter) stop() {
	signal.Stop(w.sigs)
	if w.path != "" {
		w.writeFile()
	}
}
