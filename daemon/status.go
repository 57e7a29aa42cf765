package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/faced/faced/api"
)

// meter counts completed analyses over the last minute.
type meter struct {
	mu    sync.Mutex
	times []time.Time
}

func (m *meter) add(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.times = append(m.times, t)
	m.trim(t)
}

func (m *meter) trim(now time.Time) {
	i := 0
	for i < len(m.times) && now.Sub(m.times[i]) > time.Minute {
		i++
	}
	m.times = m.times[i:]
}

// rate returns analyses per second over the last minute (or since start
// when that is shorter).
func (m *meter) rate(now, started time.Time) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.trim(now)
	win := min(now.Sub(started), time.Minute).Seconds()
	if win <= 0 || len(m.times) == 0 {
		return 0
	}
	return float64(len(m.times)) / max(win, 1)
}

// errorRing keeps the latest failures, newest first, one per file.
type errorRing struct {
	mu   sync.Mutex
	max  int
	errs []FileError
}

func (e *errorRing) add(path, reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, fe := range e.errs {
		if fe.Path == path {
			e.errs = append(e.errs[:i], e.errs[i+1:]...)
			break
		}
	}
	e.errs = append([]FileError{{Path: path, Reason: reason, Time: time.Now()}}, e.errs...)
	if len(e.errs) > e.max {
		e.errs = e.errs[:e.max]
	}
}

func (e *errorRing) list() []FileError {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]FileError(nil), e.errs...)
}

// remove forgets path's error (its problem was resolved).
func (e *errorRing) remove(path string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, fe := range e.errs {
		if fe.Path == path {
			e.errs = append(e.errs[:i], e.errs[i+1:]...)
			return
		}
	}
}

func (e *errorRing) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = nil
}

// Status implements api.Backend.
func (d *Daemon) Status(ctx context.Context) (api.Status, error) {
	st, err := d.deps.Store.Stats(ctx)
	if err != nil {
		return api.Status{}, fmt.Errorf("index stats: %w", err)
	}
	now := time.Now()
	started := now
	if t := d.started.Load(); t != nil {
		started = *t
	}
	problems, held := d.health.get()
	st.Queue += held
	st.Pending += held
	s := api.Status{
		Running:         true,
		Version:         d.opt.Version,
		PID:             os.Getpid(),
		Started:         started,
		UptimeSeconds:   now.Sub(started).Seconds(),
		InputDirectory:  d.root,
		Queue:           st.Queue,
		InFlight:        int(d.inFlight.Load()),
		Files:           api.FileCounts{Done: st.Done, Failed: st.Failed, Pending: st.Pending, Media: st.Media},
		Faces:           st.Faces,
		Persons:         st.Persons,
		PhotosPerSecond: d.meter.rate(now, started),
		Scanning:        d.scanning.Load() > 0,
		Idle:            d.idle.Load() && d.scanning.Load() == 0,
		Errors:          []api.FileError{},
		Problems:        problems,
	}
	for _, p := range problems {
		if p.Kind == ProblemSidecarWrites {
			s.Files.SidecarFailed = p.Count
		}
	}
	if t := d.lastScan.Load(); t != nil {
		s.LastScan = *t
	}
	switch {
	case st.Queue == 0:
		s.ETASeconds = 0
	case s.PhotosPerSecond > 0:
		s.ETASeconds = float64(st.Queue) / s.PhotosPerSecond
	default:
		s.ETASeconds = -1
	}
	// Live errors first (they include export failures and files deleted
	// while queued), then the index's failed files.
	seen := map[string]bool{}
	for _, fe := range d.errs.list() {
		seen[fe.Path] = true
		s.Errors = append(s.Errors, api.FileError{File: fe.Path, Reason: fe.Reason, Time: fe.Time})
	}
	if fails, err := d.deps.Store.Failures(ctx, 50); err == nil {
		for _, f := range fails {
			if !seen[f.Path] && len(s.Errors) < 50 {
				s.Errors = append(s.Errors, api.FileError{File: f.Path, Reason: f.Reason, Time: f.Time})
			}
		}
	}
	return s, nil
}

// Scan implements api.Backend: it reconciles req.Path (relative to the input
// folder, or absolute inside it) and returns once its files are queued.
func (d *Daemon) Scan(ctx context.Context, req api.ScanRequest) (api.ScanResult, error) {
	p, err := d.inside(req.Path)
	if err != nil {
		return api.ScanResult{}, err
	}
	// A path through a symbolic link to a folder, or a link leading out,
	// would walk (and write sidecars) outside the library.
	if err := d.opt.Confine.Check(p); err != nil {
		return api.ScanResult{}, fmt.Errorf("%w: %v", api.ErrBadRequest, err)
	}
	if _, err := os.Stat(p); err != nil {
		return api.ScanResult{}, fmt.Errorf("%w: %v", api.ErrBadRequest, err)
	}
	c, err := d.reconcile(ctx, p)
	if err != nil {
		return api.ScanResult{}, err
	}
	// Sidecars under p whose write failed are written again now.
	d.send(ctx, op{retryExports: p})
	return api.ScanResult{Seen: c.Seen, Queued: c.Queued, Removed: c.Missing}, nil
}

// Retry implements api.Backend.
func (d *Daemon) Retry(ctx context.Context) (api.RetryResult, error) {
	r := d.sendOp(ctx, op{retry: true})
	return api.RetryResult{Requeued: r.n, Sidecars: r.sidecars}, r.err
}

// inside resolves p against the input folder and refuses paths outside it.
func (d *Daemon) inside(p string) (string, error) {
	if p == "" {
		return d.root, nil
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(d.root, p)
	}
	p = filepath.Clean(p)
	rel, err := filepath.Rel(d.root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %s is outside the input folder %s", api.ErrBadRequest, p, d.root)
	}
	return p, nil
}

// ReportError records a problem with one path found outside the analysis
// (a symbolic link loop or an unreadable folder met by the walk): status
// lists it with the reason.
func (d *Daemon) ReportError(path, reason string) {
	d.errs.add(path, reason)
	d.log.Warn("skipped", "file", path, "reason", reason)
}

// ReportNote records something the user should know about a file that was
// analysed (its bytes disagree with its extension, say): status lists it
// beside the errors, prefixed "note: ".
func (d *Daemon) ReportNote(path, note string) {
	d.errs.add(path, "note: "+note)
	d.log.Info("note", "file", path, "note", note)
}
