//go:build !linux

package vrrp

import (
	"fmt"
	"runtime"
)

// setThreadPriority is not supported on this system.
func setThreadPriority(prio int) error {
	if prio == 0 {
		return nil
	}
	return fmt.Errorf("not supported on %s", runtime.GOOS)
}
