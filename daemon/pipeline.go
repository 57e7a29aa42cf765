package daemon

import (
	"context"

	"errors"
	"github.com/faced/faced/face"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// op is a write request sent to the coordinator, the index's only writer.
type op struct {
	enqueue  string // queue this path for analysis
	reason   string
	touch    *FileRecord // record a new size/mtime, same content
	missing  string      // this path (or folder) vanished: remove after a grace
	scanDone *ScanCounts // the start-up reconciliation finished
	retry    bool        // requeue every failed file
	reply    chan opReply
}

type opReply struct {
	n   int
	err error
}

// send hands o to the coordinator and waits for it to be applied.
func (d *Daemon) send(ctx context.Context, o op) error {
	_, err := d.sendN(ctx, o)
	return err
}

func (d *Daemon) sendN(ctx context.Context, o op) (int, error) {
	o.reply = make(chan opReply, 1)
	select {
	case d.ops <- o:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-d.exited():
		return 0, errStopped
	}
	select {
	case r := <-o.reply:
		return r.n, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

var errStopped = errors.New("daemon is stopping")

// result is a worker's outcome for one job.
type result struct {
	job        Job
	size       int64
	mtime      time.Time
	hash       string
	res        *face.Result
	err        error // permanent failure: the reason
	cancelled  bool  // shutdown interrupted the analysis
	changed    bool  // the file changed during analysis
	gone       bool  // the file vanished before analysis
	same       bool  // already analysed with this content
	renameFrom string
}

type coordinator struct {
	d       *Daemon
	once    bool
	jobs    chan Job
	results chan result

	inflight     int  // leased jobs without a result yet
	more         bool // the queue may hold leasable jobs
	scanDone     bool
	batch        int
	batchStart   time.Time
	missing      map[string]time.Time
	exportFailed map[string]bool
	sum          Summary
	abandoned    bool // shutdown timed out with analyses running
	lastPoll     time.Time
	done         chan struct{}
	// exportDue: sidecars may be out of date; the loop writes them a slice
	// (exportSlice) at a time between results, so that the workers never
	// wait for a whole batch of exports. exports holds the items listed and
	// not yet written.
	exportDue bool
	exports   []ExportItem
	// workerIdle sums the time workers spent without a job (waiting for a
	// lease, or to hand back a result) while the loop ran.
	workerIdle atomic.Int64
}

// exportSlice bounds the time the loop spends writing sidecars before it
// looks at results and leases again.
const exportSlice = 20 * time.Millisecond

func newCoordinator(d *Daemon, once bool) *coordinator {
	n := d.opt.Workers
	// Each worker has one job leased ahead in the channel: it starts the
	// next analysis at once instead of waiting for the coordinator to
	// store its result and lease again (a 1 000-photo burst left the
	// workers idle 29 % of the time with one job each). A SIGKILL counts
	// an attempt for those unstarted jobs too (Store.RecoverLeases).
	c := &coordinator{d: d, once: once, jobs: make(chan Job, 2*n), results: make(chan result, 2*n),
		more: true, missing: map[string]time.Time{}, exportFailed: map[string]bool{}, done: make(chan struct{})}
	d.coord.Store(c)
	return c
}

func (d *Daemon) exited() <-chan struct{} {
	if c := d.coord.Load(); c != nil {
		return c.done
	}
	return nil
}

func (c *coordinator) loop(ctx context.Context) (Summary, error) {
	d := c.d
	defer close(c.done)
	wctx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var wg sync.WaitGroup
	for range d.opt.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait := time.Now()
			for job := range c.jobs {
				c.workerIdle.Add(int64(time.Since(wait)))
				d.inFlight.Add(1)
				r := c.process(wctx, job)
				d.inFlight.Add(-1)
				wait = time.Now()
				c.results <- r
			}
			c.workerIdle.Add(int64(time.Since(wait)))
		}()
	}
	defer func() {
		if !c.abandoned {
			wg.Wait()
		}
	}()

	// Sidecars left unwritten by the last run.
	c.exportDue = true

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if ctx.Err() == nil {
			c.fill(ctx)
		}
		idle := c.inflight == 0 && !c.more
		switch {
		case idle && c.once && c.scanDone:
			c.flush(ctx)
			c.removeMissing(ctx, true)
			c.flush(ctx)
			c.exportPending(ctx)
			close(c.jobs)
			return c.finish(ctx)
		case idle:
			if c.batch > 0 {
				c.flush(ctx)
			}
			c.removeMissing(ctx, false)
			if !c.once && time.Since(c.lastPoll) >= d.opt.PollInterval {
				c.poll(ctx)
			}
		case c.batch >= d.opt.BatchSize || (c.batch > 0 && time.Since(c.batchStart) >= d.opt.BatchDelay):
			c.flush(ctx)
		}
		if c.exportDue && ctx.Err() == nil {
			c.exportDue = c.exportSome(ctx, exportSlice)
		}
		d.idle.Store(c.inflight == 0 && !c.more && c.batch == 0 && len(c.missing) == 0 && !c.exportDue)
		timer.Reset(c.nextWake())
		select {
		case <-ctx.Done():
			c.drain(ctx, cancelWork)
			return c.finish(context.WithoutCancel(ctx))
		case o := <-d.ops:
			o.reply <- c.apply(ctx, o)
		case r := <-c.results:
			c.applyResult(ctx, r)
		case <-timer.C:
		}
	}
}

