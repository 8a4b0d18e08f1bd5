package main

import (
	"fmt"
	"net"
	"strings"
)

// sdNotify sends a state line such as "READY=1" to systemd when the unit
// runs with Type=notify, i.e. when NOTIFY_SOCKET is set. It is a single
// datagram on a unix socket, so no systemd library is needed. Without
// NOTIFY_SOCKET it does nothing.
func sdNotify(getenv func(string) string, state string) error {
	addr := getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	// A leading @ names a socket in the abstract namespace.
	if strings.HasPrefix(addr, "@") {
		addr = "\x00" + addr[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify systemd %s: %w", state, err)
	}
	return nil
}
