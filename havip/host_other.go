//go:build !linux

package havip

import (
	"fmt"
	"runtime"
)

// OpenHost is not supported on this system: vipkit manages addresses
// through Linux netlink.
func OpenHost(name, label string) (Host, error) {
	return nil, fmt.Errorf("havip: managing addresses is not supported on %s", runtime.GOOS)
}
