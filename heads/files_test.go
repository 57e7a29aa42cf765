package heads

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestParseUTKFaceName(t *testing.T) {
	for _, tc := range []struct {
		name   string
		age    float64
		gender Gender
		bad    bool
	}{
		{"26_0_2_20170104023102422.jpg.chip.jpg", 26, Male, false},
		{"1_1_0_20161219140623097.jpg.chip.jpg", 1, Female, false},
		{"110_1_0_20170120134701015.jpg.chip.jpg", 110, Female, false},
		{"39_1_20170116174525125.jpg.chip.jpg", 39, Female, false}, // race missing: still 3 fields
		{"x_0_2_2017.jpg", 0, 0, true},
		{"26_3_2_2017.jpg", 0, 0, true},
		{"26.jpg", 0, 0, true},
	} {
		l, err := ParseUTKFaceName(tc.name)
		if tc.bad {
			if !errors.Is(err, ErrLabel) {
				t.Errorf("%s: want ErrLabel, got %v", tc.name, err)
			}
			continue
		}
		if err != nil || l.Age != tc.age || l.Gender != tc.gender {
			t.Errorf("%s: got %+v %v", tc.name, l, err)
		}
	}
}

func TestLabelsFromCSV(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "l.csv")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	l, err := LabelsFromCSV(write("file,age,gender\na.jpg,31,f\nsub/b.jpg,,male\nc.jpg,7.5,\nd.jpg,40,0\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []FileLabel{{"a.jpg", 31, Female}, {"sub/b.jpg", -1, Male}, {"c.jpg", 7.5, GenderUnknown}, {"d.jpg", 40, Male}}
	if len(l) != len(want) {
		t.Fatalf("got %+v", l)
	}
	for i := range want {
		if l[i] != want[i] {
			t.Errorf("row %d: got %+v want %+v", i, l[i], want[i])
		}
	}
	for _, bad := range []string{"a.jpg,abc,f\n", "a.jpg,30,x\n", "a.jpg,,\n", "a.jpg,30\n", ",30,f\n", "file,age,gender\n"} {
		if _, err := LabelsFromCSV(write(bad)); !errors.Is(err, ErrLabel) {
			t.Errorf("%q: want ErrLabel, got %v", bad, err)
		}
	}
}

type countingExtractor struct{ n int }

func (c *countingExtractor) Extract(_ context.Context, files []File) ([]Input, error) {
	c.n += len(files)
	s := synthSamples(len(files), 11)
	out := make([]Input, len(files))
	for i := range out {
		out[i] = s[i].In
	}
	return out, nil
}

func TestCachedExtractor(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var files []File
	for i, name := range []string{"20_0_0_1.jpg", "30_1_0_2.jpg", "40_0_1_3.jpg"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte{byte(i), 1, 2}, 0o644); err != nil {
			t.Fatal(err)
		}
		h, err := hashFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, File{Path: p, SHA256: h})
	}
	inner := &countingExtractor{}
	c := &CachedExtractor{Dir: filepath.Join(dir, "cache"), Inner: inner, Chunk: 2}
	a, err := c.Extract(ctx, files)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Extract(ctx, files)
	if err != nil {
		t.Fatal(err)
	}
	if inner.n != 3 || c.Hits != 3 {
		t.Fatalf("network ran on %d files, second pass hit %d; want 3 and 3", inner.n, c.Hits)
	}
	for i := range a {
		if a[i].MaleProb != b[i].MaleProb || a[i].Features[5] != b[i].Features[5] || a[i].AgeProbs[30] != b[i].AgeProbs[30] {
			t.Fatalf("cached output %d differs", i)
		}
	}
	// A corrupt cache entry is recomputed, not trusted.
	if err := os.WriteFile(c.path(files[1].SHA256), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Extract(ctx, files); err != nil || inner.n != 4 {
		t.Fatalf("corrupt entry: %v, network ran %d times", err, inner.n)
	}
	// Labels from names through FileSource.
	labels, err := LabelsFromNames(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := FileSource{Dir: dir, Labels: labels, Extractor: c}.Samples(ctx)
	if err != nil || len(s) != 3 || s[1].Age != 30 || s[1].Gender != Female || s[1].Hash != files[1].SHA256 {
		t.Fatalf("file source: %+v %v", s, err)
	}
}

func BenchmarkTrain(b *testing.B) {
	s := synthSamples(1000, 1)
	opt := Options{Folds: 5, Lambdas: []float64{1e-2}, Weighting: []bool{false}}
	for b.Loop() {
		if _, err := Train(context.Background(), s, opt); err != nil {
			b.Fatal(err)
		}
	}
}
