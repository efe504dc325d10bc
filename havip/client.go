package havip

import (
	"bytes"
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

	"github.com/vipkit/vipkit/garp"
	"github.com/vipkit/vipkit/internal/netmon"
	"github.com/vipkit/vipkit/vrrp"
)

// A Client owns the virtual addresses of one interface while it is told
// it is master. Its methods are safe for concurrent use.
type Client struct {
	cfg   Config
	vips  []netip.Addr
	host  Host
	ann   Announcer
	log   *slog.Logger
	wake  chan struct{}
	stats struct {
		sync.Mutex
		Status
	}
	holding *holding

	running  atomic.Bool
	closed   chan struct{} // closed by Close
	closeRun sync.Once
	finished chan struct{} // closed when the Host and Announcer are released
	released sync.Once

	added map[netip.Addr]bool // owned by Run: the addresses it put on the interface

	mu          sync.Mutex    // guards what follows
	master      bool          // what we were told
	gen         uint64        // counts the changes of master
	reannounce  bool          // asked for a burst for a lower priority
	quiet       time.Duration // the gap between requests for a lower priority that starts a new episode (Reannounce)
	rebind      bool          // asked for a burst for the Binder (ErrNotBound)
	removedSeen bool          // an address was removed from the interface
}

// Status is what a Client has done.
type Status struct {
	Master      bool      // the addresses are ours now
	Since       time.Time // when Master last changed
	Bursts      uint64    // announcement bursts sent
	BurstErrors uint64
	Readded     uint64 // addresses added back after someone removed them
	// ReannouncesHeld counts the requests for a lower priority that came
	// within a second of the last answer to one (a burst, a claim) and
	// were left to it.
	ReannouncesHeld uint64
	Claims          uint64 // Binder claims that succeeded
	// ClaimErrors counts the Binder's failures; a contest is not one.
	ClaimErrors   uint64
	LastClaimErr  string // the last Binder error, a contest's included, if any
	LastClaimTime time.Time
	// Contested counts the contests: the times the Binder found that
	// another node had taken the addresses (ErrContested) and left them
	// to it; LastContested is when it last did.
	Contested     uint64
	LastContested time.Time
	// HoldError says why the client cannot hold the addresses now (see
	// Config.FailureWeight), "" when nothing stands against it;
	// HoldFailures counts the times it began to fail.
	HoldError    string
	HoldFailures uint64
}

// New opens the interface's Host and an announcer (a garp.Sender) in the
// calling thread's network namespace and validates cfg against the
// interface: every bad field is an ErrConfig error naming it. It needs
// CAP_NET_ADMIN and CAP_NET_RAW. Both follow the interface by name: when
// it is deleted and made again, the Host moves to the new one (a master
// adds its addresses there) and the announcer opens its socket on it
// again, in the same namespace.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	host, err := OpenHost(cfg.Interface, cfg.Label)
	if err != nil {
		return nil, err
	}
	// A master's neighbour advertisements set the Router flag (RFC 5798
	// §6.4.1): the virtual address is a router's.
	ann, err := openFollowingSender(host, garp.Options{Interval: cfg.Announce.Interval, Router: true})
	if err != nil {
		host.Close()
		return nil, err
	}
	c, err := NewWith(cfg, host, ann)
	if err != nil {
		ann.Close()
		host.Close()
	}
	return c, err
}

// A followingSender is New's Announcer: a garp.Sender on the Host's
// interface that follows it. Before each burst it compares the Host's
// interface with the one its Sender was opened on; when the index or MAC
// address differs (the interface was deleted and made again), it closes
// that Sender, whose socket is bound to an interface that is gone, and
// opens one on the new interface in the network namespace of New (sockets
// open in the namespace of the thread that opens them, and a burst runs
// on any thread). An error opening it is the burst's, and the next burst
// tries again. A burst still under way on the old Sender fails when it is
// closed: its frames could not leave a deleted interface anyway.
type followingSender struct {
	host  Host
	netns *netmon.Netns
	opts  garp.Options

	mu     sync.Mutex // guards what follows
	sender *garp.Sender
	ifi    *net.Interface // sender's; nil with sender
	closed bool
}

// openFollowingSender opens a followingSender on host's interface, in
// the calling thread's network namespace.
func openFollowingSender(host Host, opts garp.Options) (*followingSender, error) {
	ifi := host.Interface()
	s, err := garp.NewSender(ifi, &opts)
	if err != nil {
		return nil, err
	}
	ns, err := netmon.OpenNetns()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("havip: %w", err)
	}
	return &followingSender{host: host, netns: ns, opts: opts, sender: s, ifi: ifi}, nil
}

