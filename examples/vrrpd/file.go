package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vipkit/vipkit/examples/internal/metrics"
	"github.com/vipkit/vipkit/examples/internal/vipcmd"
	"github.com/vipkit/vipkit/havip"
	"github.com/vipkit/vipkit/keepalived"
	"github.com/vipkit/vipkit/vrrp"
)

// runFile runs every vrrp_instance of the keepalived.conf at path in this
// process until ctx ends, as keepalived's VRRP process does: each its own
// router, addresses and checks (its vrrp_scripts); their notify scripts
// run in order, one at a time, never holding the protocol up. Each
// transition is a JSON line on stdout naming the instance. A file that does
// not check, or an instance that cannot start, is refused before any runs.
//
// On SIGHUP (hup) it reads the file again, as keepalived reloads: an
// instance that did not change keeps running, its state and mastership
// with it; one that changed is stopped (a master sends priority 0) and
// started again as the file now says; one removed is stopped; one added
// is started; notify scripts run as the file now says, and the notify
// FIFOs are its own, those it kept untouched. A file that does not check,
// or a notify FIFO that cannot be opened, is refused, each line logged,
// and what runs stays as it is.
//
// With metricsOn it serves the instances' Prometheus metrics there, at
// /metrics, those of the instances running at each scrape.
func runFile(ctx context.Context, path string, metricsOn net.Listener, hup <-chan os.Signal, stdout, stderr io.Writer) error {
	cfg, err := keepalived.Load(path)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	logNotes(logger, cfg)
	instances, err := startInstances(cfg, cfg.Instances, logger)
	if err != nil {
		return err
	}
	fifos, err := cfg.OpenFIFOs(logger)
	if err != nil {
		for _, in := range instances {
			in.close()
		}
		return err
	}
	defer fifos.Close()
	s := &supervisor{ctx: ctx, out: &lockedWriter{w: stdout}, log: logger,
		notify: &notifier{scripts: cfg.NewNotifyQueue(logger), fifos: fifos}, running: map[string]*running{}}
	defer s.notify.scripts.Close()
	s.setGroups(cfg)
	for _, in := range instances {
		s.run(cfg, in)
	}
	served := make(chan error, 1)
	if metricsOn != nil {
		go func() { served <- metrics.ServeOn(ctx, metricsOn, s.list) }()
	}
	for {
		select {
		case <-ctx.Done():
			return s.wait()
		case err := <-served:
			s.log.Error("serving the metrics", "err", err)
		case <-hup:
			s.reload(path)
		}
	}
}

// logNotes logs what the file says that vipkit does not honour.
func logNotes(logger *slog.Logger, cfg *keepalived.Config) {
	for _, n := range cfg.Notes {
		logger.Warn("not honoured as keepalived would", "at", n.Pos.String(), "keyword", n.Keyword, "instead", n.Text)
	}
}

// A supervisor runs the instances of a file and reloads them.
type supervisor struct {
	ctx    context.Context
	out    io.Writer
	log    *slog.Logger
	notify *notifier
	errs   []error // of instances stopped

	mu      sync.Mutex          // guards running against list, the metrics', and the groups against the instances' events
	running map[string]*running // by instance name
	groups  []*group
}

// A group is a vrrp_sync_group as it runs: which members are in FAULT of
// their own, whether it is MASTER, and the state it last notified.
type group struct {
	cfg    *keepalived.SyncGroup
	states map[string]vrrp.State // each member's last
	own    map[string]bool       // the members in FAULT of their own, not the group's
	// master is keepalived's sync group state MASTER: every member was
	// master or wanted to be at once, and none has left MASTER since but
	// to stop. Until then every member is held out of MASTER
	// (vrrp.Router.Hold).
	master bool
	state  string // notified last: MASTER, BACKUP, FAULT, STOP
}

