// Package index is faced's face index: an SQLite database (modernc.org/sqlite,
// pure Go) holding the analysed files, their faces with identity features,
// the persons faces are grouped into, user corrections (assignments and
// cannot-link constraints), a work queue that survives restarts and crashes,
// and labelled age samples.
//
// The database runs in WAL mode with a busy timeout. All writes go through
// one writer connection (so writers never fight over locks inside one
// process); reads use a small pool of read-only connections and see a
// consistent snapshot while the writer works. Several processes (the daemon
// and facedctl) may open the same file: SQLite's locking and the busy timeout
// serialise them.
//
// The clusterer reads faces in bulk with LoadFaceSet (features packed as
// float32, float16 or int8: 4, 2 or 1 KiB per 1024-d face) and then follows
// FaceChanges, a change feed with revisions, so it never rescans the index.
// User decisions (SourceUser assignments, cannot-links, forgotten faces,
// user names) are never overwritten by automatic ones.
//
// Identity features never leave the index through this package's JSON tags:
// every type that carries them marks them json:"-".
package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// Errors callers branch on.
var (
	// ErrNotFound: no file, face or person with that key.
	ErrNotFound = errors.New("not found")
	// ErrLeaseLost: a queue item was completed or released by someone else
	// (typically after RecoverLeases) while the caller still held it.
	ErrLeaseLost = errors.New("queue lease lost")
	// ErrPersonInactive: the person was merged into another one or opted out.
	ErrPersonInactive = errors.New("person is merged or opted out")
	// ErrSchemaTooNew: the database was written by a newer faced.
	ErrSchemaTooNew = errors.New("index schema is newer than this program")
	// ErrInvalid: an argument is out of range (the message says which).
	ErrInvalid = errors.New("invalid argument")
	// ErrNoSpace: a write failed because the disk holding the index is full
	// (SQLITE_FULL). Such errors match syscall.ENOSPC too, so a caller that
	// does not import index tests errors.Is(err, syscall.ENOSPC).
	ErrNoSpace = errors.New("data disk full")
)

// noSpaceError marks a write that failed for lack of disk space.
type noSpaceError struct{ err error }

func (e noSpaceError) Error() string   { return "data disk full: " + e.err.Error() }
func (e noSpaceError) Unwrap() []error { return []error{ErrNoSpace, syscall.ENOSPC, e.err} }

// classify marks SQLite's "database or disk is full" (and a plain ENOSPC
// from the VFS) as ErrNoSpace.
func classify(err error) error {
	if err == nil || errors.Is(err, ErrNoSpace) {
		return err
	}
	var se *sqlite.Error
	if (errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL) || errors.Is(err, syscall.ENOSPC) {
		return noSpaceError{err}
	}
	return err
}

// BusyTimeout is how long a connection waits for a lock held by another
// connection or process before failing with SQLITE_BUSY.
const BusyTimeout = 10 * time.Second

// Index is an open face index. It is safe for concurrent use.
type Index struct {
	path string
	w    *sql.DB // exactly one connection: every write goes here
	r    *sql.DB // read-only pool
	now  func() time.Time
	// stmts are hotQueries prepared on w at Open; read-only afterwards.
	stmts map[string]*sql.Stmt
	// rstmts are statements prepared on r as they are first used.
	rstmts readStmts
	// readOnly: opened with OpenReadOnly (w and r are the same mode=ro pool).
	readOnly bool
	// cleanSide: OpenReadOnly found no -wal/-shm; Close removes them.
	cleanSide bool
}

// Open opens (creating when missing) the index at path and brings its schema
// up to date. The folder of path must exist.
func Open(ctx context.Context, path string) (*Index, error) {
	ix, err := open(ctx, path, len(migrations))
	return ix, openError(path, err)
}

// openError marks an open that failed on a full disk as ErrNoSpace: SQLite
// reports it as "disk I/O error" when the -shm file cannot grow.
func openError(path string, err error) error {
	if err == nil || errors.Is(err, ErrNoSpace) || !diskFull(filepath.Dir(path)) {
		return err
	}
	return noSpaceError{err}
}

