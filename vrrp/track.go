package vrrp

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"
)

// A Check is a health check that a Router runs at an interval, as
// keepalived runs a track_script: after Rise successes in a row it counts
// as up, after Fall failures in a row as down. Its Weight then moves the
// router's priority, or with Weight 0 a failure puts the router in FAULT.
type Check struct {
	// Name names the check in logs and errors.
	Name string
	// Run performs the check; a nil error is success. Its context ends at
	// Timeout or when the router stops, and it should return then; the
	// router does not wait for it to stop. It never runs while the
	// router's state is locked.
	Run func(ctx context.Context) error
	// Interval between checks; 0 means 1 s.
	Interval time.Duration
	// Timeout of one check; 0 means Interval.
	Timeout time.Duration
	// Rise and Fall are the successes and failures in a row that change
	// the check's state; 0 means 1.
	Rise, Fall int
	// Weight, from -253 to 253, is added to the priority while the check is
	// up if positive, while it is down if negative (keepalived's weight).
	// 0 means a down check puts the router in FAULT.
	Weight int
}

func (c Check) withDefaults(i int) (Check, error) {
	field := fmt.Sprintf("Checks[%d]", i)
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = c.Interval
	}
	if c.Rise == 0 {
		c.Rise = 1
	}
	if c.Fall == 0 {
		c.Fall = 1
	}
	switch {
	case c.Name == "":
		return c, configError(field, "no Name")
	case c.Run == nil:
		return c, configError(field, "%s: no Run func", c.Name)
	case c.Interval < 0 || c.Timeout < 0:
		return c, configError(field, "%s: negative Interval or Timeout", c.Name)
	case c.Rise < 0 || c.Fall < 0:
		return c, configError(field, "%s: negative Rise or Fall", c.Name)
	case c.Weight < -253 || c.Weight > 253:
		return c, configError(field, "%s: Weight %d outside -253..253", c.Name, c.Weight)
	}
	return c, nil
}

// health is what the trackers know, guarded by Router.mu.
type health struct {
	base      uint8             // the priority before weights: configured or set at run time
	linkDown  map[string]string // why each tracked interface is down, or ""
	checkDown []bool            // by index of Config.Checks
	reported  map[string]report // what Report said, by name; only those that do not hold
	adjusted  map[string]int    // what Adjust said, by name; only those not 0
	source    netip.Addr        // the address to send from, as the interface's addresses say
	noSource  string            // why there is none, or ""
	sendFault string            // why sending failed for a Master_Down_Interval, or ""
}

// effective returns the priority the weights give, clamped to 1..254 (the
// owner's 255 never changes), and the reason for FAULT or "".
func (h *health) effective(checks []Check, weighted []WeightedInterface) (uint8, string) {
	fault := h.noSource
	if h.sendFault != "" {
		fault = h.sendFault
	}
	prio := int(h.base)
	for name, down := range h.linkDown {
		if i := slices.IndexFunc(weighted, func(wi WeightedInterface) bool { return wi.Name == name }); i >= 0 {
			prio += weighted[i].delta(down == "")
		} else if down != "" {
			fault = down
		}
	}
	for _, delta := range h.adjusted {
		prio += delta
	}
	for _, name := range slices.Sorted(maps.Keys(h.reported)) {
		rep := h.reported[name]
		if rep.weight == 0 {
			fault = name + ": " + rep.why
		} else {
			prio += rep.weight
		}
	}
	for i, c := range checks {
		down := h.checkDown[i]
		switch {
		case c.Weight == 0 && down:
			fault = "check " + c.Name + " failed"
		case c.Weight > 0 && !down, c.Weight < 0 && down:
			prio += c.Weight
		}
	}
	if h.base == 255 {
		return 255, fault
	}
	return uint8(min(max(prio, 1), 254)), fault
}

// A report is a condition that Report said does not hold.
type report struct {
	weight int
	why    string
}

// Report tells the router whether a condition that it cannot observe
// itself holds, as package havip reports whether this node could add the
// virtual addresses and have the cloud deliver them: a master that cannot
// hold its addresses must not stay master. name names the condition in
// logs and in the reason for FAULT. A nil err says that it holds; an error,
// that it does not, until the next Report of the same name. While it does
// not, weight 0 keeps the router in FAULT, with err as the reason, and a
// negative weight, -253..-1, is added to the priority, as a failing
// Check's. A master advertises the priority it then has at once.
func (r *Router) Report(name string, weight int, err error) error {
	if weight < -253 || weight > 0 {
		return fmt.Errorf("vrrp: Report %q: weight %d outside -253..0", name, weight)
	}
	r.mu.Lock()
	was, had := r.health.reported[name]
	if err == nil {
		delete(r.health.reported, name)
	} else {
		r.health.reported[name] = report{weight, err.Error()}
	}
	now, has := r.health.reported[name]
	r.mu.Unlock()
	if had == has && was == now {
		return nil
	}
	if has {
		r.log.Warn("condition does not hold", "condition", name, "weight", weight, "why", now.why)
	} else {
		r.log.Info("condition holds again", "condition", name)
	}
	r.poke()
	return nil
}

// Adjust adds delta, -253..253, to the priority under name until the next
// Adjust of that name, as keepalived adds a track_file's value times its
// weight; 0 ends it. The priority in force stays within 1..254, and the
// owner's 255 never changes. A master advertises the priority it then has
// at once.
func (r *Router) Adjust(name string, delta int) error {
	if delta < -253 || delta > 253 {
		return fmt.Errorf("vrrp: Adjust %q: %d outside -253..253", name, delta)
	}
	r.mu.Lock()
	was := r.health.adjusted[name]
	if delta == 0 {
		delete(r.health.adjusted, name)
	} else {
		r.health.adjusted[name] = delta
	}
	r.mu.Unlock()
	if was == delta {
		return nil
	}
	r.log.Info("priority adjusted", "by", name, "delta", delta)
	r.poke()
	return nil
}

// runCheck runs c every Interval until ctx ends, reporting each change of
// its state after Rise or Fall results in a row.
func runCheck(ctx context.Context, c Check, report func(down bool)) {
	ticker := time.NewTicker(c.Interval)
	defer ticker.Stop()
	down, streak := false, 0
	for {
		cctx, cancel := context.WithTimeout(ctx, c.Timeout)
		err := c.Run(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if failed := err != nil; failed != down {
			streak++
			if failed && streak >= c.Fall || !failed && streak >= c.Rise {
				down, streak = failed, 0
				report(down)
			}
		} else {
			streak = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
