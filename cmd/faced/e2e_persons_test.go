package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/faced/faced/api"
	"github.com/faced/faced/internal/shared"
)

// persons runs facedctl persons ARGS... --json and decodes the answer.
func (e *env) persons(v any, args ...string) {
	e.t.Helper()
	out, err := exec.Command(e.facedctl, append([]string{"--config", e.cfg, "persons"}, append(args, "--json")...)...).Output()
	if err != nil {
		e.t.Fatalf("facedctl persons %v: %v\n%s", args, err, out)
	}
	if err := json.Unmarshal(out, v); err != nil {
		e.t.Fatalf("facedctl persons %v: %v\n%s", args, err, out)
	}
}

type shownPerson struct {
	api.Person
	FaceList []api.Face `json:"face_list"`
}

// personFiles returns the files of person id's faces.
func (e *env) personFiles(id int64) []string {
	e.t.Helper()
	var sp shownPerson
	e.persons(&sp, "show", fmt.Sprint(id))
	var out []string
	for _, f := range sp.FaceList {
		out = append(out, f.Path)
	}
	sort.Strings(out)
	return slicesCompact(out)
}

func slicesCompact(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// regionNames reads the MWG region names of a sidecar with exiftool.
func regionNames(t *testing.T, sidecar string) []string {
	t.Helper()
	out, err := exec.Command("exiftool", "-j", "-RegionName", sidecar).Output()
	if err != nil {
		return nil // not written yet
	}
	var res []map[string]any
	if err := json.Unmarshal(out, &res); err != nil || len(res) != 1 {
		t.Fatalf("exiftool %s: %v\n%s", sidecar, err, out)
	}
	switch v := res[0]["RegionName"].(type) {
	case string:
		return []string{v}
	case []any:
		var names []string
		for _, n := range v {
			names = append(names, fmt.Sprint(n))
		}
		return names
	}
	return nil
}

func hasName(names []string, want string) bool {
	for _, n := range names {
		if n == want {
			return true
		}
	}
	return false
}

// TestPersonsEditsReachSidecars: with faced running, facedctl persons name
// and merge go through its local API (faced holds the writers' lock, so
// facedctl could not write the index itself) and reach the sidecars within
// the daemon's poll, and the running clusterer does not undo the merge;
// with faced stopped, facedctl renames through the index and the next start
// writes the sidecars.
func TestPersonsEditsReachSidecars(t *testing.T) {
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Skip("exiftool not installed")
	}
	lfw := shared.Dir(t, "testdata/lfw/images")
	e := newEnv(t, "")
	// Three identities with 10 photos each.
	dirs, _ := filepath.Glob(filepath.Join(lfw, "*"))
	sort.Strings(dirs)
	n := 0
	for _, d := range dirs {
		ps, _ := filepath.Glob(filepath.Join(d, "*.jpg"))
		if len(ps) < 10 {
			continue
		}
		for _, p := range ps[:10] {
			copyFile(t, p, filepath.Join(e.photos, filepath.Base(d), filepath.Base(p)))
		}
		if n++; n == 3 {
			break
		}
	}
	if n < 3 {
		t.Skip("need three LFW identities with 10 photos")
	}
	e.start()
	e.idle(5 * time.Minute)
	var ps []api.Person
	e.persons(&ps, "list")
	if len(ps) < 2 {
		t.Fatalf("%d persons after 30 photos of 3 identities, want >= 2: %+v", len(ps), ps)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Faces > ps[j].Faces })
	a, b := ps[0], ps[1]
	filesA, filesB := e.personFiles(a.ID), e.personFiles(b.ID)
	t.Logf("persons: %d; A=#%d (%d faces, %d files), B=#%d (%d faces, %d files)", len(ps), a.ID, a.Faces, len(filesA), b.ID, b.Faces, len(filesB))

	// Name A while faced runs: every sidecar of A's photos carries it.
	begin := time.Now()
	var named api.Person
	e.persons(&named, "name", fmt.Sprint(a.ID), "Alice")
	e.waitFor("Alice in every sidecar of person A", 30*time.Second, func() bool {
		for _, f := range filesA {
			if !hasName(regionNames(t, f+".xmp"), "Alice") {
				return false
			}
		}
		return true
	})
	t.Logf("name -> all %d sidecars: %v", len(filesA), time.Since(begin).Round(10*time.Millisecond))
	for _, f := range filesB {
		if hasName(regionNames(t, f+".xmp"), "Alice") && !contains(filesA, f) {
			t.Errorf("%s (person B only) got the name Alice", f)
		}
	}

	// Merge B into A: B's photos get the name too, and it sticks.
	begin = time.Now()
	var merged api.Person
	e.persons(&merged, "merge", fmt.Sprint(a.ID), fmt.Sprint(b.ID))
	e.waitFor("Alice in every sidecar of person B", 30*time.Second, func() bool {
		for _, f := range filesB {
			if !hasName(regionNames(t, f+".xmp"), "Alice") {
				return false
			}
		}
		return true
	})
	t.Logf("merge -> all %d sidecars of B: %v", len(filesB), time.Since(begin).Round(10*time.Millisecond))
	// Three polls later the daemon has not split them again.
	time.Sleep(7 * time.Second)
	e.idle(time.Minute)
	var after []api.Person
	e.persons(&after, "list")
	if len(after) != len(ps)-1 {
		t.Errorf("%d active persons after the merge, want %d (no person re-created)", len(after), len(ps)-1)
	}
	var sp shownPerson
	e.persons(&sp, "show", fmt.Sprint(a.ID))
	if sp.Faces < a.Faces+b.Faces {
		t.Errorf("person A has %d faces after the merge, want >= %d + %d", sp.Faces, a.Faces, b.Faces)
	}
	for _, f := range append(append([]string{}, filesA...), filesB...) {
		if !hasName(regionNames(t, f+".xmp"), "Alice") {
			t.Errorf("%s lost the name Alice after the merge settled", f)
		}
	}
	e.stop()
	// Photos untouched.
	for _, f := range filesA {
		rel, _ := filepath.Rel(e.photos, f)
		if sha(t, f) != sha(t, filepath.Join(lfw, rel)) {
			t.Errorf("photo %s was modified", rel)
		}
	}
	// With faced stopped, facedctl edits the index itself (under the
	// writers' lock); the next start writes the sidecars.
	var renamed api.Person
	e.persons(&renamed, "name", fmt.Sprint(a.ID), "Alicia")
	if renamed.Name != "Alicia" {
		t.Fatalf("rename with faced stopped: %+v", renamed)
	}
	e.start()
	e.waitFor("Alicia in every sidecar of person A after the restart", time.Minute, func() bool {
		for _, f := range filesA {
			if !hasName(regionNames(t, f+".xmp"), "Alicia") {
				return false
			}
		}
		return true
	})
	e.stop()
	if _, err := os.Stat(e.log); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tail(e.log), "clustering failed") {
		t.Errorf("clustering failed:\n%s", tail(e.log))
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