// setGroups makes the groups of cfg, keeping what is known of members
// that stay.
func (s *supervisor) setGroups(cfg *keepalived.Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.groups
	s.groups = nil
	for _, g := range cfg.SyncGroups {
		ng := &group{cfg: g, states: map[string]vrrp.State{}, own: map[string]bool{}, master: allOwners(cfg, g)}
		for _, o := range old {
			if o.cfg.Name == g.Name {
				// As keepalived's reload: MASTER if it was and has the
				// same members, else if every member runs as master.
				ng.master = o.master && slices.Equal(o.cfg.Group, g.Group) || s.allMaster(g)
			}
			for _, m := range g.Group {
				if st, ok := o.states[m]; ok {
					ng.states[m] = st
				}
				if o.own[m] {
					ng.own[m] = true
				}
			}
		}
		s.groups = append(s.groups, ng)
	}
	// A member that left a group, or whose group went, is that group's no
	// more: its FAULT, if the group held it there, ends, and so does the
	// hold.
	for _, o := range old {
		for _, m := range o.cfg.Group {
			r, ok := s.running[m]
			if !ok {
				continue
			}
			if !slices.ContainsFunc(s.groups, func(g *group) bool { return g.cfg.Name == o.cfg.Name && slices.Contains(g.cfg.Group, m) }) {
				r.inst.router.Report("vrrp_sync_group "+o.cfg.Name, 0, nil)
			}
			if !slices.ContainsFunc(s.groups, func(g *group) bool { return slices.Contains(g.cfg.Group, m) }) {
				r.inst.router.Hold(false) // in a group still, apply holds it as that group says
			}
		}
	}
	for _, g := range s.groups {
		s.apply(g) // a member new to a group whose member is in FAULT joins it there
	}
}

// allOwners reports whether every member of g has priority 255: such a
// group starts MASTER, as keepalived's does.
func allOwners(cfg *keepalived.Config, g *keepalived.SyncGroup) bool {
	for _, in := range cfg.Instances {
		if slices.Contains(g.Group, in.Name) && in.Router.Priority != 255 {
			return false
		}
	}
	return true
}

// changed follows an event of the instance name for its sync group, if
// any, as keepalived's vrrp_sync_group does. A member entering FAULT of
// its own puts every other member in FAULT (vrrp.Router.Report with weight
// 0) until no member is in FAULT of its own. The members become MASTER
// together: each is held in BACKUP until every one is master or wants to
// be (vrrp.EventWantMaster), then all are released at once
// (vrrp_sync_can_goto_master, vrrp_sync_master); and a member that leaves
// MASTER, but to stop, makes the others leave it too, without priority 0
// (vrrp_sync_backup). The group's notify scripts run when the group as a
// whole changes.
func (s *supervisor) changed(name string, e vrrp.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.groups {
		if !slices.Contains(g.cfg.Group, name) {
			continue
		}
		if e.Kind == vrrp.EventTransition {
			g.states[name] = e.To
			switch {
			case e.To == vrrp.Fault && !g.faultedBy(name):
				g.own[name] = true
			case e.To != vrrp.Fault:
				delete(g.own, name)
			}
			if e.From == vrrp.Master && e.To != vrrp.Master && e.To != vrrp.Initialize && g.master {
				g.master = false
				s.log.Info("vrrp_sync_group: syncing instances to BACKUP", "group", g.cfg.Name, "left_master", name)
			}
		}
		s.apply(g)
	}
}

// faultedBy reports whether the group holds member in FAULT: another
// member is in FAULT of its own.
func (g *group) faultedBy(member string) bool {
	for m := range g.own {
		if m != member {
			return true
		}
	}
	return false
}

