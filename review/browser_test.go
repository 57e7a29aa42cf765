package review

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/faced/faced/exporters"
	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
	"github.com/faced/faced/internal/shared"
	"github.com/faced/faced/persons"
)

// chromium returns Debian's Chromium, or skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if b, err := exec.LookPath(p); err == nil {
			return b
		}
	}
	t.Skip("no Chromium installed (scripts/setup.sh installs Debian's chromium)")
	return ""
}

// world is a library of real LFW photos with an index of persons: person 1
// and 2 are two halves of one identity (a merge suggestion), 3 and 4 other
// identities. Boxes are LFW's aligned face area; features are synthetic
// per-identity vectors (the page never sees them, only the suggestion
// distances).
type world struct {
	t       *testing.T
	ix      *index.Index
	svc     *persons.Service
	ex      *exporters.Exporter
	library string
	data    string
	faces   map[int64][]int64 // person -> faces
	files   map[int64]string  // face -> photo
}

func newWorld(t *testing.T) *world {
	ctx := context.Background()
	lfw := shared.Dir(t, "testdata/lfw/images")
	dirs, _ := filepath.Glob(filepath.Join(lfw, "*"))
	sort.Strings(dirs)
	var ids [][]string
	for _, d := range dirs {
		ps, _ := filepath.Glob(filepath.Join(d, "*.jpg"))
		if len(ps) >= 6 {
			sort.Strings(ps)
			ids = append(ids, ps[:6])
		}
		if len(ids) == 3 {
			break
		}
	}
	if len(ids) < 3 {
		t.Skip("need three LFW identities with 6 photos")
	}
	w := &world{t: t, library: t.TempDir(), data: t.TempDir(), faces: map[int64][]int64{}, files: map[int64]string{}}
	ix, err := index.Open(ctx, filepath.Join(w.data, persons.IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	w.ix = ix
	th, err := persons.NewThumbs(ix, w.library, filepath.Join(w.data, persons.ThumbsDir))
	if err != nil {
		t.Fatal(err)
	}
	w.svc = persons.New(ix, persons.Options{Thumbs: th})
	if w.ex, err = exporters.New(exporters.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	base := func() []float64 {
		v := make([]float64, 32)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return v
	}
	vec := func(b []float64) []float32 {
		out := make([]float32, len(b))
		var n float64
		for i, x := range b {
			y := x + 0.3*rng.NormFloat64()
			out[i] = float32(y)
			n += y * y
		}
		for i := range out {
			out[i] /= float32(math.Sqrt(n))
		}
		return out
	}
	// Persons 1 and 2: the first identity's photos 0-2 and 3-5.
	plan := []struct {
		photos []string
		base   int
	}{{ids[0][:3], 0}, {ids[0][3:], 0}, {ids[1], 1}, {ids[2][:4], 2}}
	bases := [][]float64{base(), base(), base()}
	n := 0
	for _, pl := range plan {
		pid, err := ix.CreatePerson(ctx, index.Person{})
		if err != nil {
			t.Fatal(err)
		}
		assign := map[int64]int64{}
		for _, src := range pl.photos {
			n++
			dst := filepath.Join(w.library, fmt.Sprintf("%02d-%s", n, filepath.Base(src)))
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				t.Fatal(err)
			}
			box := face.Box{X1: 78, Y1: 72, X2: 172, Y2: 190}
			when := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * 24 * time.Hour)
			_, fids, err := ix.RecordAnalysis(ctx, index.Analysis{
				File: index.File{Path: dst, Size: int64(len(b)), ModTime: when, CaptureTime: when, CaptureSource: "exif", Kind: face.KindPhoto},
				Result: face.Result{File: dst, Kind: face.KindPhoto, Width: 250, Height: 250, StoredWidth: 250, StoredHeight: 250,
					Orientation: 1, Model: "test", Faces: []face.Face{{Box: box, StoredBox: box, Score: 0.99, Age: 30 + float64(n%7),
						MaleProb: 0.8, Features: vec(bases[pl.base])}}}})
			if err != nil {
				t.Fatal(err)
			}
			assign[fids[0]] = pid
			w.faces[pid] = append(w.faces[pid], fids[0])
			w.files[fids[0]] = dst
		}
		if _, err := ix.AssignFaces(ctx, assign, index.SourceAuto); err != nil {
			t.Fatal(err)
		}
	}
	// The last photo is potentially public (what the clusterer's rule
	// decides in the daemon).
	last := w.faces[4][len(w.faces[4])-1]
	f, _ := ix.Face(ctx, last)
	if err := ix.SetVisibility(ctx, map[int64]index.Visibility{f.FileID: index.VisibilityPublic}); err != nil {
		t.Fatal(err)
	}
	w.export()
	return w
}

// export writes every sidecar that needs it, as the daemon's exporter does.
func (w *world) export() {
	w.t.Helper()
	ctx := context.Background()
	fs, err := w.ix.FilesNeedingExport(ctx, 1000)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, f := range fs {
		ph, err := persons.SidecarPhoto(ctx, w.ix, f.Path)
		if err != nil {
			w.t.Fatal(err)
		}
		if _, err := w.ex.Export(ctx, ph); err != nil {
			w.t.Fatal(err)
		}
		if err := w.ix.MarkExported(ctx, f.ID, f.ExportRev); err != nil {
			w.t.Fatal(err)
		}
	}
}

// names reads a sidecar's region names the way photo managers do: with
// exiftool when installed (Immich's reader), else from the XMP text.
func (w *world) names(photo string) []string {
	w.t.Helper()
	sc := photo + ".xmp"
	if _, err := exec.LookPath("exiftool"); err == nil {
		out, err := exec.Command("exiftool", "-j", "-RegionName", "-Subject", sc).Output()
		if err != nil {
			return nil
		}
		var res []map[string]any
		if err := json.Unmarshal(out, &res); err != nil || len(res) != 1 {
			w.t.Fatalf("exiftool %s: %v\n%s", sc, err, out)
		}
		var names []string
		for _, k := range []string{"RegionName", "Subject"} {
			switch v := res[0][k].(type) {
			case string:
				names = append(names, v)
			case []any:
				for _, n := range v {
					names = append(names, fmt.Sprint(n))
				}
			}
		}
		return names
	}
	b, err := os.ReadFile(sc)
	if err != nil {
		return nil
	}
	var names []string
	for _, part := range strings.Split(string(b), "<mwg-rs:Name>")[1:] {
		names = append(names, part[:strings.Index(part, "<")])
	}
	return names
}

func (w *world) person(id int64) index.Person {
	w.t.Helper()
	p, err := w.ix.Person(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

// TestReviewInBrowser drives the review page in headless Chromium: name a
// person from the grid, merge a suggested pair, split faces, mark "not this
// person", forget; after each, the index and the sidecars (read back with
// exiftool) say what the page did.
func TestReviewInBrowser(t *testing.T) {
	bin := chromium(t)
	w := newWorld(t)
	secret, err := Secret(w.data)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := &Server{S: w.svc, Secret: secret, Addr: "127.0.0.1:0", Library: w.library,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, _, err := srv.Serve(ctx); err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.Addr
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1000, 720))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	shots := os.Getenv("FACED_REVIEW_SCREENSHOTS")
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			if shots == "" {
				return chromedp.Void{}, nil
			}
			b, err := chromedp.FullScreenshot(70)(ctx, tg)
			if err != nil {
				return chromedp.Void{}, err
			}
			return chromedp.Void{}, os.WriteFile(filepath.Join(shots, name+".jpg"), b, 0o644)
		}
	}
	ready := func(hash string) chromedp.Action[chromedp.Void] {
		return chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`body[data-ready=%q]`, hash)))
	}
	run := func(what string, acts ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, acts...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(expr string) any {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[any](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
	goTo := func(hash string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			if _, err := chromedp.Evaluate[bool](fmt.Sprintf(`delete document.body.dataset.ready; location.hash = %q; true`, hash))(ctx, tg); err != nil {
				return chromedp.Void{}, err
			}
			return ready(hash)(ctx, tg)
		}
	}
	css := func(f string, a ...any) chromedp.CSS { return chromedp.CSS(fmt.Sprintf(f, a...)) }

	// The grid: the key in the URL becomes a cookie, unnamed persons first.
	begin := time.Now()
	run("open the grid", chromedp.Navigate(base+"/?k="+secret), ready("#/"), chromedp.WaitVisible(css(`#persons .card img`)))
	t.Logf("grid loaded in %v (contended)", time.Since(begin).Round(time.Millisecond))
	fcp := eval(`(performance.getEntriesByName("first-contentful-paint")[0]||{startTime:-1}).startTime`)
	t.Logf("grid first contentful paint: %v ms (cold: browser start, thumbnails cropped)", fcp)
	// Warm: the grid opened again, thumbnails cached (a user's usual visit).
	run("reopen the grid", chromedp.Navigate(base+"/"), ready("#/"), chromedp.WaitVisible(css(`#persons .card img`)))
	t.Logf("grid first contentful paint, warm: %v ms", eval(`(performance.getEntriesByName("first-contentful-paint")[0]||{startTime:-1}).startTime`))
	if loc, _ := chromedp.Run(bctx, chromedp.Location()); strings.Contains(loc, secret) {
		t.Errorf("the secret stays in the address bar: %s", loc)
	}

	// 1. Name person 3 from the keyboard: type, Enter; the focus moves on.
	run("name from the grid", chromedp.SendKeys(css(`#persons input[data-person="3"]`), "Carla\r"),
		chromedp.WaitVisible(chromedp.Search(`//span[@id="status"][contains(., "Person 3 is Carla")]`)), shot("grid"))
	if focused := eval(`document.activeElement.dataset.person || ""`); focused != "4" {
		t.Errorf("after Enter the focus is on person %v, want the next card (4)", focused)
	}
	if p := w.person(3); p.Name != "Carla" || p.NameSource != index.SourceUser {
		t.Fatalf("index after naming: %+v", p)
	}
	w.export()
	for _, f := range w.faces[3] {
		if !slices.Contains(w.names(w.files[f]), "Carla") {
			t.Errorf("sidecar of %s lacks Carla: %v", w.files[f], w.names(w.files[f]))
		}
	}

	// 2. Merge: name person 1, then merge the suggested pair 1+2.
	if err := w.svc.Name(ctx, 1, "Ann"); err != nil {
		t.Fatal(err)
	}
	run("merge suggestion", goTo("#/suggestions"), chromedp.WaitVisible(css(`.pair[data-a="1"][data-b="2"]`)),
		shot("suggestions"),
		chromedp.Click(css(`.pair[data-a="1"][data-b="2"] button.merge`)),
		chromedp.WaitNotPresent(css(`.pair[data-a="1"][data-b="2"]`)))
	if p := w.person(2); p.MergedInto != 1 {
		t.Fatalf("person 2 after the merge: %+v", p)
	}
	if p := w.person(1); p.Faces != 6 {
		t.Fatalf("person 1 has %d faces after the merge, want 6", p.Faces)
	}
	w.export()
	for _, f := range w.faces[2] {
		if !slices.Contains(w.names(w.files[f]), "Ann") {
			t.Errorf("merged face's sidecar %s lacks Ann: %v", w.files[f], w.names(w.files[f]))
		}
	}

	// 3. Split: select two of Ann's faces, New person.
	split := w.faces[2][:2]
	run("split", goTo("#/person/1"), chromedp.WaitVisible(css(`#faces .face img`)),
		chromedp.Click(css(`.face[data-face="%d"] .meta`, split[0])),
		chromedp.Click(css(`.face[data-face="%d"] .meta`, split[1])),
		chromedp.WaitVisible(chromedp.Search(`//span[@id="selcount"][contains(., "2 selected")]`)), shot("person"),
		chromedp.Click(css(`#split`)),
		chromedp.WaitVisible(chromedp.Search(`//span[@id="status"][contains(., "new person")]`)))
	newID := int64(0)
	for _, f := range split {
		rec, err := w.ix.Face(ctx, f)
		if err != nil || rec.PersonID == 1 || rec.PersonID == 0 || rec.Source != index.SourceUser {
			t.Fatalf("split face %d: %+v, %v", f, rec, err)
		}
		newID = rec.PersonID
	}
	w.export()
	for _, f := range split {
		if slices.Contains(w.names(w.files[f]), "Ann") {
			t.Errorf("split face's sidecar %s still names Ann", w.files[f])
		}
	}
	t.Logf("split to person %d", newID)

	// 4. Not this person: one of Carla's faces.
	nf := w.faces[3][0]
	run("not this person", goTo("#/person/3"), chromedp.WaitVisible(css(`#faces .face img`)),
		chromedp.Click(css(`.face[data-face="%d"] .meta`, nf)),
		chromedp.Click(css(`#not-person`)),
		chromedp.WaitNotPresent(css(`.face[data-face="%d"]`, nf)))
	if rec, _ := w.ix.Face(ctx, nf); rec.PersonID != 0 {
		t.Fatalf("face %d after not-this-person: person %d", nf, rec.PersonID)
	}
	cl, _ := w.ix.CannotLinks(ctx)
	if !slices.Contains(cl.FacePersons, [2]int64{nf, 3}) {
		t.Fatalf("no cannot-link face %d / person 3: %v", nf, cl.FacePersons)
	}
	w.export()
	if slices.Contains(w.names(w.files[nf]), "Carla") {
		t.Errorf("sidecar %s still names Carla", w.files[nf])
	}

	// The photo view, the potentially public photos and the videos page.
	run("photo view", goTo(fmt.Sprintf("#/photo/%d", mustFile(t, w, w.faces[1][0]))),
		chromedp.WaitVisible(css(`#photo img`)), shot("photo"))
	if n := eval(`document.querySelectorAll("#photo .box").length`); n != float64(1) {
		t.Errorf("%v boxes on the photo, want 1", n)
	}
	apparent, err := chromedp.Run(bctx, chromedp.Text(css(`#photo .box span`)))
	if err != nil || !strings.Contains(apparent, "apparent age") || !strings.Contains(apparent, "apparent male") {
		t.Errorf("box label %q (%v) does not say apparent age and gender", apparent, err)
	}
	run("public", goTo("#/public"), chromedp.WaitVisible(css(`#list .card`)), shot("public"))
	run("videos", goTo("#/videos"), shot("videos"))

	// 5. Forget Carla: the thumbnails the pages cached go, the features go,
	// the name leaves the sidecars.
	carla := w.faces[3][1:]
	if !w.svc.Thumbs().Cached(carla[0]) {
		t.Fatalf("thumbnail of face %d not cached after the grid and person pages", carla[0])
	}
	run("forget", goTo("#/person/3"), chromedp.WaitVisible(css(`#forget`)))
	eval(`window.confirm = () => true`)
	run("forget", chromedp.Click(css(`#forget`)), ready("#/"))
	if p := w.person(3); !p.OptOut || p.Name != "" || p.Faces != 0 {
		t.Fatalf("person 3 after forget: %+v", p)
	}
	for _, f := range carla {
		if w.svc.Thumbs().Cached(f) {
			t.Errorf("thumbnail of forgotten face %d still cached", f)
		}
		if rec, _ := w.ix.Face(ctx, f); rec.Features != nil || rec.ForgottenBy != 3 {
			t.Errorf("forgotten face %d: forgotten_by %d, %d features", f, rec.ForgottenBy, len(rec.Features))
		}
	}
	w.export()
	for _, f := range carla {
		if n := w.names(w.files[f]); slices.Contains(n, "Carla") {
			t.Errorf("sidecar %s still names Carla after forget: %v", w.files[f], n)
		}
	}
}

func mustFile(t *testing.T, w *world, faceID int64) int64 {
	t.Helper()
	rec, err := w.ix.Face(context.Background(), faceID)
	if err != nil {
		t.Fatal(err)
	}
	return rec.FileID
}
