package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Errors of read-only access.
var (
	// ErrReadOnly: a write was attempted on an index opened with OpenReadOnly.
	ErrReadOnly = errors.New("index opened read-only")
	// ErrSchemaTooOld: OpenReadOnly found a database that needs a migration
	// (start faced, or any command that opens it for writing, to upgrade it).
	ErrSchemaTooOld = errors.New("index schema is older than this program (start faced to upgrade it)")
)

// OpenReadOnly opens an existing index for reading only: the database is
// opened with SQLite's mode=ro and every connection is query_only, nothing
// is created, migrated or checkpointed, and writes fail with ErrReadOnly. A
// schema older than this program's is reported (ErrSchemaTooOld), never
// upgraded; a newer one is ErrSchemaTooNew. Read-only commands (facedctl
// status with the daemon down, facedctl persons list|show) use it so that
// they never change a database they only look at.
//
// SQLite needs the WAL files (-wal, -shm) to read a WAL-mode database and a
// read-only connection creates them when they are missing, but cannot
// remove them. So when they did not exist at OpenReadOnly, Close removes
// them again the way SQLite's last connection does: only under a write lock
// on the database's lock bytes (which no other connection, of any process,
// holds while it has the database open), only when the -wal is empty and
// no other Index of this process has the file open, and only where the
// platform and the file's permissions allow that lock (removeSideFiles).
func OpenReadOnly(ctx context.Context, path string) (*Index, error) {
	ix, err := openReadOnly(ctx, path)
	return ix, openError(path, err)
}

func openReadOnly(ctx context.Context, path string) (*Index, error) {
	if path == "" {
		return nil, fmt.Errorf("open index: %w: empty path", ErrInvalid)
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open index %s: %w: path must not contain '?' or '#'", path, ErrInvalid)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("open index %s: not a regular file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	// Only a "file:" URI reaches SQLite with its own parameters (mode=ro);
	// a plain name would be opened read-write and created when missing.
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // C:/x on Windows
	}
	u := (&url.URL{Scheme: "file", Path: p}).String()
	clean := noSideFiles(path)
	dsn := u + "?mode=ro&" + fmt.Sprintf("_busy_timeout=%d", BusyTimeout.Milliseconds()) +
		"&_query_only=1&_pragma=mmap_size(1073741824)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(2)
	ix := &Index{path: path, w: db, r: db, now: time.Now, stmts: map[string]*sql.Stmt{}, readOnly: true, cleanSide: clean}
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`).Scan(&tables); err != nil {
		db.Close()
		return nil, fmt.Errorf("open index %s read-only: %w", path, err)
	}
	if tables == 0 {
		db.Close()
		return nil, fmt.Errorf("open index %s read-only: %w: no schema (version 0, want %d)", path, ErrSchemaTooOld, len(migrations))
	}
	v, err := currentVersion(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open index %s read-only: %w", path, err)
	}
	switch {
	case v > len(migrations):
		db.Close()
		return nil, fmt.Errorf("open index %s: %w: database has version %d, this program knows %d", path, ErrSchemaTooNew, v, len(migrations))
	case v < len(migrations):
		db.Close()
		return nil, fmt.Errorf("open index %s: %w: database has version %d, this program writes %d", path, ErrSchemaTooOld, v, len(migrations))
	}
	addHandle(path, 1)
	return ix, nil
}

// ReadOnly tells whether the index was opened with OpenReadOnly.
func (ix *Index) ReadOnly() bool { return ix.readOnly }

func noSideFiles(path string) bool {
	for _, s := range []string{"-wal", "-shm"} {
		if _, err := os.Lstat(path + s); err == nil {
			return false
		}
	}
	return true
}

// openHandles counts the Index handles of this process per database file:
// a POSIX lock taken and dropped on a file releases every lock the process
// holds on it, so removeSideFiles runs only when no other handle exists.
var openHandles = struct {
	sync.Mutex
	n map[string]int
}{n: map[string]int{}}

func handleKey(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

func addHandle(path string, d int) int {
	openHandles.Lock()
	defer openHandles.Unlock()
	k := handleKey(path)
	openHandles.n[k] += d
	n := openHandles.n[k]
	if n <= 0 {
		delete(openHandles.n, k)
	}
	return n
}
