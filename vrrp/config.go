package vrrp

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/vipkit/vipkit/internal/vmac"
)

// Config describes one virtual router: one VRID on one interface in one
// address family. The zero values of optional fields are keepalived's
// defaults.
type Config struct {
	// Interface is the name of the interface the router speaks on.
	Interface string
	// VRID is the virtual router ID, 1..255 (RFC 5798 §5.2.3).
	VRID uint8
	// Version is 2 or 3; 0 means 3. Version 2 is IPv4 only.
	Version Version
	// Priority is 1..255; 0 means 100. 255 is the address owner, which
	// becomes master at once (RFC 5798 §6.4.1).
	Priority uint8
	// AdvertInterval is the advertisement interval; 0 means 1 s. Version 2
	// takes whole seconds from 1 to 255, version 3 centiseconds from 10 ms
	// to 40.95 s.
	AdvertInterval time.Duration
	// VirtualAddresses are the addresses the router advertises, all of one
	// family. For IPv6 the first SHOULD be the virtual router's link-local
	// address (RFC 5798 §5.2.9): NewRouter logs a warning when it is not.
	// Another router's advertisement must carry the same set, in any
	// order, or it is dropped and counted in Stats.AddressListErrors, as
	// keepalived 2.2 does (RFC 3768 §7.1, RFC 5798 §7.1); see
	// AcceptAddressMismatch.
	VirtualAddresses []netip.Addr
	// AcceptAddressMismatch processes an advertisement whose addresses
	// differ from VirtualAddresses, counting it in Stats.AddressListErrors
	// and logging it (rate-limited), as keepalived does from 2.3.3. Set it
	// on every router of the VRID or on none: a router that drops its
	// peers' advertisements becomes master beside them.
	AcceptAddressMismatch bool
	// OwnerIgnoreAdverts makes the address owner (Priority 255) discard
	// every advertisement it receives while its priority is 255, counted
	// in Stats.OwnerDiscards, as RFC 5798 §6.4.3 has a master do only for
	// lower priorities (keepalived 2.3's owner_ignore_adverts). By default
	// the owner handles them as any master does: of two owners, the one
	// with the lower address becomes backup. Only with Priority 255.
	OwnerIgnoreAdverts bool

	// NoPreempt stops a higher-priority backup from taking over from a
	// lower-priority master (keepalived's nopreempt; RFC 5798 Preempt_Mode
	// false).
	NoPreempt bool
	// PreemptDelay keeps a backup from preempting a lower-priority
	// master for this long after it first hears one since it entered
	// BACKUP: after start, and after a FAULT has cleared, so that a node
	// whose service just came back does not take the address back at
	// once (keepalived's preempt_delay). An advertisement of equal or
	// higher priority cancels the delay; the next lower one starts it
	// again. When it ends the backup preempts at once, where keepalived
	// waits up to a Master_Down_Interval more. Not with NoPreempt.
	PreemptDelay time.Duration
	// QuietStepDown makes a master that hears a higher priority step down
	// at once. By default it first sends one advertisement of its own, as
	// keepalived does with higher_prio_send_advert (which keepalived
	// leaves off by default): after a split brain heals, the winner then
	// hears a lower priority and announces the addresses again, so that
	// neighbours that last heard the loser's gratuitous ARPs come back to
	// the winner.
	QuietStepDown bool
	// DownTimerAdverts is how many advertisement intervals make up
	// Master_Down_Interval before Skew_Time; 0 means 3, the RFC's value
	// (keepalived's down_timer_adverts).
	DownTimerAdverts int

	// AuthPass is the VRRPv2 simple text password, at most 8 bytes
	// (keepalived's auth_type PASS with auth_pass). Empty means none.
	AuthPass string
	// Checksum is the form of the VRRPv3-over-IPv4 checksum sent; 0 means
	// ChecksumPseudoHeader (RFC 5798; keepalived 2.2's default).
	Checksum ChecksumForm
	// AcceptChecksums are the forms accepted on receipt; 0 means both.
	AcceptChecksums ChecksumForm

	// UnicastSource and UnicastPeers switch the router from multicast to
	// unicast (keepalived's unicast_src_ip and unicast_peer): it sends to
	// each peer from UnicastSource, which must be an address of the
	// interface, and hears no one else. UnicastSource may be left zero to
	// use the interface's primary address.
	UnicastSource netip.Addr
	UnicastPeers  []netip.Addr
	// UnicastMinTTL and UnicastMaxTTL bound the TTL or hop limit accepted
	// from unicast peers (keepalived's min_ttl and max_ttl); 0 means no
	// bound. Multicast always requires 255 (RFC 5798 §7.1). keepalived
	// 2.2.7 sends IPv6 unicast advertisements with hop limit 64.
	UnicastMinTTL, UnicastMaxTTL uint8

	// VirtualMAC gives the virtual router its MAC address, 00-00-5E-00-01-
	// {VRID} for IPv4 or 00-00-5E-00-02-{VRID} for IPv6 (RFC 5798 §7.3;
	// keepalived's use_vmac): NewRouter makes a macvlan with it on
	// Interface (removing one a crashed run left), the virtual addresses
	// go on it (Router.AddressInterface) and advertisements leave from
	// it, so that a failover changes no neighbour's ARP or neighbour
	// cache. Run removes it when it returns. It needs CAP_NET_ADMIN, and a
	// network that lets frames from a new MAC through: clouds drop them,
	// which is why it is off by default. Multicast only.
	VirtualMAC bool
	// VirtualMACInterface names the macvlan; empty means vrrp.{VRID} for
	// IPv4 (keepalived's) and vrrp6.{VRID} for IPv6.
	VirtualMACInterface string
	// VirtualMACTransmitBase sends advertisements from Interface's own MAC
	// instead (keepalived's vmac_xmit_base); the virtual addresses stay on
	// the macvlan.
	VirtualMACTransmitBase bool

	// TrackInterfaces are interfaces besides Interface (which is always
	// tracked) whose link going down puts the router in FAULT: it stops
	// advertising and gives up mastership until every one is up again
	// (keepalived's track_interface).
	TrackInterfaces []string
	// WeightedInterfaces are interfaces whose link moves the priority
	// instead (keepalived's track_interface with a weight).
	WeightedInterfaces []WeightedInterface
	// Checks are health checks that move the priority or cause FAULT
	// (keepalived's track_script).
	Checks []Check

	// Logger receives the router's logs; nil means slog.Default().
	Logger *slog.Logger
}

