package index

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faced/faced/face"
)

const crashChildEnv = "FACED_INDEX_CRASH_CHILD"

func TestMain(m *testing.M) {
	if db := os.Getenv(crashChildEnv); db != "" {
		if err := crashChild(db); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	code := m.Run()
	if fixtureOnce.dir != "" { // benchmark fixtures (hundreds of MB)
		os.RemoveAll(fixtureOnce.dir)
	}
	os.Exit(code)
}

// expectedFaces is the deterministic analysis of a fake path: 1..3 faces.
func expectedFaces(path string) []face.Face {
	h := fnv.New64a()
	h.Write([]byte(path))
	s := h.Sum64()
	fs := make([]face.Face, 1+s%3)
	for i := range fs {
		f := mkFace(float64(200*i), 0, 100, s+uint64(i))
		f.Features = unitVec(s+uint64(i), 256)
		fs[i] = f
	}
	return fs
}

// crashChild works the queue of db until it is empty, printing one line per
// committed item; the parent kills it with SIGKILL at random points.
func crashChild(db string) error {
	ctx := context.Background()
	ix, err := Open(ctx, db)
	if err != nil {
		return err
	}
	if _, _, err := ix.RecoverLeases(ctx, 0); err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	for {
		items, err := ix.Lease(ctx, fmt.Sprintf("child-%d", os.Getpid()), 8)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return ix.Close()
		}
		for _, it := range items {
			res := face.Result{File: it.Path, Kind: face.KindPhoto, Width: 1000, Height: 800, StoredWidth: 1000,
				StoredHeight: 800, Orientation: 1, Faces: expectedFaces(it.Path), Model: "crash-test"}
			_, _, err := ix.RecordAnalysis(ctx, Analysis{Item: &it,
				File: File{Path: it.Path, Size: 123, ModTime: time.Unix(1_700_000_000, 0), Hash: "h" + it.Path}, Result: res})
			if err != nil {
				return err
			}
			fmt.Fprintln(out, "done", it.Path)
			out.Flush()
		}
	}
}

// checkNothingLost asserts that every path is done or still queued, never
// both, and returns how many are done.
func checkNothingLost(t *testing.T, db string, paths []string) int {
	t.Helper()
	ctx := context.Background()
	ix, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if err := ix.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	var fkProblems int
	if err := ix.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM pragma_foreign_key_check").Scan(&fkProblems); err != nil || fkProblems != 0 {
		t.Fatalf("foreign_key_check: %d problems (%v)", fkProblems, err)
	}
	queued := map[string]bool{}
	rows, err := ix.r.QueryContext(ctx, "SELECT path FROM queue")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p string
		rows.Scan(&p)
		queued[p] = true
	}
	rows.Close()
	done := 0
	for _, p := range paths {
		f, err := ix.FileByPath(ctx, p)
		switch {
		case errors.Is(err, ErrNotFound):
			if !queued[p] {
				t.Fatalf("%s is neither analysed nor queued: lost", p)
			}
		case err != nil:
			t.Fatal(err)
		default:
			if queued[p] {
				t.Fatalf("%s is analysed and still queued", p)
			}
			if f.Status != StatusDone || f.Analyses != 1 {
				t.Fatalf("%s: status %s after %d committed analyses, want done once", p, f.Status, f.Analyses)
			}
			recs, err := ix.Faces(ctx, FaceQuery{FileID: f.ID})
			if err != nil {
				t.Fatal(err)
			}
			want := expectedFaces(p)
			if len(recs) != len(want) {
				t.Fatalf("%s: %d faces, want %d", p, len(recs), len(want))
			}
			for i, r := range recs {
				if r.Box != want[i].Box || r.Features[100] != want[i].Features[100] {
					t.Fatalf("%s: face %d differs from the analysis", p, i)
				}
			}
			done++
		}
	}
	return done
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "faces.db")
	ix, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	var entries []QueueEntry
	for i := range 300 {
		p := fmt.Sprintf("/photos/%03d.jpg", i)
		paths = append(paths, p)
		entries = append(entries, QueueEntry{Path: p, Reason: "new"})
	}
	if n, err := ix.EnqueueMany(ctx, entries); err != nil || n != len(paths) {
		t.Fatalf("enqueue: %d, %v", n, err)
	}
	ix.Close()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	prevDone, kills := 0, 0
	for round := 0; ; round++ {
		final := round >= 8
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+db)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		killAfter := 5 + rng.IntN(30)
		seen := 0
		for sc.Scan() {
			seen++
			if !final && seen == killAfter {
				// Land anywhere in the next transaction.
				time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				kills++
				break
			}
		}
		go func() { // drain, so the child never blocks on a full pipe
			for sc.Scan() {
			}
		}()
		err = cmd.Wait()
		if final {
			if err != nil {
				t.Fatalf("final child: %v\n%s", err, stderr.String())
			}
		} else if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || !strings.Contains(err.Error(), "killed") {
			if err == nil {
				// It finished all work before being killed: fine, but stop.
				final = true
			} else {
				t.Fatalf("round %d child: %v\n%s", round, err, stderr.String())
			}
		}
		done := checkNothingLost(t, db, paths)
		if done < prevDone {
			t.Fatalf("round %d: %d files done, fewer than %d before", round, done, prevDone)
		}
		t.Logf("round %d: %d lines seen, %d files done", round, seen, done)
		prevDone = done
		if final {
			break
		}
	}
	if prevDone != len(paths) {
		t.Fatalf("%d of %d files done after the final round", prevDone, len(paths))
	}
	if kills < 3 {
		t.Fatalf("only %d children were killed mid-batch", kills)
	}
	ix, err = Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if w, l, _ := ix.QueueLen(ctx); w+l != 0 {
		t.Fatalf("queue not empty: %d waiting, %d leased", w, l)
	}
}

