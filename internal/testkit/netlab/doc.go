// Package netlab builds small virtual networks out of Linux network
// namespaces for the tests of vipkit's other packages and for the lab
// (examples/lab).
//
// A [Lab] belongs to one test. Its hosts ([Lab.Host]) are network namespaces
// with only the loopback interface up; [Lab.Link] joins two hosts with a veth
// pair and [Lab.Switch] makes a namespace holding a Linux bridge that other
// hosts [Switch.Attach] to, so that more than two hosts share one LAN. A test
// then configures addresses ([Iface.AddAddr]), runs commands in a host
// ([Host.Run], [Host.Start]), opens sockets inside it ([Host.Do]), checks
// reachability ([Host.Ping]) and records traffic ([Host.Capture]).
//
// # Addresses
//
// Tests configure addresses only from the documentation ranges
// 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32 (plus the
// fe80::/64 link-local addresses the kernel makes), and only inside the
// namespaces of their lab. A lab's namespaces have no link to the host's own
// network namespace, so nothing a test sends can leave the lab.
//
// # Cleanup
//
// Everything a lab makes is removed by the Cleanup of the [T] given to [New]
// (a *testing.T's) when the test ends, whether it passed, failed, called
// t.FailNow or panicked: first the processes and captures are stopped
// (newest first, by PID: SIGTERM, or SIGINT for tcpdump, then SIGKILL after
// a grace period), then every namespace is deleted, which deletes its
// interfaces too. Namespace names carry the PID of the process that made
// them, a test binary or a program such as the lab ("vk<pid>x<rand>-<name>",
// see [Lab.Prefix]), which keeps concurrent runs apart; [New] also deletes
// namespaces left behind by processes that no longer run (one killed by a
// timeout, for instance). Sockets a test opens with [Host.Do] keep their
// namespace alive until they are closed: close them in the test or in a
// Cleanup registered after [New].
//
// # Privileges
//
// Network namespaces need root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and
// iproute2's ip command; [New] skips the test with a message saying so when
// either is missing. [Host.Capture] also needs tcpdump and skips without it.
//
// Methods that cannot carry on (a command that fails while building the
// network, say) report through the [T] given to [New] with Fatalf, so they
// must be called from the goroutine running that test.
package netlab
