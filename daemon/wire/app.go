package wire

import (
	"context"
	"errors"
	"fmt"
	"github.com/faced/faced/api"
	"image"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/faced/faced/analyzer"
	"github.com/faced/faced/analyzer/anconfig"
	"github.com/faced/faced/cluster"
	"github.com/faced/faced/config"
	"github.com/faced/faced/daemon"
	"github.com/faced/faced/exporters"
	"github.com/faced/faced/face"
	"github.com/faced/faced/index"
	"github.com/faced/faced/internal/confine"
	"github.com/faced/faced/internal/datadir"
	"github.com/faced/faced/media"
	"github.com/faced/faced/models"
	"github.com/faced/faced/persons"
	"github.com/faced/faced/watcher"
)

// IndexFile is the index's file name inside DataDirectory.
const IndexFile = persons.IndexFile

// GStreamerRegistryFile is GStreamer's plugin registry cache inside
// DataDirectory (GST_REGISTRY).
const GStreamerRegistryFile = "gstreamer-registry.bin"

// SnapshotFile holds the cluster engine's state inside DataDirectory.
const SnapshotFile = "clusters.snapshot"

// AppOptions tune Open beyond the configuration.
type AppOptions struct {
	Version string
	Logger  *slog.Logger
	// Once skips the watcher (faced run --once).
	Once bool
	// OnAnalyzed is passed to daemon.Options.
	OnAnalyzed func(path string, err error)
}

// App is a fully wired daemon and what it owns.
type App struct {
	Config *config.Config
	Index  *index.Index
	Daemon *daemon.Daemon
	Socket string
	// AnalyzerOptions are the effective options of the daemon's analyzer.
	AnalyzerOptions analyzer.Options
	// Persons runs the person verbs (local API, review page); Clusterer is
	// the daemon's clusterer over the same lock.
	Persons   *persons.Service
	Clusterer *persons.Clusterer
	closers   []func() error
}

// Close releases the analyzer and the index.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	return errors.Join(errs...)
}

