//go:build !linux

package vrrp

import (
	"fmt"
	"net"
	"runtime"
	"time"
)

// OpenConn is not supported on this system: vipkit's raw sockets are
// Linux only.
func OpenConn(ifi *net.Interface, ipv6 bool) (Conn, error) {
	return nil, fmt.Errorf("vrrp: raw VRRP sockets are not supported on %s", runtime.GOOS)
}

// sleepExactly sleeps d.
func sleepExactly(d time.Duration) { time.Sleep(d) }
