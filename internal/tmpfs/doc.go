// Package tmpfs gives tests a small tmpfs mount they can fill up, for the
// full-disk cases. Mounting needs root (CAP_SYS_ADMIN) on Linux; elsewhere
// the test is skipped with a message saying why.
package tmpfs
