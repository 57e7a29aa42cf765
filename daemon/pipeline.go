package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faced/faced/face"
)

// op is a write request sent to the coordinator, the index's only writer.
type op struct {
	enqueue  string // queue this path for analysis
	reason   string
	touch    *FileRecord // record a new size/mtime, same content
	missing  string      // this path (or folder) vanished: remove after a grace
	outside  *outsideRow // this indexed path is no longer confined: purge it now
	scanDone *ScanCounts // the start-up reconciliation finished
	retry    bool        // requeue every failed file, retry every failed sidecar
	// retryExports: write the failed sidecars under this path again now.
	retryExports string
	reply        chan opReply
}

type opReply struct {
	n        int
	sidecars int // failed sidecars tried again (retry)
	err      error
}

// send hands o to the coordinator and waits for it to be applied.
func (d *Daemon) send(ctx context.Context, o op) error {
	return d.sendOp(ctx, o).err
}

func (d *Daemon) sendOp(ctx context.Context, o op) opReply {
	o.reply = make(chan opReply, 1)
	select {
	case d.ops <- o:
	case <-ctx.Done():
		return opReply{err: ctx.Err()}
	case <-d.exited():
		return opReply{err: errStopped}
	}
	select {
	case r := <-o.reply:
		return r
	case <-ctx.Done():
		return opReply{err: ctx.Err()}
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
	// stage counts the writes of a two-write outcome (same, renameFrom)
	// already done, so that a retry after a failed write does not redo them.
	stage int
}

type coordinator struct {
	d       *Daemon
	once    bool
	jobs    chan Job
	results chan result

	inflight   int  // leased jobs without a result yet
	more       bool // the queue may hold leasable jobs
	scanDone   bool
	batch      int
	batchStart time.Time
	missing    map[string]time.Time
	// exportFailed: sidecars whose write failed, tried again with backoff
	// (exportNext is the earliest retry), by retry, and by a scan.
	exportFailed map[string]*retryState
	exportNext   time.Time
	// Index writes that failed (data disk full...): wf is their retry
	// state, nil while writes work. held are new files whose enqueue
	// failed, kept in memory up to maxHeld (heldDropped counts the rest: a
	// full rescan after recovery finds them); unstored are results whose
	// write failed, their leases still held, stored when writes work
	// again (not analysed twice). recoverDue: RecoverLeases failed at start.
	wf          *retryState
	held        map[string]string
	heldDropped int
	unstored    []*result
	recoverDue  bool
	// clusterFail: clustering failed; retried with backoff.
	clusterFail *retryState
	published   bool // health has problems to clear
	sum         Summary
	abandoned   bool // shutdown timed out with analyses running
	lastPoll    time.Time
	done        chan struct{}
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
		more: true, missing: map[string]time.Time{}, exportFailed: map[string]*retryState{}, held: map[string]string{},
		done: make(chan struct{})}
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
			c.retryWrites(ctx)
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
		now := time.Now()
		if c.clusterFail != nil && c.clusterFail.due(now) && c.wf == nil && ctx.Err() == nil {
			c.cluster(ctx)
			c.exportDue = true
		}
		if !c.exportNext.IsZero() && !now.Before(c.exportNext) {
			c.exportNext = time.Time{}
			c.exportDue = true
		}
		if c.exportDue && ctx.Err() == nil && c.wf == nil {
			c.exportDue = c.exportSome(ctx, exportSlice)
			c.planExportRetry()
		}
		c.publish()
		d.idle.Store(c.inflight == 0 && !c.more && c.batch == 0 && len(c.missing) == 0 && !c.exportDue &&
			c.wf == nil && len(c.held) == 0 && len(c.unstored) == 0)
		timer.Reset(c.nextWake())
		select {
		case <-ctx.Done():
			c.drain(ctx, cancelWork)
			return c.finish(context.WithoutCancel(ctx))
		case o := <-d.ops:
			o.reply <- c.apply(ctx, o)
		case r := <-c.results:
			c.applyResult(ctx, r)
		case <-d.kick:
			if !c.once {
				c.poll(ctx)
			}
		case <-timer.C:
		}
	}
}

