package keepalived

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// notifyQueueLen is how many notifications wait at most.
const notifyQueueLen = 256

// notifyTimeout bounds a notify script. keepalived waits for none but
// those of STOP (notify_exec forks it and forgets it), so that a queue
// that runs them one at a time needs a bound of its own.
const notifyTimeout = 30 * time.Second

// stopTimeout is how long keepalived lets a STOP script run before it
// kills its process group (notify_script_exec and send_instance_notifies:
// system_call_script(master, child_killed_thread, NULL, TIMER_HZ, ...)).
const stopTimeout = time.Second

// A NotifyQueue runs notify scripts in the order they were asked for, one at
// a time, never blocking the caller (the protocol): Notify returns at once.
// At most 256 wait; beyond that the oldest are dropped and logged.
//
// keepalived 2.2.7 starts the scripts of a change without waiting for
// them (vrrp_notify.c: send_instance_notifies, send_group_notifies, by
// notify_exec), so that they run concurrently and those of two changes
// close together may finish in any order; the queue keeps the order,
// which keepalived promises only of its notify FIFO. keepalived bounds
// only STOP scripts, to 1 s, then SIGKILL; the queue bounds the others
// to 30 s, then SIGTERM and SIGKILL 2 s later, as a vrrp_script's.
//
// Each script is prepared as keepalived prepares it at startup
// (check_notify_script_secure): it must be found and be executable by the
// user, and run as root it must pass enable_script_security's checks; one
// that does not is logged and not run, as keepalived drops it. Its output
// is discarded, and its exit status logged if not 0 (keepalived ignores
// it).
type NotifyQueue struct {
	log *slog.Logger

	mu       sync.Mutex // guards what follows
	uid, gid uint32
	userErr  error // no default user: keepalived ignores the scripts
	security bool
	queue    []notification
	running  bool          // a worker runs the queue
	idle     chan struct{} // closed when the worker has emptied the queue
	closed   bool
}

// A notification is the scripts of one change of state.
type notification struct {
	kind, name, state string
	scripts           []notifyScript
}

type notifyScript struct {
	keyword string // notify_master ... or notify
	script  NotifyScript
	extra   []string // appended to the script's own words
	timeout time.Duration
	kill    bool // SIGKILL at timeout (STOP), not SIGTERM first
}

// NewNotifyQueue returns a queue that runs scripts as c's script_user (or
// keepalived's default), logging to log.
//
// The default user is keepalived's (get_default_script_user): script_user,
// or keepalived_script if that user exists, or the user vipkit runs as;
// with enable_script_security and neither, or a script_user that does not
// exist, keepalived runs no notify script ("Failed to set default user for
// notify script - ignoring"), and neither does the queue: it logs why at
// each notification.
func (c *Config) NewNotifyQueue(log *slog.Logger) *NotifyQueue {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	q := &NotifyQueue{log: log}
	q.Reload(c)
	return q
}