// ErrConfig is wrapped by every error about a bad Config: a *ConfigError.
var ErrConfig = errors.New("vrrp: invalid config")

// A ConfigError is a Config field that Validate or NewRouter refused. It
// wraps ErrConfig, so a program tells a bad configuration from a failure
// of the host with errors.Is, and reads Field with errors.As to say what
// was wrong in its own words (a flag's name, a file's line).
type ConfigError struct {
	// Field is the field's path as it is spelled in Go: "AdvertInterval",
	// "VirtualAddresses[1]", "Checks[0]".
	Field string
	// Reason says what is wrong with the value, naming it: "5ms; VRRPv3
	// takes centiseconds from 10 ms to 40.95 s (RFC 5798 §5.2.7)".
	Reason string
}

func (e *ConfigError) Error() string { return ErrConfig.Error() + ": " + e.Field + ": " + e.Reason }

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

func configError(field, format string, args ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate checks every field of c as NewRouter does, without looking at
// the host (the interface and the unicast source are checked by NewRouter).
// An error wraps ErrConfig and names the field.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults returns c with keepalived's defaults in place of zero
// values, and checks every field. It does not look at the host: Router
// checks the interface and the unicast source there.
func (c Config) withDefaults() (Config, error) {
	if c.Version == 0 {
		c.Version = Version3
	}
	if c.Priority == 0 {
		c.Priority = 100
	}
	if c.AdvertInterval == 0 {
		c.AdvertInterval = time.Second
	}
	if c.DownTimerAdverts == 0 {
		c.DownTimerAdverts = 3
	}
	if c.Checksum == 0 {
		c.Checksum = ChecksumPseudoHeader
	}
	if c.AcceptChecksums == 0 {
		c.AcceptChecksums = ChecksumPseudoHeader | ChecksumMessageOnly
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}

	switch {
	case c.Interface == "":
		return c, configError("Interface", "empty")
	case c.VRID == 0:
		return c, configError("VRID", "0; a virtual router ID is 1..255 (RFC 5798 §5.2.3)")
	}
	// What the state machine needs, checked as NewMachine checks it.
	if err := c.machineConfig(netip.Addr{}).validate(); err != nil {
		return c, err
	}
	switch {
	case c.Checksum != ChecksumPseudoHeader && c.Checksum != ChecksumMessageOnly:
		return c, configError("Checksum", "%v; choose one form to send", c.Checksum)
	case c.AcceptChecksums&^(ChecksumPseudoHeader|ChecksumMessageOnly) != 0:
		return c, configError("AcceptChecksums", "%v has unknown forms", c.AcceptChecksums)
	case len(c.VirtualAddresses) == 0:
		return c, configError("VirtualAddresses", "none; a virtual router needs at least one")
	case len(c.VirtualAddresses) > 255:
		return c, configError("VirtualAddresses", "%d; at most 255 fit an advertisement", len(c.VirtualAddresses))
	case c.OwnerIgnoreAdverts && c.Priority != 255:
		return c, configError("OwnerIgnoreAdverts", "set, but Priority is %d; only the address owner (255) ignores advertisements", c.Priority)
	case c.NoPreempt && c.PreemptDelay > 0:
		return c, configError("PreemptDelay", "%v, but NoPreempt is set: a router that never preempts has nothing to delay", c.PreemptDelay)
	case !c.VirtualMAC && (c.VirtualMACInterface != "" || c.VirtualMACTransmitBase):
		return c, configError("VirtualMAC", "not set, but VirtualMACInterface or VirtualMACTransmitBase is")
	case c.VirtualMAC && len(c.UnicastPeers) > 0:
		return c, configError("VirtualMAC", "with UnicastPeers; unicast VRRP is for networks without multicast, which drop frames from a virtual MAC too")
	case len(c.VirtualMACInterface) > 15:
		return c, configError("VirtualMACInterface", "%q is longer than the 15 bytes Linux allows", c.VirtualMACInterface)
	case c.UnicastMinTTL != 0 && c.UnicastMaxTTL != 0 && c.UnicastMinTTL > c.UnicastMaxTTL:
		return c, configError("UnicastMinTTL", "%d is above UnicastMaxTTL %d", c.UnicastMinTTL, c.UnicastMaxTTL)
	}
	switch {
	case c.Version == Version2 && len(c.AuthPass) > authDataLen:
		return c, configError("AuthPass", "%d bytes; at most %d", len(c.AuthPass), authDataLen)
	case c.Version == Version3 && c.AuthPass != "":
		return c, configError("AuthPass", "VRRPv3 has no authentication (RFC 5798 §9)")
	}

	ipv6 := c.VirtualAddresses[0].Is6()
	if ipv6 && c.Version == Version2 {
		return c, configError("VirtualAddresses", "%v is IPv6; VRRPv2 is IPv4 only (RFC 3768)", c.VirtualAddresses[0])
	}
	for i, a := range c.VirtualAddresses {
		field := fmt.Sprintf("VirtualAddresses[%d]", i)
		if err := checkAddr(field, a, ipv6); err != nil {
			return c, err
		}
		if j := slices.Index(c.VirtualAddresses, a); j < i {
			return c, configError(field, "%v is VirtualAddresses[%d] too", a, j)
		}
	}
	if c.UnicastSource.IsValid() {
		if err := checkAddr("UnicastSource", c.UnicastSource, ipv6); err != nil {
			return c, err
		}
		if c.Priority != 255 && slices.Contains(c.VirtualAddresses, c.UnicastSource) {
			return c, configError("UnicastSource", "%v is a virtual address, which comes and goes with mastership; only the owner (priority 255) sends from its virtual address", c.UnicastSource)
		}
	}
	for i, p := range c.UnicastPeers {
		if err := checkAddr(fmt.Sprintf("UnicastPeers[%d]", i), p, ipv6); err != nil {
			return c, err
		}
	}
	// The router keeps copies: a caller's later change to a slice must not
	// reach it.
	c.VirtualAddresses = slices.Clone(c.VirtualAddresses)
	c.UnicastPeers = slices.Clone(c.UnicastPeers)
	c.TrackInterfaces = slices.Clone(c.TrackInterfaces)
	c.WeightedInterfaces = slices.Clone(c.WeightedInterfaces)
	c.Checks = slices.Clone(c.Checks)
	for i := range c.Checks {
		var err error
		if c.Checks[i], err = c.Checks[i].withDefaults(i); err != nil {
			return c, err
		}
	}
	for i, name := range c.TrackInterfaces {
		if name == "" {
			return c, configError(fmt.Sprintf("TrackInterfaces[%d]", i), "empty")
		}
	}
	for i, wi := range c.WeightedInterfaces {
		field := fmt.Sprintf("WeightedInterfaces[%d]", i)
		switch {
		case wi.Name == "":
			return c, configError(field, "empty")
		case wi.Name == c.Interface || slices.Contains(c.TrackInterfaces, wi.Name):
			return c, configError(field, "%s: tracked already, without a weight", wi.Name)
		case wi.Weight == 0 || wi.Weight < -253 || wi.Weight > 253:
			return c, configError(field, "%s: Weight %d outside -253..253 but 0 (TrackInterfaces has no weight)", wi.Name, wi.Weight)
		}
	}
	if c.UnicastSource.IsValid() && len(c.UnicastPeers) == 0 {
		return c, configError("UnicastPeers", "none, but UnicastSource is set; unicast needs at least one peer")
	}
	return c, nil
}

// checkInterval refuses an advertisement interval that version v cannot
// carry.
func checkInterval(v Version, d time.Duration) error {
	if v == Version2 {
		if d%time.Second != 0 || d < time.Second || d > 255*time.Second {
			return configError("AdvertInterval", "%v; VRRPv2 takes whole seconds from 1 s to 255 s (RFC 3768 §5.3.7)", d)
		}
	} else if d%(10*time.Millisecond) != 0 || d < 10*time.Millisecond || d > 4095*10*time.Millisecond {
		return configError("AdvertInterval", "%v; VRRPv3 takes centiseconds from 10 ms to 40.95 s (RFC 5798 §5.2.7)", d)
	}
	return nil
}

// checkAddr reports whether a, the value of field, can be a router's or
// a virtual address of a router of the family ipv6 says.
func checkAddr(field string, a netip.Addr, ipv6 bool) error {
	if why := addrProblem(a, ipv6); why != "" {
		return configError(field, "%v: %s", a, why)
	}
	return nil
}

// addrProblem says why a cannot be a router's or a virtual address of a
// router of the family ipv6 says, or returns "".
func addrProblem(a netip.Addr, ipv6 bool) string {
	switch {
	case !a.IsValid():
		return "no address"
	case a.Is4In6():
		return "IPv4-mapped; write it as IPv4"
	case a.IsUnspecified(), a.IsMulticast(), a.IsLoopback():
		return "not a unicast address"
	case a.Zone() != "":
		return "has a zone; the interface is Config.Interface"
	case a.Is6() != ipv6:
		return "not of the family of VirtualAddresses[0]"
	}
	return ""
}

// machineConfig is what c's state machine needs, primary being the
// router's primary address.
func (c *Config) machineConfig(primary netip.Addr) MachineConfig {
	return MachineConfig{
		Version:          c.Version,
		Priority:         c.Priority,
		AdvertInterval:   c.AdvertInterval,
		Preempt:          !c.NoPreempt,
		PreemptDelay:     c.PreemptDelay,
		QuietStepDown:    c.QuietStepDown,
		DownTimerAdverts: c.DownTimerAdverts,
		Primary:          primary,
	}
}

// AddressInterface returns the name of the interface the virtual
// addresses go on: with VirtualMAC the macvlan (VirtualMACInterface, or
// its default), else Interface.
func (c *Config) AddressInterface() string {
	switch {
	case !c.VirtualMAC:
		return c.Interface
	case c.VirtualMACInterface != "":
		return c.VirtualMACInterface
	}
	return vmac.DefaultName(c.VRID, len(c.VirtualAddresses) > 0 && c.ipv6())
}

// ipv6 reports whether c is an IPv6 virtual router.
func (c *Config) ipv6() bool { return c.VirtualAddresses[0].Is6() }

// unicast reports whether c sends to peers instead of the multicast group.
func (c *Config) unicast() bool { return len(c.UnicastPeers) > 0 }

// A WeightedInterface is an interface whose link moves the router's
// priority rather than putting it in FAULT, as keepalived's track_interface
// with a weight: Weight, -253..253 but 0, is added to the priority while
// the link is up if it is positive, while it is down if negative; Reverse
// subtracts it instead (keepalived's weight_multiplier -1).
type WeightedInterface struct {
	Name    string
	Weight  int
	Reverse bool
}

// delta is what wi adds to the priority while its link is up, or down.
func (wi WeightedInterface) delta(up bool) int {
	if (wi.Weight > 0) != up {
		return 0
	}
	if wi.Reverse {
		return -wi.Weight
	}
	return wi.Weight
}
