package exporters

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

// The person's birth year and, for an automatic one, its confidence are in
// faced:Faces as ExifTool reads them with faced's config; a face without a
// person's year has neither.
func TestSidecarPersonBirthYear(t *testing.T) {
	needTool(t, "exiftool")
	src := filepath.Join(shared.Dir(t, orientationDir), "pillow_hopper.jpg")
	photo := copyFile(t, src, t.TempDir(), "b.jpg")
	e := newExporter(t, Options{UnnamedLabel: "Person"})
	mustExport(t, e, Photo{Path: photo, StoredWidth: 128, StoredHeight: 128, Regions: []Region{
		{FaceID: 1, PersonID: 1, Name: "Ann", StoredBox: face.Box{X1: 5, Y1: 5, X2: 40, Y2: 50},
			PersonBirthYear: 1987, PersonBirthYearConfidence: 0.71},
		{FaceID: 2, PersonID: 2, Name: "Ben", StoredBox: face.Box{X1: 70, Y1: 20, X2: 110, Y2: 70}, PersonBirthYear: 1950},
		{FaceID: 3, StoredBox: face.Box{X1: 50, Y1: 80, X2: 80, Y2: 120}},
	}})
	d := exifDump(t, photo+".xmp")
	faces, _ := d["XMP-faced:Faces"].([]any)
	got := map[string]string{}
	for _, f := range faces {
		m := f.(map[string]any)
		got[fmt.Sprint(m["FaceID"])] = fmt.Sprint(m["PersonBirthYear"], " ", m["PersonBirthYearConfidence"])
	}
	want := map[string]string{"1": "1987 0.7", "2": "1950 <nil>", "3": "<nil> <nil>"}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("face %s: birth year, confidence %q, want %q (all: %v)", id, got[id], w, got)
		}
	}
}