// Reload makes the scripts that run from now on, those waiting included,
// run as c's script_user and enable_script_security say, as keepalived's
// reload does.
func (q *NotifyQueue) Reload(c *Config) {
	uid, gid, err := c.defaultUser()
	if err != nil {
		q.log.Error("notify scripts will not run", "why", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.uid, q.gid, q.userErr, q.security = uid, gid, err, c.ScriptSecurity
}

// Notify queues the scripts of n for a change of the instance or group
// name (kind "INSTANCE" or "GROUP") to state ("MASTER", "BACKUP", "FAULT",
// "STOP"; "DELETED" for an instance a reload removed), with priority: the
// state's own script, then notify, with the arguments keepalived gives
// them; or for "MASTER_RX_LOWER_PRI" (a master heard a lower priority)
// notify_master_rx_lower_pri's script alone.
//
// As vrrp_notify.c does: the state's script (notify_master, notify_backup,
// notify_fault, notify_stop, notify_deleted) runs with its own words alone
// (notify_exec); notify runs with its words and then four more, kind,
// name, state and priority (notify_script_exec: "script {GROUP|INSTANCE}
// NAME {MASTER|BACKUP|FAULT|STOP|DELETED} PRIO"), the priority 0 for a
// GROUP whatever is passed (send_group_notifies), and DELETED told as
// FAULT unless notify_deleted is set (Notify.State). The state's script
// is started first. A STOP script is bounded to 1 s, but a group's
// notify_stop, which keepalived does not bound. A script with a user of
// its own runs as that user.
func (q *NotifyQueue) Notify(n Notify, kind, name, state string, priority int) {
	if kind == "GROUP" {
		priority = 0
	}
	var own NotifyScript
	var ownKeyword string
	switch state {
	case "MASTER":
		own, ownKeyword = n.Master, "notify_master"
	case "BACKUP":
		own, ownKeyword = n.Backup, "notify_backup"
	case "FAULT":
		own, ownKeyword = n.Fault, "notify_fault"
	case "STOP":
		own, ownKeyword = n.Stop, "notify_stop"
	case "DELETED":
		own, ownKeyword = n.Deleted, "notify_deleted"
	case "MASTER_RX_LOWER_PRI":
		own, ownKeyword = n.MasterRxLowerPri, "notify_master_rx_lower_pri"
		n.Any = NotifyScript{} // send_event_notify: the event's script alone
	}
	no := notification{kind: kind, name: name, state: n.State(state)}
	if own.Command != "" {
		s := notifyScript{keyword: ownKeyword, script: own, timeout: notifyTimeout}
		if state == "STOP" && kind != "GROUP" {
			s.timeout, s.kill = stopTimeout, true
		}
		no.scripts = append(no.scripts, s)
	}
	if n.Any.Command != "" {
		s := notifyScript{keyword: "notify", script: n.Any, timeout: notifyTimeout,
			extra: []string{kind, name, no.state, strconv.Itoa(priority)}}
		if state == "STOP" {
			s.timeout, s.kill = stopTimeout, true
		}
		no.scripts = append(no.scripts, s)
	}
	if len(no.scripts) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if len(q.queue) == notifyQueueLen {
		old := q.queue[0]
		q.queue = q.queue[1:]
		q.log.Warn("notify queue full: the oldest notification waiting is dropped", "kind", old.kind, "name", old.name, "state", old.state)
	}
	q.queue = append(q.queue, no)
	if !q.running {
		q.running = true
		q.idle = make(chan struct{})
		go q.work(q.idle)
	}
}

// Close waits for the scripts queued to run (each bounded by a timeout, say
// keepalived's or 30 s) and stops the queue; later Notify calls do nothing.
func (q *NotifyQueue) Close() {
	q.mu.Lock()
	q.closed = true
	idle, running := q.idle, q.running
	q.mu.Unlock()
	if running {
		<-idle
	}
}

// work runs the queue until it is empty, then closes idle.
func (q *NotifyQueue) work(idle chan struct{}) {
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.running = false
			q.mu.Unlock()
			close(idle)
			return
		}
		no := q.queue[0]
		q.queue[0] = notification{}
		q.queue = q.queue[1:]
		q.mu.Unlock()
		for _, s := range no.scripts {
			q.run(no, s)
		}
	}
}

// run runs one script of a notification.
func (q *NotifyQueue) run(no notification, s notifyScript) {
	log := q.log.With("keyword", s.keyword, "kind", no.kind, "name", no.name, "state", no.state)
	q.mu.Lock()
	uid, gid, userErr, security := q.uid, q.gid, q.userErr, q.security
	q.mu.Unlock()
	if s.script.User != "" {
		// Its own user (notify_script_init: set_script_uid_gid), which
		// needs no default.
		uid, gid, userErr = lookupUser(s.script.User)
	}
	if userErr != nil {
		log.Warn("notify script not run", "why", userErr)
		return
	}
	cmd, warnings, err := prepare(s.script.Command, uid, gid, security, true)
	if err != nil {
		log.Error("notify script not run", "why", err)
		return
	}
	for _, w := range warnings {
		log.Warn(w)
	}
	cmd.args = append(cmd.args, s.extra...)
	if o := cmd.run(context.Background(), s.timeout, s.kill); !(o.exited && o.status == 0) {
		log.Warn("notify script "+o.String(), "command", cmdString(cmd.args))
	}
}
