package vrrp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// EventKind says what an Event reports.
type EventKind uint8

// The kinds of event.
const (
	// EventTransition: the router changed state, From → To for Reason.
	EventTransition EventKind = iota + 1
	// EventLowerPriority: the router, master, received an advertisement
	// of lower priority from Peer, or of equal priority from a lower
	// address, and answered it (keepalived's notify_master_rx_lower_pri;
	// RFC 9568 §6.4.3); at most one an advertisement interval.
	// Another router believes it is master, as after a split brain: a
	// listener that announces the addresses should announce them again.
	EventLowerPriority
	// EventWantMaster: the router, held in Backup (Router.Hold), would be
	// master: its Master_Down_Timer fired. It fires again each
	// Master_Down_Interval while that lasts.
	EventWantMaster
)

func (k EventKind) String() string {
	switch k {
	case EventTransition:
		return "transition"
	case EventLowerPriority:
		return "lower-priority"
	case EventWantMaster:
		return "want-master"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// An Event is something a router tells its subscribers.
type Event struct {
	Time     time.Time
	VRID     uint8
	Kind     EventKind
	From, To State
	Reason   Reason // EventTransition only

	Peer         netip.Addr // EventLowerPriority only
	PeerPriority uint8
}

// Stats are a router's counters, after the VRRPv3-MIB (RFC 6527 §4):
// master transitions and their reason, advertisements, and one counter per
// kind of bad packet. A bad packet changes nothing but its counter.
type Stats struct {
	MasterTransitions uint64
	NewMasterReason   Reason // of the last transition to Master

	AdvertsSent, AdvertsReceived           uint64
	PriorityZeroSent, PriorityZeroReceived uint64
	SendErrors                             uint64

	TTLErrors      uint64 // TTL or hop limit not 255 on multicast, or outside the unicast bounds
	ChecksumErrors uint64
	VersionErrors  uint64
	VRIDErrors     uint64 // for a VRID no router of this process runs here: counted once for the interface and family, which every Router there reports
	IntervalErrors uint64 // VRRPv2 interval differing from ours (RFC 3768 §7.1), or 0
	AuthErrors     uint64 // VRRPv2 authentication type or password differing from ours
	LengthErrors   uint64 // truncated, or longer than its address count (too short to carry a VRID: counted for the interface, as VRIDErrors)
	TypeErrors     uint64 // not an ADVERTISEMENT
	AddressErrors  uint64 // addresses of the wrong family
	PeerErrors     uint64 // in unicast mode, from an address that is not a peer

	// AddressListErrors counts advertisements whose addresses are not the
	// set of ours (vrrpv3StatisticsAddressListErrors): dropped, or with
	// Config.AcceptAddressMismatch processed. OwnerDiscards counts those
	// the owner discarded for Config.OwnerIgnoreAdverts.
	AddressListErrors uint64
	OwnerDiscards     uint64

	// SocketDrops counts the messages the socket of the interface and
	// family dropped for want of room in its receive queue (SO_RXQ_OVFL):
	// counted once for the interface, which every Router there reports,
	// and known as of the last message received.
	SocketDrops uint64

	// EventsDropped counts the events a subscriber that did not keep up
	// lost: the oldest are dropped once 256 wait (see Router.Subscribe).
	EventsDropped uint64
}

// Stats returns a copy of the router's counters.
func (r *Router) Stats() Stats {
	r.mu.Lock()
	s, m := r.stats, r.mux // the mux changes when the interface is made again
	r.mu.Unlock()
	s.VRIDErrors += m.unknownVRID.Load()
	s.LengthErrors += m.short.Load()
	s.SocketDrops = uint64(m.drops.Load())
	return s
}

// Subscribe returns a channel that receives every event of the router from
// now on, in order, until ctx ends or the router stops; then it is closed
// (after the events before the stop). A subscriber never delays the
// protocol: up to 256 events wait for a slow reader, then the oldest but
// the one on offer are dropped and counted in Stats.EventsDropped. While no
// event waits, a subscription costs no goroutine.
func (r *Router) Subscribe(ctx context.Context) <-chan Event {
	s := &subscription{r: r, out: make(chan Event), ended: make(chan struct{})}
	s.mu.Lock() // nothing touches s before s.stop is set
	defer s.mu.Unlock()
	r.mu.Lock()
	done := r.done
	if !done {
		r.subs = append(r.subs, s)
	}
	r.mu.Unlock()
	if done {
		close(s.out)
		return s.out
	}
	s.stop = context.AfterFunc(ctx, s.end)
	return s.out
}

// endSubscriptions tells every subscription that the router is done: each
// ends once it has delivered what it queued.
func (r *Router) endSubscriptions() {
	r.mu.Lock()
	r.done = true
	subs := r.subs
	r.mu.Unlock()
	for _, s := range subs {
		s.poke()
	}
}

// publish queues e for every subscriber.
func (r *Router) publish(e Event) {
	r.mu.Lock()
	subs := r.subs
	r.mu.Unlock()
	var dropped uint64
	for _, s := range subs {
		if s.push(e) {
			dropped++
		}
	}
	if dropped > 0 {
		r.mu.Lock()
		r.stats.EventsDropped += dropped
		r.mu.Unlock()
	}
}

// subscriptionQueue is how many events wait at most for a subscriber.
const subscriptionQueue = 256

// A subscription queues a subscriber's events, at most subscriptionQueue,
// for a goroutine that hands them over while any wait and then exits: the
// router never waits for the subscriber, and an idle subscription costs no
// goroutine. The deliverer alone closes out, once s is over, and never
// lets delivering go then, so that no other starts. Lock order: s.mu, then
// r.mu.
type subscription struct {
	r     *Router
	out   chan Event
	ended chan struct{} // closed when ctx ends: a blocked deliverer gives up
	stop  func() bool   // stops the context.AfterFunc

	mu         sync.Mutex
	queue      []Event // the head is on offer while a deliverer runs
	delivering bool    // a deliverer runs: whenever queue is not empty
	done       bool    // the router is done: end once the queue is delivered
	over       bool    // ctx ended, or the router is done and all is delivered
}

// push queues e, unless s is over, and reports whether it dropped an
// event for it.
func (s *subscription) push(e Event) (dropped bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.over {
		return false
	}
	if len(s.queue) == subscriptionQueue {
		s.queue = slices.Delete(s.queue, 1, 2) // the head is on offer
		dropped = true
	}
	s.queue = append(s.queue, e)
	s.wake()
	return dropped
}

// poke tells s that the router is done: s ends once its queue is delivered.
func (s *subscription) poke() {
	s.mu.Lock()
	s.done = true
	s.wake()
	s.mu.Unlock()
}

// end ends s when ctx ends, discarding what is still queued.
func (s *subscription) end() {
	s.mu.Lock()
	if !s.over {
		s.over = true
		close(s.ended)
		s.wake()
	}
	s.mu.Unlock()
}

// wake starts a deliverer unless one runs. s.mu is held.
func (s *subscription) wake() {
	if !s.delivering {
		s.delivering = true
		go s.deliver()
	}
}

// deliver hands the queue over, in order, until it is empty; then it exits,
// or closes out if s is over.
func (s *subscription) deliver() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.over && len(s.queue) > 0 {
		e := s.queue[0]
		s.mu.Unlock()
		select {
		case s.out <- e:
			s.mu.Lock()
			s.queue = s.queue[1:]
		case <-s.ended:
			s.mu.Lock()
		}
	}
	s.queue = nil
	if !s.over && !s.done {
		s.delivering = false
		return
	}
	s.over = true
	s.stop()
	r := s.r
	r.mu.Lock()
	if i := slices.Index(r.subs, s); i >= 0 {
		r.subs = slices.Concat(r.subs[:i], r.subs[i+1:]) // publish may still read the old slice
	}
	r.mu.Unlock()
	close(s.out)
}
