// Package watcher turns file-system notifications under a photo folder into
// settled, coalesced events for the daemon: "this media file changed (and
// has stopped changing)" and "this file or folder is gone". It watches the
// tree recursively with fsnotify (adding folders as they appear and finding
// the files already inside them), applies the ignore rules (hidden files and
// folders, globs, a hook, extensions; sidecars never), waits until a file's
// size and mtime have been stable for the settle time, drops faced's own
// writes (Suppress), and asks for a reconciliation walk (Rescans) at start,
// periodically, and whenever events may have been lost: queue overflow, a
// folder that could not be watched (watch limit), the root disappearing.
//
// The watcher never reads file contents and knows nothing about faces or the
// index: the daemon compares what it gets against the index (by size and
// mtime, then content hash) and runs Walk when Rescans fires.
package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/faced/faced/internal/confine"
	"github.com/fsnotify/fsnotify"
)

// Op is what happened to a path.
type Op uint8

const (
	// Changed: a media file is new or its content may have changed; its size
	// and mtime were stable for the settle time.
	Changed Op = iota + 1
	// Removed: the path is gone (deleted, or renamed away: a rename within
	// the tree also yields Changed for the new path).
	Removed
)

func (o Op) String() string {
	switch o {
	case Changed:
		return "changed"
	case Removed:
		return "removed"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Event is one settled change.
type Event struct {
	Path    string    // absolute path (under the root as given to New)
	Op      Op        // Changed or Removed
	Size    int64     // Changed: the settled size in bytes
	ModTime time.Time // Changed: the settled modification time
	// Dir is set on Removed when Path was a watched folder: every file below
	// it is gone too. (A consumer may always treat Removed as "Path and
	// everything below Path".)
	Dir bool
}

// Options configure a Watcher and Walk.
type Options struct {
	// SettleTime: a file is emitted once its size and mtime have not changed
	// for this long (0 = at the next internal tick, about 10 ms).
	SettleTime time.Duration
	// IgnoreGlobs are path.Match patterns. A glob without "/" matches any
	// single file or folder name in the tree ("*.tmp", "@eaDir"); a glob with
	// "/" matches the leading part of the slash-separated path relative to
	// the root ("Private/*" ignores everything inside the top-level folder
	// Private, "Private" without "/" any folder of that name). An ignored
	// folder is neither watched nor walked.
	IgnoreGlobs []string
	// Ignore, if set, is asked about every absolute path (files and folders)
	// not already ignored; true ignores it (and, for a folder, its subtree).
	Ignore func(path string) bool
	// Extensions are the media file extensions emitted (".jpg" or "jpg",
	// any case); other files are ignored. None = every file. Sidecars
	// (*.xmp) are never emitted.
	Extensions []string
	// RescanInterval: period of the reconciliation requests on Rescans
	// (0 = only at start and after lost events).
	RescanInterval time.Duration
	// OnError receives problems with single paths met by Walk (the Watcher
	// reports its own on Errors instead).
	OnError func(error)
	// Confine, when set, is the library's confinement: a symbolic link
	// leading outside it (and its allowed folders) is skipped and reported
	// once, and Walk refuses a root reached through a link to a folder.
	Confine *confine.Root
	// Logger for warnings (nil = slog.Default()).
	Logger *slog.Logger
}

// Watcher watches one folder tree. Create it with New, start it with Run,
// and read Events, Rescans and Errors until Run returns. The channels are
// never closed (a consumer selecting on them must also watch its context or
// Run's return); nothing is sent on them after Run returned.
type Watcher struct {
	root    string
	opt     Options
	m       *matcher
	log     *slog.Logger
	fsw     *fsnotify.Watcher
	events  chan Event
	rescans chan struct{}
	errs    chan error
	sup     suppressor
	ran     atomic.Bool

	// Test hooks.
	addWatch  func(string) error
	readDir   func(string) ([]fs.DirEntry, error)
	inject    chan error
	retryBase time.Duration
	retryMax  time.Duration

	// State owned by Run's goroutine.
	watched    map[string]bool
	failed     map[string]error // folders whose watch failed, retried with backoff
	pending    map[string]*pendingFile
	emitted    map[string]stamp // recently emitted, to drop late duplicate events
	queue      readyQueue
	rootLost   bool
	retryDelay time.Duration
	retryTimer *time.Timer
	lastPrune  time.Time
	dropped    int
}

type pendingFile struct {
	size    int64
	mtime   time.Time
	changed time.Time // when a change was last seen
}

type stamp struct {
	size  int64
	mtime time.Time
	at    time.Time
}

// emittedTTL is how long an emitted file's size and mtime are remembered to
// drop a late duplicate event.
const emittedTTL = time.Minute

// New prepares a watcher for the folder root. Nothing is watched until Run.
func New(root string, opt Options) (*Watcher, error) {
	root, err := cleanRoot(root)
	if err != nil {
		return nil, err
	}
	m, err := newMatcher(root, opt)
	if err != nil {
		return nil, err
	}
	fsw, err := fsnotify.NewBufferedWatcher(1024)
	if err != nil {
		return nil, fmt.Errorf("watcher: %w", err)
	}
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	w := &Watcher{
		root:      root,
		opt:       opt,
		m:         m,
		log:       log.With("component", "watcher"),
		fsw:       fsw,
		events:    make(chan Event),
		rescans:   make(chan struct{}, 1),
		errs:      make(chan error, 64),
		readDir:   os.ReadDir,
		inject:    make(chan error),
		retryBase: time.Minute,
		retryMax:  time.Hour,
		watched:   map[string]bool{},
		failed:    map[string]error{},
		pending:   map[string]*pendingFile{},
		emitted:   map[string]stamp{},
	}
	w.addWatch = fsw.Add
	return w, nil
}

// Root is the absolute path of the watched folder.
func (w *Watcher) Root() string { return w.root }

// Events delivers settled changes in the order they settled. The watcher
// keeps draining the OS while nobody reads: undelivered events wait in an
// in-memory queue (where a file changing again replaces its older event).
func (w *Watcher) Events() <-chan Event { return w.events }

// Rescans fires when the daemon should reconcile the whole tree with Walk:
// once at start (after every folder is watched, so nothing falls between the
// walk and the events), every RescanInterval, and after events were lost
// (queue overflow, a folder that could not be watched, the root coming
// back). Requests coalesce: one pending value stands for any number.
func (w *Watcher) Rescans() <-chan struct{} { return w.rescans }

// Errors delivers *PathError values: folders that cannot be read or
// watched, symbolic link loops, the root disappearing. The watcher keeps
// going after each. If nobody reads them, the oldest are kept and newer ones
// are dropped (and counted in the log).
func (w *Watcher) Errors() <-chan error { return w.errs }

// Suppress drops events for path (a file faced itself is writing) for the
// duration d from now. Safe to call from any goroutine.
func (w *Watcher) Suppress(path string, d time.Duration) { w.sup.add(path, d) }

// Run watches the tree until ctx is done, then returns nil. It returns an error at once if the root cannot be watched for
// a reason other than a resource limit (which is retried). Run may be called
// once.
func (w *Watcher) Run(ctx context.Context) error {
	if !w.ran.CompareAndSwap(false, true) {
		return errors.New("watcher: Run called twice")
	}
	defer w.fsw.Close()

	switch err := w.addWatch(w.root); {
	case err == nil:
		w.watched[w.root] = true
	case !isLimit(err):
		return &PathError{Path: w.root, Reason: "cannot watch folder", Err: err}
	}
	w.addTree(ctx, w.root, false)
	w.requestRescan()

	// Files are emitted between SettleTime and SettleTime+tickEvery after
	// their last change.
	tickEvery := min(max(w.opt.SettleTime/8, 10*time.Millisecond), 100*time.Millisecond)
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	var rescanC <-chan time.Time
	if w.opt.RescanInterval > 0 {
		t := time.NewTicker(w.opt.RescanInterval)
		defer t.Stop()
		rescanC = t.C
	}
	defer func() {
		if w.retryTimer != nil {
			w.retryTimer.Stop()
		}
	}()

	for {
		var out chan<- Event
		next, ok := w.queue.peek()
		if ok {
			out = w.events
		}
		var retryC <-chan time.Time
		if w.retryTimer != nil {
			retryC = w.retryTimer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case out <- next:
			w.queue.pop()
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return errors.New("watcher: fsnotify closed its event channel")
			}
			w.handle(ctx, ev)
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return errors.New("watcher: fsnotify closed its error channel")
			}
			w.backendError(ctx, err)
		case err := <-w.inject:
			w.backendError(ctx, err)
		case now := <-tick.C:
			w.settle(now)
			if now.Sub(w.lastPrune) > 10*time.Second {
				w.prune(now)
			}
		case <-rescanC:
			w.requestRescan()
		case <-retryC:
			w.retryTimer = nil
			w.retry(ctx)
		}
	}
}

