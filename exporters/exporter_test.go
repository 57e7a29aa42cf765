package exporters

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

const (
	regionsDir     = "testdata/photos/xmp_face_regions"
	orientationDir = "testdata/photos/exif_orientation"
)

// storedSize reads a JPEG's stored pixel size from its frame header.
func storedSize(t testing.TB, path string) (int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := jpeg.DecodeConfig(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c.Width, c.Height
}

func regionList(dump map[string]any) []any {
	ri, _ := dump["XMP-mwg-rs:RegionInfo"].(map[string]any)
	return list(ri["RegionList"])
}

func mpList(dump map[string]any) []any {
	ri, _ := dump["XMP-MP:RegionInfoMP"].(map[string]any)
	return list(ri["Regions"])
}

func strs(v any) []string {
	var out []string
	for _, x := range list(v) {
		out = append(out, toString(x))
	}
	return out
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRoundTripExifToolExiv2 writes a fresh sidecar and reads it back with
// exiftool (regions, areas, AppliedToDimensions, keywords, faced's
// namespace through packaging/exiftool/faced.config) and exiv2.
func TestRoundTripExifToolExiv2(t *testing.T) {
	src := filepath.Join(shared.Dir(t, orientationDir), "pillow_hopper.jpg")
	needTool(t, "exiftool")
	dir := t.TempDir()
	photo := copyFile(t, src, dir, "hopper.jpg")
	w, h := storedSize(t, photo)
	p := Photo{
		Path: photo, Kind: face.KindPhoto, StoredWidth: w, StoredHeight: h,
		Visibility: "private", Keywords: []string{"Ada Lovelace"},
		Regions: []Region{
			{FaceID: 11, PersonID: 7, Name: "Ada Lovelace", StoredBox: face.Box{X1: 10.5, Y1: 20.25, X2: 50.75, Y2: 70}, Age: 36.04, MaleProb: 0.1234, Score: 0.9991, Model: "seed-int8"},
			{FaceID: 12, PersonID: 8, StoredBox: face.Box{X1: 60, Y1: 30, X2: 100, Y2: 91}, Age: 8.5, MaleProb: 0.8, Score: 0.97, Model: "seed-int8"},
		},
	}
	e := newExporter(t, Options{UnnamedLabel: "Person", VisibilityKeywordRoot: "faced", FacedVersion: "0.9.1"})
	r := mustExport(t, e, p)
	side := photo + ".xmp"
	if !slices.Equal(r.Written, []string{side}) || r.Unchanged {
		t.Fatalf("Written = %v, Unchanged = %v; want [%s]", r.Written, r.Unchanged, side)
	}
	d := exifDump(t, side)

	ri, ok := d["XMP-mwg-rs:RegionInfo"].(map[string]any)
	if !ok {
		t.Fatalf("no RegionInfo in %v", d)
	}
	dim := ri["AppliedToDimensions"].(map[string]any)
	if num(t, dim["W"]) != float64(w) || num(t, dim["H"]) != float64(h) || dim["Unit"] != "pixel" {
		t.Errorf("AppliedToDimensions = %v, want %dx%d pixel", dim, w, h)
	}
	regs := regionList(d)
	mps := mpList(d)
	if len(regs) != 2 || len(mps) != 2 {
		t.Fatalf("%d MWG and %d MP regions, want 2 and 2", len(regs), len(mps))
	}
	wantNames := []string{"Ada Lovelace", "Person 8"}
	for i, reg := range p.Regions {
		m := regs[i].(map[string]any)
		if m["Name"] != wantNames[i] || m["Type"] != "Face" {
			t.Errorf("region %d: Name %v Type %v, want %q Face", i, m["Name"], m["Type"], wantNames[i])
		}
		a := m["Area"].(map[string]any)
		b := reg.StoredBox
		want := map[string]float64{
			"X": (b.X1 + b.X2) / 2 / float64(w), "Y": (b.Y1 + b.Y2) / 2 / float64(h),
			"W": (b.X2 - b.X1) / float64(w), "H": (b.Y2 - b.Y1) / float64(h),
		}
		for k, v := range want {
			if got := num(t, a[k]); math.Abs(got-v) > 1e-6 {
				t.Errorf("region %d Area.%s = %v, want %v", i, k, got, v)
			}
		}
		if a["Unit"] != "normalized" {
			t.Errorf("region %d unit %v", i, a["Unit"])
		}
		ext := m["Extensions"].(map[string]any)
		if num(t, ext["XMP-faced:FaceID"]) != float64(reg.FaceID) {
			t.Errorf("region %d Extensions %v", i, ext)
		}
		// MP: same geometry, top-left corner.
		mp := mps[i].(map[string]any)
		if mp["PersonDisplayName"] != wantNames[i] {
			t.Errorf("MP region %d name %v", i, mp["PersonDisplayName"])
		}
		for _, v := range append(strings.Split(toString(mp["Rectangle"]), ","), toString(a["X"]), toString(a["Y"]), toString(a["W"]), toString(a["H"])) {
			if _, frac, ok := strings.Cut(strings.TrimSpace(v), "."); ok && len(frac) > 7 {
				t.Errorf("region %d coordinate %s has %d decimals, want at most 7", i, v, len(frac))
			}
		}
		parts := strings.Split(toString(mp["Rectangle"]), ",")
		if len(parts) != 4 {
			t.Fatalf("MP rectangle %v", mp["Rectangle"])
		}
		rect := [4]float64{}
		for j := range parts {
			rect[j] = num(t, strings.TrimSpace(parts[j]))
		}
		wantRect := [4]float64{b.X1 / float64(w), b.Y1 / float64(h), (b.X2 - b.X1) / float64(w), (b.Y2 - b.Y1) / float64(h)}
		mwgRect := [4]float64{num(t, a["X"]) - num(t, a["W"])/2, num(t, a["Y"]) - num(t, a["H"])/2, num(t, a["W"]), num(t, a["H"])}
		for j := range rect {
			// 1e-6 grid (at most 7 decimals: exiftool's JSON quotes longer
			// numbers, Immich then computes NaN); MP and MWG the same box.
			if math.Abs(rect[j]-wantRect[j]) > 1e-6 || math.Abs(rect[j]-mwgRect[j]) > 1e-12 {
				t.Errorf("MP region %d rect %v, want %v (MWG %v)", i, rect, wantRect, mwgRect)
			}
		}
	}
	if got := strs(d["XMP-digiKam:TagsList"]); !slices.Contains(got, "People/Ada Lovelace") || !slices.Contains(got, "faced/private") {
		t.Errorf("TagsList = %v", got)
	}
	if got := strs(d["XMP-lr:HierarchicalSubject"]); !slices.Contains(got, "People|Ada Lovelace") || !slices.Contains(got, "faced|private") {
		t.Errorf("HierarchicalSubject = %v", got)
	}
	if got := strs(d["XMP-dc:Subject"]); !slices.Contains(got, "Ada Lovelace") {
		t.Errorf("Subject = %v", got)
	}
	if d["XMP-faced:Visibility"] != "private" || toString(d["XMP-faced:Version"]) != "0.9.1" {
		t.Errorf("faced Visibility %v Version %v", d["XMP-faced:Visibility"], d["XMP-faced:Version"])
	}
	faces := list(d["XMP-faced:Faces"])
	if len(faces) != 2 {
		t.Fatalf("faced:Faces = %v", d["XMP-faced:Faces"])
	}
	allowed := map[string]bool{"FaceID": true, "PersonID": true, "Name": true, "Age": true, "MaleProb": true, "Score": true, "Model": true, "Area": true}
	for i, f := range faces {
		m := f.(map[string]any)
		for k := range m {
			if !allowed[k] {
				t.Errorf("faced:Faces[%d] has unexpected field %s", i, k)
			}
		}
		reg := p.Regions[i]
		if num(t, m["FaceID"]) != float64(reg.FaceID) || num(t, m["PersonID"]) != float64(reg.PersonID) ||
			math.Abs(num(t, m["Age"])-reg.Age) > 0.05 || math.Abs(num(t, m["MaleProb"])-reg.MaleProb) > 5e-5 ||
			math.Abs(num(t, m["Score"])-reg.Score) > 5e-5 || m["Model"] != reg.Model {
			t.Errorf("faced:Faces[%d] = %v, want %+v", i, m, reg)
		}
	}

	// exiv2 reads the same regions.
	ex := exiv2Regions(t, side)
	if len(ex) != 2 {
		t.Fatalf("exiv2 sees %d regions: %v", len(ex), ex)
	}
	for i := range p.Regions {
		m := regs[i].(map[string]any)
		a := m["Area"].(map[string]any)
		x := ex[i+1]
		if x["Name"] != wantNames[i] {
			t.Errorf("exiv2 region %d name %q", i+1, x["Name"])
		}
		for _, k := range []string{"x", "y", "w", "h"} {
			v, err := strconv.ParseFloat(x[k], 64)
			if err != nil || math.Abs(v-num(t, a[strings.ToUpper(k)])) > 1e-6 {
				t.Errorf("exiv2 region %d %s = %q, exiftool %v", i+1, k, x[k], a[strings.ToUpper(k)])
			}
		}
	}

	// Idempotent.
	before, _ := os.ReadFile(side)
	r = mustExport(t, e, p)
	after, _ := os.ReadFile(side)
	if !r.Unchanged || len(r.Written) != 0 || !bytes.Equal(before, after) {
		t.Errorf("second export: %+v, bytes equal %v", r, bytes.Equal(before, after))
	}
}

// mergeCase is a copy of one real test file set up for export.
type mergeCase struct {
	name, photo, sidecar string
	dumpBefore           map[string]any
	w, h                 int
}

func mergeCases(t *testing.T) []mergeCase {
	needTool(t, "exiftool")
	var out []mergeCase
	for _, sub := range []string{regionsDir, orientationDir} {
		dir := shared.Dir(t, sub)
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, ent := range ents {
			tmp := t.TempDir()
			src := filepath.Join(dir, ent.Name())
			c := mergeCase{name: ent.Name()}
			if strings.HasSuffix(ent.Name(), ".xmp") {
				// A metadata-only sidecar: give it a photo (base naming).
				c.photo = copyFile(t, filepath.Join(shared.Dir(t, orientationDir), "pillow_hopper.jpg"), tmp, "photo.jpg")
				c.sidecar = copyFile(t, src, tmp, "photo.xmp")
				c.dumpBefore = exifDump(t, c.sidecar)
			} else {
				c.photo = copyFile(t, src, tmp, ent.Name())
				c.sidecar = c.photo + ".xmp"
				c.dumpBefore = exifDump(t, c.photo)
			}
			c.w, c.h = storedSize(t, c.photo)
			out = append(out, c)
		}
	}
	return out
}

// TestMergeKeepsEverything exports into copies of every real file: every
// foreign region, name, keyword and unknown property present before is
// there after, value for value; a region on a face that already has a
// foreign region is not duplicated and adopts its name; exporting twice
// changes nothing; the photo is not modified.
func TestMergeKeepsEverything(t *testing.T) {
	for _, c := range mergeCases(t) {
		t.Run(c.name, func(t *testing.T) {
			photoBefore, _ := os.ReadFile(c.photo)
			sideBefore, _ := os.ReadFile(c.sidecar)
			regsBefore := regionList(c.dumpBefore)
			mpBefore := mpList(c.dumpBefore)

			// A new face in the bottom-left corner, free in every file.
			p := Photo{Path: c.photo, StoredWidth: c.w, StoredHeight: c.h, Visibility: "public", Keywords: []string{"Test Person"},
				Regions: []Region{{FaceID: 100, PersonID: 9, Name: "Test Person",
					StoredBox: face.Box{X1: 0.02 * float64(c.w), Y1: 0.85 * float64(c.h), X2: 0.12 * float64(c.w), Y2: 0.97 * float64(c.h)}, Score: 0.9}}}
			// The same face as the first usable foreign MWG region, shrunk a bit.
			foreignName := ""
			for _, reg := range regsBefore {
				m := reg.(map[string]any)
				a, _ := m["Area"].(map[string]any)
				if a == nil || a["Unit"] != "normalized" {
					continue
				}
				x, y, w, h := num(t, a["X"]), num(t, a["Y"]), num(t, a["W"]), num(t, a["H"])
				if w <= 0 || h <= 0 || w > 1 || h > 1 {
					continue
				}
				foreignName, _ = m["Name"].(string)
				box := face.Box{X1: (x - 0.45*w) * float64(c.w), Y1: (y - 0.45*h) * float64(c.h), X2: (x + 0.45*w) * float64(c.w), Y2: (y + 0.45*h) * float64(c.h)}
				p.Regions = append(p.Regions, Region{FaceID: 101, PersonID: 10, StoredBox: box, Score: 0.95})
				break
			}
			e := newExporter(t, Options{UnnamedLabel: "Person", VisibilityKeywordRoot: "faced", FacedVersion: "test"})
			r := mustExport(t, e, p)
			if len(r.Written) != 1 || r.Written[0] != c.sidecar {
				t.Fatalf("Written %v, want [%s]", r.Written, c.sidecar)
			}
			after := exifDump(t, c.sidecar)
			for k, v := range c.dumpBefore {
				if strings.HasPrefix(k, "System:") || strings.HasPrefix(k, "File:") || strings.HasPrefix(k, "ExifTool:") {
					continue
				}
				if d := contains(v, after[k], k); d != "" {
					t.Errorf("lost: %s", d)
				}
			}
			if got, want := len(regionList(after)), len(regsBefore)+1; got != want {
				t.Errorf("%d MWG regions after, want %d (no duplicate of the foreign face)", got, want)
			}
			if got, want := len(mpList(after)), len(mpBefore)+1; got != want {
				t.Errorf("%d MP regions after, want %d", got, want)
			}
			if foreignName != "" {
				want := UserName{FaceID: 101, PersonID: 10, Name: foreignName, Sidecar: c.sidecar, Source: SourceForeignRegion}
				if !slices.Contains(r.UserNames, want) {
					t.Errorf("UserNames = %+v, want %+v", r.UserNames, want)
				}
			}
			// Keyword families hold the union.
			tags := strs(after["XMP-digiKam:TagsList"])
			for _, k := range []string{"People/Test Person", "faced/public"} {
				if !slices.Contains(tags, k) {
					t.Errorf("TagsList %v lacks %s", tags, k)
				}
			}
			hier := strs(after["XMP-lr:HierarchicalSubject"])
			for _, v := range strs(c.dumpBefore["XMP-dc:Subject"]) {
				found := false
				for _, hv := range hier {
					if hv == v || strings.HasSuffix(hv, "|"+v) {
						found = true
					}
				}
				if !found {
					t.Errorf("Subject %q missing from HierarchicalSubject %v", v, hier)
				}
			}
			// exiv2 parses the result and sees every region.
			if ex := exiv2Regions(t, c.sidecar); len(ex) != len(regsBefore)+1 {
				t.Errorf("exiv2 sees %d regions, want %d", len(ex), len(regsBefore)+1)
			}
			// Every TagsList Exiv2 (so digiKam) sees holds the new keyword,
			// whatever URI spelling the file uses.
			out, _ := exec.Command("exiv2", "-pa", c.sidecar).CombinedOutput()
			n := 0
			for _, line := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(line, "Xmp.digiKam.TagsList ") {
					n++
					if !strings.Contains(line, "People/Test Person") {
						t.Errorf("exiv2 TagsList without the new keyword: %s", line)
					}
				}
			}
			if n == 0 {
				t.Errorf("exiv2 sees no TagsList")
			}
			// Twice: nothing changes on disk.
			b1, _ := os.ReadFile(c.sidecar)
			r2 := mustExport(t, e, p)
			b2, _ := os.ReadFile(c.sidecar)
			if !r2.Unchanged || !bytes.Equal(b1, b2) {
				t.Errorf("second export changed the sidecar: %+v", r2)
			}
			if photoAfter, _ := os.ReadFile(c.photo); !bytes.Equal(photoBefore, photoAfter) {
				t.Errorf("photo modified")
			}
			_ = sideBefore
		})
	}
}

// TestOrientation6 gives the faces of immich_portrait.jpg (upright frame)
// rotated by hand into the stored frame of immich_portrait-orientation-6.jpg
// and checks they land on that file's own stored-frame MWG regions: each
// matches the foreign region of the same person, none is duplicated.
func TestOrientation6(t *testing.T) {
	needTool(t, "exiftool")
	upright := exifDump(t, filepath.Join(shared.Dir(t, regionsDir), "immich_portrait.jpg"))
	dir := t.TempDir()
	photo := copyFile(t, filepath.Join(shared.Dir(t, orientationDir), "immich_portrait-orientation-6.jpg"), dir, "p6.jpg")
	sw, sh := storedSize(t, photo)
	if sw != 700 || sh != 840 {
		t.Fatalf("stored size %dx%d, want 700x840", sw, sh)
	}
	own := regionList(exifDump(t, photo))
	// Orientation 6 (rotate 90 CW to display): display (xd, yd) comes from
	// stored (xs, ys) = (yd, sh - xd). Display is 840 x 700.
	const dw, dh = 840.0, 700.0
	var p = Photo{Path: photo, StoredWidth: sw, StoredHeight: sh}
	names := map[int64]string{}
	for i, reg := range regionList(upright) {
		m := reg.(map[string]any)
		a := m["Area"].(map[string]any)
		x, y, w, h := num(t, a["X"])*dw, num(t, a["Y"])*dh, num(t, a["W"])*dw, num(t, a["H"])*dh
		xd1, xd2, yd1, yd2 := x-w/2, x+w/2, y-h/2, y+h/2
		box := face.Box{X1: yd1, Y1: float64(sh) - xd2, X2: yd2, Y2: float64(sh) - xd1}
		id := int64(i + 1)
		names[id] = m["Name"].(string)
		p.Regions = append(p.Regions, Region{FaceID: id, PersonID: id, StoredBox: box, Score: 0.99})
	}
	r := mustExport(t, newExporter(t, Options{}), p)
	if len(r.UserNames) != len(p.Regions) {
		t.Fatalf("UserNames %+v: want one per face", r.UserNames)
	}
	for _, u := range r.UserNames {
		if u.Name != names[u.FaceID] || u.Source != SourceForeignRegion {
			t.Errorf("face %d matched %q (%s), want %q", u.FaceID, u.Name, u.Source, names[u.FaceID])
		}
	}
	after := exifDump(t, photo+".xmp")
	if len(regionList(after)) != len(own) {
		t.Errorf("%d regions after, want %d (none duplicated)", len(regionList(after)), len(own))
	}
	// faced:Faces areas coincide with the file's own regions.
	for i, f := range list(after["XMP-faced:Faces"]) {
		fa := f.(map[string]any)["Area"].(map[string]any)
		oa := own[i].(map[string]any)["Area"].(map[string]any)
		for _, k := range []string{"X", "Y", "W", "H"} {
			if math.Abs(num(t, fa[k])-num(t, oa[k])) > 2e-6 {
				t.Errorf("face %d %s = %v, file's own region %v", i+1, k, fa[k], oa[k])
			}
		}
	}
}

// TestUserRenameKept: a name the user gives one of faced's regions is
// kept and offered back; once the index adopts it, faced owns it again.
func TestUserRenameKept(t *testing.T) {
	src := filepath.Join(shared.Dir(t, orientationDir), "pillow_hopper.jpg")
	dir := t.TempDir()
	photo := copyFile(t, src, dir, "a.jpg")
	side := photo + ".xmp"
	e := newExporter(t, Options{UnnamedLabel: "Person"})
	p := Photo{Path: photo, StoredWidth: 128, StoredHeight: 128,
		Regions: []Region{{FaceID: 5, PersonID: 7, StoredBox: face.Box{X1: 10, Y1: 10, X2: 60, Y2: 70}}}}
	mustExport(t, e, p)
	data, _ := os.ReadFile(side)
	edited := bytes.ReplaceAll(data, []byte("<mwg-rs:Name>Person 7</mwg-rs:Name>"), []byte("<mwg-rs:Name>Alice</mwg-rs:Name>"))
	if bytes.Equal(edited, data) {
		t.Fatalf("region name not found in\n%s", data)
	}
	if err := os.WriteFile(side, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustExport(t, e, p)
	want := UserName{FaceID: 5, PersonID: 7, Name: "Alice", Sidecar: side, Source: SourceRenamedRegion, Replaces: "Person 7"}
	if !slices.Equal(r.UserNames, []UserName{want}) {
		t.Fatalf("UserNames = %+v, want %+v", r.UserNames, want)
	}
	d := exifDump(t, side)
	if n := regionList(d)[0].(map[string]any)["Name"]; n != "Alice" {
		t.Errorf("region name %v after export, want the user's Alice", n)
	}
	if n := mpList(d)[0].(map[string]any)["PersonDisplayName"]; n != "Alice" {
		t.Errorf("MP name %v, want Alice", n)
	}
	// The index adopts the name, later renames the person: faced updates.
	p.Regions[0].Name = "Alice"
	if r := mustExport(t, e, p); len(r.UserNames) != 0 {
		t.Errorf("UserNames %+v after adoption", r.UserNames)
	}
	p.Regions[0].Name = "Alicia"
	r = mustExport(t, e, p)
	if len(r.UserNames) != 0 {
		t.Errorf("UserNames %+v after index rename", r.UserNames)
	}
	if n := regionList(exifDump(t, side))[0].(map[string]any)["Name"]; n != "Alicia" {
		t.Errorf("region name %v, want Alicia", n)
	}
}

// TestForeignRewrite: another tool rewrites the regions in its own style
// and drops faced's extensions (as digiKam does) and the user renames one
// face: faced does not duplicate the faces and offers the new name.
func TestForeignRewrite(t *testing.T) {
	needTool(t, "exiftool")
	src := filepath.Join(shared.Dir(t, orientationDir), "pillow_hopper.jpg")
	dir := t.TempDir()
	photo := copyFile(t, src, dir, "b.jpg")
	side := photo + ".xmp"
	e := newExporter(t, Options{UnnamedLabel: "Person"})
	p := Photo{Path: photo, StoredWidth: 128, StoredHeight: 128, Regions: []Region{
		{FaceID: 1, PersonID: 1, Name: "Ann", StoredBox: face.Box{X1: 5, Y1: 5, X2: 40, Y2: 50}},
		{FaceID: 2, PersonID: 2, Name: "Ben", StoredBox: face.Box{X1: 70, Y1: 20, X2: 110, Y2: 70}},
	}}
	mustExport(t, e, p)
	d := exifDump(t, side)
	ri := d["XMP-mwg-rs:RegionInfo"].(map[string]any)
	for i, reg := range list(ri["RegionList"]) {
		m := reg.(map[string]any)
		delete(m, "Extensions")
		if i == 1 {
			m["Name"] = "Benjamin"
		}
	}
	mp := d["XMP-MP:RegionInfoMP"].(map[string]any)
	for i, reg := range list(mp["Regions"]) {
		m := reg.(map[string]any)
		delete(m, "FaceID")
		if i == 1 {
			m["PersonDisplayName"] = "Benjamin"
		}
	}
	js, _ := json.Marshal([]map[string]any{{"SourceFile": side, "XMP-mwg-rs:RegionInfo": ri, "XMP-MP:RegionInfoMP": mp}})
	jf := filepath.Join(t.TempDir(), "edit.json")
	os.WriteFile(jf, js, 0o644)
	if out, err := exec.Command("exiftool", "-config", facedConfig(), "-overwrite_original", "-n", "-j="+jf, side).CombinedOutput(); err != nil {
		t.Fatalf("exiftool rewrite: %v\n%s", err, out)
	}
	if strings.Contains(string(must(os.ReadFile(side))), "AssignedName") {
		t.Fatal("exiftool rewrite kept the extensions: the test would not test anything")
	}
	r := mustExport(t, e, p)
	want := UserName{FaceID: 2, PersonID: 2, Name: "Benjamin", Sidecar: side, Source: SourceForeignRegion}
	if !slices.Equal(r.UserNames, []UserName{want}) {
		t.Errorf("UserNames = %+v, want [%+v]", r.UserNames, want)
	}
	after := exifDump(t, side)
	if len(regionList(after)) != 2 || len(mpList(after)) != 2 {
		t.Errorf("%d MWG, %d MP regions: faces duplicated", len(regionList(after)), len(mpList(after)))
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestKeywordsTakeBack: faced removes only keywords it added itself when
// they are no longer wanted (visibility flip, person renamed).
func TestKeywordsTakeBack(t *testing.T) {
	src := filepath.Join(shared.Dir(t, regionsDir), "immich_portrait.jpg")
	dir := t.TempDir()
	photo := copyFile(t, src, dir, "k.jpg")
	e := newExporter(t, Options{VisibilityKeywordRoot: "faced|vis"})
	p := Photo{Path: photo, StoredWidth: 840, StoredHeight: 700, Visibility: "private", Keywords: []string{"Bob", "Marie Curie"}}
	mustExport(t, e, p)
	p.Visibility, p.Keywords = "public", []string{"Robert", "Marie Curie"}
	mustExport(t, e, p)
	d := exifDump(t, photo+".xmp")
	tags := strs(d["XMP-digiKam:TagsList"])
	hier := strs(d["XMP-lr:HierarchicalSubject"])
	subj := strs(d["XMP-dc:Subject"])
	for _, want := range []string{"People/Marie Curie", "People/Pierre Curie", "People/Robert", "faced/vis/public"} {
		if !slices.Contains(tags, want) {
			t.Errorf("TagsList %v lacks %s", tags, want)
		}
	}
	for _, gone := range []string{"People/Bob", "faced/vis/private"} {
		if slices.Contains(tags, gone) || slices.Contains(hier, strings.ReplaceAll(gone, "/", "|")) {
			t.Errorf("%s still present: %v %v", gone, tags, hier)
		}
	}
	if slices.Contains(subj, "Bob") || !slices.Contains(subj, "Marie Curie") || !slices.Contains(subj, "Robert") {
		t.Errorf("Subject %v", subj)
	}
}

// TestSidecarNaming: every existing sidecar is updated; a new one follows
// Options.Naming.
func TestSidecarNaming(t *testing.T) {
	src := filepath.Join(shared.Dir(t, orientationDir), "pillow_hopper.jpg")
	for _, tc := range []struct {
		naming string
		exist  []string
		want   []string
	}{
		{"full", nil, []string{"x.jpg.xmp"}},
		{"base", nil, []string{"x.xmp"}},
		{"full", []string{"x.xmp"}, []string{"x.xmp"}},
		{"base", []string{"x.jpg.xmp", "x.xmp"}, []string{"x.jpg.xmp", "x.xmp"}},
	} {
		dir := t.TempDir()
		photo := copyFile(t, src, dir, "x.jpg")
		for _, s := range tc.exist {
			os.WriteFile(filepath.Join(dir, s), []byte(emptyPacket), 0o644)
		}
		e := newExporter(t, Options{Naming: tc.naming})
		r := mustExport(t, e, Photo{Path: photo, StoredWidth: 128, StoredHeight: 128, Visibility: "private"})
		var got []string
		for _, w := range r.Written {
			got = append(got, filepath.Base(w))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("naming %s, existing %v: wrote %v, want %v", tc.naming, tc.exist, got, tc.want)
		}
		ents, _ := os.ReadDir(dir)
		for _, ent := range ents {
			if IsTempName(ent.Name()) {
				t.Errorf("temporary file left: %s", ent.Name())
			}
		}
	}
	if _, err := New(Options{Naming: "weird"}); err == nil {
		t.Error("New accepted naming \"weird\"")
	}
}

func TestIsTempName(t *testing.T) {
	for name, want := range map[string]bool{
		".faced-tmp-a.jpg.xmp.123": true, "/x/y/.faced-tmp-b.xmp.9": true,
		"a.jpg.xmp": false, ".faced-tmp": false, "faced-tmp-a": false,
	} {
		if got := IsTempName(name); got != want {
			t.Errorf("IsTempName(%q) = %v", name, got)
		}
	}
}

// TestBadInput: clear errors naming the file, no sidecar clobbered.
func TestBadInput(t *testing.T) {
	src := filepath.Join(shared.Dir(t, orientationDir), "pillow_hopper.jpg")
	dir := t.TempDir()
	photo := copyFile(t, src, dir, "c.jpg")
	e := newExporter(t, Options{})
	ctx := context.Background()
	reg := []Region{{FaceID: 1, StoredBox: face.Box{X1: 1, Y1: 1, X2: 5, Y2: 5}}}
	if _, err := e.Export(ctx, Photo{Path: photo, Regions: reg}); !errors.Is(err, ErrInvalidPhoto) || !strings.Contains(err.Error(), photo) {
		t.Errorf("zero size: %v", err)
	}
	if _, err := e.Export(ctx, Photo{Path: photo, Visibility: "secret"}); !errors.Is(err, ErrInvalidPhoto) {
		t.Errorf("bad visibility: %v", err)
	}
	if _, err := e.Export(ctx, Photo{Path: filepath.Join(dir, "missing.jpg")}); !errors.Is(err, ErrInvalidPhoto) {
		t.Errorf("missing photo: %v", err)
	}
	bad := []byte("<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>")
	os.WriteFile(photo+".xmp", bad, 0o644)
	if _, err := e.Export(ctx, Photo{Path: photo, Visibility: "public"}); !errors.Is(err, ErrUnreadableSidecar) || !strings.Contains(err.Error(), photo+".xmp") {
		t.Errorf("broken sidecar: %v", err)
	}
	if got, _ := os.ReadFile(photo + ".xmp"); !bytes.Equal(got, bad) {
		t.Error("broken sidecar was overwritten")
	}
}

// TestConcurrentChange: a sidecar changed by another program between
// faced's read and its rename is merged again, not overwritten.
func TestConcurrentChange(t *testing.T) {
	src := filepath.Join(shared.Dir(t, regionsDir), "immich_portrait.jpg")
	dir := t.TempDir()
	photo := copyFile(t, src, dir, "d.jpg")
	side := photo + ".xmp"
	e := newExporter(t, Options{})
	mustExport(t, e, Photo{Path: photo, StoredWidth: 840, StoredHeight: 700, Visibility: "private"})
	calls := 0
	testHookBeforeCheck = func(path string) {
		calls++
		if calls == 1 { // another tool adds a keyword meanwhile
			data, _ := os.ReadFile(path)
			data = bytes.Replace(data, []byte("<rdf:li>People/Marie Curie</rdf:li>"), []byte("<rdf:li>People/Marie Curie</rdf:li> <rdf:li>Holiday</rdf:li>"), 1)
			os.WriteFile(path, data, 0o644)
		}
	}
	defer func() { testHookBeforeCheck = nil }()
	r := mustExport(t, e, Photo{Path: photo, StoredWidth: 840, StoredHeight: 700, Visibility: "public"})
	if calls != 2 || len(r.Written) != 1 {
		t.Fatalf("calls %d, result %+v", calls, r)
	}
	d := exifDump(t, side)
	if !slices.Contains(strs(d["XMP-digiKam:TagsList"]), "Holiday") || d["XMP-faced:Visibility"] != "public" {
		t.Errorf("concurrent keyword lost or export missing: %v %v", d["XMP-digiKam:TagsList"], d["XMP-faced:Visibility"])
	}
}
