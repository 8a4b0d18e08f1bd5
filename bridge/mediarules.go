package bridge

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"

	"go.uber.org/zap"
)

// Media rules (README "Media rules"). Whoever holds the access token can
// name media by file:/// path or by URL, and the bridge uploads what it
// reads to Yunhu, where the bot's chat partners see it. Without rules that
// is a way to read the host's files (/proc/self/environ holds YUNHU_TOKEN
// under systemd) and to reach services only this host can reach (the
// daemon's own API, a cloud metadata endpoint). So:
//
//	file:///  only below MediaOptions.FileRoots; never below /proc, /sys,
//	          /dev, or the directory of the config file or the database,
//	          whatever the roots say; only regular files. The path is
//	          resolved (symlinks, ..) before the check, opened through an
//	          os.Root of its root (so a component swapped for a symlink
//	          after the check cannot lead out of it), and the opened file
//	          is checked again. Every refusal outside the roots reads as
//	          "no such file", so a bot learns nothing about files it may
//	          not read.
//	http(s)   checked at dial time on the address actually dialled (after
//	          DNS, on every redirect hop): never the daemon's own
//	          listeners, link-local and cloud metadata addresses or the
//	          unspecified address; loopback, private and CGNAT ranges only
//	          with AllowPrivateNetworks. No proxy: through one the dialled
//	          address would be the proxy's, and the rule would check the
//	          wrong host.

// MediaOptions confines where outgoing media may come from.
type MediaOptions struct {
	// FileRoots are the directories file:/// media may be read from (and
	// everything below them); empty refuses file:/// altogether.
	FileRoots []string
	// DenyPaths are files, such as the config file and the database, whose
	// directory is never a media source, whatever FileRoots say.
	DenyPaths []string
	// AllowPrivateNetworks lets http(s) media come from loopback, private
	// (RFC 1918, fc00::/7) and CGNAT addresses: for bots that serve their
	// pictures on this host or a LAN. The daemon's own listeners and
	// link-local/metadata addresses stay refused.
	AllowPrivateNetworks bool
}

// mediaRules is MediaOptions resolved once, plus the daemon's listeners,
// which are known only after the bridge is built.
type mediaRules struct {
	roots     []string // resolved absolute directories
	denyDirs  []string // resolved absolute directories
	denyFiles []string // the DenyPaths themselves, compared by identity
	allowPriv bool
	own       atomic.Pointer[[]netip.AddrPort] // the daemon's listeners
}

// alwaysDenied are the kernel's and devices' pseudo file systems: reading
// them shows the process's environment, memory maps and more.
var alwaysDenied = []string{"/proc", "/sys", "/dev"}

func newMediaRules(o MediaOptions, log *zap.Logger) *mediaRules {
	r := &mediaRules{allowPriv: o.AllowPrivateNetworks}
	for _, d := range alwaysDenied {
		r.denyDirs = append(r.denyDirs, d, resolvePath(d))
	}
	for _, p := range o.DenyPaths {
		if p == "" {
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			continue
		}
		r.denyFiles = append(r.denyFiles, abs)
		dir := filepath.Dir(abs)
		r.denyDirs = append(r.denyDirs, dir, resolvePath(dir))
	}
	r.denyDirs = compactPaths(r.denyDirs)
	for _, root := range o.FileRoots {
		abs, err := filepath.Abs(root)
		if err != nil {
			continue
		}
		res, err := filepath.EvalSymlinks(abs)
		if err != nil {
			log.Warn("media file root is not usable", zap.String("root", abs), zap.Error(err))
			continue
		}
		for _, d := range r.denyDirs {
			if within(d, res) {
				log.Warn("a denied directory lies within a media file root; files under it stay refused",
					zap.String("root", res), zap.String("denied", d))
			}
		}
		r.roots = append(r.roots, res)
	}
	r.roots = compactPaths(r.roots)
	return r
}

// resolvePath is p with its symlinks resolved, or p when that fails.
func resolvePath(p string) string {
	if res, err := filepath.EvalSymlinks(p); err == nil {
		return res
	}
	return p
}

func compactPaths(ps []string) []string {
	slices.Sort(ps)
	return slices.Compact(ps)
}

// within reports whether p is dir or below it; both are clean and
// absolute.
func within(p, dir string) bool {
	if p == dir {
		return true
	}
	if !strings.HasSuffix(dir, string(filepath.Separator)) {
		dir += string(filepath.Separator)
	}
	return strings.HasPrefix(p, dir)
}

func (r *mediaRules) denied(p string) bool {
	return slices.ContainsFunc(r.denyDirs, func(d string) bool { return within(p, d) })
}

// rootOf returns the root p lies below, "" for none.
func (r *mediaRules) rootOf(p string) string {
	for _, root := range r.roots {
		if within(p, root) {
			return root
		}
	}
	return ""
}

// errNoSuchFile is every refusal of a path outside the roots, and of one
// that does not exist: the two must read the same.
var errNoSuchFile = errors.New("no such file")