func TestQueueSemantics(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t)
	n, err := ix.EnqueueMany(ctx, []QueueEntry{{"/a", "new"}, {"/b", "new"}, {"/a", "again"}, {"/c", "new"}})
	if err != nil || n != 3 {
		t.Fatalf("enqueue: %d new, %v; want 3", n, err)
	}
	if n, _ := ix.EnqueueMany(ctx, []QueueEntry{{"/b", "changed"}}); n != 0 {
		t.Fatal("duplicate counted as new")
	}
	items, err := ix.Lease(ctx, "w1", 2)
	if err != nil || len(items) != 2 || items[0].Path != "/a" || items[1].Path != "/b" || items[0].Attempts != 1 {
		t.Fatalf("lease: %+v, %v", items, err)
	}
	if w, l, _ := ix.QueueLen(ctx); w != 1 || l != 2 {
		t.Fatalf("queue %d waiting %d leased", w, l)
	}
	more, _ := ix.Lease(ctx, "w2", 5)
	if len(more) != 1 || more[0].Path != "/c" {
		t.Fatalf("second lease got %+v, want only /c", more)
	}
	// /a changes while leased: completing the lease keeps it for another round.
	ix.Enqueue(ctx, "/a", "changed")
	if err := ix.Done(ctx, items[0]); err != nil {
		t.Fatal(err)
	}
	if err := ix.Done(ctx, items[0]); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("second Done: %v", err)
	}
	if err := ix.Fail(ctx, items[1], errors.New("not a JPEG")); err != nil {
		t.Fatal(err)
	}
	if err := ix.Requeue(ctx, more[0]); err != nil {
		t.Fatal(err)
	}
	again, _ := ix.Lease(ctx, "w1", 5)
	if len(again) != 2 || again[0].Path != "/a" || again[1].Path != "/c" || again[1].Attempts != 1 {
		t.Fatalf("after done/fail/requeue: %+v", again)
	}
	// A crash: leases come back; the old lease holder can no longer commit.
	rel, failed, err := ix.RecoverLeases(ctx, 0)
	if err != nil || rel != 2 || failed != 0 {
		t.Fatalf("recover: %d %d %v", rel, failed, err)
	}
	if _, _, err := ix.RecordAnalysis(ctx, Analysis{Item: &again[0], Result: face.Result{File: "/a"}}); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("commit after recovery: %v", err)
	}
	if _, err := ix.FileByPath(ctx, "/a"); !errors.Is(err, ErrNotFound) {
		t.Fatal("a lost lease wrote its analysis")
	}
	st, _ := ix.Stats(ctx, 5)
	if st.Files[StatusFailed] != 1 || len(st.Errors) != 1 || st.Errors[0].Path != "/b" || st.Errors[0].Error != "not a JPEG" ||
		st.QueueWaiting != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestPoisonItemGivesUp(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t)
	ix.Enqueue(ctx, "/crash.jpg", "new")
	ix.Enqueue(ctx, "/fine.jpg", "new")
	for range 3 { // three crashes while holding /crash.jpg
		items, _ := ix.Lease(ctx, "w", 1)
		if len(items) != 1 || items[0].Path != "/crash.jpg" {
			t.Fatalf("lease %+v", items)
		}
		if _, failed, err := ix.RecoverLeases(ctx, 3); err != nil || (failed != 0) != (items[0].Attempts >= 3) {
			t.Fatalf("recover after attempt %d: failed %d, %v", items[0].Attempts, failed, err)
		}
	}
	f, err := ix.FileByPath(ctx, "/crash.jpg")
	if err != nil || f.Status != StatusFailed || !strings.Contains(f.Error, "3 attempts") {
		t.Fatalf("poison file %+v, %v", f, err)
	}
	items, _ := ix.Lease(ctx, "w", 5)
	if len(items) != 1 || items[0].Path != "/fine.jpg" {
		t.Fatalf("queue after giving up: %+v", items)
	}
}
