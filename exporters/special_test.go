package exporters

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

func onePhoto(t *testing.T, dir string) Photo {
	t.Helper()
	src := filepath.Join(shared.Dir(t, orientationDir), "pillow_hopper.jpg")
	photo := copyFile(t, src, dir, "s.jpg")
	return Photo{Path: photo, StoredWidth: 128, StoredHeight: 128, Keywords: []string{"Ann"},
		Regions: []Region{{FaceID: 1, PersonID: 1, Name: "Ann", StoredBox: face.Box{X1: 10, Y1: 10, X2: 60, Y2: 70}}}}
}

// exportWithin runs Export and fails the test if it does not return within
// d (before the fix, a FIFO sidecar blocked the read forever).
func exportWithin(t *testing.T, e *Exporter, p Photo, d time.Duration) (Result, error) {
	t.Helper()
	type out struct {
		r   Result
		err error
	}
	ch := make(chan out, 1)
	go func() {
		r, err := e.Export(context.Background(), p)
		ch <- out{r, err}
	}()
	select {
	case o := <-ch:
		return o.r, o.err
	case <-time.After(d):
		t.Fatalf("Export of %s still running after %v", p.Path, d)
	}
	return Result{}, nil
}

// TestSpecialSidecarsRefused: a sidecar name taken by a FIFO, a socket, a
// folder or a symbolic link leading out of the library is refused with a
// named error, never read (no blocking), never replaced; the photo's other
// sidecar is still written. A link that stays inside the library is merged
// into its target and stays a link.
func TestSpecialSidecarsRefused(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.xmp")
	secretData := []byte("<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"/></x:xmpmeta>\n")
	if err := os.WriteFile(secret, secretData, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		make func(t *testing.T, lib, side string)
		want error // nil: merged
		mode os.FileMode
		// alone: the photo has no other sidecar (before the fix the FIFO
		// was then opened to be read, which blocked forever).
		alone bool
	}{
		{"fifo alone", func(t *testing.T, lib, side string) {
			if err := syscall.Mkfifo(side, 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}, ErrSidecarNotRegular, os.ModeNamedPipe, true},
		{"fifo", func(t *testing.T, lib, side string) {
			if err := syscall.Mkfifo(side, 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}, ErrSidecarNotRegular, os.ModeNamedPipe, false},
		{"folder", func(t *testing.T, lib, side string) {
			if err := os.Mkdir(side, 0o755); err != nil {
				t.Fatal(err)
			}
		}, ErrSidecarNotRegular, os.ModeDir, false},
		{"link out of the library", func(t *testing.T, lib, side string) {
			if err := os.Symlink(secret, side); err != nil {
				t.Fatal(err)
			}
		}, ErrSidecarOutside, os.ModeSymlink, false},
		{"dangling link", func(t *testing.T, lib, side string) {
			if err := os.Symlink(filepath.Join(lib, "nowhere.xmp"), side); err != nil {
				t.Fatal(err)
			}
		}, ErrSidecarOutside, os.ModeSymlink, false},
		{"link inside the library", func(t *testing.T, lib, side string) {
			in := filepath.Join(lib, "other.xmp")
			if err := os.WriteFile(in, secretData, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(in, side); err != nil {
				t.Fatal(err)
			}
		}, nil, os.ModeSymlink, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lib := t.TempDir()
			p := onePhoto(t, lib)
			side := p.Path + ".xmp"
			tc.make(t, lib, side)
			other := strings.TrimSuffix(p.Path, ".jpg") + ".xmp" // photo.xmp, a regular sidecar
			if !tc.alone {
				if err := os.WriteFile(other, secretData, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			e := newExporter(t, Options{Library: lib})
			_, err := exportWithin(t, e, p, 10*time.Second)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Export = %v, want %v", err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), side) {
				t.Errorf("error %q does not name %s", err, side)
			}
			fi, lerr := os.Lstat(side)
			if lerr != nil || fi.Mode().Type() != tc.mode.Type() {
				t.Errorf("%s is now %v (%v), want it left as %v", side, fi.Mode().Type(), lerr, tc.mode.Type())
			}
			if got, _ := os.ReadFile(secret); !bytes.Equal(got, secretData) {
				t.Errorf("the file outside the library changed:\n%s", got)
			}
			if got, _ := os.ReadFile(other); !tc.alone && !bytes.Contains(got, []byte("People/Ann")) {
				t.Errorf("the photo's regular sidecar %s was not written:\n%s", other, got)
			}
			if tc.want == nil {
				if got, _ := os.ReadFile(filepath.Join(lib, "other.xmp")); !bytes.Contains(got, []byte("People/Ann")) {
					t.Errorf("the link's target inside the library was not merged:\n%s", got)
				}
			}
			ents, _ := os.ReadDir(lib)
			for _, de := range ents {
				if IsTempName(de.Name()) {
					t.Errorf("temporary file %s left", de.Name())
				}
			}
		})
	}
}

// TestOversizedSidecarUntouched: a sidecar over the size limit, or nested
// deeper than faced parses, is left byte for byte with ErrSidecarTooLarge.
func TestOversizedSidecarUntouched(t *testing.T) {
	deep := "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\">" +
		strings.Repeat("<a:b xmlns:a=\"urn:a\">", 200) + strings.Repeat("</a:b>", 200) + "</rdf:Description></rdf:RDF></x:xmpmeta>"
	for _, tc := range []struct {
		name string
		data []byte
		max  int64
	}{
		{"size", keywordSidecar(2000), 16 << 10},
		{"depth", []byte(deep), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lib := t.TempDir()
			p := onePhoto(t, lib)
			side := p.Path + ".xmp"
			if err := os.WriteFile(side, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			e := newExporter(t, Options{Library: lib, MaxSidecarBytes: tc.max})
			_, err := e.Export(context.Background(), p)
			if !errors.Is(err, ErrSidecarTooLarge) || !strings.Contains(err.Error(), side) {
				t.Fatalf("Export = %v, want ErrSidecarTooLarge naming %s", err, side)
			}
			if got, _ := os.ReadFile(side); !bytes.Equal(got, tc.data) {
				t.Error("the oversized sidecar was changed")
			}
		})
	}
}