// handle processes one fsnotify event.
func (w *Watcher) handle(ctx context.Context, ev fsnotify.Event) {
	p := filepath.Clean(ev.Name)
	if p == w.root {
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			w.loseRoot()
		}
		return
	}
	if w.m.ignored(p) {
		return
	}
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		w.gone(p)
		return
	}
	if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Write) && !ev.Has(fsnotify.Chmod) {
		return
	}
	info, err := os.Lstat(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			w.report(&PathError{Path: p, Reason: "cannot stat", Err: err})
		}
		return // gone already: its Remove event follows
	}
	switch {
	case info.IsDir():
		// A new folder, one moved in, or one that became readable.
		if !w.watched[p] {
			w.addTree(ctx, p, true)
		}
	case info.Mode()&fs.ModeSymlink != 0:
		target, perr := symlinkInfo(p, w.m)
		if perr != nil {
			w.report(perr)
			return
		}
		if target != nil && w.m.media(p) {
			w.touch(p, target)
		}
	case info.Mode().IsRegular():
		if w.m.media(p) {
			w.touch(p, info)
		}
	}
}

// touch records activity on a media file: it is emitted once it settles.
func (w *Watcher) touch(p string, info fs.FileInfo) {
	now := time.Now()
	if w.sup.active(p, now) {
		return
	}
	w.queue.drop(p) // changing again: coalesce into one later event
	pf := w.pending[p]
	if pf == nil {
		pf = &pendingFile{}
		w.pending[p] = pf
	}
	pf.size, pf.mtime, pf.changed = info.Size(), info.ModTime(), now
}

