package keepalived_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/keepalived"
)

// cmd is a notify script of command, run as the default user.
func cmd(command string) keepalived.NotifyScript { return keepalived.NotifyScript{Command: command} }

// logScript writes a script that appends "TAG ARGS..." to out, and
// returns its path.
func logScript(t *testing.T, dir, out string) string {
	t.Helper()
	return writeScript(t, dir, "log.sh", `echo "$*" >> `+out)
}

// TestNotifyArguments: the state's script runs with its own words, then
// notify with its words and kind, name, state and priority; a group's
// priority is 0.
func TestNotifyArguments(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	sh := logScript(t, dir, out)
	n := keepalived.Notify{Master: cmd(sh + " own-master"), Backup: cmd(sh), Fault: cmd(sh + ` "a b"`), Stop: cmd(sh + " own-stop"), Any: cmd(sh + " any")}
	log, _ := newLog(t)
	q := (&keepalived.Config{}).NewNotifyQueue(log)
	q.Notify(n, "INSTANCE", "VI_1", "MASTER", 100)
	q.Notify(n, "INSTANCE", "VI_1", "BACKUP", 90)
	q.Notify(n, "GROUP", "G1", "FAULT", 100)
	q.Notify(keepalived.Notify{Any: cmd(sh)}, "INSTANCE", "VI_2", "STOP", 254)
	q.Notify(keepalived.Notify{Master: cmd(sh + " only-master")}, "INSTANCE", "VI_3", "BACKUP", 1)
	q.Close()
	assert.Equal(t, []string{
		"own-master", "any INSTANCE VI_1 MASTER 100",
		"", "any INSTANCE VI_1 BACKUP 90",
		"a b", "any GROUP G1 FAULT 0",
		"INSTANCE VI_2 STOP 254",
	}, readLines(out))
}

// TestNotifyDeletedAndLowerPriority: an instance a reload removed is told
// as FAULT to notify, without notify_fault, unless notify_deleted is set:
// then DELETED, and its own script runs; a lower priority heard by the
// master runs notify_master_rx_lower_pri alone.
func TestNotifyDeletedAndLowerPriority(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	sh := logScript(t, dir, out)
	log, _ := newLog(t)
	q := (&keepalived.Config{}).NewNotifyQueue(log)
	n := keepalived.Notify{Fault: cmd(sh + " own-fault"), Any: cmd(sh + " any"), MasterRxLowerPri: cmd(sh + " lower")}
	assert.Equal(t, "FAULT", n.State("DELETED"))
	q.Notify(n, "INSTANCE", "VI_1", "DELETED", 100)
	q.Notify(n, "INSTANCE", "VI_1", "MASTER_RX_LOWER_PRI", 100)
	n.NotifyDeleted = true
	assert.Equal(t, "DELETED", n.State("DELETED"))
	q.Notify(n, "INSTANCE", "VI_2", "DELETED", 90)
	n.Deleted = cmd(sh + " own-deleted")
	q.Notify(n, "INSTANCE", "VI_3", "DELETED", 80)
	q.Close()
	assert.Equal(t, []string{
		"any INSTANCE VI_1 FAULT 100",
		"lower",
		"any INSTANCE VI_2 DELETED 90",
		"own-deleted", "any INSTANCE VI_3 DELETED 80",
	}, readLines(out))
}

// TestNotifySequential: the scripts of many changes run one at a time, in
// the order asked, and Notify never waits for them.
func TestNotifySequential(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	// The first runs long: were they concurrent, the others would end first.
	sh := writeScript(t, dir, "seq.sh", `echo "start $*" >> `+out+`
[ "$1" = 0 ] && sleep 0.5
echo "end $*" >> `+out)
	log, _ := newLog(t)
	q := (&keepalived.Config{}).NewNotifyQueue(log)
	start := time.Now()
	for i := range 10 {
		q.Notify(keepalived.Notify{Backup: cmd(fmt.Sprintf("%s %d own", sh, i)), Any: cmd(fmt.Sprintf("%s %d", sh, i))}, "INSTANCE", "VI_1", "BACKUP", 100)
	}
	assert.Less(t, time.Since(start), 400*time.Millisecond, "Notify returns at once")
	q.Close()
	var want []string
	for i := range 10 {
		want = append(want, fmt.Sprintf("start %d own", i), fmt.Sprintf("end %d own", i),
			fmt.Sprintf("start %d INSTANCE VI_1 BACKUP 100", i), fmt.Sprintf("end %d INSTANCE VI_1 BACKUP 100", i))
	}
	assert.Equal(t, want, readLines(out))
}

