package vrrp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipkit/vipkit/internal/netmon"
	"github.com/vipkit/vipkit/internal/vmac"
)

// A Router is one virtual router: one VRID on one interface in one address
// family. It runs the RFC 5798 state machine with real time over a raw
// socket that every Router of the process on that interface and family
// shares, and tells subscribers of every transition, in order.
//
// All methods are safe for concurrent use.
type Router struct {
	cfg  Config
	src  netip.Addr   // the source of our advertisements, and our primary address; owned by Run (health.source is the next)
	dsts []netip.Addr // the multicast group, or the unicast peers
	log  *slog.Logger

	conn     Conn // shared with the other routers of the interface and family
	mux      *mux
	detach   func()
	released sync.Once
	stop     chan struct{} // closed by Close
	stopOnce sync.Once
	finished chan struct{} // closed when Run has released the router

	// The protocol: what the machine is told and what it says, in turns
	// that pmu serializes (the mux's reader, the scheduler, the trackers,
	// Run). Never held while user code runs.
	pmu         sync.Mutex
	active      bool // between Start and Shutdown
	healthDirty bool // a send changed r.health: apply it before the turn ends
	machine     *Machine
	lowerLog    rateLimit // the log line of lower-priority advertisements
	sendLog     rateLimit // the log line of failed sends
	discardLog  rateLimit // the log line of discarded messages
	sendFailing time.Time // since when every send has failed; zero if the last went
	advert      Advertisement
	rx          Advertisement
	sendBuf     []byte
	out         *outBatch // in a turn of the scheduler: where advertisements go
	batchBuf    []byte    // what they are, until the scheduler has sent them

	state   atomic.Uint32 // State
	wants   atomic.Bool   // the machine's WantsMaster, stored by do after every input
	prio    atomic.Uint32 // the priority in force: configured or set, moved by checks and reports
	running atomic.Bool

	// The scheduler's, guarded by its mu.
	heapIndex int // in its heap, or -1
	heapAt    time.Time
	heapSlack time.Duration // how early it may fire: a tenth of the interval for an Adver_Timer, 0 for a Master_Down_Timer
	heapStale bool          // the deadline moved later, to heapNext: heapAt is where it waits in the heap
	heapNext  time.Time

	links *linkWatch // nil for an injected Conn

	// With Config.VirtualMAC: the macvlan, and unless
	// VirtualMACTransmitBase the socket that sends from its MAC. Changed
	// by relink under pmu and mu.
	vmac   *vmac.Link
	frames *frameConn

	mu         sync.Mutex // guards what follows; never held while user code runs
	stats      Stats
	lastMaster MasterInfo
	health     health
	subs       []*subscription
	done       bool // Run has returned; no more events
}

// MasterInfo describes the last advertisement heard from another router.
type MasterInfo struct {
	Addr     netip.Addr
	Priority uint8
	Interval time.Duration
	Time     time.Time
}

