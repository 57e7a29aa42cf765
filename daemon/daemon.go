package daemon

import (
	"context"
	"errors"
	"fmt"
	"github.com/faced/faced/api"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faced/faced/internal/confine"
)

// Options configure a Daemon. Zero values take the documented defaults.
type Options struct {
	// InputDirectory is the watched folder (required).
	InputDirectory string
	// Workers is the number of analysis workers; default runtime.NumCPU().
	Workers int
	// Version is reported by the status API.
	Version string
	// BatchSize is the number of analysed files after which clustering and
	// export run even if the queue is not empty; default 64.
	BatchSize int
	// BatchDelay bounds the time between a result and its export when the
	// queue is busy; default 5 s.
	BatchDelay time.Duration
	// RescanInterval is the period of the reconciliation scan; 0 = only at
	// start and when the watcher asks.
	RescanInterval time.Duration
	// RemoveGrace is how long a vanished file's faces are kept in case it
	// reappears under another name (rename, move); default 2 s.
	RemoveGrace time.Duration
	// ShutdownTimeout bounds Run's return after its context is cancelled:
	// in-flight work is finished or requeued within it; default 10 s.
	ShutdownTimeout time.Duration
	// MaxAttempts: a file whose analysis was interrupted by a crash or kill
	// this many times is failed rather than tried again (it may be what
	// crashes the process); 0 = never give up.
	MaxAttempts int
	// Walk lists candidate files; default: WalkDir skipping hidden names,
	// sidecars and extensions outside the media table.
	Walk WalkFunc
	// Confine is the library's confinement: files are hashed through it
	// and scans of paths leading out are refused; default: one opened on
	// InputDirectory with no allowed outside folder.
	Confine *confine.Root
	// MaxSize, when set, is the largest size analysed for a path (0: no
	// limit), checked from stat before the file is read.
	MaxSize func(path string) int64
	// Logger gets structured logs; default slog.Default().
	Logger *slog.Logger
	// OnAnalyzed, when set, is called after each analysis attempt (tests
	// count analyses with it).
	OnAnalyzed func(path string, err error)
	// RetryMin and RetryMax bound the backoff of writes that failed (a
	// full data or library disk: index writes, sidecars, clustering):
	// retried after RetryMin, then twice as long each time up to RetryMax;
	// defaults 1 s and 30 s.
	RetryMin, RetryMax time.Duration
	// MaxHeld bounds the new files kept in memory while the index cannot
	// be written; beyond it a full rescan after recovery finds the rest;
	// default 10 000.
	MaxHeld int
	// API adds routes to the local API (the persons endpoints).
	API []api.Option
	// PollInterval is how often an idle daemon looks for changes other
	// processes made to the index (facedctl persons name, merge, split,
	// forget): Clusterer.Update, then the export of every sidecar whose
	// content changed; default 2 s. Not used by RunOnce.
	PollInterval time.Duration
}

// Deps are the daemon's collaborators. Watcher is optional (RunOnce and
// tests without one).
type Deps struct {
	Store     Store
	Analyzer  Analyzer
	Clusterer Clusterer
	Exporter  Exporter
	Watcher   Watcher
}

// Daemon runs the pipeline. Build one with New; call Run or RunOnce once.
type Daemon struct {
	opt  Options
	deps Deps
	log  *slog.Logger
	root string

	ops     chan op
	started atomic.Pointer[time.Time] // set by Run (Status may be asked before)

	// live counters for the status API.
	inFlight atomic.Int64
	scanning atomic.Int64
	meter    meter
	errs     errorRing
	scanSem  chan struct{} // one reconciliation at a time (held by a send)
	lastScan atomic.Pointer[time.Time]
	coord    atomic.Pointer[coordinator]
	idle     atomic.Bool
	health   health
	// scans are the folders the observer wants reconciled.
	scans scanQueue
	// rescanReq asks the observer for a full reconciliation (files that
	// arrived while the index could not be written and were not held).
	rescanReq chan struct{}
	// kick asks the coordinator to poll now (Kick).
	kick chan struct{}
}

