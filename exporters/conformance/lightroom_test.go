package conformance

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/faced/faced/exporters"
	"github.com/faced/faced/internal/shared"
)

// TestLightroomSeesKeywords: what Lightroom Classic shows of faced's work
// is keywords, from the file it reads: for JPEG (and HEIC, DNG) the
// embedded XMP, so faced's sidecar alone shows nothing and the opt-in
// embedded mode shows People|<name>; for RAW, photo.xmp, so SidecarNaming
// base shows it and full (photo.cr2.xmp) does not.
func TestLightroomSeesKeywords(t *testing.T) {
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Skipf("exiftool not installed: %v", err)
	}
	ctx := context.Background()
	want := "People|" + nameNamed
	count := func(paths []string) int {
		n := 0
		kws, err := LightroomKeywords(ctx, paths...)
		if err != nil {
			t.Fatal(err)
		}
		for _, kw := range kws {
			if slices.Contains(kw, want) {
				n++
			}
		}
		return n
	}
	// JPEG, sidecar only: the shared library.
	lib := libraryOf(t)
	var jpegs []string
	for _, p := range lib {
		jpegs = append(jpegs, p.path)
	}
	if n := count(jpegs); n != 0 {
		t.Errorf("Lightroom reads faced's keyword on %d sidecar-only JPEGs: its rule (embedded only) is not what this suite assumes", n)
	}
	// JPEG, embedded mode, on the orientation photos.
	dir := t.TempDir()
	src, _ := filepath.Glob(filepath.Join(shared.Dir(t, "testdata/photos/exif_orientation"), "*.jpg"))
	emb, err := exporters.New(exporters.Options{Embedded: true, UnnamedLabel: "Person"})
	if err != nil {
		t.Fatal(err)
	}
	var embedded []string
	for i, f := range src {
		dst := filepath.Join(dir, fmt.Sprintf("e%d.jpg", i))
		if err := copyPlain(f, dst); err != nil {
			t.Fatal(err)
		}
		w, h, err := storedSize(dst)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := emb.Export(ctx, facesFor(dst, w, h)); err != nil {
			t.Fatal(err)
		}
		embedded = append(embedded, dst)
	}
	nEmb := count(embedded)
	if nEmb != len(embedded) {
		t.Errorf("embedded mode: Lightroom reads faced's keyword on %d of %d JPEGs", nEmb, len(embedded))
	}
	// RAW: photo.xmp is what Lightroom reads.
	raws, _ := filepath.Glob(filepath.Join(shared.Dir(t, "testdata/photos/formats/raw_stubs"), "*"))
	nRaw := map[string]int{}
	total := 0
	for _, naming := range []string{"full", "base"} {
		ex, err := exporters.New(exporters.Options{Naming: naming, UnnamedLabel: "Person"})
		if err != nil {
			t.Fatal(err)
		}
		d := t.TempDir()
		var ps []string
		for _, f := range raws {
			if lightroomEmbedded[filepath.Ext(f)] || filepath.Ext(f) == ".dng" {
				continue // DNG keeps its metadata inside
			}
			dst := filepath.Join(d, filepath.Base(f))
			if err := copyPlain(f, dst); err != nil {
				t.Fatal(err)
			}
			if _, err := ex.Export(ctx, facesFor(dst, 600, 400)); err != nil {
				t.Fatal(err)
			}
			ps = append(ps, dst)
		}
		total = len(ps)
		nRaw[naming] = count(ps)
	}
	if nRaw["full"] != 0 || nRaw["base"] != total {
		t.Errorf("RAW: Lightroom reads faced's keyword on %d (naming full) and %d (base) of %d", nRaw["full"], nRaw["base"], total)
	}
	t.Logf("Lightroom Classic rules: faced's People|%s keyword on 0 of %d photos with a sidecar only (JPEG, HEIC, AVIF, JPEG XL), %d of %d JPEGs in embedded mode, RAW %d of %d (SidecarNaming full) and %d of %d (base)",
		nameNamed, len(jpegs), nEmb, len(embedded), nRaw["full"], total, nRaw["base"], total)
	fmt.Printf("conformance: lightroom jpeg_sidecar=0/%d jpeg_embedded=%d/%d raw_full=%d/%d raw_base=%d/%d\n", len(jpegs), nEmb, len(embedded), nRaw["full"], total, nRaw["base"], total)
}
