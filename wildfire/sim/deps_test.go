package sim

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsOnlyStdAndZap keeps the simulator independent of what it
// tests: it implements the wire from the server's behaviour, so it must
// never import the client package (a misreading shared by both would pass
// every test) nor anything else of the module. Test files are held to the
// same rule.
func TestImportsOnlyStdAndZap(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no Go files found")
	}
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			std := !strings.Contains(strings.SplitN(path, "/", 2)[0], ".")
			if !std && path != "go.uber.org/zap" {
				t.Errorf("%s imports %q: the simulator may use only the standard library and zap", f, path)
			}
		}
	}
}
