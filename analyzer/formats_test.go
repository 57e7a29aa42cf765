package analyzer

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

// sourcePhotos are the face photos the format tests convert: small enough
// (≤ 1 126 px) that the JPEG path detects at full resolution as every other
// decoder does, so the faces must agree to the tolerances of the issue.
func sourcePhotos(t *testing.T) []string {
	t.Helper()
	g := shared.Dir(t, "testdata/photos/group")
	return []string{
		filepath.Join(g, "face_recognition_two_people.jpg"),
		filepath.Join(g, "digikam_codingsprint2009-02.jpg"),
	}
}

// sameFaces checks that got (from a converted file) are the faces of want
// (from the source JPEG): boxes within tol px, ages within 0.5 years,
// male_prob within 0.02.
func sameFaces(t *testing.T, name string, got, want []face.Face, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d faces, the source has %d", name, len(got), len(want))
		return
	}
	used := make([]bool, len(got))
	for _, w := range want {
		bi, bd := -1, math.Inf(1)
		for i, g := range got {
			if used[i] {
				continue
			}
			d := max(math.Abs(g.Box.X1-w.Box.X1), math.Abs(g.Box.Y1-w.Box.Y1), math.Abs(g.Box.X2-w.Box.X2), math.Abs(g.Box.Y2-w.Box.Y2))
			if d < bd {
				bi, bd = i, d
			}
		}
		g := got[bi]
		used[bi] = true
		if bd > tol || math.Abs(g.Age-w.Age) > 0.5 || math.Abs(g.MaleProb-w.MaleProb) > 0.02 {
			t.Errorf("%s: face %v age %.2f male %.3f; source %v age %.2f male %.3f (box off by %.2f px)",
				name, g.Box, g.Age, g.MaleProb, w.Box, w.Age, w.MaleProb, bd)
		}
	}
}

// TestBytesDecideFormat: a PNG named .jpg is read as the PNG it is, finds
// the faces of the source, and the result says so.
func TestBytesDecideFormat(t *testing.T) {
	a := newAnalyzer(t, Options{})
	src := sourcePhotos(t)[0]
	want := analyze(t, a, src)
	m := gocv.IMRead(src, gocv.IMReadColor)
	defer m.Close()
	p := filepath.Join(t.TempDir(), "really_a_png.jpg")
	buf, err := gocv.IMEncode(gocv.PNGFileExt, m)
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	if err := os.WriteFile(p, buf.GetBytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got := analyze(t, a, p)
	if got.Format != "png" || !strings.Contains(got.Note, "extension .jpg but the content is PNG") {
		t.Errorf("format %q note %q; want png and a note on the extension", got.Format, got.Note)
	}
	if want.Format != "jpeg" || want.Note != "" {
		t.Errorf("source: format %q note %q", want.Format, want.Note)
	}
	sameFaces(t, "png as .jpg", got.Faces, want.Faces, 2)
}
