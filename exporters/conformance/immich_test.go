package conformance

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faced/faced/exporters"
	"github.com/faced/faced/internal/shared"
)

// TestImmichImportsFacedFaces runs the real exiftool-vendored with Immich's
// options over faced's sidecars on every shared test photo, then Immich's
// face import: every named face faced wrote must come out as a finite,
// in-image integer box within a pixel of faced's (on the displayed frame,
// after Immich's orientation), the unnamed face must not (Immich skips it),
// and no face at all may have a non-finite or out-of-image box.
func TestImmichImportsFacedFaces(t *testing.T) {
	lib := libraryOf(t)
	var paths []string
	for _, p := range lib {
		paths = append(paths, p.path)
	}
	reads, err := ReadImmich(context.Background(), shared.Root(), paths...)
	if errors.Is(err, ErrNoImmichReader) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	faced, foreign, bad := 0, 0, 0
	for i, r := range reads {
		p := lib[i]
		if r.Error != "" {
			t.Errorf("%s: %s", p.name, r.Error)
			continue
		}
		got := ImmichFaces(r.Tags)
		byName := map[string]ImmichFace{}
		for _, f := range got {
			if !f.InImage() {
				bad++
				t.Errorf("%s: Immich imports %q with box (%v,%v)-(%v,%v) on %vx%v: not a finite in-image box",
					p.name, f.Name, f.X1, f.Y1, f.X2, f.Y2, f.ImageW, f.ImageH)
			}
			if f.Name == nameNamed || f.Name == labelNamed {
				byName[f.Name] = f
				faced++
			} else {
				foreign++
			}
		}
		for name, reg := range named(p.faces) {
			f, ok := byName[name]
			if !ok {
				t.Errorf("%s: Immich does not import faced's face %q (%d faces: %+v)", p.name, name, len(got), got)
				continue
			}
			if !p.jpeg {
				continue
			}
			want, dw, dh := displayed(clampBox(reg.StoredBox, p.w, p.h), p.w, p.h, p.orientation)
			// Immich records the box in AppliedToDimensions pixels. A foreign
			// region list keeps its own AppliedToDimensions (the file was
			// resized after another tool wrote it): the box is then in those
			// units, the same relative box.
			sx, sy := f.ImageW/float64(dw), f.ImageH/float64(dh)
			if sx != 1 || sy != 1 {
				t.Logf("%s: Immich sizes the regions %vx%v (the file's own AppliedToDimensions), the stored image is %dx%d", p.name, f.ImageW, f.ImageH, dw, dh)
			}
			for _, c := range []struct {
				what      string
				got, want float64
			}{{"x1", f.X1, want.X1 * sx}, {"y1", f.Y1, want.Y1 * sy}, {"x2", f.X2, want.X2 * sx}, {"y2", f.Y2, want.Y2 * sy}} {
				if math.IsNaN(c.got) || math.Abs(c.got-math.Floor(c.want)) > 1 {
					t.Errorf("%s: face %q %s = %v, faced's %.2f (orientation %d)", p.name, name, c.what, c.got, c.want, p.orientation)
				}
			}
		}
	}
	t.Logf("Immich (exiftool-vendored 38.3.0, metadata.service.ts @0090492a) on %d shared photos: imports %d of faced's %d named faces, %d foreign regions, %d faces with a non-finite or out-of-image box",
		len(lib), faced, 2*len(lib), foreign, bad)
	fmt.Printf("conformance: immich photos=%d faced_imported=%d faced_named=%d foreign=%d bad_boxes=%d\n", len(lib), faced, 2*len(lib), foreign, bad)
}

// foreignPixelList is another tool's region list without
// AppliedToDimensions, its area in pixels: Immich imports nothing from it.
const foreignPixelList = `<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
    xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#">
   <mwg-rs:Regions rdf:parseType="Resource">
    <mwg-rs:RegionList>
     <rdf:Bag>
      <rdf:li rdf:parseType="Resource">
       <mwg-rs:Name>Tool Person</mwg-rs:Name>
       <mwg-rs:Type>Face</mwg-rs:Type>
       <mwg-rs:Area stArea:x="64" stArea:y="40" stArea:w="40" stArea:h="48" stArea:unit="pixel"/>
      </rdf:li>
     </rdf:Bag>
    </mwg-rs:RegionList>
   </mwg-rs:Regions>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
`

// TestImmichForeignListWithoutDimensions: faced adds its face to another
// tool's region list that has no AppliedToDimensions and must leave it
// without: adding one made Immich import the tool's pixel-unit region as a
// box thousands of pixels outside the image.
func TestImmichForeignListWithoutDimensions(t *testing.T) {
	src := filepath.Join(shared.Dir(t, "testdata/photos/exif_orientation"), "pillow_hopper.jpg")
	dir := t.TempDir()
	photo := filepath.Join(dir, "f.jpg")
	if err := copyPlain(src, photo); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(photo+".xmp", []byte(foreignPixelList), 0o644); err != nil {
		t.Fatal(err)
	}
	ex, err := exporters.New(exporters.Options{UnnamedLabel: "Person"})
	if err != nil {
		t.Fatal(err)
	}
	p := facesFor(photo, 128, 128)
	if _, err := ex.Export(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(photo + ".xmp")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "AppliedToDimensions") {
		t.Errorf("faced added AppliedToDimensions to another tool's region list:\n%s", out)
	}
	if !strings.Contains(string(out), `<mwg-rs:Area stArea:x="64" stArea:y="40" stArea:w="40" stArea:h="48" stArea:unit="pixel"/>`) {
		t.Errorf("the foreign region changed:\n%s", out)
	}
	reads, err := ReadImmich(context.Background(), shared.Root(), photo)
	if errors.Is(err, ErrNoImmichReader) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ImmichFaces(reads[0].Tags) {
		if !f.InImage() {
			t.Errorf("Immich imports %q as (%v,%v)-(%v,%v) on %vx%v", f.Name, f.X1, f.Y1, f.X2, f.Y2, f.ImageW, f.ImageH)
		}
	}
}
