package vrrp

import (
	"container/heap"
	"net/netip"
	"sync"
	"time"
)

// A scheduler runs the timers of the routers of one mux, one interface
// and family (each machine's Adver_Timer or Master_Down_Timer, RFC 5798
// §6.2): one goroutine over a heap of absolute deadlines, while any is
// pending, where a goroutine and a timer per router would cost a thousand
// of each for a thousand routers.
//
// Each time it wakes it fires every timer that is due and every
// Adver_Timer due within a tenth of its interval (its slack), and the
// advertisements they send leave together, in one sendmmsg(2) where the
// Conn can: a thousand routers advertising every 10 ms wake it about a
// thousand times a second, not a hundred thousand, and make a few
// thousand system calls, not a hundred thousand. A Master_Down_Timer never
// fires early.
type scheduler struct {
	conn  Conn
	exact bool // the Conn is a host's socket: Master_Down_Timers end in sleepExactly

	mu      sync.Mutex
	due     deadlines // soonest first
	running bool      // the goroutine runs
	wake    chan struct{}

	// The goroutine's own.
	firing []firing
	out    outBatch
	prio   int // its thread's real-time priority (SetRealtimePriority); 0: none
}

// A firing is a timer taken from the heap to fire, with its deadline.
type firing struct {
	r  *Router
	at time.Time
}

// exactWindow is the last stretch of a wait for a Master_Down_Timer that
// the scheduler sleeps with sleepExactly rather than on a timer of the
// runtime, which wakes in whole milliseconds when the process is idle
// (its epoll_wait) and so up to a millisecond late: the failover would be
// late by that.
const exactWindow = 2 * time.Millisecond

func newScheduler(conn Conn) *scheduler {
	_, host := conn.(batchWriter)
	return &scheduler{conn: conn, exact: host, wake: make(chan struct{}, 1)}
}

// set makes r's timer fire at at, or never if at is zero, and up to slack
// before to leave with others. Routers call it with their protocol lock
// held, after every input to their machine.
//
// A timer that moves later stays where it is in the heap, marked stale
// with its new deadline: when it comes to the top, the scheduler moves it
// there, without waking for it. A backup's Master_Down_Timer moves later
// with every advertisement it hears: the heap is fixed about once a
// Master_Down_Interval, not at every advertisement, and the scheduler
// wakes only for a deadline that holds.
func (s *scheduler) set(r *Router, at time.Time, slack time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case at.IsZero() && r.heapIndex >= 0:
		top := r.heapIndex == 0
		heap.Remove(&s.due, r.heapIndex)
		if top {
			s.poke() // to wait for the next, or to end when none is left
		}
		return
	case at.IsZero():
		return
	case r.heapIndex >= 0 && !at.Before(r.heapAt) && slack == r.heapSlack:
		if at.After(r.heapAt) {
			r.heapStale, r.heapNext = true, at
		}
		return
	case r.heapIndex >= 0:
		r.heapAt, r.heapSlack, r.heapStale = at, slack, false
		heap.Fix(&s.due, r.heapIndex)
	default:
		r.heapAt, r.heapSlack, r.heapStale = at, slack, false
		heap.Push(&s.due, r)
	}
	if r.heapIndex == 0 {
		s.poke()
	}
	if !s.running {
		s.running = true
		go s.run()
	}
}

// poke wakes the goroutine to look at the heap again.
func (s *scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run fires the timers as they fall due, until none is pending.
func (s *scheduler) run() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.due) == 0 {
			s.running = false
			if s.prio > 0 {
				unlockOrdinary()
				s.prio = 0
			}
			s.mu.Unlock()
			return
		}
		s.followPriority(s.due[0])
		for top := s.due[0]; top.heapStale; top = s.due[0] {
			top.heapAt, top.heapStale = top.heapNext, false
			heap.Fix(&s.due, 0)
		}
		now := time.Now()
		if top := s.due[0]; top.heapAt.After(now) {
			wait := top.heapAt.Sub(now)
			if s.exact && top.heapSlack == 0 {
				if wait <= exactWindow {
					s.mu.Unlock()
					sleepExactly(wait)
					continue
				}
				wait -= exactWindow
			}
			s.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-s.wake:
				timer.Stop()
			}
			continue
		}
		for len(s.due) > 0 {
			r := s.due[0]
			if r.heapAt.Sub(now) > r.heapSlack {
				break
			}
			if r.heapStale {
				r.heapAt, r.heapStale = r.heapNext, false
				heap.Fix(&s.due, 0)
				continue
			}
			heap.Pop(&s.due)
			s.firing = append(s.firing, firing{r, r.heapAt})
		}
		s.mu.Unlock()
		for _, f := range s.firing {
			// An early timer fires as at its deadline, for the cadence.
			f.r.expire(later(now, f.at), &s.out)
		}
		clear(s.firing)
		s.firing = s.firing[:0]
		s.out.flush(s.conn)
	}
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// deadlines is a heap of routers by their deadline.
type deadlines []*Router

func (d deadlines) Len() int           { return len(d) }
func (d deadlines) Less(i, j int) bool { return d[i].heapAt.Before(d[j].heapAt) }

func (d deadlines) Swap(i, j int) {
	d[i], d[j] = d[j], d[i]
	d[i].heapIndex, d[j].heapIndex = i, j
}

func (d *deadlines) Push(x any) {
	r := x.(*Router)
	r.heapIndex = len(*d)
	*d = append(*d, r)
}

func (d *deadlines) Pop() any {
	old := *d
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*d = old[:len(old)-1]
	r.heapIndex = -1
	return r
}

// An outMsg is an advertisement a router queued in an outBatch, and then
// the error sending it.
type outMsg struct {
	r        *Router
	b        []byte
	src, dst netip.Addr
	prio     uint8
	err      error
}

// An outBatch is the advertisements of the timers that fired together.
type outBatch struct {
	msgs []outMsg
}

// A batchWriter is a Conn that sends several messages in one system call,
// setting the error of each.
type batchWriter interface {
	writeBatch(msgs []outMsg)
}

// flush sends the batch over conn, tells each router how its messages
// went, and empties the batch.
func (o *outBatch) flush(conn Conn) {
	if len(o.msgs) == 0 {
		return
	}
	if bw, ok := conn.(batchWriter); ok {
		bw.writeBatch(o.msgs)
	} else {
		for i := range o.msgs {
			m := &o.msgs[i]
			m.err = conn.WriteTo(m.b, m.src, m.dst)
		}
	}
	for msgs := o.msgs; len(msgs) > 0; {
		n := 1
		for n < len(msgs) && msgs[n].r == msgs[0].r {
			n++
		}
		msgs[0].r.sent(msgs[:n])
		msgs = msgs[n:]
	}
	clear(o.msgs)
	o.msgs = o.msgs[:0]
}
