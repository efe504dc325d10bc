// Package havip makes a virtual IP address really move when a node becomes
// master, and really leave when it stops being master: on the host, in
// every neighbour's ARP or neighbour cache, and in a cloud's network.
//
// A [Client] follows "you are master / you are not" from a [vrrp.Router]
// ([Client.Follow]) or from any other source ([Client.SetMaster]). On
// master it adds the addresses to the interface (netlink), announces them
// with gratuitous ARP and unsolicited neighbour advertisements (package
// garp) in keepalived's rhythm (a burst at once, a second burst after
// garp_master_delay, then one every garp_master_refresh), adds back an
// address someone removed, and has a [Binder] claim them from the cloud
// where ARP alone does not move them. On backup, fault or stop it removes
// those it added (not one that was on the interface already, as keepalived
// leaves an address it did not set) and cancels any claim in flight. At
// start it removes addresses a crashed earlier run left behind, whatever
// their prefix length, unless they are the interface's own (Config.Owner).
//
// Each period of mastership is a term: becoming master begins one, losing
// mastership ends it, and what runs for it (bursts, claims) ends with it.
// Every change SetMaster is told counts, also one Run had no time to see:
// a master told "not master" and then "master" again ends its term and
// begins a new one (announcements at once and on the rhythm, a new claim,
// the addresses checked), keeping on the interface the addresses it would
// add straight back.
//
// Holding the addresses is part of being master. When one cannot be added
// (a netlink error) or the Binder fails, the Client reports it to the
// router it follows ([vrrp.Router.Report]): the router goes to FAULT, or
// with Config.FailureWeight lowers its priority, so that a peer that can
// hold them takes over. The failure stands for Config.FailureHold unless
// an add or a claim succeeds first, or the interface is made again.
//
// Two masters, as on both sides of a partition of VRRP, would each take the
// addresses back from the cloud every ReassertInterval, and each move cuts
// every connection to them. A Binder that is a [Reasserter] tells such a
// contest apart ([ErrContested]): the Client then leaves the addresses to
// the other master, logs it once, counts it in Status.Contested, and claims
// them back only after a backoff, or at once when it hears a lower priority
// ([Client.Reannounce]: the other master is stepping down). A contest is no
// failure to hold the addresses: it never puts the router in FAULT, which
// during a partition would leave nobody master.
//
// On a LAN announcing is enough: switches and neighbours learn the new
// owner from the gratuitous ARP. In a cloud VPC the network is software
// (an SDN) that decides itself where an address is delivered. Some clouds
// offer a floating address that their SDN re-binds to whichever server of
// its subnet announces it by ARP (Tencent Cloud's HAVIP), so announcing is
// enough there too; an ordinary private IP ignores ARP and moves only
// through the cloud's API. A [Binder] (havip/tencentcloud is one) calls
// that API off the announcement path, and carries its cloud's rules: a
// Binder that is also an [AddressChecker] refuses, at construction, an
// address its cloud could never deliver here.
//
// The address owner of RFC 5798 (priority 255, the virtual address is the
// interface's own) is Config.Owner: its addresses are announced while
// master and left on the interface when it stops.
package havip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// A Host owns addresses on one interface. OpenHost returns the Linux one;
// tests inject their own.
type Host interface {
	// Interface returns the interface as it is now. OpenHost's follows
	// it by name: once the interface was deleted and made again, this is
	// the new one (index, MAC address), and WatchRemoved has reported the
	// zero Prefix, so that a master adds its addresses there.
	Interface() *net.Interface
	// Add adds p to the interface; adding an address that is there is not
	// an error.
	Add(p netip.Prefix) error
	// Remove removes p; removing an address that is not there is not an
	// error.
	Remove(p netip.Prefix) error
	// Addresses lists the interface's addresses.
	Addresses() ([]netip.Prefix, error)
	// WatchRemoved calls removed for each address removed from the
	// interface, until ctx ends; the zero Prefix means "events were lost".
	WatchRemoved(ctx context.Context, removed func(netip.Prefix))
	Close() error
}

// An Announcer sends bursts of gratuitous ARP and unsolicited neighbour
// advertisements. *garp.Sender is one.
type Announcer interface {
	BurstN(ctx context.Context, rounds int, addrs ...netip.Addr) error
	Close() error
}

// A Binder tells a cloud's network that the addresses now belong to this
// node, where announcing them is not enough.
type Binder interface {
	// Claim makes the cloud deliver addrs to this node. The Client calls
	// it when the node becomes master, again every ReassertInterval while
	// it stays master (a Reasserter's Reassert, once a claim succeeded),
	// and at once when it hears a lower priority, never on the
	// announcement path, and cancels ctx the moment mastership is lost: a
	// late claim must never move the addresses to a node that is no
	// longer master. Claim retries
	// transient errors itself until ctx ends and returns a fatal one at
	// once. An error wrapping ErrNotBound says that the cloud has not
	// (yet) taken the announcement: the Client announces again and claims
	// again after a second.
	Claim(ctx context.Context, addrs []netip.Addr) error
}

