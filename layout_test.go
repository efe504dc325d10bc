package vipkit_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/vipkit/vipkit"

// goList runs go list with args in this module and returns its lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOPROXY=off")
	out, err := cmd.Output()
	var stderr []byte
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	require.NoError(t, err, "go list %v: %s", args, stderr)
	return strings.Fields(string(out))
}

// TestLayout keeps the README's layout section true to the tree: every
// package of the module is named there, and every path named there
// exists.
func TestLayout(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "\n## Layout\n")
	require.True(t, ok, "the README has no Layout section")
	section, _, _ = strings.Cut(section, "\n## ")

	named := map[string]bool{}
	entry := regexp.MustCompile("(?m)^- (`[^`]+`(?:, `[^`]+`)*)")
	path := regexp.MustCompile("`([^`]+)`")
	for _, m := range entry.FindAllStringSubmatch(section, -1) {
		for _, p := range path.FindAllStringSubmatch(m[1], -1) {
			named[strings.TrimSuffix(p[1], "/")] = true
		}
	}
	// Paths named in the text of an entry (havip/tencentcloud,
	// examples/halb/lb) count too.
	for _, p := range path.FindAllStringSubmatch(section, -1) {
		if _, err := os.Stat(p[1]); err == nil {
			named[strings.TrimSuffix(p[1], "/")] = true
		}
	}
	for p := range named {
		_, err := os.Stat(p)
		assert.NoError(t, err, "the README's layout names %s, which is not in the tree", p)
	}
	for _, pkg := range goList(t, "./...") {
		dir := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
		if dir == "" {
			continue // the module's own doc package
		}
		assert.True(t, named[dir], "package %s is not in the README's layout section", dir)
	}
}

// TestLibraryImportsNoTestSupport: the library (vrrp, garp, havip and what
// they build on) never imports the test support under internal/testkit or
// the examples.
func TestLibraryImportsNoTestSupport(t *testing.T) {
	lib := []string{module + "/vrrp", module + "/garp", module + "/havip", module + "/havip/tencentcloud"}
	deps := goList(t, append([]string{"-deps"}, lib...)...)
	require.Contains(t, deps, module+"/vrrp")
	for _, d := range deps {
		assert.False(t, strings.HasPrefix(d, module+"/internal/testkit"), "the library imports %s", d)
		assert.False(t, strings.HasPrefix(d, module+"/examples"), "the library imports %s", d)
	}
}

// TestNoSharedReferences: no Go file, and so no package doc, points at the
// planning folder beside the repository or the notes in it, which a user of
// the module does not have.
func TestNoSharedReferences(t *testing.T) {
	// Spelled in pieces so that this file does not match itself.
	patterns := []string{".." + "/shared", "HAVIP" + ".md", "DESIGN" + ".md", "shared" + " notes"}
	files := 0
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			for _, pat := range patterns {
				if strings.Contains(sc.Text(), pat) {
					t.Errorf("%s:%d points at %s, which a user of the module does not have: %s", p, n, pat, strings.TrimSpace(sc.Text()))
				}
			}
		}
		return sc.Err()
	})
	require.NoError(t, err)
	require.Greater(t, files, 50, "walked too few Go files to mean anything")
}