// apply reports the group's FAULT, or its end, to every member running,
// then holds the members or releases them as the group is MASTER or not,
// and runs the group's notify scripts if its state changed. s.mu is held.
func (s *supervisor) apply(g *group) {
	for _, m := range g.cfg.Group {
		r, ok := s.running[m]
		if !ok {
			continue
		}
		var err error
		if g.faultedBy(m) {
			err = fmt.Errorf("vrrp_sync_group %s: a member is in FAULT", g.cfg.Name)
		}
		r.inst.router.Report("vrrp_sync_group "+g.cfg.Name, 0, err)
	}
	if !g.master && len(g.own) == 0 && s.canGoMaster(g) {
		g.master = true
		s.log.Info("vrrp_sync_group: syncing instances to MASTER", "group", g.cfg.Name)
	}
	for _, m := range g.cfg.Group {
		if r, ok := s.running[m]; ok {
			r.inst.router.Hold(!g.master)
		}
	}
	state := ""
	switch {
	case len(g.own) > 0:
		state = "FAULT"
	case g.all(vrrp.Master):
		state = "MASTER"
	case g.all(vrrp.Backup):
		state = "BACKUP"
	case g.all(vrrp.Initialize) && g.state != "":
		state = "STOP" // every member stopped
	}
	if state != "" && state != g.state {
		g.state = state
		s.notify.change(g.cfg.Notify, "GROUP", g.cfg.Name, state, 0)
	}
}

// canGoMaster reports whether every member of g runs and is master or
// wants to be. s.mu is held.
func (s *supervisor) canGoMaster(g *group) bool {
	for _, m := range g.cfg.Group {
		r, ok := s.running[m]
		if !ok {
			return false
		}
		switch st := r.inst.router.State(); {
		case st == vrrp.Master, st == vrrp.Backup && r.inst.router.WantsMaster():
		default:
			return false
		}
	}
	return true
}

// allMaster reports whether every member of g runs as master. s.mu is
// held.
func (s *supervisor) allMaster(g *keepalived.SyncGroup) bool {
	for _, m := range g.Group {
		if r, ok := s.running[m]; !ok || r.inst.router.State() != vrrp.Master {
			return false
		}
	}
	return true
}

// all reports whether every member is in state st.
func (g *group) all(st vrrp.State) bool {
	for _, m := range g.cfg.Group {
		if g.states[m] != st {
			return false
		}
	}
	return true
}

// list returns the instances running, for the metrics.
func (s *supervisor) list() []metrics.Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]metrics.Instance, 0, len(s.running))
	for name, r := range s.running {
		out = append(out, metrics.Instance{Name: name, Router: r.inst.router, Client: r.inst.client})
	}
	return out
}

// A running instance, and what it was made from.
type running struct {
	inst     *instance
	made     sameAs // what a reload compares
	stop     context.CancelFunc
	done     chan error    // Serve's error, when it has returned
	notified chan struct{} // closed when every transition went to the notify queue
}

// sameAs is what makes an instance the same after a reload: its
// configuration and that of the scripts and files it tracks, places in
// the file and notify scripts aside (an instance kept takes the new ones).
type sameAs struct {
	instance keepalived.Instance
	scripts  []keepalived.Script
	files    []keepalived.TrackFile
	user     string
	security bool
}

func sameAsOf(cfg *keepalived.Config, in *keepalived.Instance) sameAs {
	s := sameAs{instance: *in, user: cfg.ScriptUser, security: cfg.ScriptSecurity}
	s.instance.Pos = keepalived.Pos{}
	s.instance.Notify = keepalived.Notify{} // changed in place: see instance.scripts
	s.instance.TrackFiles = slices.Clone(in.TrackFiles)
	for i, tf := range in.TrackFiles {
		s.instance.TrackFiles[i].Pos = keepalived.Pos{}
		if j := slices.IndexFunc(cfg.TrackFiles, func(f *keepalived.TrackFile) bool { return f.Name == tf.Name }); j >= 0 {
			f := *cfg.TrackFiles[j] // keepalived tracks the first of the name
			f.Pos = keepalived.Pos{}
			s.files = append(s.files, f)
		}
	}
	s.instance.TrackScripts = slices.Clone(in.TrackScripts)
	for i, ts := range in.TrackScripts {
		s.instance.TrackScripts[i].Pos = keepalived.Pos{}
		if j := slices.IndexFunc(cfg.Scripts, func(sc *keepalived.Script) bool { return sc.Name == ts.Name }); j >= 0 {
			sc := *cfg.Scripts[j]
			sc.Pos = keepalived.Pos{}
			s.scripts = append(s.scripts, sc)
		}
	}
	return s
}

