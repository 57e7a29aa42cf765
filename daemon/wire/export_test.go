package wire

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faced/faced/exporters"
	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
	"github.com/faced/faced/internal/shared"
	"github.com/faced/faced/persons"
)

// TestAdoptNames: names users gave faced's regions in their photo manager
// reach the index as sidecar names, never over a name set by the user with
// facedctl, and an unassigned face named in the sidecar becomes a person.
func TestAdoptNames(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	ix := s.ix
	j := func(p string) {
		if err := s.Enqueue(ctx, p, "new"); err != nil {
			t.Fatal(err)
		}
	}
	j("/p/a.jpg")
	job := lease1(t, s, "/p/a.jpg")
	mk := func(x float64) face.Face {
		b := face.Box{X1: x, Y1: 10, X2: x + 40, Y2: 50}
		f := face.Face{Box: b, StoredBox: b, Score: 0.99, Age: 30, MaleProb: 0.8, Features: make([]float32, 8)}
		f.Features[0] = 1
		return f
	}
	res := &face.Result{File: "/p/a.jpg", Kind: face.KindPhoto, Width: 300, Height: 80, StoredWidth: 300, StoredHeight: 80,
		Faces: []face.Face{mk(10), mk(100), mk(200)}, Model: "test"}
	if err := s.Done(ctx, job, 1, time.Unix(1, 0), "h", res); err != nil {
		t.Fatal(err)
	}
	faces, err := ix.Faces(ctx, index.FaceQuery{NoFeatures: true})
	if err != nil || len(faces) != 3 {
		t.Fatalf("faces = %v, %v", faces, err)
	}
	auto, err := ix.CreatePerson(ctx, index.Person{Name: "Person 1"})
	if err != nil {
		t.Fatal(err)
	}
	user, err := ix.CreatePerson(ctx, index.Person{Name: "Alice", NameSource: index.SourceUser})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.AssignFaces(ctx, map[int64]int64{faces[0].ID: auto, faces[1].ID: user}, index.SourceAuto); err != nil {
		t.Fatal(err)
	}
	_, err = persons.New(ix, persons.Options{}).AdoptNames(ctx, []exporters.UserName{
		{FaceID: faces[0].ID, PersonID: auto, Name: "Bob", Sidecar: "a.jpg.xmp"},
		{FaceID: faces[1].ID, PersonID: user, Name: "Alicia", Sidecar: "a.jpg.xmp"},
		{FaceID: faces[2].ID, Name: "Carol", Sidecar: "a.jpg.xmp"},
		{FaceID: 999999, Name: "Gone", Sidecar: "a.jpg.xmp"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := ix.Person(ctx, auto); p.Name != "Bob" || p.NameSource != index.SourceSidecar {
		t.Errorf("auto-named person after adoption = %q (%s), want Bob (sidecar)", p.Name, p.NameSource)
	}
	if p, _ := ix.Person(ctx, user); p.Name != "Alice" {
		t.Errorf("user-named person renamed from the sidecar to %q", p.Name)
	}
	f3, err := ix.Face(ctx, faces[2].ID)
	if err != nil || f3.PersonID == 0 {
		t.Fatalf("unassigned face named in the sidecar: %+v, %v", f3, err)
	}
	if p, _ := ix.Person(ctx, f3.PersonID); p.Name != "Carol" {
		t.Errorf("new person = %q, want Carol", p.Name)
	}
}

// lightroomSidecar is a sidecar as Lightroom Classic writes one for a named
// face: an MWG region (centre form, AppliedToDimensions) and the person
// keyword in lr:hierarchicalSubject and dc:subject.
func lightroomSidecar(name string, w, h int, b face.Box) string {
	cx, cy := (b.X1+b.X2)/2/float64(w), (b.Y1+b.Y2)/2/float64(h)
	bw, bh := (b.X2-b.X1)/float64(w), (b.Y2-b.Y1)/float64(h)
	return fmt.Sprintf(`<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
    xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#"
    xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#">
   <dc:subject><rdf:Bag><rdf:li>%[1]s</rdf:li></rdf:Bag></dc:subject>
   <lr:hierarchicalSubject><rdf:Bag><rdf:li>People|%[1]s</rdf:li></rdf:Bag></lr:hierarchicalSubject>
   <mwg-rs:Regions rdf:parseType="Resource">
    <mwg-rs:AppliedToDimensions stDim:w="%[2]d" stDim:h="%[3]d" stDim:unit="pixel"/>
    <mwg-rs:RegionList><rdf:Bag><rdf:li><rdf:Description mwg-rs:Name="%[1]s" mwg-rs:Type="Face">
     <mwg-rs:Area stArea:x="%.6[4]f" stArea:y="%.6[5]f" stArea:w="%.6[6]f" stArea:h="%.6[7]f" stArea:unit="normalized"/>
    </rdf:Description></rdf:li></rdf:Bag></mwg-rs:RegionList>
   </mwg-rs:Regions>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
`, name, w, h, cx, cy, bw, bh)
}

// TestNameConflictConverges: one clustered person, two photos whose
// sidecars (two tools) name its face "Anna" and "Bob". Before the policy,
// each export renamed the person to the other name and bumped both photos
// (an endless loop of writes), and the photo named only Anna gained
// People|Bob. Now one export pass converges, a second writes nothing, and
// neither photo gets the other's name; a facedctl name is kept and
// written on neither photo either.
func TestNameConflictConverges(t *testing.T) {
	src := filepath.Join(shared.Dir(t, "testdata/photos/exif_orientation"), "pillow_hopper.jpg")
	for _, tc := range []struct {
		name     string
		order    []int  // export order of the two photos
		userName string // facedctl name of the person, "" = none
		want     string // person's name after the passes
	}{
		{"Anna first", []int{0, 1}, "", "Anna"},
		{"Bob first", []int{1, 0}, "", "Bob"},
		{"facedctl name", []int{0, 1}, "Carol", "Carol"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t)
			ix := s.ix
			dir := t.TempDir()
			box := face.Box{X1: 30, Y1: 20, X2: 90, Y2: 100}
			tools := []string{"Anna", "Bob"}
			var photos []string
			for i, n := range tools {
				p := filepath.Join(dir, fmt.Sprintf("p%d.jpg", i))
				copyTo(t, src, p)
				if err := os.WriteFile(p+".xmp", []byte(lightroomSidecar(n, 128, 128, box)), 0o644); err != nil {
					t.Fatal(err)
				}
				photos = append(photos, p)
				if err := s.Enqueue(ctx, p, "new"); err != nil {
					t.Fatal(err)
				}
				job := lease1(t, s, p)
				f := face.Face{Box: box, StoredBox: box, Score: 0.99, Age: 30, MaleProb: 0.2, Features: make([]float32, 8)}
				f.Features[0] = 1
				res := &face.Result{File: p, Kind: face.KindPhoto, Width: 128, Height: 128, StoredWidth: 128, StoredHeight: 128,
					Faces: []face.Face{f}, Model: "test"}
				if err := s.Done(ctx, job, 1, time.Unix(1, 0), "h", res); err != nil {
					t.Fatal(err)
				}
			}
			faces, err := ix.Faces(ctx, index.FaceQuery{NoFeatures: true})
			if err != nil || len(faces) != 2 {
				t.Fatalf("faces = %v, %v", faces, err)
			}
			pid, err := ix.CreatePerson(ctx, index.Person{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.userName != "" {
				if _, err := ix.SetName(ctx, pid, tc.userName, index.SourceUser); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := ix.AssignFaces(ctx, map[int64]int64{faces[0].ID: pid, faces[1].ID: pid}, index.SourceAuto); err != nil {
				t.Fatal(err)
			}
			writes := 0
			ex, err := exporters.New(exporters.Options{UnnamedLabel: "Person", OnWrite: func(string) { writes++ }})
			if err != nil {
				t.Fatal(err)
			}
			e := NewExporter(persons.New(ix, persons.Options{}), ex)
			pass := func() int {
				writes = 0
				for _, i := range tc.order {
					if err := e.Export(ctx, photos[i]); err != nil {
						t.Fatal(err)
					}
				}
				return writes
			}
			if n := pass(); n == 0 {
				t.Fatal("first pass wrote nothing")
			}
			for k := 2; k <= 3; k++ {
				if n := pass(); n != 0 {
					t.Errorf("pass %d wrote %d sidecars, want 0 (export must converge in one pass)", k, n)
				}
			}
			if p, _ := ix.Person(ctx, pid); p.Name != tc.want {
				t.Errorf("person named %q, want %q", p.Name, tc.want)
			}
			for i, own := range tools {
				kw := keywordsOf(t, photos[i]+".xmp")
				for _, other := range append(tools, tc.userName) {
					if other == "" || other == own {
						continue
					}
					for _, k := range kw {
						if strings.Contains(k, other) {
							t.Errorf("photo named only %s has keyword %q", own, k)
						}
					}
				}
				if !contains(kw, "People|"+own) {
					t.Errorf("photo named %s lost its keyword: %v", own, kw)
				}
			}
		})
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func copyTo(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// keywordsOf returns every keyword of a sidecar as exiftool reads them
// (TagsList, HierarchicalSubject, Subject) and faced's per-face names.
func keywordsOf(t *testing.T, side string) []string {
	t.Helper()
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Skipf("exiftool not installed: %v", err)
	}
	out, err := exec.Command("exiftool", "-config", filepath.Join(shared.Root(), "packaging", "exiftool", "faced.config"),
		"-j", "-G1", "-XMP-digiKam:TagsList", "-XMP-lr:HierarchicalSubject", "-XMP-dc:Subject",
		"-XMP-faced:FacesName", side).Output()
	if err != nil {
		t.Fatalf("exiftool %s: %v", side, err)
	}
	var v []map[string]any
	if err := json.Unmarshal(out, &v); err != nil || len(v) != 1 {
		t.Fatalf("exiftool %s: %v\n%s", side, err, out)
	}
	var kw []string
	for k, x := range v[0] {
		if k == "SourceFile" {
			continue
		}
		switch x := x.(type) {
		case []any:
			for _, e := range x {
				kw = append(kw, fmt.Sprint(e))
			}
		default:
			kw = append(kw, fmt.Sprint(x))
		}
	}
	return kw
}

// TestRenamedInOnePhotoConverges: faced wrote "Anna" (a name adopted from a
// sidecar) on two photos of one person; the user renames the region to
// "Annie" in one photo and to "Ann" in the other. The first rename exported
// renames the person (it replaces the person's current name), the second
// is a conflict that stays on its photo: one pass converges, the next
// writes nothing, and neither photo carries the other's name.
func TestRenamedInOnePhotoConverges(t *testing.T) {
	src := filepath.Join(shared.Dir(t, "testdata/photos/exif_orientation"), "pillow_hopper.jpg")
	for _, tc := range []struct {
		order []int
		want  string
	}{{[]int{0, 1}, "Annie"}, {[]int{1, 0}, "Ann"}} {
		t.Run(tc.want+" first", func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t)
			ix := s.ix
			dir := t.TempDir()
			box := face.Box{X1: 30, Y1: 20, X2: 90, Y2: 100}
			var photos []string
			for i := range 2 {
				p := filepath.Join(dir, fmt.Sprintf("r%d.jpg", i))
				copyTo(t, src, p)
				photos = append(photos, p)
				if err := s.Enqueue(ctx, p, "new"); err != nil {
					t.Fatal(err)
				}
				job := lease1(t, s, p)
				f := face.Face{Box: box, StoredBox: box, Score: 0.99, Features: make([]float32, 8)}
				f.Features[0] = 1
				res := &face.Result{File: p, Kind: face.KindPhoto, Width: 128, Height: 128, StoredWidth: 128, StoredHeight: 128,
					Faces: []face.Face{f}, Model: "test"}
				if err := s.Done(ctx, job, 1, time.Unix(1, 0), "h", res); err != nil {
					t.Fatal(err)
				}
			}
			faces, _ := ix.Faces(ctx, index.FaceQuery{NoFeatures: true})
			pid, err := ix.CreatePerson(ctx, index.Person{Name: "Anna", NameSource: index.SourceSidecar})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ix.AssignFaces(ctx, map[int64]int64{faces[0].ID: pid, faces[1].ID: pid}, index.SourceAuto); err != nil {
				t.Fatal(err)
			}
			writes := 0
			ex, err := exporters.New(exporters.Options{UnnamedLabel: "Person", OnWrite: func(string) { writes++ }})
			if err != nil {
				t.Fatal(err)
			}
			e := NewExporter(persons.New(ix, persons.Options{}), ex)
			for _, p := range photos {
				if err := e.Export(ctx, p); err != nil {
					t.Fatal(err)
				}
			}
			// The user renames faced's region in each photo.
			for i, n := range []string{"Annie", "Ann"} {
				side := photos[i] + ".xmp"
				data, _ := os.ReadFile(side)
				edited := strings.NewReplacer("<mwg-rs:Name>Anna</mwg-rs:Name>", "<mwg-rs:Name>"+n+"</mwg-rs:Name>",
					"<MPReg:PersonDisplayName>Anna</MPReg:PersonDisplayName>", "<MPReg:PersonDisplayName>"+n+"</MPReg:PersonDisplayName>").Replace(string(data))
				if edited == string(data) {
					t.Fatalf("no region named Anna in\n%s", data)
				}
				if err := os.WriteFile(side, []byte(edited), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			pass := func() int {
				writes = 0
				for _, i := range tc.order {
					if err := e.Export(ctx, photos[i]); err != nil {
						t.Fatal(err)
					}
				}
				return writes
			}
			pass()
			for k := 2; k <= 3; k++ {
				if n := pass(); n != 0 {
					t.Errorf("pass %d wrote %d sidecars, want 0", k, n)
				}
			}
			if p, _ := ix.Person(ctx, pid); p.Name != tc.want {
				t.Errorf("person named %q, want %q", p.Name, tc.want)
			}
			for i, own := range []string{"Annie", "Ann"} {
				for _, k := range keywordsOf(t, photos[i]+".xmp") {
					if k == "People|Anna" || k == "People/Anna" || (own == "Ann" && strings.Contains(k, "Annie")) || (own == "Annie" && (k == "People|Ann" || k == "People/Ann" || k == "Ann")) {
						t.Errorf("photo renamed to %s has keyword %q", own, k)
					}
				}
			}
		})
	}
}
