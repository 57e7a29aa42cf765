//go:build windows

package api

import (
	"context"
	"errors"
	"net"
)

// Listen is not implemented on Windows yet: the daemon would serve on a
// named pipe (\\.\pipe\faced), which needs a pipe listener.
func Listen(path string) (net.Listener, error) {
	return nil, errors.New("the local API is not available on Windows yet")
}

func dial(ctx context.Context, path string) (net.Conn, error) {
	return nil, ErrNotRunning
}