func (a *followingSender) BurstN(ctx context.Context, rounds int, addrs ...netip.Addr) error {
	s, err := a.current()
	if err != nil {
		return err
	}
	return s.BurstN(ctx, rounds, addrs...)
}

// current returns a Sender on the Host's interface as it is now, opening
// it if the interface changed.
func (a *followingSender) current() (*garp.Sender, error) {
	ifi := a.host.Interface()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, fmt.Errorf("havip: announcing on %s: %w", ifi.Name, net.ErrClosed)
	}
	if a.sender != nil && a.ifi.Index == ifi.Index && bytes.Equal(a.ifi.HardwareAddr, ifi.HardwareAddr) {
		return a.sender, nil
	}
	if a.sender != nil {
		a.sender.Close()
		a.sender, a.ifi = nil, nil
	}
	var s *garp.Sender
	err := a.netns.Do(func() error {
		var err error
		s, err = garp.NewSender(ifi, &a.opts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("havip: announcing on %s, made again (index %d): %w", ifi.Name, ifi.Index, err)
	}
	a.sender, a.ifi = s, ifi
	return s, nil
}

func (a *followingSender) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	var err error
	if a.sender != nil {
		err = a.sender.Close()
	}
	return errors.Join(err, a.netns.Close())
}

// NewWith is New over an injected Host and Announcer, which the Client
// owns from then on and closes when Run returns, or on Close.
func NewWith(cfg Config, host Host, ann Announcer) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := cfg.checkAddresses(host); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, host: host, ann: ann, wake: make(chan struct{}, 1),
		closed: make(chan struct{}), finished: make(chan struct{}), added: map[netip.Addr]bool{},
		log: cfg.Logger.With("interface", cfg.Interface)}
	for _, p := range cfg.Addresses {
		c.vips = append(c.vips, p.Addr())
	}
	c.holding = &holding{hold: cfg.FailureHold, weight: cfg.FailureWeight, log: c.log, status: c.holdStatus}
	return c, nil
}

// holdStatus records in the Status why the client cannot hold the
// addresses, and each time it began to fail.
func (c *Client) holdStatus(why string, began bool) {
	c.stats.Lock()
	defer c.stats.Unlock()
	c.stats.HoldError = why
	if began {
		c.stats.HoldFailures++
	}
}

// SetMaster tells the client whether this node is master now. Every
// change counts, also one that Run had no time to see: a master told false
// and then true ends its term of mastership and begins a new one.
func (c *Client) SetMaster(master bool) {
	c.mu.Lock()
	if c.master != master {
		c.master = master
		c.gen++
	}
	c.mu.Unlock()
	c.poke()
}

// Reannounce asks a master to announce the addresses again, as after a
// lower-priority advertisement that means another router believed itself
// master (split-brain recovery): a burst of Announce.LowerPriorityRepeat
// frames and, after Announce.LowerPriorityDelay, a second, as keepalived's
// garp_lower_prio_*, and, with a Binder, a claim at once, which takes the
// addresses back from the other master, and ends the backoff after a
// contest. A request that comes while others keep coming (another
// request less than the quiet gap before it: three of the router's
// advertisement intervals under Follow, a second otherwise) is held if an
// announcement for a lower priority was made less than a second ago: a
// stranger's flood of lower priorities makes one a second, while a new
// split brain, after a quiet, is answered at once. It does nothing on a
// backup.
func (c *Client) Reannounce() {
	c.mu.Lock()
	c.reannounce = true
	c.mu.Unlock()
	c.poke()
}

func (c *Client) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Follow makes the client follow r until ctx ends or r stops: master when
// r is master, not otherwise, and a burst of announcements when r, master,
// hears a lower priority. It reports to r whether the client can hold the
// addresses, as the condition "havip INTERFACE" (vrrp.Router.Report with
// Config.FailureWeight): a master that cannot goes to FAULT, or has its
// priority lowered, and a peer takes over.
func (c *Client) Follow(ctx context.Context, r *vrrp.Router) {
	events := r.Subscribe(ctx)
	name := "havip " + c.cfg.Interface
	c.holding.follow(func(err error) { r.Report(name, c.cfg.FailureWeight, err) })
	defer c.holding.follow(nil)
	c.mu.Lock()
	c.quiet = 3 * r.Config().AdvertInterval
	c.mu.Unlock()
	c.SetMaster(r.State() == vrrp.Master)
	for e := range events {
		switch e.Kind {
		case vrrp.EventTransition:
			c.SetMaster(e.To == vrrp.Master)
		case vrrp.EventLowerPriority:
			c.Reannounce()
		}
	}
	c.SetMaster(false)
}