// Kick makes a running daemon look at the index now instead of at its next
// poll: the clusterer follows, and the sidecars whose content changed are
// written. The local API calls it after a person edit, so the sidecars
// follow the edit at once. It never blocks; kicks while one waits merge.
func (d *Daemon) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// requestRescan asks for a full reconciliation soon.
func (d *Daemon) requestRescan() {
	select {
	case d.rescanReq <- struct{}{}:
	default:
	}
}

// New checks opt and deps and returns a Daemon.
func New(opt Options, deps Deps) (*Daemon, error) {
	if opt.InputDirectory == "" {
		return nil, errors.New("daemon: InputDirectory is empty")
	}
	root, err := filepath.Abs(opt.InputDirectory)
	if err != nil {
		return nil, fmt.Errorf("daemon: input folder: %w", err)
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("daemon: input folder: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("daemon: input folder %s is not a folder", root)
	}
	if deps.Store == nil || deps.Analyzer == nil || deps.Clusterer == nil || deps.Exporter == nil {
		return nil, errors.New("daemon: Store, Analyzer, Clusterer and Exporter are required")
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.NumCPU()
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 64
	}
	if opt.BatchDelay <= 0 {
		opt.BatchDelay = 5 * time.Second
	}
	if opt.RemoveGrace <= 0 {
		opt.RemoveGrace = 2 * time.Second
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = 2 * time.Second
	}
	if opt.RetryMin <= 0 {
		opt.RetryMin = time.Second
	}
	if opt.RetryMax < opt.RetryMin {
		opt.RetryMax = max(30*time.Second, opt.RetryMin)
	}
	if opt.MaxHeld <= 0 {
		opt.MaxHeld = 10000
	}
	if opt.ShutdownTimeout <= 0 {
		opt.ShutdownTimeout = 10 * time.Second
	}
	if opt.Walk == nil {
		opt.Walk = DefaultWalk
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Confine == nil {
		if opt.Confine, err = confine.New(root, nil); err != nil {
			return nil, fmt.Errorf("daemon: input folder: %w", err)
		}
	}
	return &Daemon{opt: opt, deps: deps, log: opt.Logger, root: root,
		ops: make(chan op), scanSem: make(chan struct{}, 1), rescanReq: make(chan struct{}, 1),
		kick:  make(chan struct{}, 1),
		scans: scanQueue{dirs: map[string]bool{}, wake: make(chan struct{}, 1)}, errs: errorRing{max: 50}}, nil
}

// Root returns the absolute input folder.
func (d *Daemon) Root() string { return d.root }

// Summary is what RunOnce did.
type Summary struct {
	Seen, Queued     int // files found by the scan, files (re)queued
	Analysed, Failed int // analyses done in this run, failures
	Renamed, Removed int
	Exported         int // sidecars written
	ExportFailed     int
	Faces, Persons   int // index totals at the end
	Duration         time.Duration
	Errors           []FileError
	// Workers is the number of analysis workers; WorkerIdle the time they
	// spent, summed, without an analysis to run (waiting for the scan, a
	// lease or the coordinator, and after the last one).
	Workers    int
	WorkerIdle time.Duration
}

// FileError is a file that could not be processed.
type FileError struct {
	Path   string
	Reason string
	Time   time.Time
}

// Run runs the daemon until ctx is cancelled: recovery of the queue, a
// reconciliation scan, then watcher events and periodic rescans. After ctx
// ends it finishes or requeues in-flight work within ShutdownTimeout and
// returns nil.
func (d *Daemon) Run(ctx context.Context) error {
	_, err := d.run(ctx, false)
	return err
}

// RunOnce reconciles the tree, analyses everything queued, clusters,
// exports and returns what it did.
func (d *Daemon) RunOnce(ctx context.Context) (Summary, error) {
	return d.run(ctx, true)
}

func (d *Daemon) run(ctx context.Context, once bool) (Summary, error) {
	started := time.Now()
	d.started.Store(&started)
	c := newCoordinator(d, once)
	if n, failed, err := d.deps.Store.RecoverLeases(ctx, d.opt.MaxAttempts); err != nil {
		if ctx.Err() != nil {
			// Stopped while starting: as clean a stop as any later one.
			return Summary{}, nil
		}
		if once || !IsNoSpace(err) {
			return Summary{}, fmt.Errorf("recover queue: %w", err)
		}
		// A full data disk at start: run, and recover once writes work.
		c.recoverDue = true
		c.writeFailed("recover queue", err)
	} else if n+failed > 0 {
		d.log.Info("requeued work interrupted by the last shutdown", "files", n, "given_up", failed)
	}

	// The observer side: reconciliation and watcher events, which read the
	// index and send writes to the coordinator.
	obsCtx, stopObs := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.observeLoop(obsCtx, once, c)
	}()
	sum, err := c.loop(ctx)
	stopObs()
	wg.Wait()
	sum.Duration = time.Since(started)
	return sum, err
}

// observeLoop runs the start-up scan, then (unless once) serves watcher
// events, rescan requests and the periodic rescan until ctx ends.
func (d *Daemon) observeLoop(ctx context.Context, once bool, c *coordinator) {
	var watchErr chan error
	var events <-chan Event
	var rescans <-chan struct{}
	if !once && d.deps.Watcher != nil {
		watchErr = make(chan error, 1)
		go func() { watchErr <- d.deps.Watcher.Run(ctx) }()
		events, rescans = d.deps.Watcher.Events(), d.deps.Watcher.Rescans()
		// The watcher's first rescan request says its watches are in place:
		// the start-up reconciliation waits for it and answers it, so the
		// tree is walked once (it was walked twice) and nothing created
		// while the watches were being added is missed.
		select {
		case <-rescans:
		case err := <-watchErr:
			watchErr = nil
			if err != nil && ctx.Err() == nil {
				d.log.Error("watcher stopped; relying on periodic rescans", "err", err)
			}
		case <-ctx.Done():
		}
	}
	if once {
		res, err := d.reconcile(ctx, d.root)
		if err != nil && ctx.Err() == nil {
			d.log.Error("reconciliation failed", "err", err)
		}
		d.send(ctx, op{scanDone: &res})
		return
	}
	// Reconciliations run in their own goroutine, so that this one keeps
	// reading watcher events while a long scan runs (the watcher would
	// otherwise wait, and the kernel drop events).
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.scanLoop(ctx)
	}()
	defer wg.Wait()
	var tick <-chan time.Time
	if d.opt.RescanInterval > 0 {
		t := time.NewTicker(d.opt.RescanInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-watchErr:
			watchErr = nil
			if err != nil && ctx.Err() == nil {
				d.log.Error("watcher stopped; relying on periodic rescans", "err", err)
			}
		case ev := <-events:
			if ev.Removed {
				d.send(ctx, op{missing: ev.Path})
				continue
			}
			if _, err := d.observe(ctx, ev.Path, &ScanCounts{}, 0); err != nil && ctx.Err() == nil {
				d.log.Warn("cannot look at changed file", "file", ev.Path, "err", err)
			}
		case <-rescans:
			d.scans.add(d.root)
		case <-d.rescanReq:
			d.scans.add(d.root)
		case <-tick:
			d.scans.add(d.root)
		}
	}
}

