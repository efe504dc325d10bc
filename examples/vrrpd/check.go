package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/vipkit/vipkit/keepalived"
)

// checkFile checks the keepalived.conf at path as keepalived -t does: it
// writes what vrrpd would run (each vrrp_instance, vrrp_script and
// vrrp_sync_group) and what it does not honour (the notes) on out, or
// every line it refuses on errOut, and returns the exit status: 0 when the
// file checks, 1 when it does not.
func checkFile(path string, out, errOut io.Writer) int {
	cfg, err := keepalived.Load(path)
	if err != nil {
		return refused(path, err, errOut)
	}
	for _, in := range cfg.Instances {
		fmt.Fprintf(out, "vrrp_instance %s (%v): %s\n", in.Name, in.Pos, describe(in))
	}
	for _, s := range cfg.Scripts {
		fmt.Fprintf(out, "vrrp_script %s (%v): %q every %v, weight %d, rise %d, fall %d\n",
			s.Name, s.Pos, s.Command, s.Interval, s.Weight, s.Rise, s.Fall)
	}
	for _, g := range cfg.SyncGroups {
		fmt.Fprintf(out, "vrrp_sync_group %s (%v): %s\n", g.Name, g.Pos, strings.Join(g.Group, " "))
	}
	for _, n := range cfg.Notes {
		fmt.Fprintf(out, "note: %v\n", n)
	}
	fmt.Fprintf(out, "%s checks: %d vrrp_instance, %d notes\n", path, len(cfg.Instances), len(cfg.Notes))
	return 0
}

// refused writes each line of err, an error of keepalived.Load, on errOut
// and returns exit status 1.
func refused(path string, err error, errOut io.Writer) int {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(errOut, "vrrpd: %s\n", line)
	}
	if errors.As(err, new(*keepalived.Error)) {
		fmt.Fprintf(errOut, "vrrpd: %s does not check\n", path)
	}
	return 1
}

// describe says in one line what an instance runs.
func describe(in *keepalived.Instance) string {
	r := in.Router
	parts := []string{fmt.Sprintf("%s VRID %d %v priority %d every %v", r.Interface, r.VRID, r.Version, r.Priority, r.AdvertInterval)}
	if len(r.UnicastPeers) > 0 {
		parts = append(parts, fmt.Sprintf("unicast from %v to %v", r.UnicastSource, r.UnicastPeers))
	}
	addrs := make([]string, len(in.Addresses))
	for i, p := range in.Addresses {
		addrs[i] = p.String()
	}
	parts = append(parts, "addresses "+strings.Join(addrs, " "))
	if r.NoPreempt {
		parts = append(parts, "nopreempt")
	}
	if r.PreemptDelay > 0 {
		parts = append(parts, fmt.Sprintf("preempt_delay %v", r.PreemptDelay))
	}
	if r.AuthPass != "" {
		parts = append(parts, "auth PASS")
	}
	if r.VirtualMAC {
		parts = append(parts, "virtual MAC on "+in.HAVIP().Interface)
	}
	if len(r.TrackInterfaces) > 0 {
		parts = append(parts, "tracks "+strings.Join(r.TrackInterfaces, " "))
	}
	for _, wi := range r.WeightedInterfaces {
		rev := ""
		if wi.Reverse {
			rev = " reverse"
		}
		parts = append(parts, fmt.Sprintf("tracks %s weight %d%s", wi.Name, wi.Weight, rev))
	}
	for _, t := range in.TrackFiles {
		parts = append(parts, "track_file "+t.Name)
	}
	for _, t := range in.TrackScripts {
		parts = append(parts, "track_script "+t.Name)
	}
	return strings.Join(parts, ", ")
}