// Open builds the daemon described by cfg: index, models, analyzer,
// clusterer, exporter and (unless o.Once) watcher.
func Open(ctx context.Context, cfg *config.Config, o AppOptions) (_ *App, err error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	app := &App{Config: cfg}
	defer func() {
		if err != nil {
			app.Close()
		}
	}()
	if err := cfg.CheckPaths(); err != nil {
		return nil, err
	}
	dataDir := cfg.DataDirectory()
	// The index holds biometric data: the folder and its files are
	// faced's user's alone (or its "faced" group's), tightened if needed.
	policy, err := datadir.Prepare(dataDir, log)
	if err != nil {
		return nil, cfg.KeyError("DataDirectory", err)
	}
	app.Socket = cfg.Socket()
	if app.Socket == "" {
		app.Socket = config.DefaultSocket(dataDir)
	}
	// The writers' lock: while this process runs, facedctl edits persons
	// through the local API, never behind its back.
	lock, err := persons.TakeLock(dataDir)
	if err != nil {
		return nil, err
	}
	app.closers = append(app.closers, lock.Unlock)
	if err := datadir.CreateFile(filepath.Join(dataDir, IndexFile), policy.File); err != nil {
		return nil, cfg.KeyError("DataDirectory", fmt.Errorf("create the index: %w", err))
	}
	ix, err := index.Open(ctx, filepath.Join(dataDir, IndexFile))
	if err != nil {
		return nil, cfg.KeyError("DataDirectory", err)
	}
	app.Index = ix
	app.closers = append(app.closers, ix.Close)

	lib, err := models.FindORTLibrary(cfg.ORTLibrary())
	if err != nil {
		return nil, err
	}
	if err := models.InitRuntime(lib); err != nil {
		return nil, err
	}
	reg, err := models.OpenRegistry(dataDir)
	if err != nil {
		return nil, fmt.Errorf("%w (run `facedctl models install` first)", err)
	}
	workers := cfg.WorkerCount()
	if workers >= runtime.NumCPU() && os.Getenv("FACED_CVTHREADS") == "" {
		// Every core runs a worker: OpenCV's own pool threads would only
		// compete with them.
		analyzer.SetOpenCVThreads(1)
	}
	// OpenCV's video backend falls back to GStreamer for a file FFmpeg
	// cannot open, and GStreamer writes its registry cache to
	// $HOME/.cache: it goes into DataDirectory instead (set before
	// GStreamer starts, which is at the first such video).
	if os.Getenv("GST_REGISTRY") == "" {
		os.Setenv("GST_REGISTRY", filepath.Join(dataDir, GStreamerRegistryFile))
	}
	mem := memoryMode()
	models.SetMemoryOptions(mem.ort)
	analyzer.SetLargeHEIFDecodes(mem.heifDecodes)
	if os.Getenv("MALLOC_ARENA_MAX") == "" {
		limitMallocArenas(mem.arenas)
	}
	if os.Getenv("MALLOC_MMAP_THRESHOLD_") == "" && os.Getenv("MALLOC_TRIM_THRESHOLD_") == "" {
		setMallocThresholds(mem.mmapThreshold, mem.trimThreshold)
	}
	if os.Getenv("GOGC") == "" && mem.gcPercent > 0 {
		debug.SetGCPercent(mem.gcPercent)
	}
	aopt, err := anconfig.AnalyzerOptions(cfg, reg, anconfig.Overrides{})
	if err != nil {
		return nil, err
	}
	// Every photo is opened through the library's confinement: a link
	// leading out of it (x.jpg -> /etc/shadow) is never read.
	conf, err := confine.New(cfg.InputDirectory(), cfg.AllowedOutsideFolders())
	if err != nil {
		return nil, cfg.KeyError("InputDirectory", err)
	}
	app.closers = append(app.closers, conf.Close)
	aopt.Open = conf.Open
	an, err := analyzer.New(reg, aopt)
	if err != nil {
		return nil, err
	}
	app.AnalyzerOptions = an.Options()
	var idleAn *idleAnalyzer
	if mem.releaseIdle > 0 && !o.Once {
		// ORT's arenas keep the largest working set seen (12 MP photos:
		// 200 MiB); an idle daemon gives it back by closing the sessions.
		idleAn = newIdleAnalyzer(an, func() (closingAnalyzer, error) { return analyzer.New(reg, aopt) },
			mem.releaseIdle, releaseMemory, log)
		app.closers = append(app.closers, idleAn.Close)
	} else {
		app.closers = append(app.closers, an.Close)
	}

	thumbs, err := persons.NewThumbs(ix, cfg.InputDirectory(), filepath.Join(dataDir, persons.ThumbsDir))
	if err != nil {
		return nil, err
	}
	// Thumbnails of every format the analyzer reads (HEIC, AVIF, JPEG XL,
	// raw previews, video frames), opened under the same confinement.
	thumbs.DecodeWith(func(ctx context.Context, path string, frameTime float64) (image.Image, error) {
		return analyzer.UprightImage(ctx, aopt, path, frameTime)
	})
	app.Persons = persons.New(ix, persons.Options{Thumbs: thumbs})
	popt := PersonsOptionsFor(cfg, reg)
	popt.Logger, popt.SnapshotPath, popt.SnapshotEvery = log, filepath.Join(dataDir, SnapshotFile), 30*time.Second
	clusterer := persons.NewClusterer(app.Persons, popt)
	app.Clusterer = clusterer
	// An edit through the API or the review page reaches the engine at
	// once, and a kick makes the daemon write its sidecars at once (not at
	// the next poll).
	var d *daemon.Daemon
	app.Persons.AfterEdit(func(ctx context.Context) {
		if err := clusterer.Update(ctx); err != nil {
			log.Error("clustering after an edit failed", "err", err)
		}
		if d != nil {
			d.Kick()
		}
	})

	wopt := watcher.Options{SettleTime: cfg.SettleTime(), IgnoreGlobs: cfg.IgnoreGlobs(), Extensions: cfg.Extensions(),
		RescanInterval: cfg.RescanInterval(), Logger: log, Confine: conf,
		Ignore: ignored}
	var w *watcher.Watcher
	var dw daemon.Watcher
	if !o.Once {
		if w, err = watcher.New(cfg.InputDirectory(), wopt); err != nil {
			return nil, err
		}
		dw = NewWatcher(w, func(p, reason string) { app.Daemon.ReportError(p, reason) })
	}
	ex, err := exporters.New(exporters.Options{Naming: string(cfg.SidecarNaming()), UnnamedLabel: cfg.UnnamedPersonLabel(),
		VisibilityKeywordRoot: cfg.VisibilityKeywordRoot(), Embedded: cfg.EmbeddedXMP(), FacedVersion: o.Version,
		Library: cfg.InputDirectory(), Logger: log, OnWrite: func(p string) {
			if w != nil {
				w.Suppress(p, 5*time.Second)
			}
		}})
	if err != nil {
		return nil, err
	}
	trim := newTrimmer(mem)
	app.closers = append(app.closers, func() error { trim.stop(); return nil })
	store := NewStore(ix)
	store.OnDone, store.Thumbs = clusterer.NoteDone, thumbs
	walkOpt := wopt
	walkOpt.OnError = func(err error) {
		var pe *watcher.PathError
		if d != nil && errors.As(err, &pe) {
			d.ReportError(pe.Path, strings.TrimPrefix(err.Error(), fmt.Sprintf("%q: ", pe.Path)))
		}
	}
	d, err = daemon.New(daemon.Options{InputDirectory: cfg.InputDirectory(), Workers: workers, Version: o.Version,
		Logger: log, Walk: Walk(walkOpt), MaxAttempts: 5, OnAnalyzed: o.OnAnalyzed, Confine: conf,
		MaxSize: func(p string) int64 { return analyzer.MaxFileSize(aopt, p) },
		API:     []api.Option{api.WithPersons(persons.API{S: app.Persons})}},
		daemon.Deps{Store: store, Analyzer: Analyzer{A: an, Idle: idleAn, Trim: trim, Note: func(p, n string) {
			if d != nil {
				d.ReportNote(p, n)
			}
		}}, Clusterer: clusterer, Exporter: NewExporter(app.Persons, ex), Watcher: dw})
	if err != nil {
		return nil, err
	}
	app.Daemon = d
	return app, nil
}

