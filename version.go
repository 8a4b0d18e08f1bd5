package main

import (
	"runtime/debug"
	"strings"
)

// release is the version of the source tree: raised when a release is
// tagged, so that a binary built from anything but an exact tag is still
// placed by name (a build of v0.1.0 plus later commits says v0.1.0+dev).
const release = "v0.1.0"

// version overrides everything else when a packager stamps it:
// go build -ldflags "-X main.version=v1.0.0".
var version = ""

// versionString is what -version, the start-up log, get_version_info
// and the HTTP User-Agent report.
func versionString() string {
	info, _ := debug.ReadBuildInfo()
	return formatVersion(version, info)
}

// formatVersion names the build as precisely as the binary allows, never
// "(devel)" alone, which says nothing about what is running:
//
//   - a stamped version (-ldflags -X) is taken as it is;
//   - a module version (go install ...@v1.2.3, or the pseudo-version that
//     go build derives from a tagged repository since Go 1.24) is taken as
//     it is;
//   - otherwise (go run, go test, a build outside a checkout, a repository
//     without tags) it is the release constant with "+dev".
//
// When the toolchain recorded VCS information (go build in a checkout;
// go run records none), the revision, its commit time and whether the
// work tree had uncommitted changes follow in parentheses, unless the
// module version already spells them.
func formatVersion(stamped string, info *debug.BuildInfo) string {
	if stamped != "" {
		return stamped
	}
	v := release + "+dev"
	if info == nil {
		return v
	}
	// A v0.0.0 pseudo-version is what go build derives from a repository
	// without tags: the release constant says more, the revision follows.
	if mv := info.Main.Version; mv != "" && mv != "(devel)" && !strings.HasPrefix(mv, "v0.0.0-") {
		v = mv
	}
	var rev, when string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return v
	}
	short := rev[:min(len(rev), 12)]
	if strings.Contains(v, short) {
		// A pseudo-version (v0.0.0-20260102150405-abcdef123456+dirty)
		// already names the revision, its time and a dirty tree.
		return v
	}
	detail := []string{"rev " + short}
	if when != "" {
		detail = append(detail, when)
	}
	if modified {
		detail = append(detail, "modified")
	}
	return v + " (" + strings.Join(detail, ", ") + ")"
}
