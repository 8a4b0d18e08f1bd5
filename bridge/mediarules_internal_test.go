package bridge

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap"
)

// TestMediaSwappedComponent plays the race the checks before the open
// cannot see: the path was checked while "pics" was a directory of the
// root, and "pics" became a symlink into a denied directory (inside the
// same root) before the open. The file actually opened is refused.
func TestMediaSwappedComponent(t *testing.T) {
	root := t.TempDir()
	denied := filepath.Join(root, "conf")
	if err := os.Mkdir(denied, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(denied, "config.yaml")
	if err := os.WriteFile(cfg, []byte("account:\n  token: secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := newMediaRules(MediaOptions{FileRoots: []string{root}, DenyPaths: []string{cfg}}, zap.NewNop())
	if err := os.Symlink("conf", filepath.Join(root, "pics")); err != nil {
		t.Fatal(err)
	}
	if openedPath(mustOpen(t, cfg)) == "" {
		t.Skip("the system does not tell the path of an open file")
	}
	resolved := filepath.Join(resolvePath(root), "pics", "config.yaml")
	f, err := r.openResolved(resolvePath(root), resolved)
	if err == nil {
		f.Close()
		t.Fatal("opened the config file through a swapped component")
	}
	if !errors.Is(err, errNoSuchFile) {
		t.Errorf("error %v, want errNoSuchFile", err)
	}
}

func mustOpen(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