// PersonsOptionsFor returns the clusterer's options for cfg: the engine's
// options tuned for the identity model, the config's DistanceThreshold (when
// a number) overriding the link radius, and the seed's person rule. The
// daemon and `faced-lab eval lifetime` share it.
func PersonsOptionsFor(cfg *config.Config, reg *models.Registry) persons.ClustererOptions {
	copt := cluster.DefaultOptions()
	if mi, err := reg.Model(agModel(cfg)); err == nil {
		copt = cluster.OptionsFromThresholds(mi.Thresholds)
	}
	copt = copt.WithEps(cfg.DistanceThreshold())
	copt.MinSize = max(cfg.MinNoPhotos(), 1)
	return persons.ClustererOptions{Cluster: copt,
		Rule:                cluster.PersonRule{MinNoPhotos: cfg.MinNoPhotos(), MinDays: cfg.MinDaysDifferenceBetweenPhotoMDates()},
		MinFaceWidthPercent: cfg.MinFaceWidthPercent()}
}

// ignored tells the files the watcher and the walk leave out: the
// exporters' temporary files, and the companions of a still (the raw of a
// RAW+JPEG pair, a Live Photo's MOV: media.PrimaryOf), analysed once
// through their still.
func ignored(p string) bool {
	if _, ok := media.PrimaryOf(p); ok {
		return true
	}
	return exporters.IsTempName(p)
}

func agModel(cfg *config.Config) string {
	if string(cfg.ModelVariant()) == "float32" {
		return "agegender"
	}
	return "agegender-int8"
}

var _ daemon.Clusterer = (*persons.Clusterer)(nil)