// Status returns what the client has done so far.
func (c *Client) Status() Status {
	c.stats.Lock()
	defer c.stats.Unlock()
	return c.stats.Status
}

// Errors of Run.
var (
	ErrRunning = errors.New("havip: Client.Run called twice")
	ErrClosed  = errors.New("havip: Client closed")
)

// Close stops the client as the end of Run's context does (a master
// removes the addresses it added), waits for Run to return, and releases
// the Host and the Announcer; on a client that never ran it only releases
// them. A closed client cannot run. Close is idempotent.
func (c *Client) Close() error {
	c.closeRun.Do(func() { close(c.closed) })
	if c.running.CompareAndSwap(false, true) {
		c.release() // Run never started, and now never will
	}
	<-c.finished
	return nil
}

// release closes the Host and the Announcer, once.
func (c *Client) release() {
	c.released.Do(func() {
		c.ann.Close()
		c.host.Close()
		close(c.finished)
	})
}

// Run owns the addresses as SetMaster says until ctx ends or Close is
// called, then removes those it added and closes the Host and Announcer.
// It first removes addresses an earlier run left on the interface, whatever
// their prefix length, unless they are the interface's own (Config.Owner).
// A Client runs once.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) { // Close of a client that never ran swaps it too
		select {
		case <-c.closed:
			return ErrClosed
		default:
			return ErrRunning
		}
	}
	defer c.release()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	if !c.cfg.Owner {
		c.removeStale()
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	wg.Go(func() {
		c.host.WatchRemoved(watchCtx, func(p netip.Prefix) {
			if !p.IsValid() {
				// The interface was made again (or events were lost): a
				// failure to add the addresses to the old one says
				// nothing of the new.
				c.holding.clear(holdHost, "the interface changed")
			}
			if !p.IsValid() || c.cfg.isVirtual(p.Addr()) {
				c.mu.Lock()
				c.removedSeen = true
				c.mu.Unlock()
				c.poke()
			}
		})
	})

	var (
		master     bool
		termGen    uint64         // the generation of master the term began in
		term       = newTerm(ctx) // of mastership: ends when it is lost
		delay      = time.NewTimer(time.Hour)
		refresh    = time.NewTicker(time.Hour)
		lower      = time.NewTimer(time.Hour) // the second burst for a lower priority
		lowerLast  time.Time                  // the last first burst for one
		lowerAsked time.Time                  // the last request for one
		a          = c.cfg.Announce
	)
	term.end()
	delay.Stop()
	refresh.Stop()
	lower.Stop()
	defer delay.Stop()
	defer refresh.Stop()
	defer lower.Stop()
	defer func() { term.end() }()

	// begin begins a term: the missing addresses added, a burst at once
	// and the rhythm's, the Binder's claims.
	begin := func(gen uint64) {
		master, termGen = true, gen
		term = newTerm(ctx)
		c.held(c.addMissing())
		c.setMaster(true)
		c.burst(term, a.Repeat, "master")
		if a.Delay > 0 {
			delay.Reset(a.Delay)
		}
		if a.Refresh > 0 {
			refresh.Reset(a.Refresh)
		}
		if c.cfg.Binder != nil {
			t := term
			wg.Go(func() { c.claim(t) })
		}
	}
	// end ends the term: it cancels any claim in flight and the bursts,
	// and stops the rhythm. The addresses stay.
	end := func() {
		term.end()
		delay.Stop()
		refresh.Stop()
		lower.Stop()
	}
	// resign ends the term and mastership: the addresses go.
	resign := func(why string) {
		master = false
		end()
		c.removeAdded(why)
		c.setMaster(false)
	}

	for {
		select {
		case <-ctx.Done():
			if master {
				resign("stopping")
			}
			return nil
		case <-delay.C:
			c.burst(term, a.Repeat, "delayed")
		case <-refresh.C:
			c.burst(term, a.RefreshRepeat, "refresh")
		case <-lower.C:
			c.burst(term, a.LowerPriorityRepeat, "lower-priority advertisement, delayed")
		case <-c.wake:
		}

		c.mu.Lock()
		want, gen, again, rebind, removed, quiet := c.master, c.gen, c.reannounce, c.rebind, c.removedSeen, c.quiet
		c.reannounce, c.rebind, c.removedSeen = false, false, false
		c.mu.Unlock()

		switch {
		case want && !master:
			begin(gen)
		case want && gen != termGen:
			// Mastership was lost and regained since the last look: the
			// term it lost ends (its claims may be late, the other
			// master's term came between), and a new one begins. The
			// addresses stay on the interface rather than go and come
			// straight back.
			c.log.Info("mastership was lost and regained meanwhile; beginning a new term", "addresses", c.cfg.Addresses)
			end()
			begin(gen)
		case !want && master:
			resign("no longer master")
		}
		if master && removed {
			c.held(c.addMissing())
		}
		if master && rebind {
			c.burst(term, a.Repeat, "the cloud has not taken the announcement")
		}
		announce := a.LowerPriorityRepeat >= 0
		if quiet == 0 {
			quiet = lowerPriorityHold
		}
		ongoing := time.Since(lowerAsked) < quiet
		if again {
			lowerAsked = time.Now()
		}
		switch {
		case !master || !again || !announce && c.cfg.Binder == nil:
		case ongoing && time.Since(lowerLast) < lowerPriorityHold:
			c.stats.Lock()
			c.stats.ReannouncesHeld++
			c.stats.Unlock()
		default:
			lowerLast = time.Now()
			term.claimNow()
			if announce {
				c.burst(term, a.LowerPriorityRepeat, "lower-priority advertisement")
				if a.LowerPriorityDelay > 0 {
					lower.Reset(a.LowerPriorityDelay)
				}
			}
		}
	}
}