// NewRouter validates cfg, looks up its interface and addresses in the
// network namespace of the calling thread, and opens (or shares) the raw
// socket of that interface and family. Every bad field is refused with an
// error that wraps ErrConfig and names it. Call Run to start the router,
// or Close if it is never run.
func NewRouter(cfg Config) (*Router, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	netns, err := netmon.ThreadNetns()
	if err != nil {
		return nil, fmt.Errorf("vrrp: %w", err)
	}
	links, st, err := openLinkWatch(cfg.Interface, cfg.TrackInterfaces, cfg.WeightedInterfaces)
	if err != nil {
		return nil, err
	}
	src, err := pickSource(&cfg, cfg.Interface, st.addrs)
	if err != nil {
		links.close()
		return nil, err
	}
	ifi := &net.Interface{Index: st.own.Index, Name: st.own.Name}
	key := muxKey{netns: netns, ifindex: ifi.Index, ipv6: cfg.ipv6()}
	r, err := newRouter(cfg, src, key, func() (Conn, error) { return OpenConn(ifi, cfg.ipv6()) })
	if err != nil {
		links.close()
		return nil, err
	}
	r.links = links
	r.health.linkDown = st.down
	if cfg.VirtualMAC {
		if r.vmac, r.frames, err = openVirtualMAC(&r.cfg, ifi); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// openVirtualMAC makes cfg's macvlan on ifi and, unless cfg says to send
// from ifi's own MAC, a socket that sends from the virtual MAC.
func openVirtualMAC(cfg *Config, ifi *net.Interface) (*vmac.Link, *frameConn, error) {
	l, err := vmac.Create(ifi.Index, cfg.AddressInterface(), vmac.MAC(cfg.VRID, cfg.ipv6()), cfg.ipv6())
	if err != nil {
		return nil, nil, fmt.Errorf("vrrp: VirtualMAC: %w", err)
	}
	if cfg.VirtualMACTransmitBase {
		return l, nil, nil
	}
	f, err := openFrames(ifi, l.MAC)
	if err != nil {
		_ = l.Delete()
		return nil, nil, err
	}
	return l, f, nil
}

// AddressInterface returns the name of the interface the virtual
// addresses go on (see Config.AddressInterface).
func (r *Router) AddressInterface() string { return r.cfg.AddressInterface() }

// NewRouterConn is NewRouter over conn, an injected transport, with src as
// this router's address: it looks nothing up on the host, so tests run it
// without privileges. Routers made over one conn (a pointer, or another
// comparable value) share it as the routers of one interface share its
// socket, each with a VRID of its own; the last one released closes it.
func NewRouterConn(cfg Config, conn Conn, src netip.Addr) (*Router, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if why := addrProblem(src, cfg.ipv6()); why != "" {
		return nil, errors.New("vrrp: NewRouterConn: source " + src.String() + ": " + why)
	}
	if len(cfg.TrackInterfaces) > 0 {
		return nil, configError("TrackInterfaces", "interfaces are tracked by NewRouter, not over an injected Conn")
	}
	if len(cfg.WeightedInterfaces) > 0 {
		return nil, configError("WeightedInterfaces", "interfaces are tracked by NewRouter, not over an injected Conn")
	}
	if cfg.VirtualMAC {
		return nil, configError("VirtualMAC", "the macvlan is made by NewRouter, not over an injected Conn")
	}
	key := muxKey{injected: conn, ipv6: cfg.ipv6()}
	return newRouter(cfg, src, key, func() (Conn, error) { return conn, nil })
}

func newRouter(cfg Config, src netip.Addr, key muxKey, open func() (Conn, error)) (*Router, error) {
	r := &Router{
		cfg:       cfg,
		src:       src,
		dsts:      cfg.UnicastPeers,
		log:       cfg.Logger.With("vrid", cfg.VRID, "interface", cfg.Interface),
		heapIndex: -1,
		stop:      make(chan struct{}),
		finished:  make(chan struct{}),
		advert: Advertisement{
			Version:   cfg.Version,
			Type:      TypeAdvertisement,
			VRID:      cfg.VRID,
			Interval:  cfg.AdvertInterval,
			Addresses: cfg.VirtualAddresses,
		},
		health: health{
			base:      cfg.Priority,
			linkDown:  map[string]string{},
			checkDown: make([]bool, len(cfg.Checks)),
			reported:  map[string]report{},
			adjusted:  map[string]int{},
			source:    src,
		},
	}
	if !cfg.unicast() {
		r.dsts = []netip.Addr{MulticastGroupIPv4}
		if cfg.ipv6() {
			r.dsts = []netip.Addr{MulticastGroupIPv6}
		}
	}
	if cfg.AuthPass != "" {
		r.advert.AuthType = AuthSimple
		copy(r.advert.AuthData[:], cfg.AuthPass)
	}
	var err error
	if r.machine, err = NewMachine(cfg.machineConfig(src)); err != nil {
		return nil, err
	}
	if a := cfg.VirtualAddresses[0]; a.Is6() && !a.IsLinkLocalUnicast() {
		r.log.Warn("the first virtual address is not link-local, as RFC 5798 §5.2.9 asks of IPv6 (a link-local one may be configured first)", "first", a)
	}
	r.state.Store(uint32(Initialize))
	r.prio.Store(uint32(cfg.Priority))
	m, detach, err := attach(key, cfg.VRID, cfg.Logger.With("interface", cfg.Interface), open)
	if errors.Is(err, errVRIDTaken) {
		return nil, configError("VRID", "%d on %s: %v", cfg.VRID, cfg.Interface, err)
	} else if err != nil {
		return nil, err
	}
	r.conn, r.mux, r.detach = m.conn, m, detach
	return r, nil
}

// pickSource picks the address cfg's advertisements are sent from among
// own, the addresses of the interface ifname: UnicastSource if set, which
// must be one of them; otherwise the first IPv4 address, or for IPv6 the
// link-local address (RFC 5798 §5.1.2.1), or a global one when every
// unicast peer is global; never a virtual address but the owner's.
func pickSource(cfg *Config, ifname string, own []netip.Prefix) (netip.Addr, error) {
	if cfg.UnicastSource.IsValid() {
		if !slices.ContainsFunc(own, func(p netip.Prefix) bool { return p.Addr() == cfg.UnicastSource }) {
			return netip.Addr{}, configError("UnicastSource", "%v is not an address of %s", cfg.UnicastSource, ifname)
		}
		return cfg.UnicastSource, nil
	}
	wantLinkLocal := cfg.ipv6() && !slices.ContainsFunc(cfg.UnicastPeers, func(p netip.Addr) bool { return !p.IsLinkLocalUnicast() })
	virtual := false // an address of the kind wanted was passed over as virtual
	for _, p := range own {
		a := p.Addr()
		if a.Is6() != cfg.ipv6() || a.IsLoopback() || cfg.ipv6() && a.IsLinkLocalUnicast() != wantLinkLocal {
			continue
		}
		// A virtual address comes and goes with mastership (and may be
		// left over from an earlier run): only the owner's is its own.
		if cfg.Priority != 255 && slices.Contains(cfg.VirtualAddresses, a) {
			virtual = true
			continue
		}
		return a, nil
	}
	kind := "IPv4"
	if wantLinkLocal {
		kind = "link-local IPv6"
	} else if cfg.ipv6() {
		kind = "global IPv6"
	}
	if virtual {
		return netip.Addr{}, configError("Interface", "%s has no %s address but the virtual ones to send advertisements from; "+
			"if a virtual address is the interface's own, this router is its owner: priority 255 (RFC 5798 §5.2.4)", ifname, kind)
	}
	return netip.Addr{}, configError("Interface", "%s has no %s address to send advertisements from", ifname, kind)
}

// addrsChanged follows the addresses of the router's interface, own, on
// the watch's goroutine, when changed came or went (or, if invalid, any
// may have): the source stays while it is there; when it goes, another is
// picked, and none usable puts the router in FAULT, with the reason, until
// one is. A new source also ends a FAULT for failing sends (the virtual
// addresses coming and going, as they do in that FAULT, do not).
func (r *Router) addrsChanged(own []netip.Prefix, changed netip.Addr) {
	r.mu.Lock()
	src, none := r.health.source, r.health.noSource != ""
	if !none && (changed.IsValid() && changed != src ||
		slices.ContainsFunc(own, func(p netip.Prefix) bool { return p.Addr() == src })) {
		r.mu.Unlock()
		return
	}
	src, err := pickSource(&r.cfg, r.cfg.Interface, own)
	if ce := (*ConfigError)(nil); errors.As(err, &ce) {
		r.health.noSource = ce.Reason
	} else {
		r.health.source, r.health.noSource, r.health.sendFault = src, "", ""
	}
	r.mu.Unlock()
	r.poke()
}

// relink moves the router to l, its interface deleted and made again (a
// new index), on the watch's goroutine: a socket of the new interface
// (shared, as ever, with the other routers there), the old one given
// back. The router comes out of FAULT as the watch then reports.
func (r *Router) relink(l netmon.Link) error {
	ifi := &net.Interface{Index: l.Index, Name: l.Name}
	r.pmu.Lock()
	defer r.pmu.Unlock()
	key := r.mux.key
	key.ifindex = l.Index
	m, detach, err := attach(key, r.cfg.VRID, r.cfg.Logger.With("interface", r.cfg.Interface), func() (c Conn, err error) {
		err = r.links.host.Netns().Do(func() error {
			c, err = OpenConn(ifi, r.cfg.ipv6())
			return err
		})
		return c, err
	})
	if err != nil {
		return err
	}
	var link *vmac.Link
	var frames *frameConn
	if r.vmac != nil {
		// The macvlan went with its parent: give it back (the new parent
		// gets what the old one had before the first macvlan) and make it
		// again on the new one.
		old := r.vmac
		err = r.links.host.Netns().Do(func() (err error) {
			if err := old.Delete(); err != nil {
				r.log.Warn("the virtual MAC's interface of the old interface", "err", err)
			}
			link, frames, err = openVirtualMAC(&r.cfg, ifi)
			return err
		})
		if err != nil {
			detach()
			return err
		}
	}
	r.mux.sched.set(r, time.Time{}, 0)
	r.mu.Lock()
	old, oldFrames := r.detach, r.frames
	r.conn, r.mux, r.detach = m.conn, m, detach
	if link != nil {
		r.vmac, r.frames = link, frames
	}
	r.mu.Unlock()
	old()
	if oldFrames != nil {
		oldFrames.Close()
	}
	if r.active {
		m.start(r)
		r.settle(time.Now())
	}
	r.log.Info("interface made again: advertising on the new one", "index", l.Index)
	return nil
}

// Config returns a copy of the router's configuration, with defaults
// filled in: changing its slices changes nothing in the router.
func (r *Router) Config() Config {
	c := r.cfg
	c.VirtualAddresses = slices.Clone(c.VirtualAddresses)
	c.UnicastPeers = slices.Clone(c.UnicastPeers)
	c.TrackInterfaces = slices.Clone(c.TrackInterfaces)
	c.WeightedInterfaces = slices.Clone(c.WeightedInterfaces)
	c.Checks = slices.Clone(c.Checks)
	return c
}

// Source returns the address the router sends advertisements from. It
// follows the interface's addresses: when the one it sends from goes,
// another is picked.
func (r *Router) Source() netip.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.health.source
}

// State returns the router's current state.
func (r *Router) State() State { return State(r.state.Load()) }

// Priority returns the priority in force: the configured one, or the one
// SetPriority set, moved by the weights of Checks and Reports (RFC 6527's
// vrrpv3OperationsPriority).
func (r *Router) Priority() uint8 { return uint8(r.prio.Load()) }

// LastMaster returns the last advertisement heard from another router,
// with its time; the zero value if none.
func (r *Router) LastMaster() MasterInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastMaster
}

