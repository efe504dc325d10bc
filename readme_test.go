package vipkit_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeProgram compiles the program the README shows for embedding
// vipkit, against this checkout, so the README stays true.
func TestReadmeProgram(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "<!-- TestReadmeProgram compiles the next block -->\n```go\n")
	require.True(t, ok, "the README has no program marked for TestReadmeProgram")
	program, _, ok := strings.Cut(rest, "```\n")
	require.True(t, ok)

	root, err := filepath.Abs(".")
	require.NoError(t, err)
	dir := t.TempDir()
	// This module's requirements, so that the build needs no module this
	// module's own build did not (no lookups: GOPROXY=off below).
	ownMod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	goMod := strings.Replace(string(ownMod), "module github.com/vipkit/vipkit\n", "module readme\n", 1) +
		"\nrequire github.com/vipkit/vipkit v0.0.0\n\nreplace github.com/vipkit/vipkit => " + root + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(goMod), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(program), 0o644))
	sum, err := os.ReadFile("go.sum")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))

	// -mod=mod lets go record the requirement on vipkit in go.sum.
	cmd := exec.Command("go", "build", "-mod=mod", "-o", os.DevNull, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the README's program does not compile:\n%s", out)
}

// TestReadmeCommands: the commands the README promises exist, and CI runs
// the test command the README gives users.
func TestReadmeCommands(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	ci, err := os.ReadFile(".ci/run")
	require.NoError(t, err)
	for _, cmd := range []string{"sudo go run ./examples/lab\n", "sudo bash .ci/run\n", "sudo go test -race ./...\n"} {
		require.Contains(t, string(readme), cmd)
	}
	require.Contains(t, string(ci), "\ngo test -race ./...\n", ".ci/run does not run the README's test command")
	_, err = os.Stat(filepath.Join("examples", "lab", "main.go"))
	require.NoError(t, err)
}