// A term is one period of mastership; what runs for it ends with it.
type term struct {
	ctx    context.Context
	cancel context.CancelFunc
	bursts *sync.WaitGroup
	claim  chan struct{} // asks the term's claim loop to claim at once
}

func newTerm(parent context.Context) term {
	ctx, cancel := context.WithCancel(parent)
	return term{ctx, cancel, new(sync.WaitGroup), make(chan struct{}, 1)}
}

// claimNow asks the term's claim loop, if it has one, to claim at once.
func (t term) claimNow() {
	select {
	case t.claim <- struct{}{}:
	default:
	}
}

// end cancels what runs for the term and waits for its bursts, which stop
// within one frame: no announcement may follow the addresses' removal, or
// an SDN that binds to the last announcer would take the address back.
func (t term) end() {
	t.cancel()
	t.bursts.Wait()
}

func (c *Client) setMaster(m bool) {
	c.stats.Lock()
	c.stats.Master, c.stats.Since = m, time.Now()
	c.stats.Unlock()
	c.log.Info("havip", "master", m, "addresses", c.cfg.Addresses)
}

// held records whether the addresses could all be added (err nil) and,
// if not, tries again in a second, as for an address someone removed,
// while the client is master.
func (c *Client) held(err error) {
	if err == nil {
		c.holding.ok(holdHost)
		return
	}
	c.holding.fail(holdHost, err)
	time.AfterFunc(time.Second, func() {
		c.mu.Lock()
		c.removedSeen = true
		c.mu.Unlock()
		c.poke()
	})
}

// addMissing adds each address that is not on the interface and returns
// the failures, nil when all are there now. An address that was there
// already is not the client's to remove later (keepalived's rule for an
// address it did not set); one it added before is added back (someone
// removed it).
func (c *Client) addMissing() error {
	own, err := c.host.Addresses()
	if err != nil {
		return fmt.Errorf("listing the addresses of %s: %w", c.cfg.Interface, err)
	}
	var errs []error
	for _, p := range c.cfg.Addresses {
		if slices.ContainsFunc(own, func(o netip.Prefix) bool { return o.Addr() == p.Addr() }) {
			continue
		}
		if err := c.host.Add(p); err != nil {
			errs = append(errs, fmt.Errorf("adding %v to %s: %w", p, c.cfg.Interface, err))
			continue
		}
		back := c.added[p.Addr()]
		c.added[p.Addr()] = true
		if back {
			c.log.Warn("virtual address was removed while master; added back", "address", p)
			c.stats.Lock()
			c.stats.Readded++
			c.stats.Unlock()
		}
	}
	return errors.Join(errs...)
}