// SetPriority changes the router's priority at run time (1..254; 255 only
// for the address owner); the weights of Checks still apply on top. A
// master advertises the new priority at once.
func (r *Router) SetPriority(p uint8) error {
	if p == 0 || p == 255 && r.cfg.Priority != 255 {
		return configError("Priority", "%d: 1..254 at run time, 255 only for the configured owner", p)
	}
	r.mu.Lock()
	r.health.base = p
	r.mu.Unlock()
	r.poke()
	return nil
}

// Hold holds the router out of Master, or releases it, as a member of
// keepalived's vrrp_sync_group is held until every member can be master
// (Machine.SetHold): held, a master steps down to Backup without priority
// 0, and a backup whose Master_Down_Timer fires stays Backup, publishes
// EventWantMaster and reports WantsMaster; released, one that wants Master
// enters it at once. A router is not held until Hold says so, which may be
// before Run.
func (r *Router) Hold(hold bool) {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	now := time.Now()
	act := r.machine.SetHold(now, hold)
	if r.active {
		r.do(now, act)
		r.settle(now)
	}
}

// WantsMaster reports whether the router is held in Backup (see Hold) and
// would be master: its Master_Down_Timer fired, and it has accepted no
// advertisement since.
func (r *Router) WantsMaster() bool { return r.wants.Load() }

