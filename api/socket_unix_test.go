//go:build !windows

package api

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Listen never removes what is at the socket path unless it is a stale
// socket of faced's own user: Socket = /etc/passwd once deleted the file.
func TestListenLeavesOthersFiles(t *testing.T) {
	dir := shortTemp(t)
	target := filepath.Join(dir, "passwd")
	if err := os.WriteFile(target, []byte("root:x:0:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		make func(p string) error
	}{
		{"regular file", func(p string) error { return os.WriteFile(p, []byte("keep"), 0o644) }},
		{"empty file", func(p string) error { return os.WriteFile(p, nil, 0o600) }},
		{"folder", func(p string) error { return os.Mkdir(p, 0o700) }},
		{"symbolic link to a file", func(p string) error { return os.Symlink(target, p) }},
		{"dangling symbolic link", func(p string) error { return os.Symlink(filepath.Join(dir, "none"), p) }},
		{"named pipe", func(p string) error { return syscall.Mkfifo(p, 0o600) }},
		{"socket of another user", func(p string) error {
			if os.Geteuid() != 0 {
				t.Skip("chown to another user needs root")
			}
			ln, err := net.Listen("unix", p)
			if err != nil {
				return err
			}
			ln.(*net.UnixListener).SetUnlinkOnClose(false)
			ln.Close()
			return os.Lchown(p, 65534, 65534)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, filepath.Base(t.Name())+".sock")
			if err := tc.make(p); err != nil {
				t.Fatal(err)
			}
			before, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			ln, err := Listen(p)
			if err == nil {
				ln.Close()
				t.Fatalf("Listen over a %s succeeded", tc.name)
			}
			if !errors.Is(err, ErrNotASocket) {
				t.Errorf("err = %v, want ErrNotASocket", err)
			}
			after, err := os.Lstat(p)
			if err != nil || !os.SameFile(before, after) {
				t.Errorf("the %s at the socket path was removed or replaced (%v)", tc.name, err)
			}
		})
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "root:x:0:0\n" {
		t.Errorf("symbolic link target changed: %q, %v", b, err)
	}
}

// The socket is the daemon user's alone (0600) unless its folder is shared
// with the faced group.
func TestListenSocketMode(t *testing.T) {
	sock := filepath.Join(shortTemp(t), "faced.sock")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
}
