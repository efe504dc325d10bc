// Package netmon is how vipkit's library packages look at the host's
// interfaces: lookups whose errors name what the user asked for, and the
// rtnetlink monitor of links and addresses that vrrp and havip follow.
package netmon
