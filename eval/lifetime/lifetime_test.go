package lifetime

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faced/faced/face"
	"github.com/faced/faced/models"
)

func TestParseName(t *testing.T) {
	for _, c := range []struct {
		name     string
		age, idx int
		err      bool
	}{
		{"001A02.JPG", 2, 0, false},
		{"001A43a.JPG", 43, 0, false},
		{"001A43b.JPG", 43, 1, false},
		{"082A17.jpg", 17, 0, false},
		{"IMG_0001.JPG", 0, 0, true},
		{"001B02.JPG", 0, 0, true},
	} {
		age, idx, err := ParseName(c.name)
		if (err != nil) != c.err || (err == nil && (age != c.age || idx != c.idx)) {
			t.Errorf("ParseName(%q) = %d, %d, %v; want %d, %d, error %v", c.name, age, idx, err, c.age, c.idx, c.err)
		}
		if err != nil && !errors.Is(err, ErrBadName) {
			t.Errorf("ParseName(%q) error %v is not ErrBadName", c.name, err)
		}
	}
}

func TestBirthDateDeterministicAndBounded(t *testing.T) {
	years := map[int]bool{}
	for _, id := range []string{"001", "002", "006", "011", "012", "013", "015", "016", "022", "023"} {
		for _, maxAge := range []int{10, 45, 69} {
			b := BirthDate(id, maxAge)
			if !b.Equal(BirthDate(id, maxAge)) {
				t.Fatalf("BirthDate(%s) not deterministic", id)
			}
			if b.Year() < 1945 || b.Year()+maxAge >= LatestYear {
				t.Errorf("BirthDate(%s, %d) = %v: outside 1945..%d", id, maxAge, b, LatestYear-maxAge-1)
			}
			if last := PhotoDate(b, maxAge, 1); last.Year() > LatestYear {
				t.Errorf("photo at %d of %s dated %v, after %d", maxAge, id, last, LatestYear)
			}
			years[b.Year()] = true
		}
	}
	if len(years) < 5 {
		t.Errorf("birth years %v: want them spread", years)
	}
}

// The file dates go on the copies; the originals keep theirs.
func TestLibraryDatesCopiesOnly(t *testing.T) {
	dir := t.TempDir()
	orig := filepath.Join(dir, "set", "007", "007A05.JPG")
	if err := os.MkdirAll(filepath.Dir(orig), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(orig, []byte("not really a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(orig, before, before); err != nil {
		t.Fatal(err)
	}
	samples, err := List(filepath.Join(dir, "set"))
	if err != nil || len(samples) != 1 || samples[0].Age != 5 || samples[0].Identity != "007" {
		t.Fatalf("List = %+v, %v", samples, err)
	}
	copies, births, err := makeLibrary(samples, filepath.Join(dir, "lib"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(orig)
	if err != nil || !st.ModTime().Equal(before) {
		t.Fatalf("original's date changed: %v, %v", st.ModTime(), err)
	}
	cs, err := os.Stat(copies[0])
	if err != nil {
		t.Fatal(err)
	}
	want := PhotoDate(births["007"], 5, 0)
	b := births["007"]
	if !cs.ModTime().Equal(want) || cs.ModTime().Before(b.AddDate(5, 0, 0)) || !cs.ModTime().Before(b.AddDate(6, 0, 0)) {
		t.Errorf("copy dated %v, want %v (within age 5 of birth %v)", cs.ModTime(), want, b)
	}
}

// The held-out split: every other identity by folder name, whatever the
// order the names come in; every photo of an identity on one side.
func TestHalf(t *testing.T) {
	ids := []string{"013", "001", "002", "006", "011", "012"}
	want := map[string]string{"001": "a", "002": "b", "006": "a", "011": "b", "012": "a", "013": "b"}
	for id, h := range want {
		if got := Half(ids, id); got != h {
			t.Errorf("Half(%s) = %s, want %s", id, got, h)
		}
	}
	samples := []Sample{{Identity: "001", Age: 1}, {Identity: "002", Age: 3}, {Identity: "001", Age: 9}, {Identity: "006", Age: 4}}
	copies := []string{"c0", "c1", "c2", "c3"}
	ss, cs, rs := halfOf("a", samples, copies, make([]*face.Result, 4))
	if len(ss) != 3 || len(cs) != 3 || len(rs) != 3 || cs[0] != "c0" || cs[1] != "c2" || cs[2] != "c3" {
		t.Errorf("half a: %v %v, want the photos of 001 and 006", ss, cs)
	}
	if _, err := Run(t.Context(), Options{Dir: t.TempDir(), Registry: &models.Registry{}, Half: "c"}); !errors.Is(err, ErrBadHalf) {
		t.Errorf("Half c: %v, want ErrBadHalf", err)
	}
}
