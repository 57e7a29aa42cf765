package conformance

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/faced/faced/exporters"
	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

// TestGoldenSidecars: the bytes faced writes per scenario are kept under
// testdata/golden, so that any change in what faced writes is a reviewed
// diff (go test ./exporters/conformance -run Golden -update rewrites them).
func TestGoldenSidecars(t *testing.T) {
	orient := shared.Dir(t, "testdata/photos/exif_orientation")
	regions := shared.Dir(t, "testdata/photos/xmp_face_regions")
	for _, tc := range []struct {
		name, photo string
		w, h        int
		sidecar     string // existing sidecar, "" = none
		faces       func(path string, w, h int) exporters.Photo
	}{
		{"new_sidecar", filepath.Join(orient, "pillow_hopper.jpg"), 128, 128, "", facesFor},
		{"rotated_with_foreign_regions", filepath.Join(orient, "immich_portrait-orientation-6.jpg"), 840, 700, "", facesFor},
		{"foreign_regions_and_keywords", filepath.Join(regions, "exiv2_DSC_3079.jpg"), 720, 1280, "", facesFor},
		{"foreign_list_without_dimensions", filepath.Join(orient, "pillow_hopper.jpg"), 128, 128, foreignPixelList, facesFor},
		{"name_from_another_tool", filepath.Join(orient, "pillow_hopper.jpg"), 128, 128, "", func(path string, w, h int) exporters.Photo {
			p := facesFor(path, w, h)
			p.Regions[1].Name, p.Keywords = "Bob", []string{"Bob"}
			return p
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			photo := filepath.Join(dir, "photo"+filepath.Ext(tc.photo))
			if err := copyPlain(tc.photo, photo); err != nil {
				t.Fatal(err)
			}
			if tc.sidecar != "" {
				if err := os.WriteFile(photo+".xmp", []byte(tc.sidecar), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.name == "name_from_another_tool" {
				// Lightroom named the face Anna; faced's person is Bob.
				if err := os.WriteFile(photo+".xmp", []byte(lightroomNamed("Anna", tc.w, tc.h, facesFor(photo, tc.w, tc.h).Regions[1].StoredBox)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ex, err := exporters.New(exporters.Options{UnnamedLabel: "Person", VisibilityKeywordRoot: "faced", FacedVersion: "golden"})
			if err != nil {
				t.Fatal(err)
			}
			p := tc.faces(photo, tc.w, tc.h)
			p.Visibility = "private"
			if _, err := ex.Export(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(photo + ".xmp")
			if err != nil {
				t.Fatal(err)
			}
			// A second export writes nothing.
			if r, err := ex.Export(context.Background(), p); err != nil || !r.Unchanged {
				t.Errorf("second export: %+v, %v (want unchanged)", r, err)
			}
			golden := filepath.Join("testdata", "golden", tc.name+".xmp")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from what faced writes now (review, then -update):\n%s", golden, got)
			}
		})
	}
}

// lightroomNamed is a sidecar where Lightroom named one face.
func lightroomNamed(name string, w, h int, b face.Box) string {
	return `<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
    xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#"
    xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#">
   <dc:subject><rdf:Bag><rdf:li>` + name + `</rdf:li></rdf:Bag></dc:subject>
   <lr:hierarchicalSubject><rdf:Bag><rdf:li>People|` + name + `</rdf:li></rdf:Bag></lr:hierarchicalSubject>
   <mwg-rs:Regions rdf:parseType="Resource">
    <mwg-rs:AppliedToDimensions stDim:w="` + itoa(w) + `" stDim:h="` + itoa(h) + `" stDim:unit="pixel"/>
    <mwg-rs:RegionList><rdf:Bag><rdf:li><rdf:Description mwg-rs:Name="` + name + `" mwg-rs:Type="Face">
     <mwg-rs:Area stArea:x="` + ftoa((b.X1+b.X2)/2/float64(w)) + `" stArea:y="` + ftoa((b.Y1+b.Y2)/2/float64(h)) +
		`" stArea:w="` + ftoa((b.X2-b.X1)/float64(w)) + `" stArea:h="` + ftoa((b.Y2-b.Y1)/float64(h)) + `" stArea:unit="normalized"/>
    </rdf:Description></rdf:li></rdf:Bag></mwg-rs:RegionList>
   </mwg-rs:Regions>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
`
}