// nextWake is when the loop must look again without any input.
func (c *coordinator) nextWake() time.Duration {
	if c.exportDue && c.wf == nil {
		return 0
	}
	wake := time.Hour
	for _, t := range []time.Time{c.exportNext, c.retryAt(c.wf), c.retryAt(c.clusterFail)} {
		if !t.IsZero() {
			wake = min(wake, max(time.Until(t), time.Millisecond))
		}
	}
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

func (c *coordinator) retryAt(r *retryState) time.Time {
	if r == nil || c.once {
		return time.Time{}
	}
	return r.next
}

// fill leases jobs while workers have room. While index writes fail it
// leases only when their retry is due (a lease is a write: it probes).
func (c *coordinator) fill(ctx context.Context) {
	if c.recoverDue || (c.wf != nil && (c.once || !c.wf.due(time.Now()))) {
		return
	}
	for c.more && c.inflight < cap(c.jobs) {
		want := cap(c.jobs) - c.inflight
		jobs, err := c.d.deps.Store.Lease(ctx, want)
		if err != nil {
			if c.once || ctx.Err() != nil {
				c.d.log.Error("lease from queue", "err", err)
				c.more = false
				return
			}
			c.writeFailed("lease from queue", err) // c.more stays: leased again at the retry
			return
		}
		if len(jobs) > 0 {
			c.writeOK()
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
		if c.wf != nil && !c.once {
			c.hold(o.enqueue, o.reason) // tried again with the others when writes work
			return opReply{}
		}
		if err := c.enqueue(ctx, o.enqueue, o.reason); err != nil && c.once {
			c.d.errs.add(o.enqueue, "not queued: "+err.Error())
			return opReply{err: err}
		}
	case o.touch != nil:
		err := st.Touch(ctx, o.touch.Path, o.touch.Size, o.touch.ModTime)
		c.wrote("record a new mtime", err)
		return opReply{err: err}
	case o.retryExports != "":
		n := c.retryExportsUnder(o.retryExports)
		return opReply{sidecars: n}
	case o.missing != "":
		if _, ok := c.missing[o.missing]; !ok {
			c.missing[o.missing] = time.Now()
		}
	case o.outside != nil:
		return opReply{err: c.purgeOutside(ctx, o.outside)}
	case o.scanDone != nil:
		c.scanDone = true
		c.sum.Seen += o.scanDone.Seen
	case o.retry:
		k := c.retryExportsUnder("")
		n, err := st.RetryFailed(ctx)
		c.wrote("requeue failed files", err)
		if n > 0 {
			c.more = true
			c.d.errs.reset()
		}
		return opReply{n: n, sidecars: k, err: err}
	}
	return opReply{}
}

// enqueue queues p; when the write fails p is held in memory and queued
// when writes work again (the error is returned for RunOnce).
func (c *coordinator) enqueue(ctx context.Context, p, reason string) error {
	delete(c.missing, p)
	if err := c.d.deps.Store.Enqueue(ctx, p, reason); err != nil {
		if !c.once {
			c.writeFailed("enqueue", err)
			c.hold(p, reason)
		}
		return err
	}
	c.writeOK()
	delete(c.held, p)
	c.d.log.Debug("queued", "file", p, "reason", reason)
	c.sum.Queued++
	c.more = true
	return nil
}

// hold keeps a file to queue in memory, up to maxHeld of them.
func (c *coordinator) hold(p, reason string) {
	delete(c.missing, p)
	if _, ok := c.held[p]; ok || len(c.held) < c.d.opt.MaxHeld {
		c.held[p] = reason
		return
	}
	c.heldDropped++
}

// retryExportsUnder makes the failed sidecars under dir ("" = all) due
// now and returns how many.
func (c *coordinator) retryExportsUnder(dir string) int {
	n := 0
	for p := range c.exportFailed {
		if dir == "" || p == dir || strings.HasPrefix(p, dir+string(filepath.Separator)) {
			delete(c.exportFailed, p)
			c.d.errs.remove(p)
			n++
		}
	}
	if n > 0 {
		c.exportDue = true
	}
	return n
}

// wrote notes the outcome of an index write outside the retried ones.
func (c *coordinator) wrote(what string, err error) {
	switch {
	case err == nil:
		c.writeOK()
	case IsNoSpace(err) && !c.once:
		c.writeFailed(what, err)
	}
}

// writeFailed records a failed index write: further writes wait for the
// backoff; work is held meanwhile.
func (c *coordinator) writeFailed(what string, err error) {
	d := c.d
	first := c.wf == nil
	if first {
		c.wf = &retryState{}
	}
	c.wf.failed(time.Now(), err, d.opt.RetryMin, d.opt.RetryMax)
	if first {
		msg := "index writes failing; new files and results are kept and retried"
		if c.wf.noSpace {
			msg = "data disk full; new files and results are kept and retried"
		}
		d.log.Error(msg, "op", what, "err", err)
	} else {
		d.log.Debug("index write failed again", "op", what, "err", err, "attempts", c.wf.fails,
			"retry_in", time.Until(c.wf.next).Round(time.Millisecond))
	}
}

// writeOK records that an index write worked: held work goes on.
func (c *coordinator) writeOK() {
	if c.wf == nil {
		return
	}
	c.d.log.Info("index writes work again", "after", time.Since(c.wf.since).Round(time.Millisecond),
		"held", len(c.held)+c.heldDropped, "unstored", len(c.unstored))
	c.wf = nil
	c.more = true
	c.exportDue = true
	if c.clusterFail != nil {
		c.clusterFail.next = time.Now()
	}
}

// retryWrites does the writes that failed, when their retry is due:
// RecoverLeases, the unstored results, then the held files. A full rescan
// follows when more files arrived than were held.
func (c *coordinator) retryWrites(ctx context.Context) {
	if c.once || (c.wf != nil && !c.wf.due(time.Now())) {
		return
	}
	d := c.d
	if c.recoverDue {
		n, failed, err := d.deps.Store.RecoverLeases(ctx, d.opt.MaxAttempts)
		if err != nil {
			c.writeFailed("recover queue", err)
			return
		}
		c.recoverDue = false
		c.writeOK()
		if n+failed > 0 {
			d.log.Info("requeued work interrupted by the last shutdown", "files", n, "given_up", failed)
		}
	}
	for len(c.unstored) > 0 {
		if !c.store(ctx, c.unstored[0]) {
			return
		}
		c.unstored = c.unstored[1:]
	}
	if len(c.held) > 0 {
		n := len(c.held)
		for _, p := range slices.Sorted(maps.Keys(c.held)) { // in path order, as a scan queues them
			if c.enqueue(ctx, p, c.held[p]) != nil {
				return
			}
		}
		d.log.Info("queued the files held while index writes failed", "files", n)
	}
	if c.heldDropped > 0 {
		d.log.Info("more files arrived than were held while index writes failed; rescanning", "dropped", c.heldDropped)
		c.heldDropped = 0
		d.requestRescan()
	}
	if c.wf != nil && !c.more {
		// Nothing left to probe with: the next write tells.
		c.writeOK()
	}
}

func (c *coordinator) applyResult(ctx context.Context, r result) {
	c.inflight--
	c.more = true
	if c.wf != nil && !c.once {
		c.unstored = append(c.unstored, &r) // stored when writes work again
		return
	}
	if !c.store(ctx, &r) {
		c.unstored = append(c.unstored, &r)
	}
}

// store writes r's outcome to the index and accounts for it. It returns
// false when the write failed for lack of space (the caller keeps r, whose
// lease stays held, and stores it later). Other failures release the lease:
// the file is leased and analysed again.
func (c *coordinator) store(ctx context.Context, r *result) bool {
	d := c.d
	err := c.write(ctx, r)
	switch {
	case err == nil:
		c.writeOK()
		c.account(ctx, r)
		return true
	case IsNoSpace(err) && !c.once && ctx.Err() == nil:
		c.writeFailed("store analysis", err)
		return false
	}
	d.log.Error("index write failed", "file", r.job.Path, "err", err)
	if !r.cancelled && !r.changed {
		if err := d.deps.Store.Requeue(ctx, r.job); err != nil {
			d.log.Error("lease not released; released at the next start", "file", r.job.Path, "err", err)
		}
	}
	return true
}

// write does r's index writes (those of r.stage onwards).
func (c *coordinator) write(ctx context.Context, r *result) error {
	st, p := c.d.deps.Store, r.job.Path
	switch {
	case r.cancelled || r.changed:
		return st.Requeue(ctx, r.job)
	case r.gone:
		return st.Drop(ctx, r.job)
	case r.same:
		if r.stage == 0 {
			if err := st.Touch(ctx, p, r.size, r.mtime); err != nil {
				return err
			}
			r.stage = 1
		}
		return st.Drop(ctx, r.job)
	case r.renameFrom != "":
		if r.stage == 0 {
			if err := st.Rename(ctx, r.renameFrom, p, r.size, r.mtime); err != nil {
				return err
			}
			r.stage = 1
		}
		return st.Drop(ctx, r.job)
	case r.err != nil:
		return st.Fail(ctx, r.job, r.size, r.mtime, r.hash, r.err.Error())
	}
	return st.Done(ctx, r.job, r.size, r.mtime, r.hash, r.res)
}

// account updates counters, errors and logs after r was stored.
func (c *coordinator) account(ctx context.Context, r *result) {
	d, p := c.d, r.job.Path
	switch {
	case r.cancelled || r.changed:
	case r.gone:
		d.errs.add(p, "deleted before it could be analysed")
		if _, known, _ := d.deps.Store.File(ctx, p); known {
			c.missing[p] = time.Now()
		}
	case r.same:
	case r.renameFrom != "":
		delete(c.missing, r.renameFrom)
		c.sum.Renamed++
		c.bump()
		d.log.Info("renamed; faces kept", "from", r.renameFrom, "to", p)
	case r.err != nil:
		reason := r.err.Error()
		d.errs.add(p, reason)
		d.meter.add(time.Now())
		c.sum.Failed++
		d.log.Warn("analysis failed", "file", p, "reason", reason)
	default:
		delete(c.exportFailed, p)
		d.meter.add(time.Now())
		c.sum.Analysed++
		c.bump()
		d.log.Debug("analysed", "file", p, "faces", len(r.res.Faces))
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
		if c.cluster(ctx) {
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
	if ctx.Err() != nil || c.wf != nil || (c.clusterFail != nil && !c.clusterFail.due(time.Now())) {
		return
	}
	c.cluster(ctx)
	c.exportDue = true
}

// cluster runs the clusterer. A failure is retried with backoff (the
// clusterer follows the index's change feed: no face is missed) and shown
// in status; while it lasts, clustering waits for the retry.
func (c *coordinator) cluster(ctx context.Context) bool {
	d := c.d
	if c.clusterFail != nil && !c.clusterFail.due(time.Now()) && !c.once {
		return false
	}
	err := d.deps.Clusterer.Update(ctx)
	if err == nil {
		if c.clusterFail != nil {
			d.log.Info("clustering works again", "after", time.Since(c.clusterFail.since).Round(time.Millisecond))
			c.clusterFail = nil
		}
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	first := c.clusterFail == nil
	if first {
		c.clusterFail = &retryState{}
	}
	c.clusterFail.failed(time.Now(), err, d.opt.RetryMin, d.opt.RetryMax)
	if first {
		d.log.Error("clustering failed; retried with backoff", "err", err)
	} else {
		d.log.Debug("clustering failed again", "err", err, "attempts", c.clusterFail.fails)
	}
	return false
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
		now := time.Now()
		for _, it := range items {
			if rs := c.exportFailed[it.Path]; rs == nil || rs.due(now) {
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

// exported records the outcome of one sidecar export. A failed write is
// tried again with backoff (up to RetryMax for a full disk, 10 min for
// other errors), by retry and by a scan of its folder.
func (c *coordinator) exported(ctx context.Context, it ExportItem, err error) {
	d, p := c.d, it.Path
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		rs := c.exportFailed[p]
		first := rs == nil
		if first {
			rs = &retryState{}
			c.exportFailed[p] = rs
			c.sum.ExportFailed++
		}
		hi := exportRetryMax
		if IsNoSpace(err) {
			hi = d.opt.RetryMax
		}
		rs.failed(time.Now(), err, d.opt.RetryMin, max(hi, d.opt.RetryMin))
		if first {
			d.errs.add(p, "sidecar not written: "+err.Error())
			d.log.Warn("export failed; retried with backoff", "file", p, "reason", err)
		} else {
			d.log.Debug("export failed again", "file", p, "reason", err, "attempts", rs.fails)
		}
		return
	}
	// The sidecar is written: record it even when a shutdown began, so a
	// normal stop logs no error and the next start has nothing to redo.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := d.deps.Store.Exported(rctx, it); err != nil {
		if IsNoSpace(err) && !c.once {
			// The sidecar is written; the index records it once writes
			// work (its export is still pending, and current: no rewrite).
			c.writeFailed("record export", err)
			return
		}
		d.log.Error("record export", "file", p, "err", err)
		c.exported(ctx, it, fmt.Errorf("record export: %w", err))
		return
	}
	c.writeOK()
	if c.exportFailed[p] != nil {
		delete(c.exportFailed, p)
		d.errs.remove(p)
		d.log.Info("sidecar written after earlier failures", "file", p)
	}
	c.sum.Exported++
	d.log.Debug("sidecar written", "file", p)
}

// exportRetryMax bounds the backoff of sidecar writes that failed for
// another reason than a full disk (an unreadable existing sidecar: the
// user may fix it).
const exportRetryMax = 10 * time.Minute

// planExportRetry sets exportNext to the earliest retry of a failed
// sidecar (none in RunOnce: one attempt each).
func (c *coordinator) planExportRetry() {
	if c.once {
		return
	}
	var next time.Time
	for _, rs := range c.exportFailed {
		if next.IsZero() || rs.next.Before(next) {
			next = rs.next
		}
	}
	c.exportNext = next
}

// removeMissing drops vanished files from the index once their grace
// passed (all of them when force), unless they came back. A vanished folder
// drops every file under it. Sidecars are left alone.
func (c *coordinator) removeMissing(ctx context.Context, force bool) {
	d := c.d
	if c.wf != nil && !force {
		return // kept until index writes work
	}
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
			if _, err := os.Lstat(r.Path); !errors.Is(err, fs.ErrNotExist) && !isCompanion(r.Path) {
				continue
			}
			if err := d.deps.Store.Remove(ctx, r.Path); err != nil {
				d.log.Error("remove from index", "file", r.Path, "err", err)
				c.wrote("remove from index", err)
				if !force {
					c.missing[r.Path] = time.Now() // tried again
				}
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
	// Results whose write failed (data disk full): one last try; a lease
	// left held is released at the next start and analysed again.
	kept := 0
	for _, r := range c.unstored {
		c.wf = nil
		if !c.store(wctx, r) {
			kept++
		}
	}
	c.unstored = nil
	if kept > 0 || len(c.held)+c.heldDropped > 0 {
		d.log.Warn("shutdown: index writes failing; the next start finds this work again",
			"results_not_stored", kept, "files_not_queued", len(c.held)+c.heldDropped)
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
