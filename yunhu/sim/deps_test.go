package sim

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsesOnlyWireConstants keeps the simulator honest: from package yunhu
// it may use only what yunhu/wire.go declares (paths, headers, codes, cmd
// names), never the client's codec or HTTP code. Package yunhu has to be
// imported for those constants, so the compiler alone cannot enforce this.
func TestUsesOnlyWireConstants(t *testing.T) {
	fset := token.NewFileSet()
	wire, err := parser.ParseFile(fset, filepath.Join("..", "wire.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{}
	for name := range wire.Scope.Objects {
		allowed[name] = true
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		local := ""
		for _, imp := range af.Imports {
			if imp.Path.Value == `"github.com/yunhu-onebot/yunhu-onebot/yunhu"` {
				local = "yunhu"
				if imp.Name != nil {
					local = imp.Name.Name
				}
			}
		}
		if local == "" {
			continue
		}
		ast.Inspect(af, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == local && !allowed[sel.Sel.Name] {
				t.Errorf("%s: uses yunhu.%s, which is not a wire constant", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
}
