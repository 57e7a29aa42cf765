// Package lifetime scores how faced follows people across their lives on an
// aging set laid out like FG-NET: one folder per person holding PPPAxx.JPG
// (person PPP at age xx; a trailing a/b marks two photos at one age).
//
// The protocol (issue 16): every person gets a birth date derived from the
// folder name alone (deterministic, no identity leaks into the pipeline);
// each photo is copied into a temporary library whose copies carry the file
// date birth date + age (FG-NET has no EXIF dates; the originals are never
// touched); the copies are analysed with the daemon's analyzer options and
// recorded in a fresh index exactly as the daemon records them, and the
// daemon's clusterer (persons.Clusterer, default config) forms the persons and
// their birth years. The report scores the person of each photo's labelled
// face (the largest, most central one) against the folders: BCubed
// precision/recall/F1, persons per identity, photos left without a person,
// the birth-year error of the person holding most of each identity's photos,
// and the apparent-age error by age band.
package lifetime

import (
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/faced/faced/analyzer"
	"github.com/faced/faced/analyzer/anconfig"
	"github.com/faced/faced/cluster"
	"github.com/faced/faced/config"
	"github.com/faced/faced/daemon/wire"
	"github.com/faced/faced/eval/dataset"
	"github.com/faced/faced/face"
	"github.com/faced/faced/heads"
	"github.com/faced/faced/index"
	"github.com/faced/faced/models"
	"github.com/faced/faced/persons"
)

// ErrBadName: a photo's name does not follow PPPAxx[a|b].JPG.
var ErrBadName = errors.New("not an aging-set name (PPPAxx.JPG, xx = age)")

// Sample is one photo of the set.
type Sample struct {
	Identity string // folder name
	Path     string
	Age      int // true age in years
	// Index tells photos at one age apart (0, or 1 for a "b" photo).
	Index int
}

var nameRE = regexp.MustCompile(`^([0-9]+)[Aa]([0-9]+)([a-zA-Z]?)\.(?i:jpe?g|png)$`)

// ParseName reads the age and the same-age index from a file name.
func ParseName(name string) (age, idx int, err error) {
	m := nameRE.FindStringSubmatch(filepath.Base(name))
	if m == nil {
		return 0, 0, fmt.Errorf("%s: %w", filepath.Base(name), ErrBadName)
	}
	age, _ = strconv.Atoi(m[2])
	if s := strings.ToLower(m[3]); s != "" && s != "a" {
		idx = int(s[0] - 'a')
	}
	return age, idx, nil
}