// A Reasserter is a Binder that can tell, when it claims the addresses
// again, that another node took them since: a contest, as between two
// masters on both sides of a partition of VRRP.
//
// The Client claims with Claim when a term of mastership begins, after a
// contest, and when it hears a lower priority; once a claim of the term
// has succeeded, it calls Reassert every ReassertInterval instead.
// Reassert does what Claim does, with the same rules about ctx and errors,
// but it leaves an address that another node holds where it is and returns
// an error wrapping ErrContested: this node held it at its last claim, so
// another took it since.
type Reasserter interface {
	Binder
	Reassert(ctx context.Context, addrs []netip.Addr) error
}

// An AddressChecker is a Binder with rules of its cloud about the addresses
// it can claim, as "an HAVIP belongs to one subnet". NewWith calls
// CheckAddress for each configured address with the interface's own
// addresses, the virtual ones aside, and refuses the configuration with the
// error as the reason.
type AddressChecker interface {
	CheckAddress(vip netip.Addr, iface string, own []netip.Prefix) error
}

// ErrNotBound is wrapped by a Binder's error when the cloud does not yet
// deliver the addresses to this node although they were announced, as
// when an HAVIP's SDN missed the gratuitous ARP.
var ErrNotBound = errors.New("havip: the cloud does not deliver the address here")

// ErrContested is wrapped by a Reasserter's error when another node took
// the addresses after this node's last claim: the Client leaves them to it
// for a while (see Config.ReassertInterval) and does not count it as a
// failure to hold them.
var ErrContested = errors.New("havip: another node took the address")

// Announce is when a master announces its addresses, as keepalived's
// garp_master_* settings say.
type Announce struct {
	// Repeat is the number of frames per address in the first burst and
	// in the delayed one (garp_master_repeat); at least 1.
	Repeat int
	// Interval spaces the frames of a burst (garp_interval).
	Interval time.Duration
	// Delay is when the second burst follows the first
	// (garp_master_delay); 0 means no second burst.
	Delay time.Duration
	// Refresh is the period of announcements while master
	// (garp_master_refresh); 0 means none.
	Refresh time.Duration
	// RefreshRepeat is the number of frames per address of each refresh
	// (garp_master_refresh_repeat); at least 1 when Refresh is set.
	RefreshRepeat int
	// LowerPriorityRepeat is the number of frames per address a master
	// sends when it hears a lower priority, another router that believed
	// itself master (garp_lower_prio_repeat); 0 means Repeat, as in
	// keepalived, and -1 none.
	LowerPriorityRepeat int
	// LowerPriorityDelay is when a second such burst follows
	// (garp_lower_prio_delay); 0 means Delay, as in keepalived, and a
	// negative value none.
	LowerPriorityDelay time.Duration
}

// lowerPriorityHold is the least time between two answers to a lower
// priority (a burst, a claim) while requests keep coming (see
// Client.Reannounce): more within it are counted in Status.ReannouncesHeld
// and answered by the one under way, so that a stranger's flood of lower
// priorities cannot become a flood of bursts or of calls to the cloud.
const lowerPriorityHold = time.Second

// KeepalivedAnnounce is keepalived's default rhythm: five frames at once,
// five more after 5 s, no refresh.
var KeepalivedAnnounce = Announce{Repeat: 5, Delay: 5 * time.Second, RefreshRepeat: 1}

// Config describes the addresses a Client owns while master.
type Config struct {
	// Interface is the interface that carries the addresses.
	Interface string
	// Addresses are the virtual addresses, each with the prefix length it
	// gets on the interface (/32 or /128 for a bare address in keepalived).
	// Link-local addresses are not supported yet.
	Addresses []netip.Prefix
	// Owner says that the addresses are the interface's own: this node is
	// the address owner of RFC 5798 §1 (priority 255). The client then
	// leaves them on the interface at start and whenever it stops being
	// master, as keepalived does for an address it did not add; it still
	// announces them while master, and adds any that is missing (removing
	// only those it added).
	Owner bool
	// Label labels the IPv4 addresses on the interface (keepalived's
	// label), e.g. "eth0:vip"; empty means none.
	Label string
	// Announce is the announcement rhythm; nil means KeepalivedAnnounce.
	Announce *Announce
	// Binder, if set, claims the addresses from the cloud while master.
	Binder Binder
	// ReassertInterval is how often the Binder claims again while master;
	// 0 means 30 s. After a contest (ErrContested) the client waits twice
	// as long before it claims the addresses back, and twice as long
	// again after each further contest of the term, up to four times
	// ReassertInterval; a lower priority heard claims them back at once.
	ReassertInterval time.Duration
	// FailureWeight says what a master does that cannot hold the
	// addresses, because one could not be added to the interface or the
	// Binder returned an error: a master that holds nothing must not stay
	// master. 0 puts the router Follow follows in FAULT, so that a backup
	// takes over (vrrp.Router.Report); a negative weight, -253..-1, lowers
	// its priority by that much instead, so that a peer that can hold the
	// addresses wins while a node alone stays master and keeps trying.
	FailureWeight int
	// FailureHold is how long a failure to hold the addresses stands, when
	// no add or claim succeeds meanwhile, before it is cleared and the node
	// may try again as master; 0 means 10 s.
	FailureHold time.Duration
	// Logger receives the client's logs; nil means slog.Default().
	Logger *slog.Logger
}