// gone handles a path that was removed or renamed away.
func (w *Watcher) gone(p string) {
	isDir := w.watched[p]
	if _, ok := w.failed[p]; ok {
		isDir = true
	}
	if isDir {
		prefix := p + string(filepath.Separator)
		for d := range w.watched {
			if d == p || strings.HasPrefix(d, prefix) {
				_ = w.fsw.Remove(d) // often gone already (the kernel drops it)
				delete(w.watched, d)
			}
		}
		for d := range w.failed {
			if d == p || strings.HasPrefix(d, prefix) {
				delete(w.failed, d)
			}
		}
		for f := range w.pending {
			if strings.HasPrefix(f, prefix) {
				delete(w.pending, f)
			}
		}
		for f := range w.emitted {
			if strings.HasPrefix(f, prefix) {
				delete(w.emitted, f)
			}
		}
		w.queue.dropUnder(p)
		w.queue.push(Event{Path: p, Op: Removed, Dir: true})
		return
	}
	if !w.m.media(p) {
		return
	}
	delete(w.pending, p)
	delete(w.emitted, p)
	w.queue.drop(p)
	if !w.sup.active(p, time.Now()) {
		w.queue.push(Event{Path: p, Op: Removed})
	}
}

// settle emits the pending files whose size and mtime stayed unchanged for
// the settle time, oldest change first.
func (w *Watcher) settle(now time.Time) {
	var due []string
	for p, pf := range w.pending {
		if now.Sub(pf.changed) >= w.opt.SettleTime {
			due = append(due, p)
		}
	}
	slices.SortFunc(due, func(a, b string) int {
		if c := w.pending[a].changed.Compare(w.pending[b].changed); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, p := range due {
		pf := w.pending[p]
		info, err := os.Stat(p)
		if err != nil {
			delete(w.pending, p)
			switch {
			case errors.Is(err, fs.ErrNotExist):
			case errors.Is(err, syscall.ELOOP):
				w.report(&PathError{Path: p, Reason: "symbolic link loop", Err: err})
			default:
				w.report(&PathError{Path: p, Reason: "cannot stat", Err: err})
			}
			continue
		}
		if !info.Mode().IsRegular() {
			delete(w.pending, p)
			continue
		}
		if info.Size() != pf.size || !info.ModTime().Equal(pf.mtime) {
			pf.size, pf.mtime, pf.changed = info.Size(), info.ModTime(), now
			continue
		}
		delete(w.pending, p)
		if w.sup.active(p, now) {
			continue
		}
		if e, ok := w.emitted[p]; ok && e.size == pf.size && e.mtime.Equal(pf.mtime) {
			continue // a late event for a file already emitted as it is
		}
		w.emitted[p] = stamp{size: pf.size, mtime: pf.mtime, at: now}
		w.queue.push(Event{Path: p, Op: Changed, Size: pf.size, ModTime: pf.mtime})
	}
}

func (w *Watcher) prune(now time.Time) {
	w.lastPrune = now
	w.sup.prune(now)
	for p, e := range w.emitted {
		if now.Sub(e.at) > emittedTTL {
			delete(w.emitted, p)
		}
	}
}

// addTree watches the folder dir and every folder below it. With emit, the
// media files found inside are treated as new (a folder created or moved in
// after start); without, the reconciliation walk finds them.
func (w *Watcher) addTree(ctx context.Context, dir string, emit bool) {
	var onFile func(string, fs.FileInfo) error
	if emit {
		onFile = func(p string, info fs.FileInfo) error { w.touch(p, info); return nil }
	}
	err := walkTreeDirs(ctx, w.m, w.readDir, dir, w.watch, onFile, w.report)
	if pe := (*PathError)(nil); errors.As(err, &pe) && !errors.Is(err, fs.ErrNotExist) {
		w.report(pe)
	}
}

// walkTreeDirs is walkTree, but with a nil onFile it lists only folders (no
// stat of files).
func walkTreeDirs(ctx context.Context, m *matcher, readDir func(string) ([]fs.DirEntry, error),
	top string, onDir func(string) bool, onFile func(string, fs.FileInfo) error, onErr func(*PathError)) error {
	if onFile != nil {
		return walkTree(ctx, m, readDir, top, onDir, onFile, onErr)
	}
	dirsOnly := func(dir string) ([]fs.DirEntry, error) {
		entries, err := readDir(dir)
		return slices.DeleteFunc(entries, func(d fs.DirEntry) bool { return !d.IsDir() }), err
	}
	return walkTree(ctx, m, dirsOnly, top, onDir, func(string, fs.FileInfo) error { return nil }, onErr)
}

// watch adds a watch on the folder dir; false skips the folder.
func (w *Watcher) watch(dir string) bool {
	if w.watched[dir] {
		return true
	}
	return w.forceWatch(dir)
}

// forceWatch (re-)adds the watch on dir even if it is believed to exist: after
// lost events the folder may have been replaced by another one of the same
// name. Adding a watch that exists costs one system call.
func (w *Watcher) forceWatch(dir string) bool {
	err := w.addWatch(dir)
	switch {
	case err == nil:
		w.watched[dir] = true
		delete(w.failed, dir)
		return true
	case errors.Is(err, fs.ErrNotExist):
		return false
	case errors.Is(err, fs.ErrPermission):
		w.report(&PathError{Path: dir, Reason: "cannot watch folder: permission denied", Err: err})
		return false
	}
	// A resource limit (inotify watches, open files) or another failure:
	// events below dir will be missed, so ask for a reconciliation walk and
	// retry the watch later. Report only the first of a series.
	if len(w.failed) == 0 {
		reason := "cannot watch folder"
		if isLimit(err) {
			reason = "cannot watch folder: watch limit reached (on Linux raise fs.inotify.max_user_watches); changes below it are found by periodic rescans"
		}
		w.report(&PathError{Path: dir, Reason: reason, Err: err})
	}
	w.failed[dir] = err
	w.scheduleRetry()
	w.requestRescan()
	return true // still walk into it: its sub-folders may be watchable
}

func isLimit(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// backendError handles an error from fsnotify: events may have been lost.
func (w *Watcher) backendError(ctx context.Context, err error) {
	if err == nil {
		return
	}
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		w.log.Warn("event queue overflowed: rescanning", "root", w.root)
	} else {
		w.report(&PathError{Path: w.root, Reason: "file system notification failed; rescanning", Err: err})
	}
	w.resync(ctx)
	w.requestRescan()
}

// resync re-walks the folders after lost events: watches folders created
// meanwhile and forgets folders removed meanwhile.
func (w *Watcher) resync(ctx context.Context) {
	if w.rootLost {
		return
	}
	seen := map[string]bool{}
	onDir := func(d string) bool {
		ok := w.forceWatch(d)
		if ok {
			seen[d] = true
		}
		return ok
	}
	err := walkTreeDirs(ctx, w.m, w.readDir, w.root, onDir, nil, w.report)
	if err != nil {
		if pe := (*PathError)(nil); errors.As(err, &pe) {
			w.report(pe)
		}
		return
	}
	for d := range w.watched {
		if !seen[d] {
			_ = w.fsw.Remove(d)
			delete(w.watched, d)
		}
	}
}

// loseRoot handles the watched folder itself being removed or renamed (an
// unplugged drive, a moved library). Its files are not reported as removed:
// the daemon must not forget a library because a drive went away. The
// watcher retries until the root is back, then asks for a rescan.
func (w *Watcher) loseRoot() {
	if w.rootLost {
		return
	}
	w.rootLost = true
	w.report(&PathError{Path: w.root, Reason: "watched folder disappeared; waiting for it to come back"})
	for d := range w.watched {
		_ = w.fsw.Remove(d)
	}
	clear(w.watched)
	clear(w.failed)
	clear(w.pending)
	w.scheduleRetry()
}

func (w *Watcher) scheduleRetry() {
	if w.retryTimer != nil {
		return
	}
	if w.retryDelay == 0 {
		w.retryDelay = w.retryBase
	}
	w.retryTimer = time.NewTimer(w.retryDelay)
}

// retry re-adds failed watches (or the lost root), doubling the delay while
// it keeps failing.
func (w *Watcher) retry(ctx context.Context) {
	if w.rootLost {
		if st, err := os.Stat(w.root); err == nil && st.IsDir() && w.addWatch(w.root) == nil {
			w.rootLost = false
			w.watched[w.root] = true
			w.addTree(ctx, w.root, false)
			w.requestRescan()
		}
	} else if len(w.failed) > 0 {
		dirs := make([]string, 0, len(w.failed))
		for d := range w.failed {
			dirs = append(dirs, d)
		}
		slices.Sort(dirs)
		for _, d := range dirs {
			if _, still := w.failed[d]; still {
				w.addTree(ctx, d, false)
			}
		}
		w.requestRescan()
	}
	if w.retryTimer != nil { // armed by a watch that failed again just now
		w.retryTimer.Stop()
		w.retryTimer = nil
	}
	if w.rootLost || len(w.failed) > 0 {
		w.retryDelay = min(2*w.retryDelay, w.retryMax)
		w.scheduleRetry()
		return
	}
	w.retryDelay = 0
}

func (w *Watcher) requestRescan() {
	select {
	case w.rescans <- struct{}{}:
	default: // one is pending already
	}
}

func (w *Watcher) report(e *PathError) {
	select {
	case w.errs <- e:
	default:
		w.dropped++
		if w.dropped == 1 || w.dropped%1000 == 0 {
			w.log.Warn("error channel full: dropping path errors", "dropped", w.dropped, "latest", e.Error())
		}
	}
}