// List returns the photos of dir (one folder per person), sorted by path. A
// photo whose name is not PPPAxx.JPG is an error naming it.
func List(dir string) ([]Sample, error) {
	var out []Sample
	err := dataset.WalkIdentities(dir, func(identity, path string) error {
		age, idx, err := ParseName(path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, Sample{Identity: identity, Path: path, Age: age, Index: idx})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eval lifetime: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("eval lifetime: %s holds no person folders with PPPAxx photos", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// LatestYear bounds the assigned file dates: no photo is dated after it.
const LatestYear = 2025

// BirthDate is the birth date given to person id whose oldest photo shows
// age maxAge: a year in 1945..1985 (at most LatestYear − maxAge − 1) and a
// day of that year, both from an FNV hash of the folder name. Forty
// birth years for a few dozen people put some a year or two apart, as
// siblings are.
func BirthDate(id string, maxAge int) time.Time {
	h := fnv.New64a()
	io.WriteString(h, id)
	v := h.Sum64()
	span := min(40, LatestYear-maxAge-1-1945)
	year := 1945 + int(v%uint64(max(span, 0)+1))
	day := int((v >> 20) % 365)
	return time.Date(year, 1, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, day)
}

// PhotoDate is the file date of a photo at age years: the middle of that
// year of life (a "b" photo a month later).
func PhotoDate(birth time.Time, age, idx int) time.Time {
	return birth.AddDate(age, 6, 30*idx)
}

// Options configure Run.
type Options struct {
	// Dir is the set (one folder per person).
	Dir string
	// Registry holds the models (and any trained heads).
	Registry *models.Registry
	// Config holds extra configuration lines ("Key = Value", newline
	// separated) on top of the shipped defaults; "" runs the default
	// configuration with InputDirectory set to the temporary library.
	Config string
	// Heads names the age/gender heads ("" or "seed": the network's own).
	Heads string
	// CacheDir, when set, keeps each photo's analysis (features included,
	// private files 0600) so re-runs with other clustering skip the
	// networks; the key holds the models, the heads, the photos (path,
	// size, mtime) and Build (the running executable's hash).
	CacheDir string
	Build    string
	// Workers analyse in parallel (0: number of CPUs).
	Workers int
	// Cluster, when set, replaces the engine options the daemon derives
	// from the model and the config (tuning only).
	Cluster *cluster.Options
	// Half, when "a" or "b", clusters and scores only half of the
	// identities (see Half): tune on one half, report the other. The
	// analyses (and their cache) still cover the whole set.
	Half string
	// Log receives progress lines (nil: none).
	Log io.Writer
}

// Half tells which half of the set identity id is in, "a" or "b": the
// identities sorted by folder name, alternately. A split by identity (not
// by photo) keeps every photo of a person on one side, so a rule tuned on
// one half meets only unseen people on the other.
func Half(ids []string, id string) string {
	s := append([]string(nil), ids...)
	sort.Strings(s)
	i := sort.SearchStrings(s, id)
	if i%2 == 0 {
		return "a"
	}
	return "b"
}

// ErrBadHalf: Options.Half is neither "", "a" nor "b".
var ErrBadHalf = errors.New(`half must be "a" or "b"`)

// Band is the apparent-age error over the photos whose true age is in
// [Lo, Hi].
type Band struct {
	Name string  `json:"band"`
	Lo   int     `json:"-"`
	Hi   int     `json:"-"`
	N    int     `json:"n"`
	MAE  float64 `json:"mae"`
	Bias float64 `json:"bias"` // mean (apparent − true)
}

// Bands are the report's age bands.
var Bands = []Band{{Name: "0-5", Lo: 0, Hi: 5}, {Name: "6-12", Lo: 6, Hi: 12}, {Name: "13-19", Lo: 13, Hi: 19},
	{Name: "20-39", Lo: 20, Hi: 39}, {Name: "40+", Lo: 40, Hi: 1000}}

// Report is the result for one set of heads.
type Report struct {
	Heads string `json:"heads"`
	// Half is the half of the identities scored ("": all, see Half).
	Half       string `json:"half,omitempty"`
	Photos     int    `json:"photos"`
	Identities int    `json:"identities"`
	// NoFace counts photos where no face was found.
	NoFace int `json:"photos_without_face"`
	cluster.Scores
	// Persons (in Scores) counts faced persons holding a labelled face;
	// PersonsPerIdentity is the mean number of faced persons an identity's
	// photos are spread over (photos without a person not counted).
	PersonsPerIdentity float64 `json:"persons_per_identity"`
	// PersonsTotal counts every person faced formed (extra faces in the
	// photos included).
	PersonsTotal int `json:"persons_total"`
	// InPerson counts photos whose labelled face belongs to a person.
	InPerson int `json:"photos_in_person"`
	// BirthYearMAE is the mean |birth year − assigned birth year| of the
	// person holding most of each identity's photos, over the
	// BirthYearIdentities identities that have one (coverage: their share).
	BirthYearMAE        float64 `json:"birth_year_mae"`
	BirthYearIdentities int     `json:"birth_year_identities"`
	BirthYearCoverage   float64 `json:"birth_year_coverage"`
	// BirthYearWithin45 counts identities whose birth year is within 4.5
	// years.
	BirthYearWithin45 int `json:"birth_year_within_4_5"`
	// BirthYearConfidence is the mean confidence faced gave those birth
	// years (0..1: the chance the year is within two years).
	BirthYearConfidence float64 `json:"birth_year_confidence"`
	AgeBands            []Band  `json:"apparent_age"`
	AgeMAE              float64 `json:"apparent_age_mae"`
	ClusterOptions      string  `json:"cluster_options"`
	Cached              bool    `json:"features_from_cache"`
	AnalyzeSec          float64 `json:"analyze_sec"`
	ClusterSec          float64 `json:"cluster_sec"`
}

// cacheEntry is the cached analysis of the set.
type cacheEntry struct {
	Key     string
	Results []*face.Result // nil: analysis failed (no face)
	Sec     float64
}

func cacheKey(o Options, samples []Sample, aopt analyzer.Options) string {
	h := sha256.New()
	abs, _ := filepath.Abs(o.Dir)
	fmt.Fprintln(h, "evallifetime/1", abs, aopt.Variant, aopt.MinSize, o.Heads, o.Build)
	for _, m := range o.Registry.Models() {
		fmt.Fprintln(h, m.Name, m.SHA256)
	}
	for _, s := range samples {
		if st, err := os.Stat(s.Path); err == nil {
			fmt.Fprintln(h, s.Path, st.Size(), st.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// libraryConfig is the shipped configuration (every key at its default)
// watching lib, plus extra lines.
func libraryConfig(lib, extra string) (*config.Config, error) {
	src := "[DEFAULT]\nInputDirectory = " + lib + "\n" + extra + "\n"
	c, err := config.Parse(filepath.Join(filepath.Dir(lib), "config.txt"), []byte(src))
	if err != nil {
		return nil, fmt.Errorf("eval lifetime: %w", err)
	}
	return c, nil
}

// Run evaluates one set of heads.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Registry == nil {
		return nil, errors.New("eval lifetime: no model registry")
	}
	if o.Heads == "" {
		o.Heads = heads.Seed
	}
	if o.Half != "" && o.Half != "a" && o.Half != "b" {
		return nil, fmt.Errorf("eval lifetime: %q: %w", o.Half, ErrBadHalf)
	}
	samples, err := List(o.Dir)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "faced-lifetime-")
	if err != nil {
		return nil, fmt.Errorf("eval lifetime: %w", err)
	}
	defer os.RemoveAll(tmp)
	lib := filepath.Join(tmp, "library")
	copies, births, err := makeLibrary(samples, lib)
	if err != nil {
		return nil, err
	}
	cfg, err := libraryConfig(lib, "Heads = "+o.Heads+"\n"+o.Config)
	if err != nil {
		return nil, err
	}

	// The daemon's analyzer options, the heads named in the config.
	aopt, err := anconfig.AnalyzerOptions(cfg, o.Registry, anconfig.Overrides{})
	if err != nil {
		return nil, fmt.Errorf("eval lifetime: %w", err)
	}
	rep := &Report{Heads: o.Heads, Photos: len(samples)}
	key := cacheKey(o, samples, aopt)
	var ce cacheEntry
	cachePath := ""
	if o.CacheDir != "" {
		cachePath = filepath.Join(o.CacheDir, key+".gob")
		if fh, err := os.Open(cachePath); err == nil {
			if gob.NewDecoder(fh).Decode(&ce) == nil && ce.Key == key && len(ce.Results) == len(samples) {
				rep.Cached = true
			}
			fh.Close()
		}
	}
	if !rep.Cached {
		res, sec, err := analyse(ctx, o, aopt, copies)
		if err != nil {
			return nil, err
		}
		ce = cacheEntry{Key: key, Results: res, Sec: sec}
		if cachePath != "" {
			writeCache(cachePath, &ce)
		}
	}
	rep.AnalyzeSec = ce.Sec
	results := ce.Results
	if o.Half != "" {
		samples, copies, results = halfOf(o.Half, samples, copies, results)
		rep.Photos, rep.Half = len(samples), o.Half
	}

	// Record the analyses as the daemon does (wire.Store.Done) and cluster
	// with the daemon's clusterer.
	start := time.Now()
	ix, err := index.Open(ctx, filepath.Join(tmp, "faces.db"))
	if err != nil {
		return nil, err
	}
	defer ix.Close()
	popt := wire.PersonsOptionsFor(cfg, o.Registry)
	popt.Logger = discardLogger()
	if o.Cluster != nil {
		popt.Cluster = *o.Cluster
	}
	rep.ClusterOptions = fmt.Sprintf("%+v", popt.Cluster)
	pers := persons.NewClusterer(persons.New(ix, persons.Options{}), popt)
	fileIDs := make([]int64, len(samples))
	for i, r := range results {
		if r == nil {
			continue
		}
		st, err := os.Stat(copies[i])
		if err != nil {
			return nil, fmt.Errorf("eval lifetime: %w", err)
		}
		capture, src := st.ModTime(), "mtime"
		if !r.CaptureTime.IsZero() {
			capture, src = r.CaptureTime, "exif"
		}
		rr := *r
		rr.File = copies[i]
		id, _, err := ix.RecordAnalysis(ctx, index.Analysis{File: index.File{Path: copies[i], Size: st.Size(), ModTime: st.ModTime(),
			Kind: rr.Kind, CaptureTime: capture, CaptureSource: src}, Result: rr})
		if err != nil {
			return nil, fmt.Errorf("eval lifetime: record %s: %w", samples[i].Path, err)
		}
		fileIDs[i] = id
		pers.NoteDone(id)
	}
	if err := pers.Update(ctx); err != nil {
		return nil, fmt.Errorf("eval lifetime: cluster: %w", err)
	}
	rep.ClusterSec = time.Since(start).Seconds()
	recs, err := ix.Faces(ctx, index.FaceQuery{NoFeatures: true})
	if err != nil {
		return nil, err
	}
	byFile := map[int64][]index.FaceRecord{}
	for _, r := range recs {
		byFile[r.FileID] = append(byFile[r.FileID], r)
	}
	ps, err := ix.Persons(ctx, index.PersonQuery{})
	if err != nil {
		return nil, err
	}
	rep.PersonsTotal = len(ps)
	personBirth := map[int64]index.Person{}
	for _, p := range ps {
		personBirth[p.ID] = p
	}
	return score(rep, samples, births, results, fileIDs, byFile, personBirth), nil
}

// halfOf keeps the samples (and their copies and analyses) of one half of
// the identities.
func halfOf(half string, samples []Sample, copies []string, results []*face.Result) ([]Sample, []string, []*face.Result) {
	seen := map[string]bool{}
	var ids []string
	for _, s := range samples {
		if !seen[s.Identity] {
			seen[s.Identity] = true
			ids = append(ids, s.Identity)
		}
	}
	var ss []Sample
	var cs []string
	var rs []*face.Result
	for i, s := range samples {
		if Half(ids, s.Identity) == half {
			ss, cs, rs = append(ss, s), append(cs, copies[i]), append(rs, results[i])
		}
	}
	return ss, cs, rs
}

// makeLibrary copies the photos into lib (one folder per person) and sets
// each copy's file date; it returns the copies' paths and each identity's
// birth date.
func makeLibrary(samples []Sample, lib string) ([]string, map[string]time.Time, error) {
	maxAge := map[string]int{}
	for _, s := range samples {
		maxAge[s.Identity] = max(maxAge[s.Identity], s.Age)
	}
	births := map[string]time.Time{}
	for id, a := range maxAge {
		births[id] = BirthDate(id, a)
	}
	copies := make([]string, len(samples))
	for i, s := range samples {
		dst := filepath.Join(lib, s.Identity, filepath.Base(s.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return nil, nil, fmt.Errorf("eval lifetime: %w", err)
		}
		if err := copyFile(s.Path, dst); err != nil {
			return nil, nil, fmt.Errorf("eval lifetime: copy %s: %w", s.Path, err)
		}
		t := PhotoDate(births[s.Identity], s.Age, s.Index)
		if err := os.Chtimes(dst, t, t); err != nil {
			return nil, nil, fmt.Errorf("eval lifetime: %w", err)
		}
		copies[i] = dst
	}
	return copies, births, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func writeCache(path string, ce *cacheEntry) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return
	}
	err = gob.NewEncoder(fh).Encode(ce)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
}

// analyse runs the analyzer over the copies; a photo the analyzer rejects
// is an error naming it.
func analyse(ctx context.Context, o Options, aopt analyzer.Options, paths []string) ([]*face.Result, float64, error) {
	an, err := analyzer.New(o.Registry, aopt)
	if err != nil {
		return nil, 0, err
	}
	defer an.Close()
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	out := make([]*face.Result, len(paths))
	errs := make([]error, len(paths))
	jobs := make(chan int)
	done := make(chan struct{})
	start := time.Now()
	for w := 0; w < workers; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range jobs {
				r, err := an.Analyze(ctx, paths[i])
				if err != nil {
					errs[i] = fmt.Errorf("%s: %w", paths[i], err)
					continue
				}
				out[i] = r
			}
		}()
	}
	for i := range paths {
		if o.Log != nil && i%200 == 0 {
			fmt.Fprintf(o.Log, "eval lifetime: analysed %d/%d photos\n", i, len(paths))
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
		return nil, 0, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, 0, fmt.Errorf("eval lifetime: %w", err)
		}
	}
	return out, time.Since(start).Seconds(), nil
}

// LabelledFace picks the face a photo of the set is about: the one with the
// smallest distance from its centre to the image centre relative to its
// size (the same rule as `facedctl eval cluster`); -1 when none.
func LabelledFace(width, height int, boxes []face.Box) int {
	best, bi := math.Inf(1), -1
	cx, cy := float64(width)/2, float64(height)/2
	for i, b := range boxes {
		fx, fy := (b.X1+b.X2)/2, (b.Y1+b.Y2)/2
		side := math.Sqrt(max(b.Area(), 1))
		k := (math.Hypot(fx-cx, fy-cy) + 1) / side
		if k < best {
			best, bi = k, i
		}
	}
	return bi
}

func score(rep *Report, samples []Sample, births map[string]time.Time, results []*face.Result, fileIDs []int64,
	byFile map[int64][]index.FaceRecord, persons map[int64]index.Person) *Report {
	truth := make([]string, len(samples))
	assign := make([]int, len(samples))
	ids := map[string]bool{}
	perID := map[string]map[int64]int{}
	bands := append([]Band(nil), Bands...)
	var ageSum float64
	ageN := 0
	for i, s := range samples {
		truth[i], assign[i] = s.Identity, -1
		ids[s.Identity] = true
		recs := byFile[fileIDs[i]]
		if results[i] == nil || len(recs) == 0 {
			rep.NoFace++
			continue
		}
		boxes := make([]face.Box, len(recs))
		for k, r := range recs {
			boxes[k] = r.Box
		}
		r := recs[LabelledFace(results[i].Width, results[i].Height, boxes)]
		for b := range bands {
			if s.Age >= bands[b].Lo && s.Age <= bands[b].Hi {
				bands[b].N++
				bands[b].MAE += math.Abs(r.Age - float64(s.Age))
				bands[b].Bias += r.Age - float64(s.Age)
			}
		}
		ageSum += math.Abs(r.Age - float64(s.Age))
		ageN++
		if r.PersonID == 0 {
			continue
		}
		rep.InPerson++
		assign[i] = int(r.PersonID)
		if perID[s.Identity] == nil {
			perID[s.Identity] = map[int64]int{}
		}
		perID[s.Identity][r.PersonID]++
	}
	for b := range bands {
		if bands[b].N > 0 {
			bands[b].MAE /= float64(bands[b].N)
			bands[b].Bias /= float64(bands[b].N)
		}
	}
	rep.AgeBands = bands
	if ageN > 0 {
		rep.AgeMAE = ageSum / float64(ageN)
	}
	rep.Identities = len(ids)
	rep.Scores = cluster.Score(truth, assign)
	held := map[int]bool{}
	for _, a := range assign {
		if a >= 0 {
			held[a] = true
		}
	}
	rep.Scores.Persons = len(held)
	spread := 0
	var errSum, confSum float64
	for id := range ids {
		m := perID[id]
		spread += len(m)
		var best int64
		n := 0
		for p, c := range m {
			if c > n || (c == n && p < best) {
				best, n = p, c
			}
		}
		p, ok := persons[best]
		if best == 0 || !ok || p.BirthYear == 0 {
			continue
		}
		e := math.Abs(float64(p.BirthYear - births[id].Year()))
		errSum += e
		confSum += p.BirthYearConfidence
		rep.BirthYearIdentities++
		if e <= 4.5 {
			rep.BirthYearWithin45++
		}
	}
	rep.PersonsPerIdentity = float64(spread) / float64(max(1, len(ids)))
	if rep.BirthYearIdentities > 0 {
		rep.BirthYearMAE = errSum / float64(rep.BirthYearIdentities)
		rep.BirthYearConfidence = confSum / float64(rep.BirthYearIdentities)
	}
	rep.BirthYearCoverage = float64(rep.BirthYearIdentities) / float64(max(1, len(ids)))
	return rep
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
