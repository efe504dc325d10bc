package vrrp_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/vrrp"
)

var (
	t0     = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	self   = netip.MustParseAddr("192.0.2.10")
	lower  = netip.MustParseAddr("192.0.2.5")  // a peer address below ours
	higher = netip.MustParseAddr("192.0.2.20") // a peer address above ours
)

// step is one input to a Machine and what must follow it.
type step struct {
	at    time.Duration // since t0
	input string        // "start", "expire", "recv", "fault", "clear", "prio", "hold", "release", "shutdown"
	from  netip.Addr    // recv: source
	prio  uint8         // recv: advertised priority; prio: the new priority
	intvl time.Duration // recv: advertised interval (default 1 s)

	want     vrrp.Actions
	state    vrrp.State
	deadline time.Duration // since t0; -1 for none
	wants    bool          // WantsMaster after the step
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// run feeds steps to a machine made from cfg and checks each outcome.
func run(t *testing.T, cfg vrrp.MachineConfig, steps []step) {
	t.Helper()
	m, err := vrrp.NewMachine(cfg)
	require.NoError(t, err)
	require.Equal(t, vrrp.Initialize, m.State())
	for i, s := range steps {
		now := t0.Add(s.at)
		var got vrrp.Actions
		switch s.input {
		case "start":
			got = m.Start(now)
		case "expire":
			got = m.Expire(now)
		case "recv":
			intvl := s.intvl
			if intvl == 0 {
				intvl = time.Second
			}
			adv := vrrp.Advertisement{Version: cfg.Version, Type: vrrp.TypeAdvertisement, VRID: 1,
				Priority: s.prio, Interval: intvl}
			got = m.Receive(now, s.from, &adv)
		case "fault":
			got = m.SetFault(now, true)
		case "clear":
			got = m.SetFault(now, false)
		case "prio":
			m.SetPriority(s.prio)
		case "hold":
			got = m.SetHold(now, true)
		case "release":
			got = m.SetHold(now, false)
		case "shutdown":
			got = m.Shutdown(now)
		default:
			t.Fatalf("step %d: unknown input %q", i, s.input)
		}
		assert.Equal(t, s.want, got, "step %d (%s at %v): actions", i, s.input, s.at)
		assert.Equal(t, s.state, m.State(), "step %d (%s at %v): state", i, s.input, s.at)
		assert.Equal(t, s.wants, m.WantsMaster(), "step %d (%s at %v): WantsMaster", i, s.input, s.at)
		want := time.Time{}
		if s.deadline >= 0 {
			want = t0.Add(s.deadline)
		}
		assert.Equal(t, want, m.Deadline(), "step %d (%s at %v): deadline %v after t0", i, s.input, s.at, m.Deadline().Sub(t0))
	}
}

func tr(from, to vrrp.State, why vrrp.Reason) vrrp.Transition {
	return vrrp.Transition{From: from, To: to, Reason: why}
}

func send(prio uint8) vrrp.Actions { return vrrp.Actions{Send: true, SendPriority: prio} }

func sendAnd(prio uint8, t vrrp.Transition) vrrp.Actions {
	return vrrp.Actions{Send: true, SendPriority: prio, Transition: t}
}

func cfg3(prio uint8, preempt bool) vrrp.MachineConfig {
	return vrrp.MachineConfig{Version: vrrp.Version3, Priority: prio, AdvertInterval: time.Second,
		Preempt: preempt, Primary: self}
}

// delay10 is a priority-100 router with a preempt_delay of 10 s.
func delay10() vrrp.MachineConfig {
	c := cfg3(100, true)
	c.PreemptDelay = 10 * time.Second
	return c
}

// Master_Down_Interval for priority 100 and a 1 s interval:
// 3 s + (256-100)/256 s = 3.609375 s (RFC 5798 §6.1).
const mdi100 = 3*time.Second + 156*time.Second/256

// TestMachineRFC5798 has one case per clause of RFC 5798 §6.4 and of the
// keepalived extensions.
func TestMachineRFC5798(t *testing.T) {
	cases := []struct {
		name  string
		cfg   vrrp.MachineConfig
		steps []step
	}{
		{"6.4.1 owner (priority 255) starts as master and advertises", cfg3(255, true), []step{
			{input: "start", want: sendAnd(255, tr(vrrp.Initialize, vrrp.Master, vrrp.ReasonOwner)), state: vrrp.Master, deadline: time.Second},
		}},
		{"6.4.1 non-owner starts as backup with Master_Down_Timer", cfg3(100, true), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
		}},
		{"6.4.2 Master_Down_Timer fires: advertise, become master", cfg3(100, true), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: mdi100 - 1, input: "expire", state: vrrp.Backup, deadline: mdi100},
			{at: mdi100, input: "expire", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonMasterDown)), state: vrrp.Master, deadline: mdi100 + time.Second},
		}},
		{"6.4.2 advertisement of higher priority resets Master_Down_Timer", cfg3(100, true), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: ms(3000), input: "recv", from: lower, prio: 200, state: vrrp.Backup, deadline: ms(3000) + mdi100},
		}},
		{"6.4.2 advertisement of equal priority resets Master_Down_Timer", cfg3(100, true), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: ms(3000), input: "recv", from: lower, prio: 100, state: vrrp.Backup, deadline: ms(3000) + mdi100},
		}},
		{"6.4.2 v3 backup adopts the master's interval", cfg3(100, true), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			// 3 × 100 ms + (156 × 100 ms) / 256 = 360.9375 ms
			{at: ms(10), input: "recv", from: lower, prio: 200, intvl: ms(100), state: vrrp.Backup,
				deadline: ms(10) + 300*time.Millisecond + 156*100*time.Millisecond/256},
		}},
		{"6.4.2 priority 0 sets Master_Down_Timer to Skew_Time", cfg3(100, true), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: ms(500), input: "recv", from: higher, prio: 0, state: vrrp.Backup, deadline: ms(500) + 156*time.Second/256},
			{at: ms(500) + 156*time.Second/256, input: "expire", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonMasterStepDown)), state: vrrp.Master,
				deadline: ms(1500) + 156*time.Second/256},
		}},
		{"6.4.2 preempt: lower priority is discarded, then this router preempts", cfg3(100, true), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: ms(1000), input: "recv", from: higher, prio: 50, state: vrrp.Backup, deadline: mdi100},
			{at: ms(2000), input: "recv", from: higher, prio: 50, state: vrrp.Backup, deadline: mdi100},
			{at: mdi100, input: "expire", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonPreempted)), state: vrrp.Master, deadline: mdi100 + time.Second},
		}},
		{"6.4.2 nopreempt: lower priority master is followed", cfg3(100, false), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: ms(1000), input: "recv", from: higher, prio: 50, state: vrrp.Backup, deadline: ms(1000) + mdi100},
			{at: ms(1000) + mdi100, input: "expire", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonMasterDown)), state: vrrp.Master, deadline: ms(2000) + mdi100},
		}},
		{"keepalived preempt_delay: the first lower priority starts it; follow until it ends", delay10(), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: ms(1000), input: "recv", from: higher, prio: 50, state: vrrp.Backup, deadline: ms(1000) + mdi100},
			{at: ms(9000), input: "recv", from: higher, prio: 50, state: vrrp.Backup, deadline: ms(11000)},
			{at: ms(11000), input: "expire", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonPreempted)), state: vrrp.Master, deadline: ms(12000)},
		}},
		{"keepalived preempt_delay: an equal or higher priority stops it, the next lower starts it again", delay10(), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: ms(1000), input: "recv", from: higher, prio: 50, state: vrrp.Backup, deadline: ms(1000) + mdi100},
			{at: ms(2000), input: "recv", from: higher, prio: 100, state: vrrp.Backup, deadline: ms(2000) + mdi100},
			{at: ms(3000), input: "recv", from: higher, prio: 50, state: vrrp.Backup, deadline: ms(3000) + mdi100},
			{at: ms(12000), input: "recv", from: higher, prio: 50, state: vrrp.Backup, deadline: ms(13000)},
			{at: ms(13000), input: "expire", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonPreempted)), state: vrrp.Master, deadline: ms(14000)},
		}},
		{"keepalived preempt_delay: leaving FAULT, no preemption until the delay after the first lower priority", delay10(), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: ms(1000), input: "recv", from: higher, prio: 50, state: vrrp.Backup, deadline: ms(1000) + mdi100},
			{at: ms(11000), input: "expire", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonPreempted)), state: vrrp.Master, deadline: ms(12000)},
			{at: ms(11500), input: "fault", want: sendAnd(0, tr(vrrp.Master, vrrp.Fault, vrrp.ReasonFault)), state: vrrp.Fault, deadline: -1},
			{at: ms(30000), input: "clear", want: vrrp.Actions{Transition: tr(vrrp.Fault, vrrp.Backup, vrrp.ReasonFaultCleared)}, state: vrrp.Backup, deadline: ms(30000) + mdi100},
			{at: ms(30500), input: "recv", from: higher, prio: 50, state: vrrp.Backup, deadline: ms(30500) + mdi100},
			{at: ms(33500), input: "recv", from: higher, prio: 50, state: vrrp.Backup, deadline: ms(33500) + mdi100},
			{at: ms(39500), input: "recv", from: higher, prio: 50, state: vrrp.Backup, deadline: ms(40500)},
			{at: ms(40500), input: "expire", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonPreempted)), state: vrrp.Master, deadline: ms(41500)},
		}},
		{"keepalived preempt_delay: without a lower-priority master it delays nothing", delay10(), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: mdi100, input: "expire", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonMasterDown)), state: vrrp.Master, deadline: mdi100 + ms(1000)},
		}},
		{"6.4.2 shutdown of a backup: back to Initialize, timer cancelled", cfg3(100, true), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: ms(100), input: "shutdown", want: vrrp.Actions{Transition: tr(vrrp.Backup, vrrp.Initialize, vrrp.ReasonShutdown)}, state: vrrp.Initialize, deadline: -1},
		}},
		{"6.4.3 Adver_Timer fires: advertise and reset", cfg3(255, true), []step{
			{input: "start", want: sendAnd(255, tr(vrrp.Initialize, vrrp.Master, vrrp.ReasonOwner)), state: vrrp.Master, deadline: ms(1000)},
			{at: ms(999), input: "expire", state: vrrp.Master, deadline: ms(1000)},
			{at: ms(1000), input: "expire", want: send(255), state: vrrp.Master, deadline: ms(2000)},
			// Reset from when it was due, not from the late wake-up.
			{at: ms(2003), input: "expire", want: send(255), state: vrrp.Master, deadline: ms(3000)},
		}},
		{"6.4.3 shutdown of a master: priority 0, Initialize", cfg3(255, true), []step{
			{input: "start", want: sendAnd(255, tr(vrrp.Initialize, vrrp.Master, vrrp.ReasonOwner)), state: vrrp.Master, deadline: ms(1000)},
			{at: ms(300), input: "shutdown", want: sendAnd(0, tr(vrrp.Master, vrrp.Initialize, vrrp.ReasonShutdown)), state: vrrp.Initialize, deadline: -1},
		}},
		{"6.4.3 master hears priority 0: advertises at once", cfg3(255, true), []step{
			{input: "start", want: sendAnd(255, tr(vrrp.Initialize, vrrp.Master, vrrp.ReasonOwner)), state: vrrp.Master, deadline: ms(1000)},
			{at: ms(400), input: "recv", from: higher, prio: 0, want: send(255), state: vrrp.Master, deadline: ms(1400)},
		}},
		{"6.4.3 master hears higher priority: advertises its own (higher_prio_send_advert), becomes backup", cfg3(100, true), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: mdi100, input: "expire", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonMasterDown)), state: vrrp.Master, deadline: mdi100 + ms(1000)},
			{at: ms(5000), input: "recv", from: lower, prio: 101, intvl: ms(200), want: sendAnd(100, tr(vrrp.Master, vrrp.Backup, vrrp.ReasonHigherPriority)),
				state: vrrp.Backup, deadline: ms(5000) + ms(600) + 156*ms(200)/256},
		}},
		{"6.4.3 QuietStepDown: master hears higher priority, becomes backup without a word", func() vrrp.MachineConfig {
			c := cfg3(100, true)
			c.QuietStepDown = true
			return c
		}(), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: mdi100, input: "expire", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonMasterDown)), state: vrrp.Master, deadline: mdi100 + ms(1000)},
			{at: ms(5000), input: "recv", from: lower, prio: 101, want: vrrp.Actions{Transition: tr(vrrp.Master, vrrp.Backup, vrrp.ReasonHigherPriority)},
				state: vrrp.Backup, deadline: ms(5000) + mdi100},
		}},
		{"6.4.3 equal priority from a higher address wins", cfg3(100, true), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: mdi100, input: "expire", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonMasterDown)), state: vrrp.Master, deadline: mdi100 + ms(1000)},
			{at: ms(4100), input: "recv", from: higher, prio: 100, want: sendAnd(100, tr(vrrp.Master, vrrp.Backup, vrrp.ReasonHigherPriority)),
				state: vrrp.Backup, deadline: ms(4100) + mdi100},
		}},
		{"RFC 9568 6.4.3 equal priority from a lower address is answered at once", cfg3(100, true), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: mdi100, input: "expire", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonMasterDown)), state: vrrp.Master, deadline: mdi100 + ms(1000)},
			{at: ms(4000), input: "recv", from: lower, prio: 100, want: vrrp.Actions{Send: true, SendPriority: 100, LowerPriority: true},
				state: vrrp.Master, deadline: ms(5000)},
			{at: ms(4100), input: "recv", from: self, prio: 100, state: vrrp.Master, deadline: ms(5000)},
		}},
		{"keepalived: master hears lower priority, answers and reports it", cfg3(100, true), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: mdi100, input: "expire", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonMasterDown)), state: vrrp.Master, deadline: mdi100 + ms(1000)},
			{at: ms(4000), input: "recv", from: higher, prio: 99, want: vrrp.Actions{Send: true, SendPriority: 100, LowerPriority: true},
				state: vrrp.Master, deadline: ms(5000)},
		}},
		{"master answers lower priorities at most once an interval", cfg3(255, true), []step{
			{input: "start", want: sendAnd(255, tr(vrrp.Initialize, vrrp.Master, vrrp.ReasonOwner)), state: vrrp.Master, deadline: ms(1000)},
			{at: ms(100), input: "recv", from: higher, prio: 100, want: vrrp.Actions{Send: true, SendPriority: 255, LowerPriority: true},
				state: vrrp.Master, deadline: ms(1100)},
			{at: ms(600), input: "recv", from: higher, prio: 100, state: vrrp.Master, deadline: ms(1100)},
			{at: ms(1099), input: "recv", from: lower, prio: 1, state: vrrp.Master, deadline: ms(1100)},
			{at: ms(1100), input: "recv", from: higher, prio: 100, want: vrrp.Actions{Send: true, SendPriority: 255, LowerPriority: true},
				state: vrrp.Master, deadline: ms(2100)},
		}},
		{"master's Adver_Timer keeps its cadence when handled late, skipping missed ticks", cfg3(255, true), []step{
			{input: "start", want: sendAnd(255, tr(vrrp.Initialize, vrrp.Master, vrrp.ReasonOwner)), state: vrrp.Master, deadline: ms(1000)},
			{at: ms(1300), input: "expire", want: send(255), state: vrrp.Master, deadline: ms(2000)},
			{at: ms(2000), input: "expire", want: send(255), state: vrrp.Master, deadline: ms(3000)},
			{at: ms(5500), input: "expire", want: send(255), state: vrrp.Master, deadline: ms(6000)},
			{at: ms(7000), input: "expire", want: send(255), state: vrrp.Master, deadline: ms(8000)},
		}},
		{"fault: a master steps down with priority 0 and stays silent", cfg3(255, true), []step{
			{input: "start", want: sendAnd(255, tr(vrrp.Initialize, vrrp.Master, vrrp.ReasonOwner)), state: vrrp.Master, deadline: ms(1000)},
			{at: ms(100), input: "fault", want: sendAnd(0, tr(vrrp.Master, vrrp.Fault, vrrp.ReasonFault)), state: vrrp.Fault, deadline: -1},
			{at: ms(200), input: "recv", from: lower, prio: 0, state: vrrp.Fault, deadline: -1},
			{at: ms(5000), input: "expire", state: vrrp.Fault, deadline: -1},
			{at: ms(6000), input: "clear", want: sendAnd(255, tr(vrrp.Fault, vrrp.Master, vrrp.ReasonFaultCleared)), state: vrrp.Master, deadline: ms(7000)},
		}},
		{"fault: a backup goes silent, then back to backup", cfg3(100, true), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: ms(100), input: "fault", want: vrrp.Actions{Transition: tr(vrrp.Backup, vrrp.Fault, vrrp.ReasonFault)}, state: vrrp.Fault, deadline: -1},
			{at: ms(100), input: "fault", state: vrrp.Fault, deadline: -1},
			{at: ms(200), input: "clear", want: vrrp.Actions{Transition: tr(vrrp.Fault, vrrp.Backup, vrrp.ReasonFaultCleared)}, state: vrrp.Backup, deadline: ms(200) + mdi100},
		}},
		{"fault before start: starts in Fault", cfg3(100, true), []step{
			{input: "fault", state: vrrp.Initialize, deadline: -1},
			{at: ms(10), input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Fault, vrrp.ReasonFault)}, state: vrrp.Fault, deadline: -1},
		}},
		{"priority change: a lowered master is preempted by a backup", cfg3(100, true), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: ms(10), input: "prio", prio: 250, state: vrrp.Backup, deadline: mdi100},
			// Skew_Time now follows the new priority: (256-250)/256 s.
			{at: ms(20), input: "recv", from: lower, prio: 250, state: vrrp.Backup, deadline: ms(20) + 3*time.Second + 6*time.Second/256},
		}},
		{"inputs before start are ignored", cfg3(100, true), []step{
			{input: "expire", state: vrrp.Initialize, deadline: -1},
			{input: "recv", from: lower, prio: 200, state: vrrp.Initialize, deadline: -1},
			{input: "shutdown", state: vrrp.Initialize, deadline: -1},
		}},
		{"down_timer_adverts: Master_Down_Interval counts 5 adverts", func() vrrp.MachineConfig {
			c := cfg3(100, true)
			c.DownTimerAdverts = 5
			return c
		}(), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: 5*time.Second + 156*time.Second/256},
		}},
		{"held: Master_Down_Timer fires, the backup stays, wanting master, and waits another interval; released, it is master", cfg3(100, true), []step{
			{input: "hold", state: vrrp.Initialize, deadline: -1},
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: mdi100, input: "expire", want: vrrp.Actions{WantMaster: true}, state: vrrp.Backup, deadline: 2 * mdi100, wants: true},
			{at: 2 * mdi100, input: "expire", want: vrrp.Actions{WantMaster: true}, state: vrrp.Backup, deadline: 3 * mdi100, wants: true},
			{at: 2*mdi100 + ms(5), input: "release", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonMasterDown)), state: vrrp.Master, deadline: 2*mdi100 + ms(5) + time.Second},
		}},
		{"held: an advertisement accepted ends wanting master; released, the backup follows its master", cfg3(100, true), []step{
			{input: "hold", state: vrrp.Initialize, deadline: -1},
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: mdi100, input: "expire", want: vrrp.Actions{WantMaster: true}, state: vrrp.Backup, deadline: 2 * mdi100, wants: true},
			{at: mdi100 + ms(100), input: "recv", from: higher, prio: 200, state: vrrp.Backup, deadline: 2*mdi100 + ms(100)},
			{at: mdi100 + ms(200), input: "release", state: vrrp.Backup, deadline: 2*mdi100 + ms(100)},
		}},
		{"held: a lower priority is still discarded, and the release preempts", cfg3(100, true), []step{
			{input: "hold", state: vrrp.Initialize, deadline: -1},
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: ms(1000), input: "recv", from: higher, prio: 50, state: vrrp.Backup, deadline: mdi100},
			{at: mdi100, input: "expire", want: vrrp.Actions{WantMaster: true}, state: vrrp.Backup, deadline: 2 * mdi100, wants: true},
			{at: mdi100 + ms(200), input: "recv", from: higher, prio: 50, state: vrrp.Backup, deadline: 2 * mdi100, wants: true},
			{at: mdi100 + ms(300), input: "release", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonPreempted)), state: vrrp.Master, deadline: mdi100 + ms(1300)},
		}},
		{"held: priority 0 from the master; after Skew_Time the backup wants master, and the release says why", cfg3(100, true), []step{
			{input: "hold", state: vrrp.Initialize, deadline: -1},
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: ms(1000), input: "recv", from: higher, prio: 0, state: vrrp.Backup, deadline: ms(1000) + 156*time.Second/256},
			{at: ms(1000) + 156*time.Second/256, input: "expire", want: vrrp.Actions{WantMaster: true}, state: vrrp.Backup, deadline: ms(1000) + 156*time.Second/256 + mdi100, wants: true},
			{at: ms(2000), input: "release", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonMasterStepDown)), state: vrrp.Master, deadline: ms(3000)},
		}},
		{"held: a master steps down to backup without priority 0", cfg3(100, true), []step{
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi100},
			{at: mdi100, input: "expire", want: sendAnd(100, tr(vrrp.Backup, vrrp.Master, vrrp.ReasonMasterDown)), state: vrrp.Master, deadline: mdi100 + time.Second},
			{at: mdi100 + ms(10), input: "hold", want: vrrp.Actions{Transition: tr(vrrp.Master, vrrp.Backup, vrrp.ReasonHeld)}, state: vrrp.Backup, deadline: 2*mdi100 + ms(10)},
			{at: mdi100 + ms(20), input: "hold", state: vrrp.Backup, deadline: 2*mdi100 + ms(10)},
		}},
		{"held: the owner starts as backup and leaves FAULT as backup", cfg3(255, true), []step{
			{input: "hold", state: vrrp.Initialize, deadline: -1},
			{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: 3*time.Second + time.Second/256},
			{at: ms(10), input: "fault", want: vrrp.Actions{Transition: tr(vrrp.Backup, vrrp.Fault, vrrp.ReasonFault)}, state: vrrp.Fault, deadline: -1},
			{at: ms(20), input: "clear", want: vrrp.Actions{Transition: tr(vrrp.Fault, vrrp.Backup, vrrp.ReasonFaultCleared)}, state: vrrp.Backup, deadline: ms(20) + 3*time.Second + time.Second/256},
			{at: ms(30), input: "release", state: vrrp.Backup, deadline: ms(20) + 3*time.Second + time.Second/256},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { run(t, c.cfg, c.steps) })
	}
}

