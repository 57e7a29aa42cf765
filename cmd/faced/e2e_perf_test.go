package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faced/faced/analyzer"
	"github.com/faced/faced/internal/shared"
)

// The tests in this file measure; they only assert that nothing is lost.
// They are opt-in:
//
//	FACED_BURST=5000 go test -run TestBurst -v -timeout 60m ./cmd/faced
//	FACED_LATENCY=20 go test -run TestLatency -v ./cmd/faced
//	FACED_12MP=40    go test -run TestThroughput12MP -v -timeout 30m ./cmd/faced

func optIn(t *testing.T, env string) int {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		t.Skipf("opt-in measurement: set %s", env)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", env, v)
	}
	return n
}

// peakRSS reads VmHWM (peak resident set) of pid in MiB.
func peakRSS(pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return -1
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func TestBurst(t *testing.T) {
	n := optIn(t, "FACED_BURST")
	e := newEnv(t, "")
	srcs := smallPhotos(t, n)
	e.start()
	begin := time.Now()
	for i, src := range srcs {
		copyFile(t, src, filepath.Join(e.photos, fmt.Sprintf("b%05d.jpg", i)))
	}
	copied := time.Since(begin)
	e.waitFor("every photo analysed", 2*time.Hour, func() bool {
		st, err := e.client().Status(context.Background())
		return err == nil && st.Files.Done+st.Files.Failed >= n
	})
	st := e.idle(time.Hour)
	took := time.Since(begin)
	rss := peakRSS(e.cmd.Process.Pid)
	if st.Files.Done != n {
		t.Errorf("%d photos done, want %d (failed %d)", st.Files.Done, n, st.Files.Failed)
	}
	missing := 0
	for i := range srcs {
		if _, err := os.Stat(filepath.Join(e.photos, fmt.Sprintf("b%05d.jpg.xmp", i))); err != nil {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d sidecars missing", missing)
	}
	cmd := e.cmd
	e.stop()
	cpu := time.Duration(-1)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for i, src := range srcs {
		if sha(t, filepath.Join(e.photos, fmt.Sprintf("b%05d.jpg", i))) != sha(t, src) {
			t.Errorf("photo b%05d.jpg was modified", i)
		}
	}
	t.Logf("burst of %d LFW photos (250x250): copied in %v, all sidecars after %v (%.1f photos/s), peak RSS %.0f MiB, "+
		"process CPU %.1f ms/photo (user+sys, start-up included), %d faces, %d persons",
		n, copied.Round(time.Millisecond), took.Round(time.Second), float64(n)/took.Seconds(), rss,
		float64(cpu.Microseconds())/1e3/float64(n), st.Faces, st.Persons)
}

func TestLatency(t *testing.T) {
	n := optIn(t, "FACED_LATENCY")
	e := newEnv(t, "")
	refPhoto, _ := reference(t)
	e.start()
	e.idle(time.Minute)
	var lat []time.Duration
	for i := range n {
		p := filepath.Join(e.photos, fmt.Sprintf("l%03d.jpg", i))
		begin := time.Now()
		copyFile(t, refPhoto, p)
		e.waitFor("sidecar", time.Minute, func() bool { _, err := os.Stat(p + ".xmp"); return err == nil })
		lat = append(lat, time.Since(begin))
		e.idle(time.Minute)
	}
	e.stop()
	for i := range n {
		if sha(t, filepath.Join(e.photos, fmt.Sprintf("l%03d.jpg", i))) != sha(t, refPhoto) {
			t.Errorf("photo l%03d.jpg was modified", i)
		}
	}
	t.Logf("landing -> sidecar over %d photos (784x588, settle time 1 s): p50 %v, p95 %v, max %v",
		n, percentile(lat, 0.5).Round(time.Millisecond), percentile(lat, 0.95).Round(time.Millisecond),
		percentile(lat, 1).Round(time.Millisecond))
}

// TestThroughput12MP runs `faced run --once` on FACED_12MP photos of 12 MP
// in two sets: "crowded", the group photos (4.3 faces each), and
// "few-faces", the photos with 0-3 faces that the analyzer's
// BenchmarkAnalyze12MPFewFaces uses (PhotoPrism's personal photos and four
// group photos), typical of a family library. Both are upscaled to 12 MP at
// JPEG quality 90 by analyzer.Upscale12MPGrain; FACED_12MP_GRAIN=σ adds
// Gaussian grain so that the files weigh what camera photos do (upscaled
// photos are ~1 MB, a 12 MP phone photo 2-5 MB, and JPEG decoding time
// follows the file size). Each set cycles over its photos.
func TestThroughput12MP(t *testing.T) {
	n := optIn(t, "FACED_12MP")
	grain := 0.0
	if v := os.Getenv("FACED_12MP_GRAIN"); v != "" {
		g, err := strconv.ParseFloat(v, 64)
		if err != nil || g < 0 {
			t.Fatalf("FACED_12MP_GRAIN=%q: want a number ≥ 0", v)
		}
		grain = g
	}
	for _, set := range []struct {
		name  string
		files func(*testing.T) []string
	}{
		{"crowded", groupPhotos},
		{"few-faces", fewFacePhotos},
	} {
		t.Run(set.name, func(t *testing.T) {
			src := set.files(t)
			tmp := t.TempDir()
			up := map[string]string{}
			throughput12MP(t, n, func(dst string, i int) {
				f := src[i%len(src)]
				if up[f] == "" {
					p, err := analyzer.Upscale12MPGrain(f, tmp, 90, grain)
					if err != nil {
						t.Fatal(err)
					}
					up[f] = p
				}
				copyFile(t, up[f], dst)
			})
		})
	}
}

// fewFacePhotos lists the photos with 0 to 3 faces, as the analyzer's
// benchmarks choose them (analyzer/bench_test.go).
func fewFacePhotos(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(shared.Dir(t, "testdata/photos/photoprism_face_testdata"), "*.jpg"))
	sort.Strings(files)
	g := shared.Dir(t, "testdata/photos/group")
	for _, f := range []string{"deepface_couple.jpg", "face_recognition_kit_with_rose.jpg", "face_recognition_obama_and_biden.jpg", "face_recognition_two_people.jpg"} {
		files = append(files, filepath.Join(g, f))
	}
	return files
}

// throughput12MP puts n photos made by mk into a fresh folder, runs
// `faced run --once` on it and logs the figures.
func throughput12MP(t *testing.T, n int, mk func(dst string, i int)) {
	e := newEnv(t, "")
	for i := range n {
		mk(filepath.Join(e.photos, fmt.Sprintf("m%03d.jpg", i)), i)
	}
	begin := time.Now()
	cmd := exec.Command(e.faced, "run", "--once", "--config", e.cfg)
	out, err := cmd.CombinedOutput()
	took := time.Since(begin)
	if err != nil {
		t.Fatalf("faced run --once: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("analysed %d, failed 0", n)) {
		t.Errorf("summary does not report %d analysed, 0 failed:\n%s", n, tail(e.log)+string(out))
	}
	for i := range n {
		p := filepath.Join(e.photos, fmt.Sprintf("m%03d.jpg", i))
		if _, err := os.Stat(p + ".xmp"); err != nil {
			t.Errorf("no sidecar for %s", p)
		}
	}
	open, run := onceTimes(t, string(out))
	cpu, rss := time.Duration(-1), -1.0
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		rss = float64(ru.Maxrss) / 1024 // KiB on Linux
	}
	faces, idle := "?", "?"
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "index: "); ok {
			faces, _, _ = strings.Cut(rest, " faces")
		}
		if rest, ok := strings.CutPrefix(line, "workers idle "); ok {
			idle, _, _ = strings.Cut(rest, " ")
		}
	}
	t.Logf("%d photos of 12 MP (%s faces in all) with `faced run --once`, models loaded included: %v, %.2f photos/s; "+
		"start-up and exit %v (of it index and models opened in %v), without them %.2f photos/s; "+
		"process CPU %.1f ms/photo (user+sys, start-up included); peak RSS %.0f MiB; workers idle %s",
		n, faces, took.Round(time.Millisecond), float64(n)/took.Seconds(), (took - run).Round(time.Millisecond), open.Round(time.Millisecond),
		float64(n)/run.Seconds(), float64(cpu.Microseconds())/1e3/float64(n), rss, idle)
}

// onceTimes reads, from `faced run --once`'s output, the time taken to open
// the index and the models and the run's duration (scan, analyses,
// clustering, export).
func onceTimes(t *testing.T, out string) (open, run time.Duration) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "faced ") {
			continue
		}
		i := strings.LastIndex(line, " in ")
		if i < 0 {
			continue
		}
		d, err := time.ParseDuration(line[i+4:])
		if err != nil {
			continue
		}
		if strings.Contains(line, ": started in ") {
			open = d
		} else {
			run = d
		}
	}
	if open <= 0 || run <= 0 {
		t.Errorf("no start-up or run time in the output of faced run --once:\n%s", out)
	}
	return open, run
}
