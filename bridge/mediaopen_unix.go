//go:build unix

package bridge

import (
	"os"
	"strconv"
	"syscall"
)

// openNonBlock keeps the open of a FIFO from waiting for a writer.
const openNonBlock = syscall.O_NONBLOCK

// openedPath is the path of the open file f as the kernel sees it (Linux
// /proc/self/fd), or "" where the system does not tell.
func openedPath(f *os.File) string {
	rc, err := f.SyscallConn() // unlike Fd, leaves the descriptor's mode alone
	if err != nil {
		return ""
	}
	var p string
	if cerr := rc.Control(func(fd uintptr) {
		p, err = os.Readlink("/proc/self/fd/" + strconv.FormatUint(uint64(fd), 10))
	}); cerr != nil || err != nil || len(p) == 0 || p[0] != '/' {
		return ""
	}
	return p
}