// TestMachineVersion2 checks what differs in VRRPv2 (RFC 3768 §6.1):
// Skew_Time is (256-Priority)/256 seconds and a backup keeps its own
// interval.
func TestMachineVersion2(t *testing.T) {
	cfg := vrrp.MachineConfig{Version: vrrp.Version2, Priority: 100, AdvertInterval: 2 * time.Second, Preempt: true, Primary: self}
	mdi := 6*time.Second + 156*time.Second/256
	run(t, cfg, []step{
		{input: "start", want: vrrp.Actions{Transition: tr(vrrp.Initialize, vrrp.Backup, vrrp.ReasonStart)}, state: vrrp.Backup, deadline: mdi},
		{at: ms(1000), input: "recv", from: lower, prio: 200, intvl: 5 * time.Second, state: vrrp.Backup, deadline: ms(1000) + mdi},
		{at: ms(2000), input: "recv", from: lower, prio: 0, state: vrrp.Backup, deadline: ms(2000) + 156*time.Second/256},
	})
}

// TestMachineIntervals checks Skew_Time and Master_Down_Interval against
// RFC 5798 §6.1 at the extremes of priority and interval.
func TestMachineIntervals(t *testing.T) {
	for _, c := range []struct {
		prio        uint8
		interval    time.Duration
		skew, mdown time.Duration
	}{
		{1, ms(10), 255 * ms(10) / 256, 3*ms(10) + 255*ms(10)/256},
		{254, ms(100), 2 * ms(100) / 256, 3*ms(100) + 2*ms(100)/256},
		{100, ms(40950), 156 * ms(40950) / 256, 3*ms(40950) + 156*ms(40950)/256},
	} {
		m, err := vrrp.NewMachine(vrrp.MachineConfig{Version: vrrp.Version3, Priority: c.prio, AdvertInterval: c.interval, Primary: self})
		require.NoError(t, err)
		assert.Equal(t, c.skew, m.SkewTime(), "priority %d interval %v", c.prio, c.interval)
		assert.Equal(t, c.mdown, m.MasterDownInterval(), "priority %d interval %v", c.prio, c.interval)
	}
}