// open opens path migrated to schema version target (tests use older ones).
func open(ctx context.Context, path string, target int) (*Index, error) {
	if path == "" {
		return nil, fmt.Errorf("open index: %w: empty path", ErrInvalid)
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open index %s: %w: path must not contain '?' or '#'", path, ErrInvalid)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("open index %s: folder %s does not exist", path, filepath.Dir(path))
	}
	// A new index is created private (SQLite gives its -wal and -shm the
	// database file's mode): it holds biometric data.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	}
	busy := fmt.Sprintf("_busy_timeout=%d", BusyTimeout.Milliseconds())
	// page_size applies to a new database only: 16 KiB pages hold 1024-d
	// feature rows (4 KiB each) without overflow pages.
	// synchronous=NORMAL in WAL mode: a committed transaction survives a
	// crash or SIGKILL of the process; a power loss may roll back the last
	// few commits, never corrupt the file. The queue makes that safe: lost
	// work is leased again.
	w, err := sql.Open("sqlite", path+"?"+busy+
		"&_pragma=page_size(16384)&_pragma=cache_size(-65536)&_pragma=temp_store(MEMORY)&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	ix := &Index{path: path, w: w, now: time.Now, stmts: map[string]*sql.Stmt{}}

	if err := ix.migrate(ctx, target); err != nil {
		w.Close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	if target == len(migrations) {
		if err := ix.prepareHot(ctx); err != nil {
			ix.Close()
			return nil, fmt.Errorf("open index %s: %w", path, err)
		}
	}
	r, err := sql.Open("sqlite", path+"?"+busy+"&_foreign_keys=1&_query_only=1&_pragma=mmap_size(1073741824)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	n := min(max(runtime.GOMAXPROCS(0), 2), 4)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	ix.r = r
	addHandle(path, 1)
	return ix, nil
}

// Path returns the database file name.
func (ix *Index) Path() string { return ix.path }

// Close checkpoints the WAL and closes all connections.
func (ix *Index) Close() error {
	rerr := ix.rstmts.close()
	if ix.readOnly {
		err := errors.Join(rerr, ix.r.Close())
		if others := addHandle(ix.path, -1); err == nil && ix.cleanSide && others == 0 {
			removeSideFiles(ix.path)
		}
		if err != nil {
			return fmt.Errorf("close index %s: %w", ix.path, err)
		}
		return nil
	}
	errs := []error{rerr}
	if ix.r != nil {
		errs = append(errs, ix.r.Close())
	}
	// A passive checkpoint keeps the -wal file small between runs; failure
	// (another process reading) is harmless.
	for _, st := range ix.stmts {
		errs = append(errs, st.Close())
	}
	_, _ = ix.w.Exec("PRAGMA wal_checkpoint(PASSIVE)")
	errs = append(errs, ix.w.Close())
	if ix.r != nil {
		addHandle(ix.path, -1)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close index %s: %w", ix.path, err)
	}
	return nil
}

// IntegrityCheck runs PRAGMA integrity_check and returns nil when it says ok.
func (ix *Index) IntegrityCheck(ctx context.Context) error {
	rows, err := ix.r.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("integrity check %s: %w", ix.path, err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("integrity check %s: %w", ix.path, err)
		}
		msgs = append(msgs, s)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check %s: %w", ix.path, err)
	}
	if len(msgs) == 1 && msgs[0] == "ok" {
		return nil
	}
	return fmt.Errorf("integrity check %s: %s", ix.path, strings.Join(msgs, "; "))
}

// write runs fn in one write transaction (BEGIN IMMEDIATE on the single
// writer connection) and commits it when fn returns nil.
func (ix *Index) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if ix.readOnly {
		return ErrReadOnly
	}
	tx, err := ix.w.BeginTx(ctx, nil)
	if err != nil {
		return classify(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return classify(err)
	}
	return classify(tx.Commit())
}

// stmt returns query bound to tx. Queries listed in hotQueries were prepared
// once on the writer connection at Open, so SQLite does not parse them (and
// compile their triggers) again for every face; others are prepared now.
func (ix *Index) stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if st := ix.stmts[query]; st != nil {
		return tx.StmtContext(ctx, st), nil
	}
	return tx.PrepareContext(ctx, query)
}

// prepareHot prepares hotQueries on the writer connection (outside any
// transaction: the writer has one connection).
func (ix *Index) prepareHot(ctx context.Context) error {
	for _, q := range hotQueries {
		st, err := ix.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
		ix.stmts[q] = st
	}
	return nil
}

// ns converts a time to the stored Unix nanoseconds; the zero time is NULL.
func ns(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

// fromNS converts stored Unix nanoseconds back; NULL is the zero time.
func fromNS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(0, v.Int64)
}