// removeStale removes, at start, what a crashed earlier run may have left
// on the interface: every address there that is one of the virtual ones,
// whatever its prefix length (a run configured with 192.0.2.100/24 leaves
// 192.0.2.100/24, which one configured with 192.0.2.100/32 must remove
// too), and the configured prefixes, which are all it can remove when the
// interface's addresses cannot be listed.
func (c *Client) removeStale() {
	stale := slices.Clone(c.cfg.Addresses)
	own, err := c.host.Addresses()
	if err != nil {
		c.log.Error("listing the addresses of the interface; removing the configured virtual addresses only", "err", err)
	}
	for _, p := range own {
		if c.cfg.isVirtual(p.Addr()) && !slices.Contains(stale, p) {
			stale = append(stale, p)
		}
	}
	for _, p := range stale {
		if err := c.host.Remove(p); err != nil {
			c.log.Error("removing virtual address", "address", p, "why", "left over from an earlier run", "err", err)
		}
	}
}

// removeAdded removes the addresses the client added.
func (c *Client) removeAdded(why string) {
	for _, p := range c.cfg.Addresses {
		if !c.added[p.Addr()] {
			continue
		}
		if err := c.host.Remove(p); err != nil {
			c.log.Error("removing virtual address", "address", p, "why", why, "err", err)
			continue
		}
		delete(c.added, p.Addr())
	}
}

// burst sends a burst of rounds frames per address in the background, so
// a spaced burst never holds up the client; it ends with the term.
func (c *Client) burst(t term, rounds int, why string) {
	ctx := t.ctx
	t.bursts.Go(func() {
		err := c.ann.BurstN(ctx, rounds, c.vips...)
		c.stats.Lock()
		if err != nil && ctx.Err() == nil {
			c.stats.BurstErrors++
		} else if err == nil {
			c.stats.Bursts++
		}
		c.stats.Unlock()
		if err != nil && ctx.Err() == nil {
			c.log.Warn("announcing", "why", why, "err", err)
		}
	})
}

// Backoff after a contest, in ReassertIntervals: the first, and the most.
const (
	contestBackoffFirst = 2
	contestBackoffMost  = 4
)

// claim has the Binder claim the addresses now and every ReassertInterval
// until the term t ends with mastership; once a claim of the term has
// succeeded, a Reasserter reasserts them instead. When the cloud has not
// taken the announcement (ErrNotBound), it announces again and claims
// again after a second. When another node took the addresses
// (ErrContested), it leaves them to it, logs it, and claims them back
// after a backoff that doubles with each contest of the term; a claim
// asked for at once (t.claim: a lower priority heard) claims them back now
// and ends the backoff. Only a failure of the Binder counts against
// holding the addresses, not a contest.
func (c *Client) claim(t term) {
	ctx := t.ctx
	reasserter, _ := c.cfg.Binder.(Reasserter)
	var (
		claimed bool          // a claim of the term succeeded: the next call reasserts
		backoff time.Duration // after the last contest, 0 before the first
	)
	for {
		var err error
		if claimed && reasserter != nil {
			err = reasserter.Reassert(ctx, c.vips)
		} else {
			err = c.cfg.Binder.Claim(ctx, c.vips)
		}
		if ctx.Err() != nil {
			return
		}
		contested := errors.Is(err, ErrContested)
		now := time.Now()
		c.stats.Lock()
		c.stats.LastClaimTime = now
		switch {
		case contested:
			c.stats.Contested++
			c.stats.LastContested = now
			c.stats.LastClaimErr = err.Error()
		case err != nil:
			c.stats.ClaimErrors++
			c.stats.LastClaimErr = err.Error()
		default:
			c.stats.Claims++
			c.stats.LastClaimErr = ""
		}
		c.stats.Unlock()
		next := c.cfg.ReassertInterval
		switch {
		case contested:
			backoff = min(max(2*backoff, contestBackoffFirst*c.cfg.ReassertInterval), contestBackoffMost*c.cfg.ReassertInterval)
			next, claimed = backoff, false
			c.log.Warn("another node took the virtual addresses, a second master (a partition?); leaving them to it for now",
				"err", err, "claim_back_after", backoff)
		case errors.Is(err, ErrNotBound):
			c.log.Warn("the cloud has not taken the announcement; announcing again", "err", err)
			c.mu.Lock()
			c.rebind = true
			c.mu.Unlock()
			c.poke()
			next = time.Second
		case err != nil:
			c.holding.fail(holdCloud, fmt.Errorf("cloud claim: %w", err))
		default:
			claimed = true
			c.holding.ok(holdCloud)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.claim:
			claimed, backoff = false, 0
		case <-time.After(next):
		}
	}
}