func TestMachinePriorityClamps(t *testing.T) {
	m, err := vrrp.NewMachine(cfg3(100, true))
	require.NoError(t, err)
	m.SetPriority(0)
	assert.Equal(t, uint8(1), m.Priority(), "priority 0 is reserved for stepping down")
	m.SetPriority(254)
	assert.Equal(t, uint8(254), m.Priority())
}

// TestMachineConfigRefused: NewMachine refuses what would make the machine
// misbehave (an AdvertInterval of 0 busy-looped), naming the field.
func TestMachineConfigRefused(t *testing.T) {
	good := cfg3(100, true)
	for field, change := range map[string]func(*vrrp.MachineConfig){
		"Version":          func(c *vrrp.MachineConfig) { c.Version = 4 },
		"Priority":         func(c *vrrp.MachineConfig) { c.Priority = 0 },
		"AdvertInterval":   func(c *vrrp.MachineConfig) { c.AdvertInterval = 0 },
		"DownTimerAdverts": func(c *vrrp.MachineConfig) { c.DownTimerAdverts = -1 },
		"PreemptDelay":     func(c *vrrp.MachineConfig) { c.PreemptDelay = -time.Second },
		"Primary":          func(c *vrrp.MachineConfig) { c.Primary = netip.Addr{} },
	} {
		cfg := good
		change(&cfg)
		m, err := vrrp.NewMachine(cfg)
		assert.Nil(t, m, field)
		var ce *vrrp.ConfigError
		require.ErrorAs(t, err, &ce, field)
		assert.Equal(t, field, ce.Field)
		assert.ErrorIs(t, err, vrrp.ErrConfig)
	}
	v2 := good
	v2.Version, v2.AdvertInterval = vrrp.Version2, 100*time.Millisecond
	_, err := vrrp.NewMachine(v2)
	assert.ErrorContains(t, err, "AdvertInterval: 100ms; VRRPv2 takes whole seconds")
	_, err = vrrp.NewMachine(good)
	assert.NoError(t, err)
}

func TestStateAndReasonStrings(t *testing.T) {
	assert.Equal(t, "MASTER", vrrp.Master.String())
	assert.Equal(t, "State(9)", vrrp.State(9).String())
	assert.Equal(t, "preempted", vrrp.ReasonPreempted.String())
	assert.Equal(t, "Reason(0)", vrrp.Reason(0).String())
}
