// Package vrrp speaks the Virtual Router Redundancy Protocol: version 2
// (RFC 3768) over IPv4, and version 3 (RFC 5798, RFC 9568) over IPv4 and
// IPv6, to the multicast group or to unicast peers. It elects the master of
// a virtual router and reports it. It does not touch addresses, ARP or MAC
// addresses: package [github.com/vipkit/vipkit/havip] does that on the
// events a Router publishes.
//
// # Router and Machine
//
// A [Router] is one virtual router: one VRID on one interface in one address
// family. It runs the state machine of RFC 5798 §6 with real time over a raw
// IP socket. All Routers of the process on one interface and family share
// that socket, and each VRID may run there only once. A Router tells each
// subscriber of every transition, in order.
//
//	r, err := vrrp.NewRouter(vrrp.Config{
//		Interface:        "eth0",
//		VRID:             51,
//		Priority:         150,
//		VirtualAddresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")},
//	})
//	if err != nil {
//		return err
//	}
//	go func() {
//		for e := range r.Subscribe(ctx) {
//			log.Printf("%v → %v (%v)", e.From, e.To, e.Reason)
//		}
//	}()
//	return r.Run(ctx) // when ctx ends, a master sends priority 0 and Run returns nil
//
// The source address is Config.UnicastSource if set, else the first IPv4
// address of the interface, or for IPv6 its link-local address (a global
// one when every unicast peer is global), never a virtual address but the
// owner's. That address also breaks ties between equal priorities. A
// Router made by NewRouter follows the interface's addresses: when its
// source goes it picks another, and with none (or without UnicastSource)
// it is in [Fault], saying why, until one comes. A master none of whose
// advertisements leaves for a Master_Down_Interval goes to Fault too, until
// the host changes or 10 s pass: never a master that cannot advertise.
//
// A [Machine] is the state machine alone. It does no I/O and has no clock of
// its own: every input carries the current time, the caller calls
// [Machine.Expire] at [Machine.Deadline], and the [Actions] it returns say
// what to send and what to report. A Router drives one; tests drive one with
// a fake clock; a program may drive one over a transport of its own, after
// the receive checks of RFC 5798 §7.1 ([Advertisement.Decode] does those of
// the message). [NewMachine] validates its [MachineConfig] and returns an
// error. A Machine is not safe for concurrent use.
//
// # Goroutines
//
//   - A Router's protocol runs in turns, one at a time, under a lock of
//     its own: a received advertisement, a timer, a health change. [Router.Run]
//     starts it (Startup), waits for its context or Close, and stops it
//     (Shutdown); it runs no loop of its own.
//   - One scheduler goroutine per interface, family and network namespace
//     runs the timers (Adver_Timer, Master_Down_Timer) of every Router
//     there from a heap of absolute deadlines, while any is pending. Each
//     time it wakes it fires every timer due and every Adver_Timer due
//     within a tenth of its interval, and their advertisements leave in one
//     sendmmsg(2). The Adver_Timer keeps its cadence. After
//     [SetRealtimePriority] it runs on a thread of its own under SCHED_RR,
//     so that the kernel does not preempt it in the middle of a batch.
//   - One reader goroutine per interface, family and network namespace,
//     started by the first NewRouter there, reads the shared socket and
//     hands each message straight to the Router of its VRID, which handles
//     it before the next is read: no queue, no copy. What arrives for a
//     Router that is not running is dropped. A message for a VRID that no
//     Router runs, or too short to carry one, is counted once for the
//     interface; every Router there shows that count in the VRIDErrors (or
//     LengthErrors) of its [Stats].
//   - Each [Check] runs on a goroutine of its own, its context ending at its
//     Timeout. It is never called while the Router's state is locked.
//     What the Router cannot observe itself, another part of the program
//     reports with [Router.Report], as package havip reports whether it
//     could hold the addresses.
//   - One rtnetlink monitor per network namespace, shared by every Router
//     and every havip host of the process there, lists the links and
//     addresses once and keeps them from the link and address events it
//     reads on a goroutine of its own (two sockets in all); it hands each
//     event to every Router's link watch: the links of Config.Interface,
//     Config.TrackInterfaces and Config.WeightedInterfaces, by name, and
//     the addresses of Config.Interface. An interface deleted is a FAULT;
//     made again (a new index), the Router opens, or shares, a socket of
//     the new one and leaves FAULT.
//   - [Router.Subscribe] delivers on a goroutine that runs only while
//     events wait, at most 256 of them: then the oldest are dropped and
//     counted (Stats.EventsDropped). Publishing an event never waits for a
//     subscriber, so a slow subscriber never delays the protocol.
//
// All methods of Router are safe for concurrent use. [Router.Config]
// returns a copy, with its slices cloned.
//
// [Router.Close] is idempotent and safe from any goroutine. It stops the
// router as the end of Run's context does (a master sends priority 0),
// waits until Run has returned and released the socket, and never waits for
// user code: Run does not wait for a Check func that ignores its context. A
// Router that never ran is released at once. Run after Close returns
// [ErrClosed]; a second Run returns [ErrRunning].
//
// # Privileges and namespaces
//
// NewRouter opens a raw socket of IP protocol 112, which needs CAP_NET_RAW,
// and rtnetlink sockets for the link watch, which need no capability. It
// works in the network namespace of the calling OS thread: the interface,
// its addresses, the sockets and the link watch are that namespace's. A
// program that entered a namespace (runtime.LockOSThread, then setns) calls
// NewRouter on that thread; Run may then run on any thread. [NewRouterConn]
// runs over an injected [Conn] and needs no privilege: it looks nothing up
// on the host and refuses TrackInterfaces and WeightedInterfaces. Raw
// sockets and the link watch are Linux only.
//
// # Configuration errors
//
// [Config.Validate] and [NewRouter] refuse every bad field with a
// *[ConfigError]: Field names it as Go spells it ("VirtualAddresses[1]",
// "Checks[0]") and Reason says what is wrong. It wraps [ErrConfig], so
// errors.Is(err, ErrConfig) tells a bad configuration from a failure of the
// host. NewRouter also refuses, the same way, what only the host can tell: a
// missing interface or tracked interface, a UnicastSource that is not an
// address of the interface, a VRID another Router of the process runs there.
//
// # Conformance
//
// Section numbers are RFC 5798's; RFC 9568 keeps them and says Active where
// RFC 5798 says Master. Tests are in this package.
//
//	Clause          What the code does                           Tests
//	RFC 5798 §5.1.1 IPv4: protocol 112, TTL 255, to 224.0.0.18   TestRouterBadInput
//	                from the first address; a multicast packet   TestLANCraftedPackets
//	                with TTL ≠ 255 is dropped                    TestKeepalivedInterop
//	§5.1.2          IPv6: next header 112, hop limit 255, to     TestLANElectionFailoverHandover
//	                ff02::12 from the link-local address         TestKeepalivedInterop
//	§5.2.1–§5.2.4   version, type 1 (others dropped), VRID       TestWireLayout, TestRoundTrip
//	                1..255, priority (0 steps down, 255 owner)   TestDecodeMalformed
//	§5.2.5          count; the length must match it exactly.     TestDecodeMalformed
//	                Partly: a count of 0 is accepted
//	§5.2.6          reserved bits sent as 0, ignored on receipt  TestDecodeIgnoresReserved
//	§5.2.7          Max Adver Int in centiseconds, 10 ms to      TestWireLayout, TestEncodeInvalid
//	                40.95 s; 0 is dropped                        TestConfigRefused
//	§5.2.8          checksum; IPv6 with the RFC 8200 §8.1        TestChecksumForms
//	                pseudo-header; IPv4: see Deviations          TestTcpdumpConformance
//	                                                             TestTsharkDecodesEncoder
//	§5.2.9          addresses of one family, the packet's        TestDecodeMalformed, TestEncodeInvalid
//	§6.1            Skew_Time, Master_Down_Interval, the         TestMachineIntervals
//	                master's interval learned, Preempt_Mode      TestMachineRFC5798
//	                (default true; Config.NoPreempt)             TestLANElectionFailoverHandover
//	§6.4.1          the owner (priority 255) advertises and      TestMachineRFC5798/6.4.1_*
//	                becomes master; others become backup
//	§6.4.2          Backup: Master_Down_Timer → master;          TestMachineRFC5798/6.4.2_*
//	                priority 0 → Skew_Time; follow or preempt;   TestLANPreemptAndNoPreempt
//	                Shutdown → Initialize
//	§6.4.3          Master: Adver_Timer; priority 0 answered;    TestMachineRFC5798/6.4.3_*
//	                a higher priority, or an equal one from a    TestRouterClose
//	                higher address, → backup; Shutdown sends     TestKeepalivedInterop
//	                priority 0
//	§7.1            TTL, version, whole packet, checksum, VRID,  TestRouterBadInput
//	                interface; a failure is dropped and counted  TestLANCraftedPackets
//	§7.2            fields, checksum, source address, protocol   TestWireLayout
//	                112, to the group or to each unicast peer    TestRouterKeepsItsConfig
//	§9              no authentication in version 3               TestConfigRefused
//	RFC 3768 §5.3   v2: auth type, interval in whole seconds     TestWireLayout
//	                1..255, auth data, checksum of the message   TestTcpdumpConformance
//	RFC 3768 §6.1   Skew_Time (256 − Priority)/256 s; a backup   TestMachineVersion2
//	                keeps its own interval
//	RFC 3768 §7.1   interval, auth type and password must match  TestRouterVersion2AuthAndInterval
//	RFC 6527 §4     Stats: transitions and their reason,         TestRouterBadInput
//	                adverts, priority 0, one counter per error   TestRouterElectionAndHandover
//
// [Stats] follows the MIB's counters but is not the MIB: VRIDErrors is per
// Router, IntervalErrors counts only version 2 mismatches and 0, and there is
// no SNMP agent. Interoperation is tested with keepalived 2.2 in every mode
// both speak (TestKeepalivedInterop, TestKeepalivedAddressList), and with
// FRR 8.4's vrrpd in VRRPv2 and VRRPv3 over IPv4 and IPv6, with and without
// the virtual MAC (TestFRRInterop).
//
// # Deviations
//
//   - The virtual MAC (RFC 5798 §7.2, §7.3) is opt-in, Config.VirtualMAC:
//     cloud networks drop frames from unknown MACs. Without it,
//     advertisements leave from the interface's own MAC, and the master
//     answers ARP and ND for the virtual address with it. With it, the
//     master answers from a macvlan that holds the virtual MAC, and its
//     advertisements are framed from that MAC on the interface itself
//     (see internal/vmac).
//   - Accept mode is always on (RFC 5798 §6.1 Accept_Mode, default false),
//     as keepalived's accept, its default outside vrrp_strict: havip adds
//     the virtual address as an ordinary local address, so the master
//     accepts packets to it. keepalived's no_accept (a firewall rule that
//     drops them while a non-owner is master) has no equivalent.
//   - No gratuitous ARP or neighbour advertisement on becoming master (RFC
//     5798 §6.4.1, §6.4.2) and no Router Advertisements (§6.4.3) from this
//     package; havip sends the first two, with package garp.
//   - VRRPv3 over IPv4 sends the checksum with the pseudo-header by default,
//     as RFC 5798 §5.2.8 is read by keepalived 2.2 and FRR, which drop the
//     other form. RFC 9568 §5.2.8 covers the message alone: Config.Checksum
//     = [ChecksumMessageOnly] sends that, and both forms are accepted unless
//     Config.AcceptChecksums says otherwise.
//   - An advertisement whose addresses are not the set of ours (in any
//     order) is dropped and counted in AddressListErrors, also from the
//     owner, as keepalived 2.2 does; RFC 3768 §7.1 processes the owner's.
//     Config.AcceptAddressMismatch takes it instead (counted and logged),
//     as keepalived does from 2.3.3 and RFC 5798 §7.1 allows.
//   - The owner does not discard advertisements (RFC 5798 §7.1): it handles
//     them as any master does, as keepalived does by default, so that of
//     two owners one becomes backup. Config.OwnerIgnoreAdverts discards
//     them (keepalived's owner_ignore_adverts).
//   - A master that hears a priority that does not preempt it (lower, or
//     equal from a lower address) answers at once, as RFC 9568 §6.4.3 and
//     keepalived do (at most once an interval, below), and publishes
//     [EventLowerPriority]; RFC 5798 §6.4.3 only discards.
//   - The first IPv6 virtual address need not be link-local (RFC 5798
//     §5.2.9): NewRouter logs a warning when it is not, and takes a
//     link-local one (without a zone) where it is configured first.
//   - Version 2 sends and checks the simple password of RFC 2338 §5.3.6.1,
//     as keepalived does; RFC 3768 §5.3.10 says to send zeros and ignore
//     them. Type 2 (AH) is decoded but never spoken: it fails the check.
//   - From keepalived, not from the RFCs: the [Fault] state (a link of
//     Interface or TrackInterfaces down, or a failed Check of Weight 0; a
//     master leaving for it sends priority 0), Check and interface
//     weights, PreemptDelay, DownTimerAdverts (the RFC's 3 by default),
//     and unicast peers: only they are heard, and the TTL of a unicast
//     packet is checked only against UnicastMinTTL and UnicastMaxTTL (no
//     bound by default:
//     keepalived 2.2.7 sends IPv6 unicast with hop limit 64).
//   - A master whose priority changes at run time advertises it at once.
//   - The Adver_Timer (RFC 5798 §6.4.3 "reset the Adver_Timer") is reset
//     from when it was due, not from when it was handled, so that late
//     wake-ups do not slow the advertisements down; ticks missed entirely
//     are skipped, not sent in a burst. An advertisement may leave up to
//     a tenth of its interval before its Adver_Timer, with others of the
//     interface due then; a Master_Down_Timer never fires early.
//   - A master answers lower priorities at most once per advertisement
//     interval (keepalived answers each one): a flood of them costs one
//     advertisement an interval, and one EventLowerPriority.
package vrrp