// poke brings the machine in line with r.health, from a goroutine that
// does not hold r.pmu.
func (r *Router) poke() {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	if r.active {
		now := time.Now()
		r.applyHealth(now)
		r.settle(now)
	}
}

// settle ends a turn of the protocol: it applies what a send changed in
// r.health and gives the machine's deadline to the scheduler. r.pmu is
// held.
func (r *Router) settle(now time.Time) {
	for r.healthDirty {
		r.healthDirty = false
		r.applyHealth(now)
	}
	var slack time.Duration
	if r.machine.State() == Master {
		slack = r.cfg.AdvertInterval / 10
	}
	r.mux.sched.set(r, r.machine.Deadline(), slack)
}

// expire is the scheduler's: the machine's timer is due at now. The
// advertisement it sends goes in out, with those of the other timers due
// together.
func (r *Router) expire(now time.Time, out *outBatch) {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	if r.active {
		r.out = out
		r.do(now, r.machine.Expire(now))
		r.out = nil
		r.settle(now)
	}
}

// deliver is the mux's: a message for this router, in a buffer the mux
// reuses once deliver returns.
func (r *Router) deliver(msg []byte, info PacketInfo) {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	if r.active {
		now := time.Now()
		r.receive(now, msg, info)
		r.settle(now)
	}
}

