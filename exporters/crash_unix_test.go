//go:build unix

package exporters

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/faced/faced/exporters/xmp"
	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

// crashPhoto is the Photo the crash helper exports (private; the parent
// wrote the public version first).
func crashPhoto(path string) Photo {
	return Photo{Path: path, StoredWidth: 128, StoredHeight: 128, Visibility: "private", Keywords: []string{"Eve"},
		Regions: []Region{{FaceID: 1, PersonID: 2, Name: "Eve", StoredBox: face.Box{X1: 10, Y1: 10, X2: 60, Y2: 60}}}}
}

// TestCrashHelper is the child process of TestKilledWrite: it exports and
// SIGKILLs itself after the temporary file is written and synced, just
// before the rename.
func TestCrashHelper(t *testing.T) {
	photo := os.Getenv("FACED_EXPORT_CRASH_PHOTO")
	if photo == "" {
		t.Skip("helper process for TestKilledWrite")
	}
	e, err := New(Options{OnWrite: func(string) { syscall.Kill(os.Getpid(), syscall.SIGKILL) }})
	if err != nil {
		t.Fatal(err)
	}
	e.Export(context.Background(), crashPhoto(photo))
	t.Fatal("still alive after the write")
}

// TestKilledWrite kills a real exporting process between the temporary
// file and the rename: the sidecar is the old one, complete (or absent when
// there was none); the next export writes the new one.
func TestKilledWrite(t *testing.T) {
	src := filepath.Join(shared.Dir(t, orientationDir), "pillow_hopper.jpg")
	for _, existed := range []bool{true, false} {
		dir := t.TempDir()
		photo := copyFile(t, src, dir, "k.jpg")
		side := photo + ".xmp"
		var old []byte
		if existed {
			p := crashPhoto(photo)
			p.Visibility = "public"
			mustExport(t, newExporter(t, Options{}), p)
			old, _ = os.ReadFile(side)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), "FACED_EXPORT_CRASH_PHOTO="+photo)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("helper was not killed: %v\n%s", err, out)
		}
		got, rerr := os.ReadFile(side)
		if existed {
			if !bytes.Equal(got, old) {
				t.Fatalf("sidecar changed by a killed write:\n%s", got)
			}
		} else if !os.IsNotExist(rerr) {
			t.Fatalf("a killed first write left a sidecar: %v", rerr)
		}
		// The temporary file is complete and recognisable.
		tmps, _ := filepath.Glob(filepath.Join(dir, TempPrefix+"*"))
		if len(tmps) != 1 || !IsTempName(tmps[0]) {
			t.Fatalf("temporary files: %v", tmps)
		}
		data, _ := os.ReadFile(tmps[0])
		if _, err := xmp.Parse(data); err != nil {
			t.Errorf("temporary file is not complete XMP: %v", err)
		}
		// The next export completes.
		r := mustExport(t, newExporter(t, Options{}), crashPhoto(photo))
		if len(r.Written) != 1 {
			t.Fatalf("re-export: %+v", r)
		}
		d := exifDump(t, side)
		if d["XMP-faced:Visibility"] != "private" {
			t.Errorf("re-export visibility %v", d["XMP-faced:Visibility"])
		}
	}
}
