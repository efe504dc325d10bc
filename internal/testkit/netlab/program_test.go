package netlab_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vipkit/vipkit/internal/testkit/netlab"
)

// TestProgram: a Program's Fatal becomes the error of the function that
// deferred Recover, Close runs the cleanups newest first, removes the
// temporary directories and reports a cleanup's Errorf.
func TestProgram(t *testing.T) {
	var log bytes.Buffer
	p := netlab.NewProgram("lab", &log)
	var order []int
	p.Cleanup(func() { order = append(order, 1) })
	p.Cleanup(func() { order = append(order, 2) })
	dir := p.TempDir()

	work := func() (err error) {
		defer p.Recover(&err)
		p.Fatalf("no %s", "bridge")
		return nil
	}
	assert.EqualError(t, work(), "no bridge")
	assert.NoError(t, func() (err error) { defer p.Recover(&err); return nil }())
	assert.Panics(t, func() {
		var err error
		defer p.Recover(&err)
		panic(errors.New("a bug"))
	}, "a panic that is not the Program's goes on")

	require.NoError(t, p.Close())
	assert.Equal(t, []int{2, 1}, order)
	_, err := os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "TempDir survived Close")

	p.Cleanup(func() { p.Errorf("deleting %s failed", "vk1-a") })
	assert.Error(t, p.Close())
	assert.Contains(t, log.String(), "lab: deleting vk1-a failed\n")
}