// Close stops the router as the end of Run's context does (a master sends
// priority 0), waits for Run to return, and releases the router's share of
// the socket; a router that never ran is released at once. Close never
// waits on user code: neither on subscribers nor on Checks. It is
// idempotent and safe from any goroutine. A closed router cannot run.
func (r *Router) Close() error {
	r.stopOnce.Do(func() { close(r.stop) })
	if r.running.CompareAndSwap(false, true) {
		r.release() // Run never started, and now never will
	}
	<-r.finished
	return nil
}

// release gives back the socket and the link watch and ends the
// subscriptions once they have delivered every event. Then Close returns.
func (r *Router) release() {
	r.released.Do(func() {
		defer close(r.finished)
		r.mu.Lock()
		detach := r.detach
		r.mu.Unlock()
		detach()
		r.closeVirtualMAC()
		if r.links != nil {
			r.links.close()
		}
		r.endSubscriptions()
	})
}

// closeVirtualMAC closes the frame socket and removes the macvlan, if
// any, in the router's network namespace.
func (r *Router) closeVirtualMAC() {
	r.pmu.Lock()
	r.mu.Lock()
	l, f := r.vmac, r.frames
	r.vmac, r.frames = nil, nil
	r.mu.Unlock()
	r.pmu.Unlock()
	if f != nil {
		f.Close()
	}
	if l == nil {
		return
	}
	err := r.links.host.Netns().Do(l.Delete)
	if err != nil {
		r.log.Warn("removing the virtual MAC's interface", "interface", l.Name, "err", err)
	}
}

// Errors of Run.
var (
	ErrRunning = errors.New("vrrp: Router.Run called twice")
	ErrClosed  = errors.New("vrrp: Router closed")
)

// Run runs the router until ctx ends, then shuts it down as RFC 5798
// §6.4.3 says: a master sends an advertisement with priority 0, so that a
// backup takes over after Skew_Time rather than Master_Down_Interval. It
// returns nil after a clean stop, also when Close stopped it. A Router runs
// once. The protocol itself runs on the goroutines of the process's
// scheduler and of the socket's reader; Run only starts and stops it.
func (r *Router) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		select {
		case <-r.stop:
			return ErrClosed
		default:
			return ErrRunning
		}
	}
	defer r.release()
	r.log.Info("vrrp router starting", "version", r.cfg.Version, "priority", r.cfg.Priority,
		"interval", r.cfg.AdvertInterval, "source", r.src, "destinations", r.dsts)

	trackCtx, stopTrackers := context.WithCancel(ctx)
	defer stopTrackers()
	r.startTrackers(trackCtx)
	if r.links != nil {
		defer r.links.stop()
	}

	now := time.Now()
	r.pmu.Lock()
	r.active = true
	r.applyHealth(now)
	r.do(now, r.machine.Start(now))
	r.settle(now)
	r.mux.start(r)
	r.pmu.Unlock()

	select {
	case <-ctx.Done():
	case <-r.stop:
	}
	r.shutdown()
	return nil
}

// shutdown leaves the protocol as RFC 5798 §6.4 says for Shutdown and
// takes the router off the scheduler.
func (r *Router) shutdown() {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	now := time.Now()
	r.do(now, r.machine.Shutdown(now))
	r.active = false
	r.mux.sched.set(r, time.Time{}, 0)
	r.log.Info("vrrp router stopped")
}

// startTrackers starts the link watch, which the caller stops, and the
// health checks, which run until ctx ends and which nothing waits for: a
// Check that ignores its context must not hold up Close. They report to
// r.health.
func (r *Router) startTrackers(ctx context.Context) {
	if r.links != nil {
		r.links.start(func(name, down string) {
			r.mu.Lock()
			changed := r.health.linkDown[name] != down
			r.health.linkDown[name] = down
			if changed {
				r.health.sendFault = "" // the host changed: try again
			}
			r.mu.Unlock()
			if changed {
				r.log.Info("tracked interface changed", "tracked", name, "up", down == "", "why", down)
				r.poke()
			}
		}, r.addrsChanged, r.relink)
	}
	for i, c := range r.cfg.Checks {
		go func() {
			runCheck(ctx, c, func(down bool) {
				r.mu.Lock()
				r.health.checkDown[i] = down
				r.mu.Unlock()
				r.log.Info("check changed", "check", c.Name, "up", !down, "weight", c.Weight)
				r.poke()
			})
		}()
	}
}