// ErrConfig is wrapped by every error about a bad Config: a *ConfigError.
var ErrConfig = errors.New("havip: invalid config")

// A ConfigError is a Config field that New or NewWith refused. It wraps
// ErrConfig; a program reads Field with errors.As to say what was wrong in
// its own words.
type ConfigError struct {
	// Field is the field's path as it is spelled in Go: "Addresses[1]",
	// "Announce.Repeat".
	Field string
	// Reason says what is wrong with the value, naming it.
	Reason string
}

func (e *ConfigError) Error() string { return ErrConfig.Error() + ": " + e.Field + ": " + e.Reason }

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

func configError(field, format string, args ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate checks every field of c as New does, without the host: the
// interface, and the addresses against a Binder's AddressChecker, are
// checked by New and NewWith. An error is a *ConfigError.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults fills in defaults and checks every field but those that
// need the host (the interface, and a Binder's AddressChecker).
func (c Config) withDefaults() (Config, error) {
	if c.Announce == nil {
		a := KeepalivedAnnounce
		c.Announce = &a
	} else {
		a := *c.Announce
		c.Announce = &a
	}
	if c.ReassertInterval == 0 {
		c.ReassertInterval = 30 * time.Second
	}
	if c.FailureHold == 0 {
		c.FailureHold = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	a := c.Announce
	if a.LowerPriorityRepeat == 0 {
		a.LowerPriorityRepeat = a.Repeat
	}
	if a.LowerPriorityDelay == 0 {
		a.LowerPriorityDelay = a.Delay
	}
	switch {
	case c.Interface == "":
		return c, configError("Interface", "empty")
	case len(c.Addresses) == 0:
		return c, configError("Addresses", "none")
	case a.Repeat < 1:
		return c, configError("Announce.Repeat", "%d; at least 1", a.Repeat)
	case a.Interval < 0:
		return c, configError("Announce.Interval", "%v is negative", a.Interval)
	case a.Delay < 0:
		return c, configError("Announce.Delay", "%v is negative", a.Delay)
	case a.Refresh < 0:
		return c, configError("Announce.Refresh", "%v is negative", a.Refresh)
	case a.Refresh > 0 && a.RefreshRepeat < 1:
		return c, configError("Announce.RefreshRepeat", "%d; at least 1 with Refresh", a.RefreshRepeat)
	case a.LowerPriorityRepeat < -1:
		return c, configError("Announce.LowerPriorityRepeat", "%d; at least 1, 0 for Repeat, or -1 for none", a.LowerPriorityRepeat)
	case c.ReassertInterval < 0:
		return c, configError("ReassertInterval", "%v is negative", c.ReassertInterval)
	case c.FailureWeight < -253 || c.FailureWeight > 0:
		return c, configError("FailureWeight", "%d outside -253..0", c.FailureWeight)
	case c.FailureHold < 0:
		return c, configError("FailureHold", "%v is negative", c.FailureHold)
	case len(c.Label) > 15:
		return c, configError("Label", "%q is longer than the 15 bytes Linux allows", c.Label)
	}
	c.Addresses = append([]netip.Prefix(nil), c.Addresses...)
	for i, p := range c.Addresses {
		a := p.Addr()
		field := fmt.Sprintf("Addresses[%d]", i)
		switch {
		case !p.IsValid() || a.Is4In6() || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() || a.IsLoopback():
			return c, configError(field, "%v is not a unicast address a virtual IP can be", p)
		}
	}
	return c, nil
}

// checkAddresses asks the Binder, if it is an AddressChecker, whether its
// cloud can deliver each address here, given the host's own addresses (the
// virtual ones aside).
func (c *Config) checkAddresses(host Host) error {
	checker, ok := c.Binder.(AddressChecker)
	if !ok || c.Owner {
		return nil // an owner's addresses are the interface's own: delivered here already
	}
	all, err := host.Addresses()
	if err != nil {
		return err
	}
	var own []netip.Prefix
	for _, p := range all {
		if !c.isVirtual(p.Addr()) {
			own = append(own, p)
		}
	}
	for i, vip := range c.Addresses {
		if err := checker.CheckAddress(vip.Addr(), c.Interface, own); err != nil {
			return configError(fmt.Sprintf("Addresses[%d]", i), "%v", err)
		}
	}
	return nil
}

// isVirtual reports whether a is one of the virtual addresses.
func (c *Config) isVirtual(a netip.Addr) bool {
	for _, p := range c.Addresses {
		if p.Addr() == a {
			return true
		}
	}
	return false
}
