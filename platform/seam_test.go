package platform_test

import (
	"go/build"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/yunhu-onebot/yunhu-onebot/"

// TestSeam keeps the layering the platform contract exists for: the OneBot
// core never reaches a backend or a platform client, the OneBot protocol
// package knows no platform at all, and the contract depends on neither.
// It follows every import inside the module, test files excluded.
func TestSeam(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	for _, tc := range []struct {
		pkg    string
		denied []string // import path prefixes, inside the module
	}{
		{"bridge", []string{"backend/", "yunhu", "wukongim"}},
		{"platform", []string{"backend/", "yunhu", "wukongim", "bridge", "store"}},
		{"onebot", []string{"backend/", "yunhu", "wukongim", "bridge", "platform", "store"}},
		{"segment", []string{"backend/", "yunhu", "bridge", "platform", "store", "onebot"}},
	} {
		deps := moduleDeps(t, root, tc.pkg)
		if len(deps) == 0 && tc.pkg != "segment" {
			t.Errorf("%s: found no imports inside the module; the walk is broken", tc.pkg)
		}
		for _, d := range deps {
			for _, bad := range tc.denied {
				if strings.HasPrefix(d, bad) {
					t.Errorf("%s depends on %s (via its imports), which it must not", tc.pkg, d)
				}
			}
		}
	}
}

// moduleDeps returns the packages of the module that pkg imports, directly
// or not, relative to the module root.
func moduleDeps(t *testing.T, root, pkg string) []string {
	t.Helper()
	seen := map[string]bool{}
	var visit func(rel string)
	visit = func(rel string) {
		p, err := build.ImportDir(filepath.Join(root, rel), 0)
		if err != nil {
			t.Fatalf("read package %s: %v", rel, err)
		}
		for _, imp := range p.Imports {
			dep, ok := strings.CutPrefix(imp, module)
			if !ok || seen[dep] {
				continue
			}
			seen[dep] = true
			visit(dep)
		}
	}
	visit(pkg)
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}