// TestNotifyOverflow: beyond 256 waiting, the oldest are dropped and
// logged.
func TestNotifyOverflow(t *testing.T) {
	dir := t.TempDir()
	out, started, release := filepath.Join(dir, "out"), filepath.Join(dir, "started"), filepath.Join(dir, "release")
	block := writeScript(t, dir, "block.sh", fmt.Sprintf(`touch %s
while [ ! -e %s ]; do sleep 0.02; done
echo blocked >> %s`, started, release, out))
	sh := logScript(t, dir, out)
	log, lb := newLog(t)
	q := (&keepalived.Config{}).NewNotifyQueue(log)
	q.Notify(keepalived.Notify{Master: cmd(block)}, "INSTANCE", "VI_1", "MASTER", 100)
	require.Eventually(t, func() bool { _, err := os.Stat(started); return err == nil }, 20*time.Second, 10*time.Millisecond)
	for i := range 300 {
		q.Notify(keepalived.Notify{Any: cmd(fmt.Sprintf("%s %d", sh, i))}, "INSTANCE", "VI_1", "BACKUP", 100)
	}
	require.NoError(t, os.WriteFile(release, nil, 0o644))
	q.Close()
	want := []string{"blocked"}
	for i := 300 - 256; i < 300; i++ {
		want = append(want, fmt.Sprintf("%d INSTANCE VI_1 BACKUP 100", i))
	}
	assert.Equal(t, want, readLines(out))
	assert.Equal(t, 300-256, lb.count("notify queue full"))
}

// TestNotifyClose: Close waits for what is queued; Notify after it does
// nothing.
func TestNotifyClose(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	slow := writeScript(t, dir, "slow.sh", "sleep 0.5\necho $* >> "+out)
	q := (&keepalived.Config{}).NewNotifyQueue(nil)
	q.Notify(keepalived.Notify{Master: cmd(slow + " one")}, "INSTANCE", "VI_1", "MASTER", 100)
	q.Notify(keepalived.Notify{Master: cmd(slow + " two")}, "INSTANCE", "VI_1", "MASTER", 100)
	q.Close()
	assert.Equal(t, []string{"one", "two"}, readLines(out))
	q.Notify(keepalived.Notify{Master: cmd(slow + " three")}, "INSTANCE", "VI_1", "MASTER", 100)
	q.Close()
	time.Sleep(time.Second)
	assert.Equal(t, []string{"one", "two"}, readLines(out))
}

// TestNotifyStopBounded: a STOP script is killed after 1 s, as keepalived
// kills it.
func TestNotifyStopBounded(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	slow := writeScript(t, dir, "slow.sh", "echo start >> "+out+"\nsleep 20\necho end >> "+out)
	log, lb := newLog(t)
	q := (&keepalived.Config{}).NewNotifyQueue(log)
	start := time.Now()
	q.Notify(keepalived.Notify{Stop: cmd(slow)}, "INSTANCE", "VI_1", "STOP", 100)
	q.Close()
	assert.GreaterOrEqual(t, time.Since(start), time.Second)
	assert.Less(t, time.Since(start), 15*time.Second)
	assert.Equal(t, []string{"start"}, readLines(out))
	assert.Contains(t, lb.String(), "timed out")
}

