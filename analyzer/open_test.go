//go:build !windows

package analyzer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/faced/faced/internal/confine"
)

// Special files are never opened for reading (a FIFO named x.jpg blocked
// the analysis for good), and with the library's confinement a link
// leading out is not read.
func TestSpecialAndOutsideFiles(t *testing.T) {
	lib := t.TempDir()
	outside := t.TempDir()
	photo := filepath.Join(outside, "secret.jpg")
	src, err := os.ReadFile(filepath.Join("..", "..", "shared", "seed", "reference", "test_image.jpg"))
	if err != nil {
		src = []byte("\xff\xd8\xff\xd9") // any bytes: the point is they are never read
	}
	if err := os.WriteFile(photo, src, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"fifo.jpg", "fifo.mp4"} {
		if err := syscall.Mkfifo(filepath.Join(lib, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(photo, filepath.Join(lib, "out.jpg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(lib, "zero.jpg")); err != nil {
		t.Fatal(err)
	}
	conf, err := confine.New(lib, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conf.Close()
	plain := newAnalyzer(t, Options{})
	confined := newAnalyzer(t, Options{Open: conf.Open})
	for _, tc := range []struct {
		a    *Analyzer
		name string
		want error
	}{
		{plain, "fifo.jpg", ErrUnsupported},
		{plain, "fifo.mp4", ErrUnsupported},
		{plain, "zero.jpg", ErrUnsupported},
		{confined, "fifo.jpg", ErrUnsupported},
		{confined, "out.jpg", confine.ErrOutside},
		{confined, "zero.jpg", confine.ErrOutside},
	} {
		done := make(chan error, 1)
		go func() {
			_, err := tc.a.Analyze(context.Background(), filepath.Join(lib, tc.name))
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the analysis blocked (opened for reading?)", tc.name)
		}
	}
}
