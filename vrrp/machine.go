package vrrp

import (
	"fmt"
	"net/netip"
	"time"
)

// State is the state of a virtual router (RFC 5798 §6.4), plus FAULT, the
// state keepalived enters while a tracked interface or check has failed.
// The zero value is invalid.
type State uint8

// The states of a virtual router.
const (
	Initialize State = iota + 1 // RFC 5798 §6.4.1: not started, or shut down
	Backup                      // RFC 5798 §6.4.2: watching the master
	Master                      // RFC 5798 §6.4.3: forwarding and advertising
	Fault                       // a tracked interface or check failed: silent, never master
)

func (s State) String() string {
	switch s {
	case Initialize:
		return "INIT"
	case Backup:
		return "BACKUP"
	case Master:
		return "MASTER"
	case Fault:
		return "FAULT"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Reason says why a virtual router changed state. Those that make a router
// master follow vrrpv3StatisticsNewMasterReason of RFC 6527 §4 (priority,
// preempted, masterNoResponse), refined where the MIB lumps causes together.
type Reason uint8

// The reasons for a transition.
const (
	ReasonStart          Reason = iota + 1 // Initialize → Backup on start (RFC 5798 §6.4.1)
	ReasonOwner                            // Initialize → Master: priority 255, the address owner
	ReasonMasterDown                       // Backup → Master: Master_Down_Timer fired, no advertisement heard
	ReasonMasterStepDown                   // Backup → Master: the master sent priority 0 and Skew_Time passed
	ReasonPreempted                        // Backup → Master: this router preempted a lower-priority master
	ReasonHigherPriority                   // Master → Backup: an advertisement of higher priority, or equal priority from a higher address
	ReasonFault                            // → Fault: a tracked interface or check failed
	ReasonFaultCleared                     // Fault → Backup or Master: every tracked interface and check is well again
	ReasonShutdown                         // → Initialize: the router was stopped
	ReasonHeld                             // Master → Backup: Hold, as when another member of its keepalived vrrp_sync_group left MASTER
)

var reasonNames = [...]string{
	ReasonStart:          "start",
	ReasonOwner:          "owner",
	ReasonMasterDown:     "master-down",
	ReasonMasterStepDown: "master-step-down",
	ReasonPreempted:      "preempted",
	ReasonHigherPriority: "higher-priority",
	ReasonFault:          "fault",
	ReasonFaultCleared:   "fault-cleared",
	ReasonShutdown:       "shutdown",
	ReasonHeld:           "held",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) && reasonNames[r] != "" {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// A Transition is a change of state. The zero value means none.
type Transition struct {
	From, To State
	Reason   Reason
}

// Actions are what the caller of a Machine must do after an input, in
// this order: send an advertisement, then report the transition and the
// lower-priority notice.
type Actions struct {
	// Send asks for one advertisement now, with SendPriority as its
	// priority (0 when the master steps down, RFC 5798 §6.4.3).
	Send         bool
	SendPriority uint8
	// Transition is the change of state, if any (From is 0 if none).
	Transition Transition
	// LowerPriority reports that the master received an advertisement of
	// lower priority, or of equal priority from a lower address
	// (keepalived's notify_master_rx_lower_pri): another
	// router believes it is master, as after a split brain. The Machine
	// answers with an advertisement at once, as keepalived does and RFC
	// 9568 §6.4.3 asks, so that router falls back without waiting for the
	// next interval; but at most once per advertisement interval, where
	// keepalived answers each one: more lower priorities within the
	// interval are discarded without a report.
	LowerPriority bool
	// WantMaster reports that the Master_Down_Timer of a held backup
	// fired (see SetHold): it would be master now, and stays Backup.
	WantMaster bool
}

// MachineConfig is what the state machine needs to know of a virtual
// router. See Config for what each field means; zero values are not
// defaulted, except DownTimerAdverts (0 means 3).
type MachineConfig struct {
	Version          Version
	Priority         uint8
	AdvertInterval   time.Duration
	Preempt          bool
	PreemptDelay     time.Duration
	QuietStepDown    bool
	DownTimerAdverts int
	// Primary is this router's primary address on the interface, which
	// breaks ties between equal priorities (RFC 5798 §6.4.3).
	Primary netip.Addr
}

// A Machine is the VRRP state machine of one virtual router (RFC 5798 §6),
// with no I/O and no clock of its own: every input carries the current
// time, and the caller arranges to call Expire at Deadline. It is not safe
// for concurrent use. Router drives one with real time and a transport; a
// test drives one with a fake clock.
//
// Received advertisements must already have passed the checks of RFC 5798
// §7.1 (see Router): the Machine applies §6.4 to them.
type Machine struct {
	cfg      MachineConfig
	state    State
	priority uint8 // the current priority: configured, then changed at run time

	masterAdverInterval time.Duration // RFC 5798 §6.1
	deadline            time.Time     // Adver_Timer in Master, Master_Down_Timer in Backup; zero if none
	downCause           Reason        // what Backup → Master will be, should Master_Down_Timer fire
	preemptAfter        time.Time     // keepalived's preempt_delay: no preemption before; zero until a lower priority is heard
	lastAnswer          time.Time     // when the master last answered a lower priority
	fault               bool
	held                bool // SetHold: never enter Master
	wantMaster          bool // held in Backup when Master_Down_Timer fired, and no advertisement since
}

// NewMachine returns a Machine in state Initialize. A bad field is
// refused with a *ConfigError naming it, as Config's are: the version,
// the priority (1..255), the interval (the version's range, as
// Config.AdvertInterval), DownTimerAdverts (1..255), PreemptDelay (not
// negative) and Primary (a unicast address).
func NewMachine(cfg MachineConfig) (*Machine, error) {
	if cfg.DownTimerAdverts == 0 {
		cfg.DownTimerAdverts = 3
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := checkAddr("Primary", cfg.Primary, cfg.Primary.Is6()); err != nil {
		return nil, err
	}
	return &Machine{cfg: cfg, state: Initialize, priority: cfg.Priority, masterAdverInterval: cfg.AdvertInterval}, nil
}

// validate checks every field but Primary.
func (c MachineConfig) validate() error {
	switch {
	case c.Version != Version2 && c.Version != Version3:
		return configError("Version", "%d; vipkit speaks 2 and 3", c.Version)
	case c.Priority == 0:
		return configError("Priority", "0; 1..255 (0 is a master stepping down, RFC 5798 §5.2.4)")
	case c.DownTimerAdverts < 1 || c.DownTimerAdverts > 255:
		return configError("DownTimerAdverts", "%d; 1..255", c.DownTimerAdverts)
	case c.PreemptDelay < 0:
		return configError("PreemptDelay", "%v is negative", c.PreemptDelay)
	}
	return checkInterval(c.Version, c.AdvertInterval)
}

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Priority returns the current priority.
func (m *Machine) Priority() uint8 { return m.priority }

// Deadline returns when Expire must be called: the Adver_Timer in Master,
// the Master_Down_Timer in Backup. It is zero when no timer runs.
func (m *Machine) Deadline() time.Time { return m.deadline }

// MasterAdverInterval returns the advertisement interval of the current
// master, as last learned (RFC 5798 §6.1; version 2 always uses its own).
func (m *Machine) MasterAdverInterval() time.Duration { return m.masterAdverInterval }

// SkewTime returns Skew_Time: ((256 - Priority) * Master_Adver_Interval) /
// 256 in version 3 (RFC 5798 §6.1), (256 - Priority) / 256 seconds in
// version 2 (RFC 3768 §6.1).
func (m *Machine) SkewTime() time.Duration {
	if m.cfg.Version == Version2 {
		return time.Duration(256-int(m.priority)) * time.Second / 256
	}
	return time.Duration(256-int(m.priority)) * m.masterAdverInterval / 256
}

// MasterDownInterval returns Master_Down_Interval: DownTimerAdverts (3 in
// the RFC) × Master_Adver_Interval + Skew_Time (RFC 5798 §6.1).
func (m *Machine) MasterDownInterval() time.Duration {
	return time.Duration(m.cfg.DownTimerAdverts)*m.masterAdverInterval + m.SkewTime()
}

// Start leaves Initialize on a Startup event (RFC 5798 §6.4.1): the owner
// (priority 255) becomes master at once unless held (SetHold), any other
// router backup.
func (m *Machine) Start(now time.Time) Actions {
	if m.state != Initialize {
		return Actions{}
	}
	if m.fault {
		return m.enter(now, Fault, ReasonFault)
	}
	if m.priority == 255 && !m.held {
		return m.enter(now, Master, ReasonOwner)
	}
	return m.enter(now, Backup, ReasonStart)
}

// enter changes to state to, does what entering it requires and returns
// the actions that follow.
func (m *Machine) enter(now time.Time, to State, why Reason) Actions {
	act := Actions{Transition: Transition{From: m.state, To: to, Reason: why}}
	if m.state == Master && to != Master {
		// A master that leaves sends priority 0 so a backup takes over
		// after Skew_Time (RFC 5798 §6.4.3, Shutdown; keepalived does the
		// same on FAULT). Held, it leaves in silence, as keepalived's
		// sync group does: the group's other members decide.
		if why != ReasonHigherPriority && why != ReasonHeld {
			act.Send, act.SendPriority = true, 0
		}
	}
	m.state = to
	m.deadline = time.Time{}
	m.wantMaster = false
	switch to {
	case Master:
		act.Send, act.SendPriority = true, m.priority
		m.deadline = now.Add(m.cfg.AdvertInterval)
	case Backup:
		m.masterAdverInterval = m.cfg.AdvertInterval
		m.preemptAfter = time.Time{} // the delay starts with the first lower priority heard
		m.downCause = ReasonMasterDown
		m.deadline = now.Add(m.MasterDownInterval())
	}
	return act
}

// Expire handles the timer that Deadline named, if it is due by now: the
// Adver_Timer of a master sends an advertisement (RFC 5798 §6.4.3), the
// Master_Down_Timer of a backup makes it master (§6.4.2).
func (m *Machine) Expire(now time.Time) Actions {
	if m.deadline.IsZero() || now.Before(m.deadline) {
		return Actions{}
	}
	switch m.state {
	case Master:
		m.deadline = nextTick(m.deadline, now, m.cfg.AdvertInterval)
		return Actions{Send: true, SendPriority: m.priority}
	case Backup:
		if m.held {
			// Stay Backup, wanting Master, and wait another
			// Master_Down_Interval, as keepalived's
			// vrrp_sync_can_goto_master does.
			m.wantMaster = true
			m.deadline = now.Add(m.MasterDownInterval())
			return Actions{WantMaster: true}
		}
		return m.enter(now, Master, m.downCause)
	}
	return Actions{}
}

// SetHold holds the router out of Master, or releases it, as keepalived's
// vrrp_sync_group holds its members until all can be master together.
// Held, a master steps down to Backup without sending priority 0
// (ReasonHeld), the owner starts as Backup, and a backup whose
// Master_Down_Timer fires stays Backup, wanting Master (Actions.WantMaster,
// WantsMaster), with the timer started again, until it hears an
// advertisement it accepts. Released, a backup that wants Master enters it
// at once, for the reason its timer fired.
func (m *Machine) SetHold(now time.Time, hold bool) Actions {
	if m.held == hold {
		return Actions{}
	}
	m.held = hold
	switch {
	case hold && m.state == Master:
		return m.enter(now, Backup, ReasonHeld)
	case !hold && m.state == Backup && m.wantMaster:
		return m.enter(now, Master, m.downCause)
	}
	return Actions{}
}

// WantsMaster reports whether the router is held in Backup with its
// Master_Down_Timer fired since it last accepted an advertisement.
func (m *Machine) WantsMaster() bool { return m.wantMaster }

// nextTick returns the first time after now on the cadence of interval
// that runs through prev: the Adver_Timer is restarted from when it was
// due, not from when it was handled, so that a late wake-up does not slow
// the advertisements down, and ticks already missed are skipped rather
// than sent in a burst.
func nextTick(prev, now time.Time, interval time.Duration) time.Time {
	next := prev.Add(interval)
	if next.After(now) {
		return next
	}
	return prev.Add((now.Sub(prev)/interval + 1) * interval)
}

// Receive handles an advertisement from src that passed the checks of RFC
// 5798 §7.1, by §6.4.2 in Backup and §6.4.3 in Master. It is ignored in
// other states.
func (m *Machine) Receive(now time.Time, src netip.Addr, adv *Advertisement) Actions {
	switch m.state {
	case Backup:
		return m.receiveBackup(now, adv)
	case Master:
		return m.receiveMaster(now, src, adv)
	}
	return Actions{}
}

func (m *Machine) receiveBackup(now time.Time, adv *Advertisement) Actions {
	if adv.Priority == 0 {
		// The master is stepping down: take over after Skew_Time.
		m.deadline = now.Add(m.SkewTime())
		m.downCause = ReasonMasterStepDown
		return Actions{}
	}
	higherOrEqual := adv.Priority >= m.priority
	if higherOrEqual {
		m.preemptAfter = time.Time{} // keepalived stops the delay
	} else if m.cfg.Preempt && m.cfg.PreemptDelay > 0 && m.preemptAfter.IsZero() {
		// The first lower priority heard since entering Backup starts
		// the delay, as keepalived's preempt_delay does: after start, and
		// after a FAULT has cleared.
		m.preemptAfter = now.Add(m.cfg.PreemptDelay)
	}
	if !m.cfg.Preempt || higherOrEqual || now.Before(m.preemptAfter) {
		m.wantMaster = false // there is a master to follow (keepalived's vrrp_state_backup)
		if m.cfg.Version == Version3 {
			m.masterAdverInterval = adv.Interval
		}
		m.deadline = now.Add(m.MasterDownInterval())
		m.downCause = ReasonMasterDown
		if !higherOrEqual && m.cfg.Preempt {
			// Inside the preempt delay: follow the lower-priority master
			// until the delay ends, then preempt it.
			if m.deadline.After(m.preemptAfter) {
				m.deadline = m.preemptAfter
			}
			m.downCause = ReasonPreempted
		}
		return Actions{}
	}
	// Preempt_Mode and a lower priority: discard, so that
	// Master_Down_Timer fires and this router preempts.
	m.downCause = ReasonPreempted
	return Actions{}
}

func (m *Machine) receiveMaster(now time.Time, src netip.Addr, adv *Advertisement) Actions {
	switch {
	case adv.Priority == 0:
		// Another router is stepping down: assert mastership at once.
		m.deadline = now.Add(m.cfg.AdvertInterval)
		return Actions{Send: true, SendPriority: m.priority}
	case adv.Priority > m.priority || adv.Priority == m.priority && src.Compare(m.cfg.Primary) > 0:
		prio := m.priority
		act := m.enter(now, Backup, ReasonHigherPriority)
		if !m.cfg.QuietStepDown {
			// One advertisement of ours first, which the winner hears as a
			// lower priority (keepalived's higher_prio_send_advert).
			act.Send, act.SendPriority = true, prio
		}
		if m.cfg.Version == Version3 {
			m.masterAdverInterval = adv.Interval
			m.deadline = now.Add(m.MasterDownInterval())
		}
		return act
	case adv.Priority < m.priority || adv.Priority == m.priority && src.Compare(m.cfg.Primary) < 0:
		// A priority that does not preempt us, equal from a lower address
		// included: answer at once (RFC 9568 §6.4.3), so that the other
		// router falls back without waiting for the Adver_Timer, but at
		// most once an interval: a flood of them must not become a flood
		// of answers.
		if !m.lastAnswer.IsZero() && now.Sub(m.lastAnswer) < m.cfg.AdvertInterval {
			return Actions{}
		}
		m.lastAnswer = now
		m.deadline = now.Add(m.cfg.AdvertInterval)
		return Actions{Send: true, SendPriority: m.priority, LowerPriority: true}
	}
	return Actions{}
}

// SetPrimary changes the router's primary address, which breaks ties
// between equal priorities (RFC 5798 §6.4.3), as when the interface's
// addresses change.
func (m *Machine) SetPrimary(a netip.Addr) { m.cfg.Primary = a }

// SetPriority changes the priority, as a tracked check's weight does. A
// master advertises the new priority at its next interval; a backup
// compares it with the master's at the next advertisement. p is clamped
// to 1..255.
func (m *Machine) SetPriority(p uint8) {
	m.priority = max(p, 1)
}

// SetFault enters Fault when fault is true, from any started state (a
// master sends priority 0 on the way out), and leaves it when fault is
// false, as Initialize is left on start (held, the owner too leaves it as
// backup). Before Start it is remembered.
func (m *Machine) SetFault(now time.Time, fault bool) Actions {
	if m.fault == fault {
		return Actions{}
	}
	m.fault = fault
	switch {
	case m.state == Initialize:
		return Actions{}
	case fault:
		return m.enter(now, Fault, ReasonFault)
	case m.priority == 255 && !m.held:
		return m.enter(now, Master, ReasonFaultCleared)
	}
	return m.enter(now, Backup, ReasonFaultCleared)
}

// Shutdown returns to Initialize (RFC 5798 §6.4.2, §6.4.3): a master
// sends an advertisement with priority 0 first.
func (m *Machine) Shutdown(now time.Time) Actions {
	if m.state == Initialize {
		return Actions{}
	}
	return m.enter(now, Initialize, ReasonShutdown)
}
