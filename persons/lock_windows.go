//go:build windows

package persons

import "os"

// flock is a no-op on Windows, where the daemon's named pipe is not
// implemented either.
func flock(*os.File) error { return nil }

const oNoFollow = 0