// TestNotifyRefused: a script keepalived would not run is logged and
// skipped; the others run.
func TestNotifyRefused(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	sh := logScript(t, dir, out)
	log, lb := newLog(t)
	q := (&keepalived.Config{}).NewNotifyQueue(log)
	q.Notify(keepalived.Notify{Master: cmd(filepath.Join(dir, "missing.sh")), Any: cmd(sh + " any")}, "INSTANCE", "VI_1", "MASTER", 100)
	q.Notify(keepalived.Notify{Backup: cmd("</etc/passwd")}, "INSTANCE", "VI_1", "BACKUP", 100)
	q.Close()
	assert.Equal(t, []string{"any INSTANCE VI_1 MASTER 100"}, readLines(out))
	assert.Equal(t, 2, lb.count("notify script not run"), "%s", lb)
}

// TestNotifyUser: scripts run as script_user; an unknown one runs none,
// as keepalived runs none.
func TestNotifyUser(t *testing.T) {
	uid, gid := nobody(t)
	dir, out := openDir(t)
	id := writeScript(t, dir, "id.sh", `echo "$(id -u) $(id -g) $(id -G) $*" >> `+out+"/id")
	q := (&keepalived.Config{ScriptUser: "nobody"}).NewNotifyQueue(nil)
	q.Notify(keepalived.Notify{Fault: cmd(id), Any: cmd(id)}, "INSTANCE", "VI_1", "FAULT", 50)
	q.Close()
	assert.Equal(t, []string{
		uid + " " + gid + " " + gid + " ",
		uid + " " + gid + " " + gid + " INSTANCE VI_1 FAULT 50",
	}, readLines(filepath.Join(out, "id")))

	// Its own user, written after it, over the default.
	q = (&keepalived.Config{ScriptUser: "root"}).NewNotifyQueue(nil)
	q.Notify(keepalived.Notify{Master: keepalived.NotifyScript{Command: id + " own", User: "nobody"}}, "INSTANCE", "VI_1", "MASTER", 50)
	q.Close()
	assert.Equal(t, uid+" "+gid+" "+gid+" own", readLines(filepath.Join(out, "id"))[2])

	log, lb := newLog(t)
	q = (&keepalived.Config{ScriptUser: "no-such-user-vipkit"}).NewNotifyQueue(log)
	q.Notify(keepalived.Notify{Fault: cmd(id)}, "INSTANCE", "VI_1", "FAULT", 50)
	q.Close()
	assert.Len(t, readLines(filepath.Join(out, "id")), 3)
	assert.Contains(t, lb.String(), "no-such-user-vipkit")
}

// TestNotifyReload: after Reload, scripts run as the new script_user, and
// a script_user that does not exist stops them, saying why.
func TestNotifyReload(t *testing.T) {
	uid, gid := nobody(t)
	dir, out := openDir(t)
	lines := func() []string { return readLines(filepath.Join(out, "id")) }
	id := writeScript(t, dir, "id.sh", `echo "$(id -u) $(id -g) $*" >> `+out+"/id")
	require.NoError(t, os.WriteFile(filepath.Join(out, "id"), nil, 0o666))
	require.NoError(t, os.Chmod(filepath.Join(out, "id"), 0o666)) // for nobody to append to, whatever the umask
	log, lb := newLog(t)
	q := (&keepalived.Config{ScriptUser: "root"}).NewNotifyQueue(log)
	q.Notify(keepalived.Notify{Any: cmd(id)}, "INSTANCE", "VI_1", "BACKUP", 50)
	require.Eventually(t, func() bool { return len(lines()) == 1 }, 10*time.Second, 10*time.Millisecond)
	q.Reload(&keepalived.Config{ScriptUser: "nobody"})
	q.Notify(keepalived.Notify{Any: cmd(id)}, "INSTANCE", "VI_1", "MASTER", 50)
	require.Eventually(t, func() bool { return len(lines()) == 2 }, 10*time.Second, 10*time.Millisecond)
	q.Reload(&keepalived.Config{ScriptUser: "no-such-user-vipkit"})
	q.Notify(keepalived.Notify{Any: cmd(id)}, "INSTANCE", "VI_1", "FAULT", 50)
	q.Close()
	assert.Equal(t, []string{"0 0 INSTANCE VI_1 BACKUP 50", uid + " " + gid + " INSTANCE VI_1 MASTER 50"}, lines())
	assert.Contains(t, lb.String(), "no-such-user-vipkit")
}
