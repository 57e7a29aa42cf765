package main

import (
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/faced/faced/analyzer"
	"github.com/faced/faced/cluster"
	"github.com/faced/faced/eval/dataset"
	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/cli"
	"github.com/faced/faced/models"
)

// evalFace is the labelled face of one evaluation file. Its features stay in
// memory and in the private feature cache under var/ only.
type evalFace struct {
	Identity string
	File     string
	Age      float64
	MaleProb float64
	Features []float32
	Year     int
	Birth    float64
}

// evalClusterResult is the JSON report of `faced-lab eval cluster`.
type evalClusterResult struct {
	cluster.Scores
	Method        string  `json:"method"`
	Order         string  `json:"order"`
	Seed          uint64  `json:"seed,omitempty"`
	Files         int     `json:"files"`
	NoFace        int     `json:"files_without_face"`
	Distractors   int     `json:"distractors"`
	DistractorsOK int     `json:"distractors_singleton"`
	ImagesPerSec  float64 `json:"images_per_sec"`
	AnalyzeSec    float64 `json:"analyze_sec"`
	ClusterSec    float64 `json:"cluster_sec"`
	MsPerFace     float64 `json:"cluster_ms_per_face"`
	Cached        bool    `json:"features_from_cache"`
	Eps           float64 `json:"eps"`
	MinPts        int     `json:"min_pts"`
	Link          float64 `json:"link"`
	AgeWeight     float64 `json:"age_weight"`
	AgeLink       float64 `json:"age_link"`
	MaxRegion     int     `json:"max_region,omitempty"`
	JoinEps       float64 `json:"join_eps,omitempty"`
	// LocalUpdates counts the Adds that re-clustered locally (MaxRegion);
	// AgreementF1 is the BCubed F1 of the incremental persons against the
	// batch ones (1 = identical), for --order random.
	LocalUpdates int      `json:"local_updates,omitempty"`
	AgreementF1  *float64 `json:"agreement_f1,omitempty"`
	// Index is the link scan (--index); with ivf, IndexAgreementF1 is the
	// BCubed F1 of the persons against an exact-scan batch of the same faces.
	Index            string   `json:"index,omitempty"`
	IndexAgreementF1 *float64 `json:"index_agreement_f1,omitempty"`
	// LinkRecall is the share of the exact scan's links the ivf index found;
	// IndexLists is the number of its inverted lists.
	LinkRecall *float64 `json:"link_recall,omitempty"`
	IndexLists int      `json:"index_lists,omitempty"`
}

