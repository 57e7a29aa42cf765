package analyzer

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/faced/faced/internal/shared"
)

// TestUpscale12MPGrain: grain makes the 12 MP copy heavier (what it is for)
// and is the same on every call, so benchmark sets are reproducible.
func TestUpscale12MPGrain(t *testing.T) {
	src := filepath.Join(shared.Dir(t, "testdata/photos/group"), "face_recognition_two_people.jpg")
	read := func(grain float64) []byte {
		t.Helper()
		p, err := Upscale12MPGrain(src, t.TempDir(), 90, grain)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	plain, g1, g2 := read(0), read(6), read(6)
	if !bytes.Equal(g1, g2) {
		t.Errorf("grain 6 twice: %d and %d bytes, not the same file", len(g1), len(g2))
	}
	if len(g1) < len(plain)*3/2 {
		t.Errorf("grain 6: %d bytes, plain %d: want at least 1.5 times heavier", len(g1), len(plain))
	}
	if _, err := Upscale12MPGrain(filepath.Join(t.TempDir(), "missing.jpg"), t.TempDir(), 90, 6); err == nil {
		t.Error("missing source: no error")
	}
}