// Analyzer reports analyzer errors without the path (the daemon names the
// file beside the reason).
type Analyzer struct {
	A *analyzer.Analyzer
	// Idle, when set, holds the analyzer instead of A and closes it when
	// the analyses stop (see idleAnalyzer).
	Idle *idleAnalyzer
	// Trim, when set, returns freed C heap memory to the kernel after
	// analyses (see trimmer).
	Trim *trimmer
	// Note, when set, receives a result's note (face.Result.Note) for
	// status.
	Note func(path, note string)
}

// Analyze implements daemon.Analyzer.
func (a Analyzer) Analyze(ctx context.Context, p string) (*face.Result, error) {
	var res *face.Result
	var err error
	if a.Idle != nil {
		res, err = a.Idle.Analyze(ctx, p)
	} else {
		res, err = a.A.Analyze(ctx, p)
	}
	a.Trim.done()
	if err != nil {
		var fe *analyzer.FileError
		if errors.As(err, &fe) && ctx.Err() == nil {
			return nil, &reasonError{msg: strings.TrimPrefix(err.Error(), p+": "), err: err}
		}
		return nil, err
	}
	if res != nil && res.Note != "" && a.Note != nil {
		a.Note(p, res.Note)
	}
	return res, nil
}

type reasonError struct {
	msg string
	err error
}

func (e *reasonError) Error() string { return e.msg }
func (e *reasonError) Unwrap() error { return e.err }

// trimIdle is how long after the last analysis the trimmer trims once
// more, so that an idle daemon holds no freed memory.
const trimIdle = 2 * time.Second

// trimmer calls trim (malloc_trim) after analyses, at most once every
// every-th analysis (all workers counted together). With a budget (> 0 bytes)
// it trims only when the resident set (rss) is above the budget and above
// the level at which it last trimmed: a new high. When every > 1 or with a
// budget it trims once more when no analysis ended for idleAfter (and forgets
// the last level). A nil trimmer does nothing.
//
// Each trim hands the freed working set of the last analyses back to the
// kernel, and the next analyses fault it in again: 12 MP photos need about
// 170 MiB each, 40 k page faults and 0.1 s of CPU per trim; trimming every
// 8th of them cost 20-25 ms of CPU per photo (see daemon/README.md). A
// working set that is reused never raises the resident set above its last
// high; memory that stays freed (fragmentation, a burst of odd sizes) does,
// and the new-high rule trims that.
type trimmer struct {
	every     int64
	budget    int64
	idleAfter time.Duration
	n         atomic.Int64 // analyses since the last trim
	level     atomic.Int64 // rss when it last trimmed
	idle      *time.Timer
	rss       func() int64
	trim      func()
}

func newTrimmer(m memMode) *trimmer {
	if !m.trim {
		return nil
	}
	return startTrimmer(max(m.trimEvery, 1), m.trimBudget, trimIdle, residentBytes, trimMalloc)
}

func startTrimmer(every int, budget int64, idleAfter time.Duration, rss func() int64, trim func()) *trimmer {
	t := &trimmer{every: int64(every), budget: budget, idleAfter: idleAfter, rss: rss, trim: trim}
	if every > 1 || budget > 0 {
		t.idle = time.AfterFunc(time.Hour, t.idleTrim)
		t.idle.Stop()
	}
	return t
}

// done is called after each analysis.
func (t *trimmer) done() {
	if t == nil {
		return
	}
	if k := t.n.Add(1); k >= t.every && t.n.CompareAndSwap(k, 0) {
		if t.budget <= 0 {
			t.trim()
		} else if r := t.rss(); r > max(t.budget, t.level.Load()) {
			t.level.Store(r)
			t.trim()
		}
	}
	if t.idle != nil {
		t.idle.Reset(t.idleAfter)
	}
}

func (t *trimmer) idleTrim() {
	t.n.Store(0)
	t.level.Store(0)
	t.trim()
}

func (t *trimmer) stop() {
	if t != nil && t.idle != nil {
		t.idle.Stop()
	}
}
