package hook

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/faced/faced/agegender"
	"github.com/faced/faced/heads"
	"github.com/faced/faced/internal/shared"
	"github.com/faced/faced/models"
)

func openNet(tb testing.TB) *agegender.Net {
	tb.Helper()
	data := shared.DataDir(tb)
	lib, err := models.FindORTLibrary(filepath.Join(shared.VarDir(), "lib", models.ORTLibName))
	if err != nil {
		tb.Skipf("ONNX Runtime library: %v", err)
	}
	if err := models.InitRuntime(lib); err != nil {
		tb.Fatal(err)
	}
	reg, err := models.OpenRegistry(data)
	if err != nil {
		tb.Fatal(err)
	}
	net, err := agegender.Open(reg, agegender.VariantInt8, models.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { net.Close() })
	return net
}

// TestTrainOnRealSliceDeterministic trains heads twice on the same 80
// UTKFace training chips (spread over the folder) run through the real network (labels listed in
// opposite orders; the second pass reads the network outputs from the
// cache) and demands the same bytes, and a heads file that reads back and
// applies to every chip.
func TestTrainOnRealSliceDeterministic(t *testing.T) {
	dir := shared.Dir(t, "testdata/utkface_train")
	net := openNet(t)
	labels, err := heads.LabelsFromNames(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Every k-th chip: names sort by age text, so a prefix would be ages
	// 1, 10, 100 only.
	var slice []heads.FileLabel
	for i := 0; i < 80; i++ {
		slice = append(slice, labels[i*len(labels)/80])
	}
	labels = slice
	cache := &heads.CachedExtractor{Dir: t.TempDir(), Inner: Extractor{Net: net, Batch: 8}}
	opt := heads.Options{Folds: 4, GenderLambdas: []float64{0.1, 1}, AgeLambdas: []float64{10}}
	ctx := context.Background()
	train := func(ls []heads.FileLabel) ([]byte, *heads.Heads, []heads.Sample) {
		s, _, err := heads.Collect(ctx, heads.FileSource{Dir: dir, Labels: ls, Extractor: cache})
		if err != nil {
			t.Fatal(err)
		}
		h, err := heads.Train(ctx, s, opt)
		if err != nil {
			t.Fatal(err)
		}
		h.Name = "slice"
		b, err := h.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b, h, s
	}
	b1, h, s := train(labels)
	rev := make([]heads.FileLabel, len(labels))
	for i, l := range labels {
		rev[len(labels)-1-i] = l
	}
	b2, _, _ := train(rev)
	if cache.Hits != len(labels) {
		t.Errorf("second pass read %d of %d outputs from the cache", cache.Hits, len(labels))
	}
	if !bytes.Equal(b1, b2) {
		t.Fatalf("same chips gave different heads files (%d vs %d bytes)", len(b1), len(b2))
	}
	path := filepath.Join(t.TempDir(), "heads-slice.json")
	if err := h.Save(path); err != nil {
		t.Fatal(err)
	}
	l, err := heads.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, smp := range s {
		age, p, err := l.Apply(smp.In)
		if err != nil || age < 1 || age > 100 || p < 0 || p > 1 {
			t.Fatalf("%s: age %v P(male) %v err %v", smp.Key, age, p, err)
		}
	}
}
