package watcher

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkWalk walks a tree of 10 000 media files in 100 folders (plus as
// many sidecars, which are skipped): the reconciliation walk's own cost.
func BenchmarkWalk(b *testing.B) {
	root := b.TempDir()
	const dirs, per = 100, 100
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range per {
			for _, n := range []string{fmt.Sprintf("p%03d.jpg", f), fmt.Sprintf("p%03d.jpg.xmp", f)} {
				if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	opt := Options{Extensions: testExts, IgnoreGlobs: []string{"@eaDir", "*.part"}}
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := Walk(context.Background(), root, opt, func(string, fs.FileInfo) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != dirs*per {
			b.Fatalf("walked %d files", n)
		}
	}
	b.ReportMetric(float64(dirs*per)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
}

// BenchmarkSettleLatency measures the time from a file's last write to its
// event with a 200 ms settle time: the settle time plus the watcher's own
// delay (tick granularity, scheduling).
func BenchmarkSettleLatency(b *testing.B) {
	const settle = 200 * time.Millisecond
	root := b.TempDir()
	w, err := New(root, Options{SettleTime: settle, Extensions: testExts})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	<-w.Rescans()
	var lat []time.Duration
	i := 0
	for b.Loop() {
		p := filepath.Join(root, fmt.Sprintf("p%d.jpg", i))
		i++
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		select {
		case ev := <-w.Events():
			if ev.Path != p {
				b.Fatalf("got %s", ev.Path)
			}
		case <-time.After(10 * time.Second):
			b.Fatal("no event")
		}
		lat = append(lat, time.Since(t0)-settle)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-over-settle-p50")
	b.ReportMetric(float64(lat[(len(lat)*95)/100].Microseconds())/1000, "ms-over-settle-p95")
}
