package persons

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/faced/faced/index"
)

// LockFile is the name of the writers' lock inside DataDirectory.
const LockFile = "faced.lock"

// IndexFile is the index's file name inside DataDirectory.
const IndexFile = "faces.db"

// Lock is the exclusive writers' lock of a DataDirectory: the daemon holds
// it for its whole life, facedctl while it edits persons with the daemon
// stopped. It is an advisory flock, released by Unlock or when the process
// dies, so a crash never leaves a stale lock.
type Lock struct{ f *os.File }

// TakeLock takes the lock of dataDir without waiting: ErrLocked when another
// process holds it.
func TakeLock(dataDir string) (*Lock, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	p := filepath.Join(dataDir, LockFile)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|oNoFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	if err := flock(f); err != nil {
		f.Close()
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("%w (%s)", ErrLocked, p)
		}
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}

// Local is a Service over an index opened by this process under the
// writers' lock: facedctl's way to edit persons while the daemon is stopped.
type Local struct {
	*Service
	lock *Lock
}

// Open takes dataDir's lock (ErrLocked when the daemon or another facedctl
// holds it), opens its index and returns the Service over it. The index must
// exist (index.ErrNotFound otherwise). Close releases both.
func Open(ctx context.Context, dataDir, library string) (*Local, error) {
	p := filepath.Join(dataDir, IndexFile)
	if _, err := os.Stat(p); err != nil {
		return nil, fmt.Errorf("no index at %s (faced has not analysed anything yet): %w", p, index.ErrNotFound)
	}
	l, err := TakeLock(dataDir)
	if err != nil {
		return nil, err
	}
	ix, err := index.Open(ctx, p)
	if err != nil {
		l.Unlock()
		return nil, err
	}
	var th *Thumbs
	if library != "" {
		if th, err = NewThumbs(ix, library, filepath.Join(dataDir, ThumbsDir)); err != nil {
			ix.Close()
			l.Unlock()
			return nil, err
		}
	}
	return &Local{Service: New(ix, Options{Thumbs: th}), lock: l}, nil
}

// ThumbsDir is the thumbnail cache's folder inside DataDirectory.
const ThumbsDir = "thumbs"

// Close closes the index and releases the lock.
func (l *Local) Close() error {
	return errors.Join(l.ix.Close(), l.lock.Unlock())
}
