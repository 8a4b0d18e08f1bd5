package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFormatVersion(t *testing.T) {
	vcs := func(mod string, settings ...string) *debug.BuildInfo {
		info := &debug.BuildInfo{Main: debug.Module{Path: "github.com/yunhu-onebot/yunhu-onebot", Version: mod}}
		for i := 0; i+1 < len(settings); i += 2 {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return info
	}
	const rev = "a819c8823add3f341176dcfe0ed1a3f1f681098b"
	for _, c := range []struct {
		name    string
		stamped string
		info    *debug.BuildInfo
		want    string
	}{
		{"stamped wins", "v2.0.0", vcs("v1.0.0", "vcs.revision", rev), "v2.0.0"},
		{"no build info", "", nil, release + "+dev"},
		{"go run: (devel), no VCS", "", vcs("(devel)"), release + "+dev"},
		{"go test: no module version", "", vcs(""), release + "+dev"},
		{"go install of a tag", "", vcs("v1.2.3"), "v1.2.3"},
		{"go build without tags, dirty", "", vcs("v0.0.0-20261202095117-a819c8823add+dirty",
			"vcs", "git", "vcs.revision", rev, "vcs.time", "2026-12-02T09:51:17Z", "vcs.modified", "true"),
			release + "+dev (rev a819c8823add, 2026-12-02T09:51:17Z, modified)"},
		{"VCS stamped, (devel) module, clean", "", vcs("(devel)",
			"vcs.revision", rev, "vcs.time", "2026-12-02T09:51:17Z", "vcs.modified", "false"),
			release + "+dev (rev a819c8823add, 2026-12-02T09:51:17Z)"},
		{"tagged pseudo-version names the revision already", "", vcs("v1.2.4-0.20261202095117-a819c8823add",
			"vcs.revision", rev, "vcs.time", "2026-12-02T09:51:17Z"), "v1.2.4-0.20261202095117-a819c8823add"},
		{"tag plus VCS", "", vcs("v1.2.3", "vcs.revision", rev, "vcs.modified", "true"), "v1.2.3 (rev a819c8823add, modified)"},
	} {
		if got := formatVersion(c.stamped, c.info); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestVersionFlag: -version under go test (no module version, no VCS
// stamp) still names a version, never "(devel)".
func TestVersionFlag(t *testing.T) {
	out := runCLI(t, nil, "-version")
	v, ok := strings.CutPrefix(strings.TrimSpace(out.stdout), "yunhu-onebot ")
	if out.code != exitOK || !ok || !strings.HasPrefix(v, release) || strings.Contains(v, "(devel)") {
		t.Fatalf("-version: %+v", out)
	}
	if v != versionString() {
		t.Errorf("-version says %q, the daemon reports %q", v, versionString())
	}
}
