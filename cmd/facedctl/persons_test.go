package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
	"github.com/faced/faced/internal/cli"
)

// personsFixture writes a config whose DataDirectory holds an index with
// persons 1 (user-named "Alice", 2 faces) and 2 (unnamed, 2 faces) and
// returns the config path and the face ids per person.
func personsFixture(t *testing.T) (string, map[int64][]int64) {
	t.Helper()
	ctx := context.Background()
	root := t.TempDir()
	data := filepath.Join(root, "data")
	os.MkdirAll(data, 0o755)
	os.MkdirAll(filepath.Join(root, "photos"), 0o755)
	cfg := filepath.Join(root, "config.txt")
	if err := os.WriteFile(cfg, []byte("[DEFAULT]\nInputDirectory = photos\nDataDirectory = data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ix, err := index.Open(ctx, filepath.Join(data, "faces.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	a, _ := ix.CreatePerson(ctx, index.Person{Name: "Alice", NameSource: index.SourceUser})
	b, _ := ix.CreatePerson(ctx, index.Person{})
	faces := map[int64][]int64{}
	assign := map[int64]int64{}
	for i, p := range []int64{a, a, b, b} {
		path := filepath.Join(root, "photos", string(rune('a'+i))+".jpg")
		id, err := ix.UpsertFile(ctx, index.File{Path: path, ModTime: time.Unix(1_600_000_000, 0)})
		if err != nil {
			t.Fatal(err)
		}
		f := face.Face{Box: face.Box{X1: 10, Y1: 10, X2: 110, Y2: 110}, Age: 30, Features: []float32{1, 0, 0, float32(i)}}
		ids, err := ix.ReplaceFaces(ctx, id, []face.Face{f}, "test")
		if err != nil {
			t.Fatal(err)
		}
		faces[p] = append(faces[p], ids[0])
		assign[ids[0]] = p
	}
	if _, err := ix.AssignFaces(ctx, assign, index.SourceAuto); err != nil {
		t.Fatal(err)
	}
	return cfg, faces
}

// runPersons runs `facedctl --config cfg persons args...` in process.
func runPersons(t *testing.T, cfg string, args ...string) (string, error) {
	t.Helper()
	old := configPath
	configPath = cfg
	defer func() { configPath = old }()
	cmd := newPersonsCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestPersonsCommands(t *testing.T) {
	cfg, faces := personsFixture(t)
	out, err := runPersons(t, cfg, "list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Alice") || strings.Count(out, "\n") != 3 {
		t.Fatalf("list:\n%s", out)
	}

	steps := []struct {
		args []string
		want string // in the output
	}{
		{[]string{"name", "2", "Bob", "Smith"}, `person 2 is "Bob Smith"`},
		{[]string{"set-birth", "2", "1985"}, "born in 1985"},
		{[]string{"split", "1", "#" + itoa(faces[1][1])}, "new person 3"},
		{[]string{"merge", "1", "3"}, "merged person 3 into 1"},
		{[]string{"forget", "2"}, "forgotten"},
	}
	for _, s := range steps {
		out, err := runPersons(t, cfg, s.args...)
		if err != nil || !strings.Contains(out, s.want) {
			t.Fatalf("persons %v: %v\n%s", s.args, err, out)
		}
	}
	out, err = runPersons(t, cfg, "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var ps []index.Person
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	if len(ps) != 1 || ps[0].ID != 1 || ps[0].Name != "Alice" || ps[0].Faces != 2 {
		t.Fatalf("after split+merge+forget: %+v", ps)
	}
	out, err = runPersons(t, cfg, "show", "1", "--json")
	if err != nil || strings.Contains(out, "features") || !strings.Contains(out, `"face_list"`) {
		t.Fatalf("show --json: %v\n%s", err, out)
	}
	out, err = runPersons(t, cfg, "show", "2")
	if err != nil || !strings.Contains(out, "opted out") || strings.Contains(out, "Bob") {
		t.Fatalf("show forgotten person: %v\n%s", err, out)
	}
	out, err = runPersons(t, cfg, "list", "--all")
	if err != nil || !strings.Contains(out, "merged into 1") {
		t.Fatalf("list --all: %v\n%s", err, out)
	}
}

func TestPersonsErrors(t *testing.T) {
	cfg, _ := personsFixture(t)
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"show", "99"}, cli.ExitNotFound},
		{[]string{"name", "x", "Bob"}, 1},
		{[]string{"set-birth", "1", "soon"}, 1},
		{[]string{"set-birth", "1", "1492"}, 1},
		{[]string{"merge", "1", "1"}, 1},
		{[]string{"split", "1", "99"}, 1},
	}
	for _, tc := range tests {
		_, err := runPersons(t, cfg, tc.args...)
		var ee *cli.ExitError
		if !errors.As(err, &ee) || ee.Code != tc.code {
			t.Errorf("persons %v: %v, want exit code %d", tc.args, err, tc.code)
		}
	}
	// No index yet: a clear error, and no empty database is created.
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "photos"), 0o755)
	empty := filepath.Join(root, "config.txt")
	os.WriteFile(empty, []byte("[DEFAULT]\nInputDirectory = photos\nDataDirectory = .\n"), 0o644)
	_, err := runPersons(t, empty, "list")
	var ee *cli.ExitError
	if !errors.As(err, &ee) || ee.Code != cli.ExitNotFound || !strings.Contains(err.Error(), "faces.db") {
		t.Fatalf("missing index: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "faces.db")); err == nil {
		t.Fatal("persons list created an index")
	}
}

func itoa(v int64) string { b, _ := json.Marshal(v); return string(b) }

// TestPersonsListUnnamedAsSidecars: an unnamed person is listed under the
// name its sidecars carry (UnnamedPersonLabel + id), not as "-".
func TestPersonsListUnnamedAsSidecars(t *testing.T) {
	for _, tt := range []struct{ label, want string }{
		{"", "Person 2 (unnamed)"}, // the default label
		{"UnnamedPersonLabel = Friend %02d\n", "Friend 02 (unnamed)"},
	} {
		cfg, _ := personsFixture(t)
		if tt.label != "" {
			f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(tt.label)
			f.Close()
		}
		for _, args := range [][]string{{"list"}, {"show", "2"}} {
			out, err := runPersons(t, cfg, args...)
			if err != nil || !strings.Contains(out, tt.want) {
				t.Errorf("persons %v with %q: %v, want %q in\n%s", args, tt.label, err, tt.want, out)
			}
		}
	}
}

// An automatic birth year shows with its confidence; the user's year
// without one.
func TestPersonsBirthYearConfidence(t *testing.T) {
	cfg, _ := personsFixture(t)
	ctx := context.Background()
	ix, err := index.Open(ctx, filepath.Join(filepath.Dir(cfg), "data", "faces.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.SetBirthYear(ctx, 2, 1987, index.SourceAuto); err != nil {
		t.Fatal(err)
	}
	if err := ix.SetBirthYearConfidence(ctx, 2, 0.71); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	out, err := runPersons(t, cfg, "list")
	if err != nil || !strings.Contains(out, "~1987 (71%)") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err := runPersons(t, cfg, "set-birth", "2", "1985"); err != nil {
		t.Fatalf("set-birth: %v\n%s", err, out)
	}
	out, err = runPersons(t, cfg, "show", "2")
	if err != nil || !strings.Contains(out, "1985") || strings.Contains(out, "%)") {
		t.Fatalf("show after the user's year: %v\n%s", err, out)
	}
}