// applyHealth brings the state machine in line with what the trackers and
// SetPriority said: FAULT or not, and the priority.
func (r *Router) applyHealth(now time.Time) {
	r.mu.Lock()
	prio, fault := r.health.effective(r.cfg.Checks, r.cfg.WeightedInterfaces)
	src := r.health.source
	r.mu.Unlock()
	if src.IsValid() && src != r.src {
		r.log.Info("source address changed", "from", r.src, "to", src)
		r.src = src
		r.machine.SetPrimary(src)
	}
	// The priority first, so that leaving FAULT chooses Master or Backup
	// by the priority in force.
	if prio != r.machine.Priority() {
		r.machine.SetPriority(prio)
		r.prio.Store(uint32(prio))
		r.log.Info("priority changed", "priority", prio)
		if r.machine.State() == Master {
			r.send(prio)
		}
	}
	if fault != "" && r.machine.State() != Fault {
		r.log.Warn("entering FAULT", "why", fault)
	}
	r.do(now, r.machine.SetFault(now, fault != ""))
}

// do carries out the actions of the state machine.
func (r *Router) do(now time.Time, act Actions) {
	r.wants.Store(r.machine.WantsMaster()) // before the events that ask for it
	if act.Send {
		r.send(act.SendPriority)
	}
	if t := act.Transition; t.From != 0 {
		r.state.Store(uint32(t.To))
		r.log.Info("vrrp transition", "from", t.From, "to", t.To, "reason", t.Reason)
		r.mu.Lock()
		if t.To == Master {
			r.stats.MasterTransitions++
			r.stats.NewMasterReason = t.Reason
		}
		r.mu.Unlock()
		r.publish(Event{Time: now, VRID: r.cfg.VRID, Kind: EventTransition, From: t.From, To: t.To, Reason: t.Reason})
	}
	if act.WantMaster {
		r.log.Debug("held in BACKUP: Master_Down_Timer fired")
		r.publish(Event{Time: now, VRID: r.cfg.VRID, Kind: EventWantMaster, From: Backup, To: Backup})
	}
	if act.LowerPriority {
		m := r.LastMaster()
		if ok, n := r.lowerLog.allow(now); ok {
			r.log.Warn("master received a lower-priority advertisement; answered", "peer", m.Addr, "peer_priority", m.Priority,
				"not_logged_since_last", n)
		}
		r.publish(Event{Time: now, VRID: r.cfg.VRID, Kind: EventLowerPriority, From: Master, To: Master,
			Peer: m.Addr, PeerPriority: m.Priority})
	}
}

// A rateLimit lets through one event per logInterval and counts the
// others.
type rateLimit struct {
	last       time.Time
	suppressed int
}

// logInterval is the least time between two log lines of one kind that a
// peer can cause.
const logInterval = 10 * time.Second

// allow reports whether an event at now may be logged and, if so, how
// many were not since the last that was.
func (l *rateLimit) allow(now time.Time) (ok bool, suppressed int) {
	if !l.last.IsZero() && now.Sub(l.last) < logInterval {
		l.suppressed++
		return false, 0
	}
	l.last, suppressed, l.suppressed = now, l.suppressed, 0
	return true, suppressed
}

// send sends one advertisement with priority prio to every destination:
// at once, or in a turn of the scheduler with the others due together.
func (r *Router) send(prio uint8) {
	r.advert.Priority = prio
	sent, lastErr := false, error(nil)
	for _, dst := range r.dsts {
		if r.out != nil && r.frames == nil {
			n := len(r.batchBuf)
			b, err := r.advert.Append(r.batchBuf, r.src, dst, r.cfg.Checksum)
			if err == nil {
				r.batchBuf = b
			}
			r.out.msgs = append(r.out.msgs, outMsg{r: r, b: r.batchBuf[n:], src: r.src, dst: dst, prio: prio, err: err})
			continue
		}
		var err error
		r.sendBuf, err = r.advert.Append(r.sendBuf[:0], r.src, dst, r.cfg.Checksum)
		switch {
		case err != nil:
		case r.frames != nil:
			err = r.frames.WriteTo(r.sendBuf, r.src, dst)
		default:
			err = r.conn.WriteTo(r.sendBuf, r.src, dst)
		}
		r.account(prio, dst, err)
		sent, lastErr = sent || err == nil, cmp.Or(err, lastErr)
	}
	if r.out == nil || r.frames != nil {
		r.sendResult(sent, lastErr)
	}
}

