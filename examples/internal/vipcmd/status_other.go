//go:build !linux

package vipcmd

import "os"

// dumpSignals ask a daemon for its Status: none off Linux, where the
// status file is still written at start and after each transition.
var dumpSignals []os.Signal
