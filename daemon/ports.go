package daemon

import (
	"context"
	"time"

	"github.com/faced/faced/face"
)

// Analyzer finds the faces of one photo or video. Errors other than context
// cancellation are permanent for that file content (bad input).
type Analyzer interface {
	Analyze(ctx context.Context, path string) (*face.Result, error)
}

// FileState is the state of a file in the index.
type FileState int

// File states.
const (
	StatePending FileState = iota // queued or being analysed
	StateDone                     // analysed
	StateFailed                   // analysis failed; Reason says why
)

func (s FileState) String() string {
	switch s {
	case StatePending:
		return "pending"
	case StateDone:
		return "done"
	case StateFailed:
		return "failed"
	}
	return "unknown"
}

// FileRecord is what the index knows about a file.
type FileRecord struct {
	Path    string
	Size    int64
	ModTime time.Time
	Hash    string // sha256, lower-case hex; "" before the first analysis
	State   FileState
	Reason  string // why it failed
	Time    time.Time
}

// Job is a leased queue item.
type Job struct {
	ID    int64
	Path  string
	Token int64 // lease token, handed back on completion
	// Lease is the store's own handle of the lease, handed back as is.
	Lease any
}

// ExportItem is a file whose sidecar is out of date, at revision Rev.
type ExportItem struct {
	Path string
	Rev  int64
}

// Stats are the index's counts.
type Stats struct {
	Done, Failed, Pending int // files by state
	Queue                 int // queue items (leased or not)
	Faces, Persons        int
	// Media counts the analysed files by media kind (index File.Media).
	Media map[string]int
}

// Store is the daemon's view of the index. It must be safe for concurrent
// use; the daemon calls the mutating methods from one goroutine only.
type Store interface {
	// Reads.
	File(ctx context.Context, path string) (FileRecord, bool, error)
	// Files lists the known (not removed) files whose path is under dir
	// (dir itself, or a descendant); all files for dir == "".
	Files(ctx context.Context, dir string) ([]FileRecord, error)
	// FileByHash returns a known file with that content hash.
	FileByHash(ctx context.Context, hash string) ([]FileRecord, error)
	Stats(ctx context.Context) (Stats, error)
	// Failures lists up to n failed files, newest first.
	Failures(ctx context.Context, n int) ([]FileRecord, error)
	// PendingExports lists up to n files whose sidecar is out of date.
	PendingExports(ctx context.Context, n int) ([]ExportItem, error)

	// Writes.
	Enqueue(ctx context.Context, path, reason string) error
	// Touch records a new size and mtime for a file whose content did not
	// change.
	Touch(ctx context.Context, path string, size int64, mtime time.Time) error
	// Rename moves a file's record (and faces) to a new path.
	Rename(ctx context.Context, from, to string, size int64, mtime time.Time) error
	// Remove drops a file and its faces from the index.
	Remove(ctx context.Context, path string) error
	// RecoverLeases releases the leases of a previous process; a job leased
	// maxAttempts times already is failed instead (0: never).
	RecoverLeases(ctx context.Context, maxAttempts int) (released, failed int, err error)
	Lease(ctx context.Context, n int) ([]Job, error)
	// Done stores the analysis of a leased job (faces replaced, keeping ids
	// where boxes match) and releases it, in one transaction.
	Done(ctx context.Context, job Job, size int64, mtime time.Time, hash string, res *face.Result) error
	Fail(ctx context.Context, job Job, size int64, mtime time.Time, hash, reason string) error
	// Requeue releases a leased job unfinished.
	Requeue(ctx context.Context, job Job) error
	// Drop releases a leased job whose file is gone.
	Drop(ctx context.Context, job Job) error
	// RetryFailed queues every failed file again.
	RetryFailed(ctx context.Context) (int, error)
	// Exported records that revision it.Rev of it.Path's sidecar was written.
	Exported(ctx context.Context, it ExportItem) error
}

// Clusterer updates persons after new faces arrived: incremental
// assignment, persons' attributes and photo visibility. It marks the files
// whose sidecar content changed as pending export in the index.
type Clusterer interface {
	Update(ctx context.Context) error
}

// Exporter writes the sidecar of one analysed file from the index. The
// daemon calls Export for several files at once (never for two paths that
// differ only by extension).
type Exporter interface {
	Export(ctx context.Context, path string) error
}

// Event is a change the watcher saw.
type Event struct {
	Path    string
	Removed bool
}

// Watcher reports settled changes under the input folder. Rescans asks for a
// full reconciliation (event overflow, watch errors); the first request
// comes once the watches are in place, and the start-up reconciliation
// waits for it.
type Watcher interface {
	Run(ctx context.Context) error
	Events() <-chan Event
	Rescans() <-chan struct{}
}

// WalkFunc walks root (a folder or a file) and calls fn for every candidate
// media file (ignore rules and extensions applied). It does not follow
// symbolic links to folders.
type WalkFunc func(ctx context.Context, root string, fn func(path string) error) error