// sent is the scheduler's: how the advertisements of one send that it
// sent in a batch went.
func (r *Router) sent(msgs []outMsg) {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	r.batchBuf = r.batchBuf[:0]
	sent, lastErr := false, error(nil)
	for _, m := range msgs {
		r.account(m.prio, m.dst, m.err)
		sent, lastErr = sent || m.err == nil, cmp.Or(m.err, lastErr)
	}
	r.sendResult(sent, lastErr)
	if r.healthDirty && r.active {
		r.settle(time.Now())
	}
}

// account counts one advertisement sent to dst, or not for err.
func (r *Router) account(prio uint8, dst netip.Addr, err error) {
	r.mu.Lock()
	if err != nil {
		r.stats.SendErrors++
	} else {
		r.stats.AdvertsSent++
		if prio == 0 {
			r.stats.PriorityZeroSent++
		}
	}
	r.mu.Unlock()
	if err == nil {
		return
	}
	if ok, n := r.sendLog.allow(time.Now()); ok {
		r.log.Warn("sending advertisement", "to", dst, "err", err, "not_logged_since_last", n)
	}
}

// sendResult follows whether a send reached any destination. A master
// none of whose advertisements has left for a whole Master_Down_Interval
// cannot do its job: it goes to FAULT, giving the address up, until the
// host changes (an address or link event) or sendFaultHold has passed.
func (r *Router) sendResult(sent bool, lastErr error) {
	now := time.Now()
	switch {
	case sent:
		r.sendFailing = time.Time{}
	case r.sendFailing.IsZero():
		r.sendFailing = now
	case r.machine.State() == Master && now.Sub(r.sendFailing) >= r.machine.MasterDownInterval():
		why := fmt.Sprintf("no advertisement could be sent for %v: %v", now.Sub(r.sendFailing).Round(time.Millisecond), lastErr)
		r.mu.Lock()
		r.health.sendFault = why
		r.mu.Unlock()
		r.sendFailing = time.Time{}
		r.healthDirty = true // to FAULT, at the end of this turn
		time.AfterFunc(max(sendFaultHold, r.machine.MasterDownInterval()), func() {
			r.mu.Lock()
			if r.health.sendFault == why {
				r.health.sendFault = ""
			}
			r.mu.Unlock()
			r.poke()
		})
	}
}

// sendFaultHold is the least time a router stays in FAULT for failing
// sends when the host does not change. Then it tries again as backup: if
// another router advertises it stays backup, and if sends still fail once
// it is master it comes back here.
const sendFaultHold = 10 * time.Second

// receive checks a message by RFC 5798 §7.1 (RFC 3768 §7.1 for version
// 2), counts what is wrong with it, and hands a good one to the state
// machine.
func (r *Router) receive(now time.Time, msg []byte, info PacketInfo) {
	bad, why := r.check(msg, info)
	r.mu.Lock()
	if bad != nil {
		*bad++
		r.mu.Unlock()
		// RFC 9568 §7.1: discard, and log subject to rate-limiting.
		if ok, n := r.discardLog.allow(now); ok {
			r.log.Warn("discarded a VRRP message", "from", info.Src, "why", why, "not_logged_since_last", n)
		}
		return
	}
	r.stats.AdvertsReceived++
	if r.rx.Priority == 0 {
		r.stats.PriorityZeroReceived++
	}
	mismatch := r.cfg.AcceptAddressMismatch && !sameAddresses(r.rx.Addresses, r.cfg.VirtualAddresses) // else check dropped it
	if mismatch {
		r.stats.AddressListErrors++
	}
	r.lastMaster = MasterInfo{Addr: info.Src, Priority: r.rx.Priority, Interval: r.rx.Interval, Time: now}
	r.mu.Unlock()
	if mismatch {
		if ok, n := r.discardLog.allow(now); ok {
			r.log.Warn("advertised addresses differ from ours; taken (AcceptAddressMismatch)",
				"from", info.Src, "theirs", r.rx.Addresses, "ours", r.cfg.VirtualAddresses, "not_logged_since_last", n)
		}
	}
	r.do(now, r.machine.Receive(now, info.Src, &r.rx))
}

