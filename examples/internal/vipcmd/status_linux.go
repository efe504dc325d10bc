package vipcmd

import (
	"os"
	"syscall"
)

// dumpSignals ask a daemon for its Status (see [Serve]).
var dumpSignals = []os.Signal{syscall.SIGUSR1}