// run starts serving in.
func (s *supervisor) run(cfg *keepalived.Config, in *instance) {
	ctx, stop := context.WithCancel(s.ctx)
	r := &running{inst: in, made: sameAsOf(cfg, in.cfg), stop: stop, done: make(chan error, 1), notified: make(chan struct{})}
	s.mu.Lock()
	s.running[in.cfg.Name] = r
	s.mu.Unlock()
	events := in.router.Subscribe(context.Background())
	go func() {
		defer close(r.notified)
		for e := range events {
			switch e.Kind {
			case vrrp.EventTransition:
				in.notify(e, s.notify)
				s.changed(in.cfg.Name, e)
			case vrrp.EventWantMaster:
				s.changed(in.cfg.Name, e)
			case vrrp.EventLowerPriority: // keepalived's send_event_notify
				s.notify.change(*in.scripts.Load(), "INSTANCE", in.cfg.Name, "MASTER_RX_LOWER_PRI", int(in.router.Priority()))
			}
		}
	}()
	s.mu.Lock()
	for _, g := range s.groups {
		if slices.Contains(g.cfg.Group, in.cfg.Name) {
			s.apply(g) // a member started again takes the group's FAULT and hold
		}
	}
	s.mu.Unlock()
	go func() {
		r.done <- vipcmd.Options{Instance: in.cfg.Name}.Serve(ctx, in.router, in.client, s.out)
		in.unwatch()
	}()
}

// halt stops the instance of name and waits for it to hand over.
func (s *supervisor) halt(name string) {
	r := s.running[name]
	r.stop()
	if err := <-r.done; err != nil {
		s.errs = append(s.errs, fmt.Errorf("vrrp_instance %s: %w", name, err))
	}
	<-r.notified // the STOP too: the router's events end when it has stopped
	s.mu.Lock()
	delete(s.running, name)
	s.mu.Unlock()
}

// wait waits for every instance to stop, as ctx has ended.
func (s *supervisor) wait() error {
	s.mu.Lock()
	names := slices.Collect(maps.Keys(s.running))
	s.mu.Unlock()
	for _, name := range names {
		s.halt(name)
	}
	return errors.Join(s.errs...)
}