// check returns the counter a bad message counts in and why it is bad, or
// nil for a good one, which it leaves decoded in r.rx.
func (r *Router) check(msg []byte, info PacketInfo) (*uint64, string) {
	s := &r.stats
	if r.cfg.unicast() && !slices.Contains(r.cfg.UnicastPeers, info.Src) {
		return &s.PeerErrors, "not from a unicast peer"
	}
	if info.Dst.IsMulticast() || !r.cfg.unicast() {
		if info.TTL != TTL {
			return &s.TTLErrors, fmt.Sprintf("TTL (hop limit) %d; multicast needs %d", info.TTL, TTL)
		}
	} else if r.cfg.UnicastMinTTL != 0 && info.TTL < r.cfg.UnicastMinTTL || r.cfg.UnicastMaxTTL != 0 && info.TTL > r.cfg.UnicastMaxTTL {
		return &s.TTLErrors, fmt.Sprintf("TTL (hop limit) %d outside %d..%d", info.TTL, r.cfg.UnicastMinTTL, r.cfg.UnicastMaxTTL)
	}
	if len(msg) >= 2 && msg[1] != r.cfg.VRID {
		return &s.VRIDErrors, fmt.Sprintf("VRID %d", msg[1])
	}
	if _, err := r.rx.Decode(msg, info.Src, info.Dst, r.cfg.AcceptChecksums); err != nil {
		switch {
		case errors.Is(err, ErrVersion):
			return &s.VersionErrors, err.Error()
		case errors.Is(err, ErrBadChecksum):
			return &s.ChecksumErrors, err.Error()
		case errors.Is(err, ErrType):
			return &s.TypeErrors, err.Error()
		case errors.Is(err, ErrVRID):
			return &s.VRIDErrors, err.Error()
		case errors.Is(err, ErrInterval):
			return &s.IntervalErrors, err.Error()
		case errors.Is(err, ErrAuthType):
			return &s.AuthErrors, err.Error()
		case errors.Is(err, ErrAddress):
			return &s.AddressErrors, err.Error()
		}
		return &s.LengthErrors, err.Error() // truncated, ErrLength, ErrAuthV3
	}
	switch {
	case r.rx.Version != r.cfg.Version:
		return &s.VersionErrors, fmt.Sprintf("version %d; this router speaks %d", r.rx.Version, r.cfg.Version)
	case r.cfg.Version == Version2 && r.rx.AuthType != r.advert.AuthType:
		return &s.AuthErrors, fmt.Sprintf("authentication type %d; ours is %d", r.rx.AuthType, r.advert.AuthType)
	case r.cfg.Version == Version2 && r.rx.AuthData != r.advert.AuthData:
		return &s.AuthErrors, "wrong password"
	case r.cfg.Version == Version2 && r.rx.Interval != r.cfg.AdvertInterval:
		// RFC 3768 §7.1: a version 2 interval must match ours.
		return &s.IntervalErrors, fmt.Sprintf("interval %v; ours is %v (RFC 3768 §7.1)", r.rx.Interval, r.cfg.AdvertInterval)
	case r.cfg.OwnerIgnoreAdverts && r.machine.Priority() == 255:
		return &s.OwnerDiscards, "this router is the address owner (OwnerIgnoreAdverts)"
	case !r.cfg.AcceptAddressMismatch && !sameAddresses(r.rx.Addresses, r.cfg.VirtualAddresses):
		// RFC 3768 §7.1, RFC 5798 §7.1; keepalived 2.2 drops it too.
		return &s.AddressListErrors, fmt.Sprintf("addresses %v; ours are %v", r.rx.Addresses, r.cfg.VirtualAddresses)
	}
	return nil, ""
}

// sameAddresses reports whether theirs holds the addresses of ours, which
// has no duplicates, in any order.
func sameAddresses(theirs, ours []netip.Addr) bool {
	if len(theirs) != len(ours) {
		return false
	}
	for _, a := range ours {
		if !slices.Contains(theirs, a) {
			return false
		}
	}
	return true
}