func init() {
	var (
		dataDir, variant, order, method string
		asJSON, noCache, sweep          bool
		seed                            uint64
		eps, link, ageW, joinEps        float64
		ageLink                         float64
		minPts, workers, maxRegion      int
		index                           string
		lists, probe, indexMin          int
		probeShare                      float64
	)
	cmd := &cobra.Command{
		Use:   "cluster DIR",
		Short: "Score person clustering on a folder with one sub-folder per identity (LFW layout)",
		Long: `Analyse every photo of DIR (one sub-folder per identity; the labelled face is
the largest, most central one), cluster the faces and score the persons found
against the identities: BCubed precision/recall/F1, pairwise F1, persons vs
identities, images/s.

--method engine (default) is faced's clusterer (cluster.Engine); --method seed
is the seed's single linkage with its same-photo split. --order random adds the
faces one by one in a random order (--seed N) to check that the incremental
result equals the batch one.

Features are cached (never committed) under var/cache/evalcluster so that
re-runs with other clustering options skip the networks; the key holds the
models, the files (size, mtime) and this executable's SHA-256, so a rebuilt
analyzer re-analyses; --no-cache
re-analyses.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opt := cluster.DefaultOptions()
			if cmd.Flags().Changed("eps") {
				opt.Eps = eps
			}
			if cmd.Flags().Changed("min-pts") {
				opt.MinPts = minPts
			}
			if cmd.Flags().Changed("link") {
				opt.Link = link
			}
			if cmd.Flags().Changed("age-weight") {
				opt.AgeWeight = ageW
			}
			if cmd.Flags().Changed("age-link") {
				opt.AgeLink = ageLink
			}
			if cmd.Flags().Changed("join-eps") {
				opt.JoinEps = joinEps
			}
			if cmd.Flags().Changed("max-region") {
				opt.MaxRegion = maxRegion
			}
			opt.Index, opt.Lists, opt.Probe, opt.IndexMin, opt.ProbeShare = index, lists, probe, indexMin, probeShare
			return runEvalCluster(cmd.Context(), evalClusterArgs{
				dir: args[0], dataDir: dataDir, variant: variant, order: order, method: method,
				seed: seed, json: asJSON, noCache: noCache, sweep: sweep, opt: opt, workers: workers,
			}, os.Stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data", "var/data", "data directory holding the converted models")
	f.StringVar(&variant, "variant", "int8", "age/gender model variant: int8 or float32")
	f.StringVar(&order, "order", "batch", "batch, or random (faces arrive one by one in a random order)")
	f.StringVar(&method, "method", "engine", "engine (faced) or seed (single linkage, the seed's method)")
	f.Uint64Var(&seed, "seed", 1, "random order seed")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVar(&noCache, "no-cache", false, "re-analyse even when cached features exist")
	f.BoolVar(&sweep, "sweep", false, "print scores over a grid of clustering options (tuning)")
	f.Float64Var(&eps, "eps", 0, "override the link radius")
	f.IntVar(&minPts, "min-pts", 0, "override the core rule")
	f.Float64Var(&link, "link", 0, "override the link share needed to merge groups")
	f.Float64Var(&ageW, "age-weight", 0, "override the age term weight (seed 0.1)")
	f.Float64Var(&ageLink, "age-link", -1, "override the age-aware widening of the link radius (0 = off)")
	f.Float64Var(&joinEps, "join-eps", 0, "override the radius through which non-core faces join a cluster (0 = eps)")
	f.IntVar(&maxRegion, "max-region", 0, "override the region size above which Add re-clusters locally (0 = always exact)")
	f.StringVar(&index, "index", "", "link scan: exact, ivf (approximate inverted lists) or empty (default: exact below --index-min faces, ivf from there)")
	f.IntVar(&lists, "lists", 0, "ivf: number of inverted lists (0 = sqrt(faces))")
	f.IntVar(&probe, "probe", 0, "ivf: lists scanned per face (0 = --probe-share of the lists)")
	f.Float64Var(&probeShare, "probe-share", 0, "ivf: share of the lists scanned per face when --probe is 0 (0 = the package default, 1/2)")
	f.IntVar(&indexMin, "index-min", 0, "faces from which the inverted lists are used (0 = the package default: 4096 for ivf, 50000 by default; LFW needs less, e.g. 200)")
	f.IntVar(&workers, "workers", 0, "analysis workers (0 = number of CPUs)")
	evalParent().AddCommand(cmd)
}

type evalClusterArgs struct {
	dir, dataDir, variant, order, method string
	seed                                 uint64
	json, noCache, sweep                 bool
	opt                                  cluster.Options
	workers                              int
}

type evalFiles struct {
	files []struct{ identity, path string }
}

func listEvalDir(dir string) (evalFiles, error) {
	var ef evalFiles
	err := dataset.WalkIdentities(dir, func(identity, path string) error {
		ef.files = append(ef.files, struct{ identity, path string }{identity, path})
		return nil
	})
	if err != nil {
		return ef, fmt.Errorf("eval cluster: %w", err)
	}
	if len(ef.files) == 0 {
		return ef, fmt.Errorf("eval cluster: %s holds no identity sub-folders with photos", dir)
	}
	return ef, nil
}

// labelledFace picks the largest, most central face: the one with the
// smallest distance from its centre to the image centre relative to its
// size.
func labelledFace(r *face.Result) (face.Face, bool) {
	best, bi := math.Inf(1), -1
	cx, cy := float64(r.Width)/2, float64(r.Height)/2
	for i, f := range r.Faces {
		if len(f.Features) == 0 {
			continue
		}
		fx, fy := (f.Box.X1+f.Box.X2)/2, (f.Box.Y1+f.Box.Y2)/2
		side := math.Sqrt(max(f.Box.Area(), 1))
		k := (math.Hypot(fx-cx, fy-cy) + 1) / side
		if k < best {
			best, bi = k, i
		}
	}
	if bi < 0 {
		return face.Face{}, false
	}
	return r.Faces[bi], true
}

type evalCache struct {
	Key   string
	Files int
	Faces []evalFace
	Sec   float64
}

func cacheKey(a evalClusterArgs, ef evalFiles) string {
	h := sha256.New()
	abs, _ := filepath.Abs(a.dir)
	fmt.Fprintln(h, "evalcluster/2", abs, a.variant, executableSHA256())
	if reg, err := models.OpenRegistry(a.dataDir); err == nil {
		for _, m := range reg.Models() {
			fmt.Fprintln(h, m.Name, m.SHA256)
		}
	}
	for _, f := range ef.files {
		st, err := os.Stat(f.path)
		if err == nil {
			fmt.Fprintln(h, f.path, st.Size(), st.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// executableSHA256 identifies the code that computed the cached features:
// the SHA-256 of the running executable, so a rebuilt analyzer (whose fast
// mode may shift features slightly) never reuses an older build's features.
// On error it returns "" and the key falls back to models and files alone.
func executableSHA256() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	f, err := os.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

func analyseEvalFiles(ctx context.Context, a evalClusterArgs, ef evalFiles, log io.Writer) ([]evalFace, float64, int, error) {
	reg, err := openRegistry("", a.dataDir)
	if err != nil {
		return nil, 0, 0, err
	}
	workers := a.workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	an, err := analyzer.New(reg, analyzer.Options{Variant: a.variant, Threads: 1})
	if err != nil {
		return nil, 0, 0, err
	}
	defer an.Close()
	type job struct{ i int }
	faces := make([]*evalFace, len(ef.files))
	errs := make([]error, len(ef.files))
	jobs := make(chan int)
	done := make(chan struct{})
	start := time.Now()
	for w := 0; w < workers; w++ {
		go func() {
			for i := range jobs {
				f := ef.files[i]
				res, err := an.Analyze(ctx, f.path)
				if err != nil {
					errs[i] = err
					continue
				}
				lf, ok := labelledFace(res)
				if !ok {
					continue
				}
				t := time.Now()
				if st, err := os.Stat(f.path); err == nil {
					t = st.ModTime()
				}
				faces[i] = &evalFace{Identity: f.identity, File: f.path, Age: lf.Age, MaleProb: lf.MaleProb,
					Features: lf.Features, Year: t.UTC().Year(), Birth: cluster.FaceBirthYear(t, lf.Age)}
			}
			done <- struct{}{}
		}()
	}
	for i := range ef.files {
		if i%100 == 0 && log != nil {
			fmt.Fprintf(log, "eval cluster: analysed %d/%d files\n", i, len(ef.files))
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
	}
	close(jobs)
	for w := 0; w < workers; w++ {
		<-done
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, 0, err
	}
	sec := time.Since(start).Seconds()
	var out []evalFace
	noFace := 0
	for i, f := range faces {
		if errs[i] != nil {
			return nil, 0, 0, fmt.Errorf("eval cluster: %w", errs[i])
		}
		if f == nil {
			noFace++
			continue
		}
		out = append(out, *f)
	}
	return out, sec, noFace, nil
}

func runEvalCluster(ctx context.Context, a evalClusterArgs, w io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if a.order != "batch" && a.order != "random" {
		return cli.Exit(cli.ExitUsage, fmt.Errorf("eval cluster: --order must be batch or random, not %q", a.order))
	}
	if a.method != "engine" && a.method != "seed" {
		return cli.Exit(cli.ExitUsage, fmt.Errorf("eval cluster: --method must be engine or seed, not %q", a.method))
	}
	ef, err := listEvalDir(a.dir)
	if err != nil {
		return cli.Exit(cli.ExitUsage, err)
	}
	key := cacheKey(a, ef)
	cachePath := filepath.Join("var", "cache", "evalcluster", key+".gob")
	var c evalCache
	cached := false
	if !a.noCache {
		if fh, err := os.Open(cachePath); err == nil {
			if gob.NewDecoder(fh).Decode(&c) == nil && c.Key == key {
				cached = true
			}
			fh.Close()
		}
	}
	if !cached {
		faces, sec, _, err := analyseEvalFiles(ctx, a, ef, os.Stderr)
		if err != nil {
			return err
		}
		c = evalCache{Key: key, Files: len(ef.files), Faces: faces, Sec: sec}
		if err := os.MkdirAll(filepath.Dir(cachePath), 0o700); err == nil {
			if fh, err := os.OpenFile(cachePath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600); err == nil {
				err = gob.NewEncoder(fh).Encode(c)
				fh.Close()
				if err != nil {
					os.Remove(cachePath)
				}
			}
		}
	}
	if a.sweep {
		return sweepEvalCluster(c.Faces, w)
	}
	res := scoreEvalCluster(c.Faces, a)
	res.Files = c.Files
	res.NoFace = c.Files - len(c.Faces)
	res.AnalyzeSec = c.Sec
	if c.Sec > 0 {
		res.ImagesPerSec = float64(c.Files) / c.Sec
	}
	res.Cached = cached
	if a.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "method\t%s (order %s", res.Method, res.Order)
	if res.Order == "random" {
		fmt.Fprintf(tw, ", seed %d", res.Seed)
	}
	fmt.Fprintf(tw, ")\n")
	fmt.Fprintf(tw, "options\teps %.3f, join-eps %.3f, min-pts %d, link %.2f, age-weight %.2f, age-link %.2f, max-region %d\n", res.Eps, res.JoinEps, res.MinPts, res.Link, res.AgeWeight, res.AgeLink, res.MaxRegion)
	fmt.Fprintf(tw, "files\t%d (%d without a face)\n", res.Files, res.NoFace)
	fmt.Fprintf(tw, "faces\t%d\n", res.Items)
	fmt.Fprintf(tw, "BCubed P / R / F1\t%.4f / %.4f / %.4f\n", res.BCubedPrecision, res.BCubedRecall, res.BCubedF1)
	fmt.Fprintf(tw, "pairwise P / R / F1\t%.4f / %.4f / %.4f\n", res.PairPrecision, res.PairRecall, res.PairF1)
	fmt.Fprintf(tw, "persons / identities\t%d / %d (largest cluster %d)\n", res.Persons, res.Identities, res.Largest)
	fmt.Fprintf(tw, "distractors singleton\t%d / %d\n", res.DistractorsOK, res.Distractors)
	if res.LinkRecall != nil && res.IndexAgreementF1 != nil {
		fmt.Fprintf(tw, "inverted lists\t%d lists: link recall %.4f, persons vs exact scan BCubed F1 %.4f\n", res.IndexLists, *res.LinkRecall, *res.IndexAgreementF1)
	}
	if res.AgreementF1 != nil {
		fmt.Fprintf(tw, "agreement with batch\tBCubed F1 %.4f (%d local updates)\n", *res.AgreementF1, res.LocalUpdates)
	}
	if res.ImagesPerSec > 0 {
		src := "measured now"
		if cached {
			src = "measured when the cache was made"
		}
		fmt.Fprintf(tw, "analysis\t%.2f images/s (%s)\n", res.ImagesPerSec, src)
	}
	fmt.Fprintf(tw, "clustering\t%.3f s (%.3f ms per face)\n", res.ClusterSec, res.MsPerFace)
	return tw.Flush()
}

// evalItems turns evaluation faces into cluster items: one photo per face.
func evalItems(faces []evalFace) ([]cluster.Item, []string) {
	items := make([]cluster.Item, len(faces))
	truth := make([]string, len(faces))
	for i, f := range faces {
		// the capture time back from the seed's birth year (FaceBirthYear)
		items[i] = cluster.Item{ID: int64(i + 1), Photo: int64(i + 1), Features: f.Features, BirthYear: f.Birth, Year: f.Year,
			Age: f.Age, When: f.Birth + f.Age - 0.5}
		truth[i] = f.Identity
	}
	return items, truth
}

func scoreEvalCluster(faces []evalFace, a evalClusterArgs) evalClusterResult {
	items, truth := evalItems(faces)
	res := evalClusterResult{Method: a.method, Order: a.order, Eps: a.opt.Eps, MinPts: a.opt.MinPts, Link: a.opt.Link, AgeWeight: a.opt.AgeWeight, AgeLink: a.opt.AgeLink, MaxRegion: a.opt.MaxRegion, JoinEps: a.opt.JoinEps}
	start := time.Now()
	var assign []int
	switch {
	case a.method == "seed":
		res.Order, res.MinPts, res.Link, res.AgeWeight = "batch", 1, 0, cluster.AgeWeight
		assign = cluster.Assignment(cluster.SeedCluster(items, a.opt.Eps, 2), len(items))
	case a.order == "random":
		res.Seed = a.seed
		perm := rand.New(rand.NewPCG(a.seed, 0x5eed)).Perm(len(items))
		e := cluster.NewEngine(a.opt)
		for _, i := range perm {
			if _, _, err := e.Add(items[i]); err != nil {
				panic(err) // ids are unique and features uniform: cannot happen
			}
		}
		assign = engineAssignment(e, len(items))
		res.LocalUpdates = e.LocalUpdates()
		res.AgreementF1 = batchAgreement(items, a.opt, assign)
	default:
		e := cluster.NewEngine(a.opt)
		if _, err := e.AddBatch(items); err != nil {
			panic(err)
		}
		assign = engineAssignment(e, len(items))
	}
	res.ClusterSec = time.Since(start).Seconds()
	if a.opt.Index != cluster.IndexExact && a.method != "seed" {
		ex := a.opt
		ex.Index = cluster.IndexExact
		exE, ivE := cluster.NewEngine(ex), cluster.NewEngine(a.opt)
		if _, err := exE.AddBatch(items); err == nil {
			if _, err := ivE.AddBatch(items); err == nil && ivE.IndexLists() > 0 {
				res.Index = cluster.IndexIVF
				res.IndexLists = ivE.IndexLists()
				r := float64(ivE.LinkCount()) / float64(max(1, exE.LinkCount()))
				res.LinkRecall = &r
			}
		}
		if res.Index != "" {
			res.IndexAgreementF1 = batchAgreement(items, ex, assign)
		}
	}
	if len(items) > 0 {
		res.MsPerFace = res.ClusterSec * 1000 / float64(len(items))
	}
	res.Scores = cluster.Score(truth, assign)
	count := map[string]int{}
	for _, t := range truth {
		count[t]++
	}
	for i, t := range truth {
		if count[t] == 1 {
			res.Distractors++
			if assign[i] < 0 {
				res.DistractorsOK++
			}
		}
	}
	return res
}

func engineAssignment(e *cluster.Engine, n int) []int {
	a := make([]int, n)
	for i := range a {
		a[i] = -1
	}
	for c, p := range e.Persons() {
		for _, f := range p.Faces {
			a[f-1] = c
		}
	}
	return a
}

// sweepEvalCluster prints scores over a grid of options (for tuning on the
// dev set only).
func sweepEvalCluster(faces []evalFace, w io.Writer) error {
	type row struct {
		opt cluster.Options
		s   cluster.Scores
	}
	var rows []row
	items, truth := evalItems(faces)
	for _, eps := range []float64{0.62, 0.66, 0.70, 0.74, 0.78, 0.82, 0.86} {
		for _, mp := range []int{1, 3, 4} {
			for _, lk := range []float64{0, 0.1, 0.2, 0.3, 0.4} {
				for _, aw := range []float64{0, 0.1} {
					opt := cluster.Options{Eps: eps, MinPts: mp, Link: lk, AgeWeight: aw}
					cl, err := cluster.Batch(items, opt)
					if err != nil {
						return err
					}
					rows = append(rows, row{opt, cluster.Score(truth, cluster.Assignment(cl, len(items)))})
				}
			}
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].s.BCubedF1 > rows[j].s.BCubedF1 })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "eps\tmin-pts\tlink\tage\tB3 P\tB3 R\tB3 F1\tpair F1\tpersons\tlargest")
	for _, r := range rows {
		fmt.Fprintf(tw, "%.2f\t%d\t%.2f\t%.2f\t%.4f\t%.4f\t%.4f\t%.4f\t%d\t%d\n", r.opt.Eps, r.opt.MinPts, r.opt.Link, r.opt.AgeWeight,
			r.s.BCubedPrecision, r.s.BCubedRecall, r.s.BCubedF1, r.s.PairF1, r.s.Persons, r.s.Largest)
	}
	return tw.Flush()
}

// batchAgreement is the BCubed F1 of assign against cluster.Batch of the
// same items with opt (a batch singleton is its own cluster), or nil when
// Batch fails.
func batchAgreement(items []cluster.Item, opt cluster.Options, assign []int) *float64 {
	cl, err := cluster.Batch(items, opt)
	if err != nil {
		return nil
	}
	ref := make([]string, len(items))
	for i, c := range cluster.Assignment(cl, len(items)) {
		ref[i] = fmt.Sprint(c)
		if c < 0 {
			ref[i] = fmt.Sprint("single", i)
		}
	}
	f := cluster.Score(ref, assign).BCubedF1
	return &f
}