// scanLoop runs the start-up reconciliation, then the ones asked for
// (rescans, new folders), one at a time, until ctx ends.
func (d *Daemon) scanLoop(ctx context.Context) {
	res, err := d.reconcile(ctx, d.root)
	if err != nil && ctx.Err() == nil {
		d.log.Error("reconciliation failed", "err", err)
	}
	d.send(ctx, op{scanDone: &res})
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.scans.wake:
		}
		for _, dir := range d.scans.take(d.root) {
			if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
				d.send(ctx, op{missing: dir}) // a folder gone again
				continue
			}
			if _, err := d.reconcile(ctx, dir); err != nil && ctx.Err() == nil {
				d.log.Error("reconciliation failed", "folder", dir, "err", err)
			}
		}
	}
}

// scanQueue holds the folders waiting for a reconciliation.
type scanQueue struct {
	mu   sync.Mutex
	dirs map[string]bool
	wake chan struct{}
}

func (q *scanQueue) add(dir string) {
	q.mu.Lock()
	q.dirs[dir] = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take empties the queue; the root alone when it is there (it covers
// every other folder).
func (q *scanQueue) take(root string) []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dirs[root] {
		clear(q.dirs)
		return []string{root}
	}
	out := slices.Sorted(maps.Keys(q.dirs))
	clear(q.dirs)
	return out
}
