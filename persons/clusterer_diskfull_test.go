package persons

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/faced/faced/index"
	"github.com/faced/faced/internal/tmpfs"
)

// A clustering pass that fails on a full data disk keeps the files whose
// visibility it had to decide: the pass after space returns decides them
// (they were forgotten, and their sidecars never got the verdict).
func TestPersonsVisibilitySurvivesFullDisk(t *testing.T) {
	dir := tmpfs.Mount(t, 16<<20)
	ctx := context.Background()
	ix, err := index.Open(ctx, filepath.Join(dir, "faces.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	w := &world{t: t, ix: ix, dir: t.TempDir(), base: map[string][]float32{}, rng: newRand()}
	p := testPersons(ix, "")
	w.persons(p)
	var files []int64
	for _, who := range []string{"ann", "bob", "cid"} {
		f, err := ix.Face(ctx, w.photo(who))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f.FileID)
		p.NoteDone(f.FileID)
	}
	free := tmpfs.Fill(t, dir)
	if err := p.Update(ctx); err == nil {
		t.Fatal("clustering on a full data disk reported no error")
	} else {
		t.Logf("on a full disk: %v", err)
	}
	free()
	w.persons(p)
	for _, id := range files {
		f, err := ix.FileByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if f.Visibility == index.VisibilityUnknown {
			t.Errorf("file %s: visibility never decided after the failed pass", f.Path)
		}
	}
}