// nextWake is when the loop must look again without any input.
func (c *coordinator) nextWake() time.Duration {
	if c.exportDue {
		return 0
	}
	wake := time.Hour
	if c.batch > 0 {
		wake = min(wake, max(time.Until(c.batchStart.Add(c.d.opt.BatchDelay)), time.Millisecond))
	}
	for _, t := range c.missing {
		wake = min(wake, max(time.Until(t.Add(c.d.opt.RemoveGrace)), 10*time.Millisecond))
	}
	if !c.once {
		wake = min(wake, max(time.Until(c.lastPoll.Add(c.d.opt.PollInterval)), 10*time.Millisecond))
	}
	return wake
}

// fill leases jobs while workers have room.
func (c *coordinator) fill(ctx context.Context) {
	for c.more && c.inflight < cap(c.jobs) {
		want := cap(c.jobs) - c.inflight
		jobs, err := c.d.deps.Store.Lease(ctx, want)
		if err != nil {
			c.d.log.Error("lease from queue", "err", err)
			c.more = false
			return
		}
		if len(jobs) < want {
			c.more = false
		}
		for _, j := range jobs {
			c.inflight++
			c.jobs <- j // never blocks: inflight <= cap
		}
		if len(jobs) == 0 {
			return
		}
	}
}

func (c *coordinator) apply(ctx context.Context, o op) opReply {
	st := c.d.deps.Store
	switch {
	case o.enqueue != "":
		if err := st.Enqueue(ctx, o.enqueue, o.reason); err != nil {
			return opReply{err: err}
		}
		c.d.log.Debug("queued", "file", o.enqueue, "reason", o.reason)
		delete(c.missing, o.enqueue)
		c.sum.Queued++
		c.more = true
	case o.touch != nil:
		return opReply{err: st.Touch(ctx, o.touch.Path, o.touch.Size, o.touch.ModTime)}
	case o.missing != "":
		if _, ok := c.missing[o.missing]; !ok {
			c.missing[o.missing] = time.Now()
		}
	case o.scanDone != nil:
		c.scanDone = true
		c.sum.Seen += o.scanDone.Seen
	case o.retry:
		n, err := st.RetryFailed(ctx)
		if n > 0 {
			c.more = true
			c.exportFailed = map[string]bool{}
			c.d.errs.reset()
		}
		return opReply{n: n, err: err}
	}
	return opReply{}
}

