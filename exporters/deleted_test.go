package exporters

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/faced/faced/exporters/xmp"
	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

// userDeleteRegions deletes the MWG and Microsoft regions named names from
// side with exiftool, the way a photo manager rewrites them: the remaining
// regions are written back from exiftool's structures, everything else in
// the file is kept. dropRecord also deletes faced:Faces (a tool that drops
// faced's namespace).
func userDeleteRegions(t *testing.T, side string, names []string, dropRecord bool) {
	t.Helper()
	d := exifDump(t, side)
	ri, _ := d["XMP-mwg-rs:RegionInfo"].(map[string]any)
	mp, _ := d["XMP-MP:RegionInfoMP"].(map[string]any)
	if ri == nil || mp == nil {
		t.Fatalf("%s has no regions to delete: %v", side, d)
	}
	n := 0
	var keep []any
	for _, r := range list(ri["RegionList"]) {
		if slices.Contains(names, toString(r.(map[string]any)["Name"])) {
			n++
			continue
		}
		keep = append(keep, r)
	}
	ri["RegionList"] = keep
	var keepMP []any
	for _, r := range list(mp["Regions"]) {
		if slices.Contains(names, toString(r.(map[string]any)["PersonDisplayName"])) {
			n++
			continue
		}
		keepMP = append(keepMP, r)
	}
	mp["Regions"] = keepMP
	if n != 2*len(names) {
		t.Fatalf("deleting %v from %s: found %d MWG+MP regions, want %d", names, side, n, 2*len(names))
	}
	edit := map[string]any{"SourceFile": side, "XMP-mwg-rs:RegionInfo": ri, "XMP-MP:RegionInfoMP": mp}
	if len(keep) == 0 {
		edit["XMP-mwg-rs:RegionInfo"] = ""
		edit["XMP-MP:RegionInfoMP"] = ""
	}
	js, err := json.Marshal([]map[string]any{edit})
	if err != nil {
		t.Fatal(err)
	}
	jf := filepath.Join(t.TempDir(), "edit.json")
	if err := os.WriteFile(jf, js, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-config", facedConfig(), "-overwrite_original", "-n", "-j=" + jf}
	if dropRecord {
		args = append(args, "-XMP-faced:Faces=")
	}
	if out, err := exec.Command("exiftool", append(args, side)...).CombinedOutput(); err != nil {
		t.Fatalf("exiftool delete regions: %v\n%s", err, out)
	}
	after := exifDump(t, side)
	for _, r := range regionList(after) {
		if slices.Contains(names, toString(r.(map[string]any)["Name"])) {
			t.Fatalf("exiftool did not delete %v: %v", names, regionList(after))
		}
	}
	if dropRecord != (after["XMP-faced:Faces"] == nil) {
		t.Fatalf("faced:Faces after exiftool edit (dropRecord %v): %v", dropRecord, after["XMP-faced:Faces"])
	}
}

// userDrawRegion adds a named MWG face region over box (stored pixels of a
// w x h photo) with exiftool, as a user drawing a face in a photo manager.
func userDrawRegion(t *testing.T, side, name string, box face.Box, w, h int) {
	t.Helper()
	d := exifDump(t, side)
	ri, _ := d["XMP-mwg-rs:RegionInfo"].(map[string]any)
	if ri == nil {
		ri = map[string]any{"AppliedToDimensions": map[string]any{"W": w, "H": h, "Unit": "pixel"}}
	}
	b := normBox(box, w, h)
	ri["RegionList"] = append(list(ri["RegionList"]), map[string]any{
		"Name": name, "Type": "Face",
		"Area": map[string]any{"X": (b.X1 + b.X2) / 2, "Y": (b.Y1 + b.Y2) / 2, "W": b.W(), "H": b.H(), "Unit": "normalized"},
	})
	js, err := json.Marshal([]map[string]any{{"SourceFile": side, "XMP-mwg-rs:RegionInfo": ri}})
	if err != nil {
		t.Fatal(err)
	}
	jf := filepath.Join(t.TempDir(), "draw.json")
	if err := os.WriteFile(jf, js, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("exiftool", "-config", facedConfig(), "-overwrite_original", "-n", "-j="+jf, side).CombinedOutput(); err != nil {
		t.Fatalf("exiftool draw region: %v\n%s", err, out)
	}
}

// facedRecord reads faced:Faces of side through the XMP tree: face id ->
// fields (Name, PersonID, RegionDeleted, ...).
func facedRecord(t *testing.T, side string) map[string]map[string]string {
	t.Helper()
	doc, err := xmp.Parse(must(os.ReadFile(side)))
	if err != nil {
		t.Fatalf("%s: %v", side, err)
	}
	f, ok := doc.FindTop("Faces", NSFaced)
	if !ok {
		return nil
	}
	out := map[string]map[string]string{}
	for _, li := range xmp.Items(xmp.ArrayOf(f.El)) {
		res := xmp.Resource(li)
		m := map[string]string{}
		for _, k := range []string{"FaceID", "PersonID", "Name", "RegionDeleted"} {
			if v, ok := xmp.Value(res, k, NSFaced); ok {
				m[k] = v
			}
		}
		out[m["FaceID"]] = m
	}
	return out
}

// regionNames returns the MWG and MP region names of side, sorted.
func regionNames(t *testing.T, side string) (mwg, mp []string) {
	t.Helper()
	d := exifDump(t, side)
	for _, r := range regionList(d) {
		mwg = append(mwg, toString(r.(map[string]any)["Name"]))
	}
	for _, r := range mpList(d) {
		mp = append(mp, toString(r.(map[string]any)["PersonDisplayName"]))
	}
	slices.Sort(mwg)
	slices.Sort(mp)
	return mwg, mp
}

func deletedFaces(rec map[string]map[string]string) []string {
	var out []string
	for id, m := range rec {
		if m["RegionDeleted"] == "True" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// TestUserDeletedRegion: a region the user deletes does not come back on
// later exports (even after renames), while the other faces are updated;
// without faced's record (first export, or a tool dropped faced:Faces)
// nothing is inferred and every face is written.
func TestUserDeletedRegion(t *testing.T) {
	needTool(t, "exiftool")
	src := filepath.Join(shared.Dir(t, orientationDir), "pillow_hopper.jpg")
	ann := Region{FaceID: 1, PersonID: 1, Name: "Ann", StoredBox: face.Box{X1: 5, Y1: 5, X2: 40, Y2: 50}}
	ben := Region{FaceID: 2, PersonID: 2, Name: "Ben", StoredBox: face.Box{X1: 70, Y1: 20, X2: 110, Y2: 70}}
	type step struct {
		del        []string // region names the user deletes before this export
		dropRecord bool     // ... and the tool drops faced:Faces
		drawBen    string   // the user then draws a region named so on Ben's face
		rename     map[int64]string
		// wanted
		mwg, mp     []string
		userDeleted []int64
		userNames   []string
		recDeleted  []string
		hasKW       []string
		noKW        []string
		unchanged   bool
		shown       map[int64]string // faced:Faces name when not the index's
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"delete one of two, rename the other, export again", []step{
			{mwg: []string{"Ann", "Ben"}, mp: []string{"Ann", "Ben"}, hasKW: []string{"People/Ann", "People/Ben"}},
			{del: []string{"Ben"}, rename: map[int64]string{1: "Anna"},
				mwg: []string{"Anna"}, mp: []string{"Anna"}, userDeleted: []int64{2}, recDeleted: []string{"2"},
				hasKW: []string{"People/Anna"}, noKW: []string{"People/Ben", "People/Ann"}},
			// third export: the deleted person is renamed in the index
			{rename: map[int64]string{2: "Benjamin"},
				mwg: []string{"Anna"}, mp: []string{"Anna"}, userDeleted: []int64{2}, recDeleted: []string{"2"},
				hasKW: []string{"People/Anna"}, noKW: []string{"People/Ben", "People/Benjamin"}},
			{mwg: []string{"Anna"}, mp: []string{"Anna"}, userDeleted: []int64{2}, recDeleted: []string{"2"}, unchanged: true},
		}},
		{"deleted face drawn again by the user", []step{
			{mwg: []string{"Ann", "Ben"}, mp: []string{"Ann", "Ben"}},
			{del: []string{"Ben"}, userDeleted: []int64{2}, recDeleted: []string{"2"}, mwg: []string{"Ann"}, mp: []string{"Ann"}},
			// The photo now calls Ben's face Benny: faced writes no other
			// name for it there (name policy, README.md).
			{drawBen: "Benny", userNames: []string{"Benny"}, shown: map[int64]string{2: "Benny"},
				mwg: []string{"Ann", "Benny"}, mp: []string{"Ann"}, hasKW: []string{"People/Ann"}, noKW: []string{"People/Ben"}},
		}},
		{"delete both", []step{
			{mwg: []string{"Ann", "Ben"}, mp: []string{"Ann", "Ben"}},
			{del: []string{"Ann", "Ben"}, userDeleted: []int64{1, 2}, recDeleted: []string{"1", "2"},
				noKW: []string{"People/Ann", "People/Ben"}},
			{userDeleted: []int64{1, 2}, recDeleted: []string{"1", "2"}, unchanged: true},
		}},
		{"record dropped: nothing inferred, region written again", []step{
			{mwg: []string{"Ann", "Ben"}, mp: []string{"Ann", "Ben"}},
			{del: []string{"Ben"}, dropRecord: true, rename: map[int64]string{1: "Anna"},
				mwg: []string{"Anna", "Ben"}, mp: []string{"Anna", "Ben"}, hasKW: []string{"People/Anna", "People/Ben"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			photo := copyFile(t, src, t.TempDir(), "d.jpg")
			side := photo + ".xmp"
			e := newExporter(t, Options{UnnamedLabel: "Person"})
			regs := []Region{ann, ben}
			for i, st := range tc.steps {
				if len(st.del) > 0 {
					userDeleteRegions(t, side, st.del, st.dropRecord)
				}
				if st.drawBen != "" {
					userDrawRegion(t, side, st.drawBen, ben.StoredBox, 128, 128)
				}
				for j := range regs {
					if n, ok := st.rename[regs[j].FaceID]; ok {
						regs[j].Name = n
					}
				}
				p := Photo{Path: photo, StoredWidth: 128, StoredHeight: 128, Regions: slices.Clone(regs)}
				for _, r := range regs {
					p.Keywords = append(p.Keywords, r.Name)
				}
				r := mustExport(t, e, p)
				if r.Unchanged != st.unchanged {
					t.Errorf("step %d: Unchanged = %v, want %v", i, r.Unchanged, st.unchanged)
				}
				if !slices.Equal(r.UserDeleted, st.userDeleted) {
					t.Errorf("step %d: UserDeleted = %v, want %v", i, r.UserDeleted, st.userDeleted)
				}
				var names []string
				for _, u := range r.UserNames {
					names = append(names, u.Name)
				}
				if !slices.Equal(names, st.userNames) {
					t.Errorf("step %d: UserNames %+v, want names %q", i, r.UserNames, st.userNames)
				}
				mwg, mp := regionNames(t, side)
				if !slices.Equal(mwg, st.mwg) || !slices.Equal(mp, st.mp) {
					t.Errorf("step %d: MWG regions %q, MP regions %q; want %q", i, mwg, mp, st.mwg)
				}
				rec := facedRecord(t, side)
				if len(rec) != len(regs) {
					t.Errorf("step %d: faced:Faces has %d faces, want %d: %v", i, len(rec), len(regs), rec)
				}
				if got := deletedFaces(rec); !slices.Equal(got, st.recDeleted) {
					t.Errorf("step %d: faces marked RegionDeleted %v, want %v (%v)", i, got, st.recDeleted, rec)
				}
				for _, reg := range regs {
					want := reg.Name
					if n, ok := st.shown[reg.FaceID]; ok {
						want = n
					}
					if m := rec[toString(float64(reg.FaceID))]; m["Name"] != want {
						t.Errorf("step %d: faced:Faces %d name %q, want %q", i, reg.FaceID, m["Name"], want)
					}
				}
				tags := strs(exifDump(t, side)["XMP-digiKam:TagsList"])
				for _, k := range st.hasKW {
					if !slices.Contains(tags, k) {
						t.Errorf("step %d: TagsList %v lacks %s", i, tags, k)
					}
				}
				for _, k := range st.noKW {
					if slices.Contains(tags, k) {
						t.Errorf("step %d: TagsList %v has %s", i, tags, k)
					}
				}
			}
		})
	}
}

// TestUserDeletedKeywords: a person's People/<name> keyword goes with the
// last of their deleted faces only, and a keyword faced did not add (the
// user's) is never taken back.
func TestUserDeletedKeywords(t *testing.T) {
	needTool(t, "exiftool")
	src := filepath.Join(shared.Dir(t, orientationDir), "pillow_hopper.jpg")
	// Cleo has two faces on the photo (a mirror), Dan one.
	regs := []Region{
		{FaceID: 1, PersonID: 3, Name: "Cleo", StoredBox: face.Box{X1: 5, Y1: 5, X2: 40, Y2: 50}},
		{FaceID: 2, PersonID: 3, Name: "Cleo", StoredBox: face.Box{X1: 70, Y1: 5, X2: 110, Y2: 50}},
		{FaceID: 3, PersonID: 4, Name: "Dan", StoredBox: face.Box{X1: 40, Y1: 70, X2: 80, Y2: 120}},
	}
	for _, tc := range []struct {
		name       string
		userTag    string   // People/<x> keyword present before faced's first export
		del        []int    // indexes into regs of regions the user deletes
		has, hasnt []string // TagsList after the next export
	}{
		{"one of two faces of a person", "", []int{0}, []string{"People/Cleo", "People/Dan"}, nil},
		{"both faces of a person", "", []int{0, 1}, []string{"People/Dan"}, []string{"People/Cleo"}},
		{"the only face of a person", "", []int{2}, []string{"People/Cleo"}, []string{"People/Dan"}},
		{"user's own keyword stays", "People/Dan", []int{2}, []string{"People/Cleo", "People/Dan"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			photo := copyFile(t, src, t.TempDir(), "k.jpg")
			side := photo + ".xmp"
			if tc.userTag != "" {
				pkt := strings.Replace(emptyPacket, `<rdf:Description rdf:about=""/>`,
					`<rdf:Description rdf:about="" xmlns:digiKam="http://www.digikam.org/ns/1.0/"><digiKam:TagsList><rdf:Seq><rdf:li>`+tc.userTag+`</rdf:li></rdf:Seq></digiKam:TagsList></rdf:Description>`, 1)
				if err := os.WriteFile(side, []byte(pkt), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			e := newExporter(t, Options{})
			p := Photo{Path: photo, StoredWidth: 128, StoredHeight: 128, Regions: regs, Keywords: []string{"Cleo", "Dan"}}
			mustExport(t, e, p)
			// Cleo's two regions share a name: give the ones to delete
			// their own, so that the user tool deletes only them.
			var names []string
			var wantDel []int64
			data := string(must(os.ReadFile(side)))
			for _, i := range tc.del {
				wantDel = append(wantDel, regs[i].FaceID)
				id := toString(float64(regs[i].FaceID))
				data = renameRegionOf(t, data, id, "DEL"+id)
				names = append(names, "DEL"+id)
			}
			if err := os.WriteFile(side, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			userDeleteRegions(t, side, names, false)
			r := mustExport(t, e, p)
			if !slices.Equal(r.UserDeleted, wantDel) {
				t.Errorf("UserDeleted = %v, want %v", r.UserDeleted, wantDel)
			}
			tags := strs(exifDump(t, side)["XMP-digiKam:TagsList"])
			for _, k := range tc.has {
				if !slices.Contains(tags, k) {
					t.Errorf("TagsList %v lacks %s", tags, k)
				}
			}
			for _, k := range tc.hasnt {
				if slices.Contains(tags, k) {
					t.Errorf("TagsList %v has %s", tags, k)
				}
			}
		})
	}
}

// renameRegionOf renames the MWG and MP regions of face id (found by
// faced:FaceID) in the sidecar text.
func renameRegionOf(t *testing.T, data, id, name string) string {
	t.Helper()
	doc, err := xmp.Parse([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if f, ok := doc.FindTop("Regions", nsMWGRS); ok {
		lf, _ := xmp.FindField(xmp.Resource(f.El), "RegionList", nsMWGRS)
		for _, li := range xmp.Items(xmp.ArrayOf(lf.El)) {
			res := xmp.Resource(li)
			ef, _ := xmp.FindField(res, "Extensions", nsMWGRS)
			if v, _ := xmp.Value(xmp.Resource(ef.El), "FaceID", NSFaced); v == id {
				xmp.SetValue(res, nsMWGRS, "mwg-rs", "Name", name)
				n++
			}
		}
	}
	if f, ok := doc.FindTop("RegionInfo", nsMP); ok {
		lf, _ := xmp.FindField(xmp.Resource(f.El), "Regions", nsMPRI)
		for _, li := range xmp.Items(xmp.ArrayOf(lf.El)) {
			res := xmp.Resource(li)
			if v, _ := xmp.Value(res, "FaceID", NSFaced); v == id {
				xmp.SetValue(res, nsMPReg, "MPReg", "PersonDisplayName", name)
				n++
			}
		}
	}
	if n != 2 {
		t.Fatalf("face %s: %d regions renamed, want 2", id, n)
	}
	return string(doc.Bytes())
}
