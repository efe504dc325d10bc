package vrrp

import (
	"container/heap"
	"sync"
	"time"
)

// The scheduler runs the timers of every running Router of the process
// (each machine's Adver_Timer or Master_Down_Timer, RFC 5798 §6.2): one
// goroutine over a heap of absolute deadlines, where a goroutine and a
// timer per router would cost a thousand of each for a thousand routers.
// The goroutine runs while any deadline is pending.
var sched = &scheduler{wake: make(chan struct{}, 1)}

type scheduler struct {
	mu      sync.Mutex
	due     deadlines // soonest first
	running bool      // the goroutine runs
	wake    chan struct{}
}

// set makes r's timer fire at at, or never if at is zero. Routers call it
// with their protocol lock held, after every input to their machine.
func (s *scheduler) set(r *Router, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case at.IsZero() && r.heapIndex >= 0:
		heap.Remove(&s.due, r.heapIndex)
		return
	case at.IsZero():
		return
	case r.heapIndex >= 0:
		r.heapAt = at
		heap.Fix(&s.due, r.heapIndex)
	default:
		r.heapAt = at
		heap.Push(&s.due, r)
	}
	if r.heapIndex == 0 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	if !s.running {
		s.running = true
		go s.run()
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
			s.mu.Unlock()
			return
		}
		r := s.due[0]
		if wait := time.Until(r.heapAt); wait > 0 {
			s.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-s.wake:
				timer.Stop()
			}
			continue
		}
		heap.Pop(&s.due)
		s.mu.Unlock()
		r.expire(time.Now())
	}
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