func (c *coordinator) applyResult(ctx context.Context, r result) {
	d, st := c.d, c.d.deps.Store
	c.inflight--
	c.more = true
	p := r.job.Path
	var err error
	switch {
	case r.cancelled || r.changed:
		err = st.Requeue(ctx, r.job)
	case r.gone:
		err = st.Drop(ctx, r.job)
		d.errs.add(p, "deleted before it could be analysed")
		if _, known, _ := st.File(ctx, p); known {
			c.missing[p] = time.Now()
		}
	case r.same:
		if err = st.Touch(ctx, p, r.size, r.mtime); err == nil {
			err = st.Drop(ctx, r.job)
		}
	case r.renameFrom != "":
		if err = st.Rename(ctx, r.renameFrom, p, r.size, r.mtime); err == nil {
			err = st.Drop(ctx, r.job)
		}
		delete(c.missing, r.renameFrom)
		c.sum.Renamed++
		c.bump()
		d.log.Info("renamed; faces kept", "from", r.renameFrom, "to", p)
	case r.err != nil:
		reason := r.err.Error()
		err = st.Fail(ctx, r.job, r.size, r.mtime, r.hash, reason)
		d.errs.add(p, reason)
		d.meter.add(time.Now())
		c.sum.Failed++
		d.log.Warn("analysis failed", "file", p, "reason", reason)
	default:
		err = st.Done(ctx, r.job, r.size, r.mtime, r.hash, r.res)
		delete(c.exportFailed, p)
		d.meter.add(time.Now())
		c.sum.Analysed++
		c.bump()
		d.log.Debug("analysed", "file", p, "faces", len(r.res.Faces))
	}
	if err != nil {
		d.log.Error("index write failed", "file", p, "err", err)
	}
}

func (c *coordinator) bump() {
	if c.batch == 0 {
		c.batchStart = time.Now()
	}
	c.batch++
}

// flush runs clustering over the new faces, then writes the sidecars whose
// content changed.
func (c *coordinator) flush(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	if c.batch > 0 {
		start := time.Now()
		if err := c.d.deps.Clusterer.Update(ctx); err != nil {
			c.d.log.Error("clustering failed", "err", err)
		} else {
			c.d.log.Debug("clustered", "new_files", c.batch, "took", time.Since(start).Round(time.Millisecond))
		}
		c.batch = 0
	}
	c.lastPoll = time.Now()
	c.exportDue = true
}

// poll picks up changes other processes made to the index (user edits with
// facedctl persons): the clusterer follows them, and the sidecars whose
// content changed are written.
func (c *coordinator) poll(ctx context.Context) {
	c.lastPoll = time.Now()
	if ctx.Err() != nil {
		return
	}
	if err := c.d.deps.Clusterer.Update(ctx); err != nil {
		c.d.log.Error("clustering failed", "err", err)
	}
	c.exportDue = true
}

// exportPending writes every out-of-date sidecar.
func (c *coordinator) exportPending(ctx context.Context) {
	for c.exportSome(ctx, time.Hour) {
	}
	c.exportDue = false
}

// exportSome writes out-of-date sidecars for about budget, or until a
// result waits (unless it drains everything: budget of an hour or more),
// and reports whether more may be due.
func (c *coordinator) exportSome(ctx context.Context, budget time.Duration) bool {
	d := c.d
	start := time.Now()
	if len(c.exports) == 0 {
		items, err := d.deps.Store.PendingExports(ctx, len(c.exportFailed)+256)
		if err != nil {
			d.log.Error("list pending exports", "err", err)
			return false
		}
		for _, it := range items {
			if !c.exportFailed[it.Path] {
				c.exports = append(c.exports, it)
			}
		}
		if len(c.exports) == 0 {
			return false
		}
	}
	for first := true; len(c.exports) > 0 && ctx.Err() == nil && time.Since(start) < budget; first = false {
		if !first && len(c.results) > 0 && budget < time.Hour {
			// A worker finished: store its result and lease first (one
			// batch per call still goes, so that exports keep up).
			break
		}
		batch := c.nextExports()
		errs := make([]error, len(batch))
		if len(batch) == 1 {
			errs[0] = d.deps.Exporter.Export(ctx, batch[0].Path)
		} else {
			var wg sync.WaitGroup
			for i, it := range batch {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = d.deps.Exporter.Export(ctx, it.Path)
				}()
			}
			wg.Wait()
		}
		for i, it := range batch {
			c.exported(ctx, it, errs[i])
		}
	}
	return ctx.Err() == nil
}

