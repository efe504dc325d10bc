// Package netmon is how vipkit's library packages look at the host's
// interfaces: lookups whose errors name what the user asked for, and the
// rtnetlink monitor of links and addresses that vrrp and havip follow.
//
// A [Monitor] belongs to the network namespace of the thread that opened
// it ([Open]) and subscribes to link events, address events or both
// ([Groups]). [Monitor.Run] hands each link or address message, decoded,
// to a callback as an [Event] until its context ends: a link with its
// index, name and flags, an address with its interface's index and its
// prefix, each with its rtnetlink message type (NewLink, DelLink, NewAddr,
// DelAddr), and Lost where events were lost, after which the follower
// reads the state again ([Monitor.Links], [Monitor.Addrs]). Run filters
// nothing: whoever follows an interface picks its messages by index or by
// name (a name survives the interface being deleted and made again).
//
// A [Watch] is the view of a namespace built on one Monitor that every user
// in the process shares ([OpenWatch] returns the one of the calling
// thread's namespace): the links by name and the addresses of each, kept
// from the events, which it hands, applied, to its subscribers. vrrp's
// routers and havip's hosts of a namespace all follow one Watch. [Netns]
// holds a namespace open, to open sockets in it from any goroutine.
//
// On systems other than Linux, [Open] returns an error wrapping
// [ErrNotSupported].
package netmon
