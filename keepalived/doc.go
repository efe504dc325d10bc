// Package keepalived reads the VRRP parts of a keepalived.conf (the
// configuration language of keepalived.conf(5), as keepalived 2.2 reads
// it) into the vrrp.Config and havip.Config of each vrrp_instance, with
// keepalived's defaults and ranges, so that a program runs the file a
// keepalived user runs today.
//
// It never guesses: a keyword it honours is mapped; one whose absence of
// effect is harmless (a mail address, a firewall's table name) becomes a
// Note naming its file and line and what vipkit does instead; one it
// cannot honour (virtual_server and the rest of LVS, no_accept,
// virtual_routes, a tracked process) and any value keepalived would not
// take is an Error naming its file and line. Load refuses a file with any
// Error. Unknown keywords of a vrrp_instance or vrrp_script are errors (a
// misspelt keyword would silently change the behaviour); unknown ones of
// global_defs, where keepalived keeps many that have nothing to do with
// VRRP, are notes.
//
// Where keepalived and vipkit differ on a default, the file means what it
// means to keepalived: VRRP version 2 unless vrrp_version or version say
// 3 (or an address is IPv6), higher_prio_send_advert off.
package keepalived