// nextExports takes the next sidecars to write together: up to one per
// worker (their fsyncs overlap, and after the last analysis the workers'
// cores are free), never two of photos that differ only by extension (with
// SidecarNaming base they share a sidecar).
func (c *coordinator) nextExports() []ExportItem {
	n := max(c.d.opt.Workers, 1)
	var batch []ExportItem
	stems := map[string]bool{}
	for len(c.exports) > 0 && len(batch) < n {
		it := c.exports[0]
		stem := strings.TrimSuffix(it.Path, filepath.Ext(it.Path))
		if stems[stem] {
			break
		}
		stems[stem] = true
		batch = append(batch, it)
		c.exports = c.exports[1:]
	}
	return batch
}

// exported records the outcome of one sidecar export.
func (c *coordinator) exported(ctx context.Context, it ExportItem, err error) {
	d, p := c.d, it.Path
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		c.exportFailed[p] = true
		c.sum.ExportFailed++
		reason := "sidecar not written: " + err.Error()
		d.errs.add(p, reason)
		d.log.Warn("export failed", "file", p, "reason", err)
		return
	}
	if err := d.deps.Store.Exported(ctx, it); err != nil {
		d.log.Error("record export", "file", p, "err", err)
		c.exportFailed[p] = true
		return
	}
	c.sum.Exported++
	d.log.Debug("sidecar written", "file", p)
}

// removeMissing drops vanished files from the index once their grace
// passed (all of them when force), unless they came back. A vanished folder
// drops every file under it. Sidecars are left alone.
func (c *coordinator) removeMissing(ctx context.Context, force bool) {
	d := c.d
	for p, t := range c.missing {
		if !force && time.Since(t) < d.opt.RemoveGrace {
			continue
		}
		delete(c.missing, p)
		recs, err := d.deps.Store.Files(ctx, p)
		if err != nil {
			d.log.Error("list index", "path", p, "err", err)
			continue
		}
		for _, r := range recs {
			if _, err := os.Lstat(r.Path); !errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err := d.deps.Store.Remove(ctx, r.Path); err != nil {
				d.log.Error("remove from index", "file", r.Path, "err", err)
				continue
			}
			c.sum.Removed++
			d.log.Info("file gone; its faces left the index", "file", r.Path)
		}
	}
}

// drain stops leasing, requeues jobs no worker started, and waits for the
// in-flight ones: they finish, or are cancelled after part of the shutdown
// budget and requeued.
func (c *coordinator) drain(ctx context.Context, cancelWork context.CancelFunc) {
	d := c.d
	wctx := context.WithoutCancel(ctx)
	begin := time.Now()
	soft := time.AfterFunc(d.opt.ShutdownTimeout*6/10, cancelWork)
	defer soft.Stop()
	hard := time.NewTimer(d.opt.ShutdownTimeout * 9 / 10)
	defer hard.Stop()
	requeued := 0
pull:
	for {
		select {
		case j := <-c.jobs:
			c.inflight--
			requeued++
			if err := d.deps.Store.Requeue(wctx, j); err != nil {
				d.log.Error("requeue", "file", j.Path, "err", err)
			}
		default:
			break pull
		}
	}
	close(c.jobs)
	for c.inflight > 0 {
		select {
		case r := <-c.results:
			if r.cancelled {
				requeued++
			}
			c.applyResult(wctx, r)
		case o := <-d.ops:
			o.reply <- opReply{err: errStopped}
		case <-hard.C:
			d.log.Warn("shutdown: analyses still running; they will be redone on the next start", "files", c.inflight)
			cancelWork()
			c.abandoned = true
			return
		}
	}
	d.log.Info("stopped", "requeued", requeued, "took", time.Since(begin).Round(time.Millisecond))
}

func (c *coordinator) finish(ctx context.Context) (Summary, error) {
	if s, ok := c.d.deps.Clusterer.(interface{ Save() }); ok && !c.abandoned {
		s.Save() // a clusterer that keeps state saves it for the next start
	}
	st, err := c.d.deps.Store.Stats(ctx)
	if err == nil {
		c.sum.Faces, c.sum.Persons = st.Faces, st.Persons
	}
	c.sum.Errors = c.d.errs.list()
	c.sum.Workers = c.d.opt.Workers
	c.sum.WorkerIdle = time.Duration(c.workerIdle.Load())
	return c.sum, nil
}
