package havip

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// What a Client may fail to hold its addresses by.
type holdPart uint8

const (
	holdHost  holdPart = iota // an address could not be added to the interface
	holdCloud                 // the Binder returned an error
	holdParts
)

// holding is what a Client knows of whether it holds its addresses: the
// failures that stand, each until an add or claim succeeds or FailureHold
// passes, and the router it reports them to (Client.Follow's).
type holding struct {
	hold   time.Duration
	weight int
	log    *slog.Logger
	status func(why string, began bool) // records the failures in the Client's Status

	mu     sync.Mutex // guards what follows, and orders the reports
	failed [holdParts]*failure
	report func(error) // nil without a router
}

// A failure is one part's, with the timer that clears it, armed for the
// gen-th time (a timer stopped as it fires still calls expire).
type failure struct {
	err   error
	timer *time.Timer
	gen   uint64
}

// fail records that part failed with err, from now for FailureHold.
func (h *holding) fail(part holdPart, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.failed[part]
	began := h.standing() == nil
	if f == nil {
		f = &failure{}
		h.failed[part] = f
	} else {
		f.timer.Stop()
	}
	changed := f.err == nil || f.err.Error() != err.Error()
	f.err = err
	f.gen++
	gen := f.gen
	f.timer = time.AfterFunc(h.hold, func() { h.expire(part, f, gen) })
	if !changed {
		return // the same failure again: it stands longer
	}
	action := "giving up mastership (FAULT)"
	if h.weight != 0 {
		action = "lowering the priority"
	}
	if began {
		h.log.Error("cannot hold the virtual addresses; "+action, "why", err, "retry_after", h.hold)
	} else {
		h.log.Warn("cannot hold the virtual addresses", "why", err)
	}
	h.publish(began)
}

// ok records that part succeeded.
func (h *holding) ok(part holdPart) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.failed[part]
	if f == nil {
		return
	}
	f.timer.Stop()
	h.failed[part] = nil
	if h.standing() == nil {
		h.log.Info("holding the virtual addresses again")
	}
	h.publish(false)
}

// expire clears f, part's failure, once FailureHold has passed since the
// gen-th time it failed and it has not failed again.
func (h *holding) expire(part holdPart, f *failure, gen uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failed[part] != f || f.gen != gen {
		return
	}
	h.drop(part, fmt.Sprintf("%v passed", h.hold))
}

// clear clears part's failure, if one stands, before FailureHold: the
// host changed, why says how, and the node may try again at once.
func (h *holding) clear(part holdPart, why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f := h.failed[part]; f != nil {
		f.timer.Stop()
		h.drop(part, why)
	}
}

// drop clears part's failure, which stands, to try again. h.mu is held.
func (h *holding) drop(part holdPart, why string) {
	h.log.Info("trying to hold the virtual addresses again", "why", why, "failed_with", h.failed[part].err)
	h.failed[part] = nil
	h.publish(false)
}

// follow reports to report from now on, and at once; nil stops reporting.
func (h *holding) follow(report func(error)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.report = report
	if report != nil {
		report(h.standing())
	}
}

// standing returns the failures that stand, nil if none. h.mu is held.
func (h *holding) standing() error {
	var errs []error
	for _, f := range h.failed {
		if f != nil {
			errs = append(errs, f.err)
		}
	}
	return errors.Join(errs...)
}

// publish hands what stands to the Status and the router. h.mu is held.
func (h *holding) publish(began bool) {
	err := h.standing()
	why := ""
	if err != nil {
		why = err.Error()
	}
	h.status(why, began)
	if h.report != nil {
		h.report(err)
	}
}