// openLocal opens the regular file at the absolute path p under the
// rules. The error is errNoSuchFile, or one for a file inside the roots
// (not a regular file, unreadable), whose wording may say so.
func (r *mediaRules) openLocal(p string) (*os.File, error) {
	p = filepath.Clean(p)
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, errNoSuchFile
	}
	root := r.rootOf(resolved)
	if root == "" || r.denied(resolved) {
		return nil, errNoSuchFile
	}
	return r.openResolved(root, resolved)
}

// openResolved opens resolved, which the checks found below root, through
// an os.Root of root and checks the file it got: what the path named may
// have changed since.
func (r *mediaRules) openResolved(root, resolved string) (*os.File, error) {
	rel, err := filepath.Rel(root, resolved)
	if err != nil {
		return nil, errNoSuchFile
	}
	dir, err := os.OpenRoot(root)
	if err != nil {
		return nil, errNoSuchFile
	}
	defer dir.Close()
	// Non-blocking: opening a FIFO for reading would otherwise wait for a
	// writer forever.
	f, err := dir.OpenFile(rel, os.O_RDONLY|openNonBlock, 0)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, errors.New("permission denied")
		}
		return nil, errNoSuchFile
	}
	if err := r.checkOpened(f, resolved); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkOpened verifies the file actually opened: a regular file, the one
// the resolved path names now, not a denied file (a hard link to the
// database, say), and, where the system tells the path of an open file,
// still inside a root and outside the denied directories — which catches
// a component swapped for a symlink between the check and the open.
func (r *mediaRules) checkOpened(f *os.File, resolved string) error {
	st, err := f.Stat()
	if err != nil {
		return errNoSuchFile
	}
	if now, err := os.Stat(resolved); err != nil || !os.SameFile(st, now) {
		return errNoSuchFile
	}
	for _, d := range r.denyFiles {
		if dst, err := os.Stat(d); err == nil && os.SameFile(st, dst) {
			return errNoSuchFile
		}
	}
	if real := openedPath(f); real != "" && (r.rootOf(real) == "" || r.denied(real)) {
		return errNoSuchFile
	}
	if !st.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	return nil
}

// DenyMediaListeners names the daemon's own listeners, which a media URL
// may never reach whatever the rules allow (a bot could otherwise make the
// bridge call the API with a token in the URL and post the answer). The
// daemon calls it once its listeners are bound, before serving.
func (b *Bridge) DenyMediaListeners(addrs []net.Addr) { b.media.setListeners(addrs) }

func (r *mediaRules) setListeners(addrs []net.Addr) {
	var out []netip.AddrPort
	for _, a := range addrs {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			out = append(out, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		}
	}
	r.own.Store(&out)
}

// Fixed addresses outside the standard library's classes.
var (
	metadataV4 = netip.MustParseAddr("100.100.100.200") // Alibaba Cloud metadata
	metadataV6 = netip.MustParseAddr("fd00:ec2::254")   // AWS metadata over IPv6
	cgnat      = netip.MustParsePrefix("100.64.0.0/10")
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
)

// checkDial is the rule for one dialled address; nil allows it.
func (r *mediaRules) checkDial(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refused("address %s refused: not an IP address", address)
	}
	ip := ap.Addr().Unmap().WithZone("")
	if nat64.Contains(ip) { // the IPv4 address it translates to is the one reached
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:16]))
	}
	switch {
	case ip.IsUnspecified(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(), ip.IsMulticast(),
		ip == metadataV4, ip == metadataV6, ip == netip.IPv4Unspecified(), ip.Is4() && ip.As4() == [4]byte{255, 255, 255, 255}:
		return refused("address %s refused: link-local, metadata or unspecified addresses are never media sources", ip)
	}
	if r.ownListener(ip, ap.Port()) {
		return refused("address %s refused: it is this daemon's own listener", netip.AddrPortFrom(ip, ap.Port()))
	}
	if !r.allowPriv && (ip.IsLoopback() || ip.IsPrivate() || cgnat.Contains(ip)) {
		return refused("address %s refused: loopback and private addresses are not media sources unless message.media.allow-private-networks is on", ip)
	}
	return nil
}

// ownListener reports an address that reaches one of the daemon's
// listeners: its port on the listener's address, on loopback, or on any
// address of this host (a listener on 0.0.0.0 answers on all of them,
// and a name for the host may resolve to any).
func (r *mediaRules) ownListener(ip netip.Addr, port uint16) bool {
	own := r.own.Load()
	if own == nil || !slices.ContainsFunc(*own, func(a netip.AddrPort) bool { return a.Port() == port }) {
		return false
	}
	for _, a := range *own {
		if a.Port() == port && a.Addr() == ip {
			return true
		}
	}
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true // cannot tell: refuse
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if local, ok := netip.AddrFromSlice(n.IP); ok && local.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

// dialer returns the media fetcher's dialer: every connection, including
// those of redirects, is checked on the address it is about to reach.
func (r *mediaRules) dialer() *net.Dialer {
	return &net.Dialer{
		Control: func(network, address string, _ syscall.RawConn) error {
			return r.checkDial(address)
		},
	}
}

// refusedError is a dial the rules refused; its text is the client's.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

func refused(format string, args ...any) error { return &refusedError{fmt.Sprintf(format, args...)} }
