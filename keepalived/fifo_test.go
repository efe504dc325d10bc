package keepalived_test

import (
	"bufio"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/keepalived"
)

// TestFIFOs: a notify FIFO is made if missing and removed at Close, one
// there is kept; each change is a line as keepalived writes it; a full
// pipe loses lines but never blocks; a path that is no FIFO is refused
// with the line of the file.
func TestFIFOs(t *testing.T) {
	dir := t.TempDir()
	made, kept := filepath.Join(dir, "made"), filepath.Join(dir, "kept")
	require.NoError(t, syscall.Mkfifo(kept, 0o600))
	cfg, lines, err := load(t, map[string]string{"keepalived.conf": "global_defs {\n  notify_fifo " + made + "\n  vrrp_notify_fifo " + kept + "\n}\n"})
	require.NoError(t, err, "%v", lines)
	w, err := cfg.OpenFIFOs()
	require.NoError(t, err)
	fi, err := os.Stat(made)
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeNamedPipe, "a FIFO")
	assert.Zero(t, fi.Mode().Perm()&^0o644, "mode 0644 at most, as keepalived makes it")

	readers := map[string]*bufio.Reader{}
	for _, p := range []string{made, kept} {
		f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		require.NoError(t, err)
		defer f.Close()
		readers[p] = bufio.NewReader(f)
	}
	w.Write("INSTANCE", "VI_1", "MASTER", 100)
	w.Write("GROUP", "G1", "FAULT", 0)
	for p, r := range readers {
		line, err := r.ReadString('\n')
		require.NoError(t, err, p)
		assert.Equal(t, "INSTANCE \"VI_1\" MASTER 100\n", line, p)
		line, err = r.ReadString('\n')
		require.NoError(t, err, p)
		assert.Equal(t, "GROUP \"G1\" FAULT 0\n", line, p)
	}
	for range 10000 { // far more than a pipe holds: lost, not blocking
		w.Write("INSTANCE", "VI_1", "BACKUP", 100)
	}

	w.Close()
	_, err = os.Stat(made)
	assert.ErrorIs(t, err, os.ErrNotExist, "the FIFO it made is removed")
	_, err = os.Stat(kept)
	assert.NoError(t, err, "the FIFO that was there stays")

	regular := filepath.Join(dir, "regular")
	require.NoError(t, os.WriteFile(regular, nil, 0o644))
	cfg, _, err = load(t, map[string]string{"keepalived.conf": "global_defs {\n  notify_fifo " + regular + "\n}\n"})
	require.NoError(t, err)
	_, err = cfg.OpenFIFOs()
	var ke *keepalived.Error
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, 2, ke.Pos.Line)
	assert.Contains(t, err.Error(), "is there, and is not a FIFO")
}

// TestFIFOsReload: a reload keeps a FIFO still named as it is, its reader
// reading on; closes and removes one it made that is no longer named;
// opens a new one; and refuses, changing nothing, one that cannot be.
func TestFIFOsReload(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	conf := func(paths ...string) *keepalived.Config {
		cfg := &keepalived.Config{}
		for _, p := range paths {
			cfg.FIFOs = append(cfg.FIFOs, keepalived.FIFO{Path: p})
		}
		return cfg
	}
	w, err := conf(a, b).OpenFIFOs()
	require.NoError(t, err)
	defer w.Close()
	read := func(p string) *bufio.Reader {
		f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		return bufio.NewReader(f)
	}
	rb := read(b)
	w.Write("INSTANCE", "VI_1", "BACKUP", 100)
	line, err := rb.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "INSTANCE \"VI_1\" BACKUP 100\n", line)

	// notify_fifo and vrrp_notify_fifo the same: one line, as keepalived
	// ignores the second.
	require.NoError(t, w.Reload(conf(b, b)))
	w.Write("INSTANCE", "VI_1", "FAULT", 100)
	w.Write("INSTANCE", "VI_1", "BACKUP", 100)
	for _, want := range []string{"FAULT", "BACKUP"} {
		line, err := rb.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, "INSTANCE \"VI_1\" "+want+" 100\n", line)
	}
	require.NoError(t, w.Reload(conf(a, b)))

	require.NoError(t, w.Reload(conf(b, c)))
	_, err = os.Stat(a)
	assert.ErrorIs(t, err, os.ErrNotExist, "the FIFO it made and no longer names is removed")
	rc := read(c)
	w.Write("INSTANCE", "VI_1", "MASTER", 100)
	for p, r := range map[string]*bufio.Reader{b: rb, c: rc} {
		line, err := r.ReadString('\n')
		require.NoError(t, err, p)
		assert.Equal(t, "INSTANCE \"VI_1\" MASTER 100\n", line, p)
	}

	regular := filepath.Join(dir, "regular")
	require.NoError(t, os.WriteFile(regular, nil, 0o644))
	require.ErrorContains(t, w.Reload(conf(regular)), "is there, and is not a FIFO")
	w.Write("INSTANCE", "VI_1", "FAULT", 100)
	for p, r := range map[string]*bufio.Reader{b: rb, c: rc} {
		line, err := r.ReadString('\n')
		require.NoError(t, err, p, "a refused reload changed the FIFOs")
		assert.Equal(t, "INSTANCE \"VI_1\" FAULT 100\n", line, p)
	}
	_, err = os.Stat(c)
	assert.NoError(t, err)
}