// reload applies the file at path as it is now.
func (s *supervisor) reload(path string) {
	cfg, err := keepalived.Load(path)
	if err != nil {
		s.log.Error("reload refused: the file does not check; what runs stays", "file", path, "err", strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	logNotes(s.log, cfg)
	if err := s.notify.fifos.Reload(cfg); err != nil {
		s.log.Error("reload refused: what runs stays", "file", path, "err", err)
		return
	}
	s.notify.scripts.Reload(cfg)
	s.setGroups(cfg)
	var start []*keepalived.Instance
	kept := map[string]bool{}
	for _, in := range cfg.Instances {
		s.mu.Lock()
		r, ok := s.running[in.Name]
		s.mu.Unlock()
		if ok && reflect.DeepEqual(r.made, sameAsOf(cfg, in)) {
			kept[in.Name] = true
			r.inst.scripts.Store(&in.Notify)
			continue
		}
		start = append(start, in)
	}
	s.mu.Lock()
	names := slices.Collect(maps.Keys(s.running))
	s.mu.Unlock()
	for _, name := range names {
		if kept[name] {
			continue
		}
		if !slices.ContainsFunc(cfg.Instances, func(in *keepalived.Instance) bool { return in.Name == name }) {
			s.mu.Lock()
			s.running[name].inst.deleted.Store(true)
			s.mu.Unlock()
		}
		s.log.Info("reload: stopping", "instance", name)
		s.halt(name)
	}
	for _, in := range start {
		instances, err := startInstances(cfg, []*keepalived.Instance{in}, s.log)
		if err != nil {
			s.log.Error("reload: cannot start", "instance", in.Name, "err", err)
			for _, g := range cfg.SyncGroups {
				if slices.Contains(g.Group, in.Name) {
					s.log.Error("reload: vrrp_sync_group stays out of MASTER while a member does not run", "group", g.Name, "instance", in.Name)
				}
			}
			continue
		}
		s.log.Info("reload: starting", "instance", in.Name)
		s.run(cfg, instances[0])
	}
	s.log.Info("reloaded", "file", path, "kept", len(kept), "started", len(start))
}

// A notifier tells of a change of an instance or a group as keepalived
// does: its notify scripts, queued, and a line on each notify FIFO.
type notifier struct {
	scripts *keepalived.NotifyQueue
	fifos   *keepalived.FIFOs
}

func (n *notifier) change(scripts keepalived.Notify, kind, name, state string, priority int) {
	n.scripts.Notify(scripts, kind, name, state, priority)
	n.fifos.Write(kind, name, scripts.State(state), priority)
}

// An instance is a vrrp_instance running.
type instance struct {
	cfg     *keepalived.Instance
	router  *vrrp.Router
	client  *havip.Client
	scripts atomic.Pointer[keepalived.Notify] // cfg's at first; a reload that keeps the instance changes them
	unwatch context.CancelFunc                // stops following its track_files
	deleted atomic.Bool                       // a reload removed it: its stop is told as keepalived tells a deletion
}

// close releases what startInstances made for an instance that did not
// run, or has stopped.
func (in *instance) close() {
	in.unwatch()
	in.client.Close()
	in.router.Close()
}

// startInstances makes the router and the client of each of ins, of cfg,
// or none: an error names the instance and where the file defines it.
func startInstances(cfg *keepalived.Config, ins []*keepalived.Instance, logger *slog.Logger) ([]*instance, error) {
	var out []*instance
	fail := func(in *keepalived.Instance, err error) ([]*instance, error) {
		for _, i := range out {
			i.close()
		}
		return nil, fmt.Errorf("%v: vrrp_instance %s: %w", in.Pos, in.Name, err)
	}
	for _, in := range ins {
		log := logger.With("instance", in.Name)
		rc := in.Router
		rc.Logger = log
		checks, err := cfg.Checks(in, log)
		if err != nil {
			return fail(in, err)
		}
		rc.Checks = checks
		r, err := vipcmd.Options{Router: rc, RealtimePriority: cfg.RealtimePriority}.NewRouter()
		if err != nil {
			return fail(in, err)
		}
		hc := in.HAVIP()
		hc.Logger = log
		c, err := havip.New(hc)
		if err != nil {
			r.Close()
			return fail(in, err)
		}
		watch, unwatch := context.WithCancel(context.Background())
		if err := cfg.WatchFiles(watch, in, r, log); err != nil {
			unwatch()
			c.Close()
			r.Close()
			return fail(in, err)
		}
		inst := &instance{cfg: in, router: r, client: c, unwatch: unwatch}
		inst.scripts.Store(&in.Notify)
		out = append(out, inst)
	}
	return out, nil
}

// notify tells of the transition e, as keepalived names the states.
// An instance a reload removed is told as DELETED rather than STOP, which
// means FAULT unless notify_deleted is set, and nothing if it was in FAULT
// (keepalived's clear_diff_vrrp).
func (in *instance) notify(e vrrp.Event, n *notifier) {
	scripts := *in.scripts.Load()
	state := map[vrrp.State]string{vrrp.Master: "MASTER", vrrp.Backup: "BACKUP", vrrp.Fault: "FAULT", vrrp.Initialize: "STOP"}[e.To]
	if e.To == vrrp.Initialize && in.deleted.Load() {
		if e.From == vrrp.Fault && !scripts.NotifyDeleted {
			return
		}
		state = "DELETED"
	}
	n.change(scripts, "INSTANCE", in.cfg.Name, state, int(in.router.Priority()))
}

// A lockedWriter serializes the writes of the instances' transition lines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
