package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// ctxStore is the memory store answering writes with the context's error
// once it is done, as the SQLite index does.
type ctxStore struct{ *memStore }

func (s ctxStore) Exported(ctx context.Context, it ExportItem) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.memStore.Exported(ctx, it)
}

// slowExporter writes the sidecar only after the shutdown began (a write
// in flight when SIGTERM comes).
type slowExporter struct {
	inner   Exporter
	started chan struct{}
	once    sync.Once
}

func (e *slowExporter) Export(ctx context.Context, p string) error {
	e.once.Do(func() { close(e.started) })
	<-ctx.Done()
	return e.inner.Export(context.Background(), p)
}

// TestShutdownDuringExportLogsNoError: a normal stop while a sidecar is
// being written logs no ERROR (it logged "record export ... context
// canceled") and the written sidecar is recorded.
func TestShutdownDuringExportLogsNoError(t *testing.T) {
	r := newRig(t, Options{})
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(b)
	}), nil))
	ex := &slowExporter{inner: &fakeExporter{r.st, &r.libFull}, started: make(chan struct{})}
	d, err := New(Options{InputDirectory: r.dir, Workers: 2, Logger: log, RemoveGrace: 50 * time.Millisecond, BatchDelay: 50 * time.Millisecond},
		Deps{Store: ctxStore{r.st}, Analyzer: r.an, Clusterer: r.cl, Exporter: ex, Watcher: r.w})
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	a := r.write(t, "a.jpg", "faces=1")
	stop := r.start(t)
	select {
	case <-ex.started:
	case <-time.After(10 * time.Second):
		t.Fatal("no export started")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if strings.Contains(out, "level=ERROR") {
		t.Errorf("a normal shutdown logged errors:\n%s", out)
	}
	if sidecar(a) == "" {
		t.Error("the sidecar in flight was not written")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
