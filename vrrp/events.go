package vrrp

import (
	"context"
	"fmt"
	"net/netip"
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
	// of lower priority from Peer and answered it (keepalived's
	// notify_master_rx_lower_pri); at most one an advertisement interval.
	// Another router believes it is master, as after a split brain: a
	// listener that announces the addresses should announce them again.
	EventLowerPriority
)

func (k EventKind) String() string {
	switch k {
	case EventTransition:
		return "transition"
	case EventLowerPriority:
		return "lower-priority"
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

	// AddressListMismatches counts advertisements whose address list
	// differs from ours: counted and logged, not dropped.
	AddressListMismatches uint64

	// SocketDrops counts the messages the socket of the interface and
	// family dropped for want of room in its receive queue (SO_RXQ_OVFL):
	// counted once for the interface, which every Router there reports,
	// and known as of the last message received.
	SocketDrops uint64
}

// Stats returns a copy of the router's counters.
func (r *Router) Stats() Stats {
	r.mu.Lock()
	s := r.stats
	r.mu.Unlock()
	s.VRIDErrors += r.mux.unknownVRID.Load()
	s.LengthErrors += r.mux.short.Load()
	s.SocketDrops = uint64(r.mux.drops.Load())
	return s
}

// Subscribe returns a channel that receives every event of the router from
// now on, in order, until ctx ends or the router stops; then it is closed
// (after the events before the stop). Events queue without bound for a
// slow reader: a subscriber never delays the protocol.
func (r *Router) Subscribe(ctx context.Context) <-chan Event {
	s := &subscription{wake: make(chan struct{}, 1), out: make(chan Event)}
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
	go s.deliver(ctx, r)
	return s.out
}

// publish queues e for every subscriber.
func (r *Router) publish(e Event) {
	r.mu.Lock()
	subs := r.subs
	r.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		s.queue = append(s.queue, e)
		s.mu.Unlock()
		s.poke()
	}
}

// A subscription queues a subscriber's events; its own goroutine hands
// them over, so the router never waits for the subscriber.
type subscription struct {
	mu    sync.Mutex
	queue []Event
	wake  chan struct{}
	out   chan Event
}

func (s *subscription) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscription) deliver(ctx context.Context, r *Router) {
	defer func() {
		r.mu.Lock()
		for i, x := range r.subs {
			if x == s {
				r.subs = append(r.subs[:i:i], r.subs[i+1:]...)
				break
			}
		}
		r.mu.Unlock()
		close(s.out)
	}()
	for {
		s.mu.Lock()
		queue := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, e := range queue {
			select {
			case s.out <- e:
			case <-ctx.Done():
				return
			}
		}
		r.mu.Lock()
		done := r.done
		r.mu.Unlock()
		if done {
			s.mu.Lock()
			empty := len(s.queue) == 0
			s.mu.Unlock()
			if empty {
				return
			}
			continue
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return
		}
	}
}
