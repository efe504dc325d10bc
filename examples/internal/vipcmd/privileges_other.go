//go:build !linux

package vipcmd

// missingCapabilities tells nothing off Linux: the sockets will say.
func missingCapabilities(addresses bool) []string { return nil }
