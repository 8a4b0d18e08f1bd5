package sim

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsOnlyStdGorillaZap keeps the simulator independent of what it
// tests: it implements the wire from the transcript, so it must never
// import the client package (a misreading shared by both would pass every
// test) nor anything else of the module (the daemon, backends). Test files
// are held to the same rule.
func TestImportsOnlyStdGorillaZap(t *testing.T) {
	allowed := map[string]bool{
		"github.com/gorilla/websocket": true,
		"go.uber.org/zap":              true,
	}
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
			if !std && !allowed[path] {
				t.Errorf("%s imports %q: the simulator may use only the standard library, gorilla/websocket and zap", f, path)
			}
		}
	}
}
