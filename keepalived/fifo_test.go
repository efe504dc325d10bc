package keepalived_test

import (
	"bufio"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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
	w, err := cfg.OpenFIFOs(nil)
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
	_, err = cfg.OpenFIFOs(nil)
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
	w, err := conf(a, b).OpenFIFOs(nil)
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

	// Another user for b: the same FIFO, its reader reading on, given to
	// that user.
	withUser := conf(a, b)
	withUser.FIFOs[1].User = "nobody"
	require.NoError(t, w.Reload(withUser))
	w.Write("INSTANCE", "VI_1", "MASTER", 100)
	line, err = rb.ReadString('\n')
	require.NoError(t, err, "the reader of b after its user changed")
	assert.Equal(t, "INSTANCE \"VI_1\" MASTER 100\n", line)
	if os.Geteuid() == 0 {
		fi, err := os.Stat(b)
		require.NoError(t, err)
		nobody, err := user.Lookup("nobody")
		require.NoError(t, err)
		assert.Equal(t, nobody.Uid, strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid)), "b's owner")
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

// TestFIFOScript: a FIFO's script starts with the FIFO's path after its
// words and reads the lines; a reload that changes the script stops the
// old one and starts the new on the same FIFO, its reader undisturbed;
// Close ends it, the FIFO gone. The parser attaches each script to its
// FIFO, and notes one that has none.
func TestFIFOScript(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	sh := writeScript(t, dir, "reader.sh", `for fifo; do :; done
echo "$1 start $*" >> `+out+`
while read -r line; do echo "$1 $line" >> `+out+`; done < "$fifo"
echo "$1 end" >> `+out)
	path := filepath.Join(dir, "fifo")
	me, err := user.Current()
	require.NoError(t, err)
	cfg, lines, err := load(t, map[string]string{"keepalived.conf": "global_defs {\n  vrrp_notify_fifo_script \"" + sh + " one\"\n  vrrp_notify_fifo " + path +
		"\n  notify_fifo_script /bin/true\n  script_user " + me.Username + "\n}\n"})
	require.NoError(t, err, "%v", lines)
	require.Len(t, cfg.FIFOs, 1)
	assert.Equal(t, keepalived.FIFO{Pos: cfg.FIFOs[0].Pos, Keyword: "vrrp_notify_fifo", Path: path, Script: cmd(sh + " one")}, cfg.FIFOs[0])
	require.Len(t, cfg.Notes, 1)
	assert.Equal(t, 4, cfg.Notes[0].Pos.Line)
	assert.Equal(t, "no notify_fifo: the script is not run, as in keepalived", cfg.Notes[0].Text)

	log, lb := newLog(t)
	w, err := cfg.OpenFIFOs(log)
	require.NoError(t, err)
	w.Write("INSTANCE", "VI_1", "MASTER", 100)
	require.Eventually(t, func() bool { return len(readLines(out)) == 2 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, []string{"one start one " + path, `one INSTANCE "VI_1" MASTER 100`}, readLines(out))

	cfg.FIFOs[0].Script = cmd(sh + " two")
	require.NoError(t, w.Reload(cfg))
	assert.Contains(t, lb.String(), "notify fifo script terminated")
	w.Write("INSTANCE", "VI_1", "BACKUP", 100)
	require.Eventually(t, func() bool { return len(readLines(out)) == 4 }, 10*time.Second, 10*time.Millisecond, "%v", readLines(out))
	assert.Equal(t, []string{"two start two " + path, `two INSTANCE "VI_1" BACKUP 100`}, readLines(out)[2:])

	w.Close()
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Equal(t, 2, strings.Count(lb.String(), "notify fifo script terminated"))

	cfg.FIFOs[0].Script = cmd(filepath.Join(dir, "missing.sh"))
	_, err = cfg.OpenFIFOs(log)
	require.ErrorContains(t, err, "vrrp_notify_fifo_script")
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist, "a FIFO whose script cannot run is not left behind")
}
