package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faced/faced/api"
	"github.com/faced/faced/index"
	"github.com/faced/faced/internal/shared"
	"github.com/faced/faced/internal/tmpfs"
)

// lfwPhotos returns n LFW photos (small real faces), sorted.
func lfwPhotos(t *testing.T, n int) []string {
	t.Helper()
	dir := shared.Dir(t, "testdata/lfw/images")
	var out []string
	filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err == nil && !de.IsDir() && strings.HasSuffix(p, ".jpg") {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	if len(out) < n {
		t.Skipf("%d LFW photos under %s, need %d", len(out), dir, n)
	}
	return out[:n]
}

// procCPU returns the user+system CPU time of process pid (Linux; 0
// elsewhere).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond // USER_HZ = 100
}

// head returns the first n lines of s.
func head(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	return strings.Join(lines[:min(n, len(lines))], "")
}

func hasProblem(st api.Status, kind string) (api.Problem, bool) {
	for _, p := range st.Problems {
		if p.Kind == kind {
			return p, true
		}
	}
	return api.Problem{}, false
}

// The disk-full scenario, both disks: the data folder and the photo
// library are separate small tmpfs mounts. 200 photos arrive while both are
// full; status shows the errors; space returns on the data disk (the
// analyses are stored, the sidecars fail: library still full), then on the
// library disk. All 200 get their analysis and sidecar with no restart and
// no command, each analysed once, and the index passes integrity_check.
func TestDiskFullBothDisks(t *testing.T) {
	const n = 200
	photos := lfwPhotos(t, n)
	e := newEnv(t, "")
	tmpfs.MountAt(t, e.data, 24<<20)
	tmpfs.MountAt(t, e.photos, 16<<20)
	if err := os.Symlink(filepath.Join(shared.DataDir(t), "models"), filepath.Join(e.data, "models")); err != nil {
		t.Fatal(err)
	}
	// The photos wait in a hidden folder of the library (faced ignores
	// hidden names); a rename brings them in without needing space.
	staging := filepath.Join(e.photos, ".staging")
	for i, src := range photos {
		copyFile(t, src, filepath.Join(staging, fmt.Sprintf("p%03d.jpg", i)))
	}
	e.start()
	pid := e.cmd.Process.Pid
	e.idle(time.Minute)

	freeData := tmpfs.Fill(t, e.data)
	freeLib := tmpfs.Fill(t, e.photos)
	t.Logf("full: data disk %d bytes free, library %d bytes free", tmpfs.Free(e.data), tmpfs.Free(e.photos))
	begin := time.Now()
	lib := filepath.Join(e.photos, "arrived")
	if err := os.Rename(staging, lib); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i := range n {
		paths = append(paths, filepath.Join(lib, fmt.Sprintf("p%03d.jpg", i)))
	}

	var st api.Status
	e.waitFor("status to show the full data disk with the 200 new photos", time.Minute, func() bool {
		var err error
		st, err = e.client().Status(context.Background())
		p, ok := hasProblem(st, "data_disk_full")
		return err == nil && ok && p.Count == n
	})
	if st.Files.Pending != n || st.Files.Done != 0 || st.Idle {
		t.Errorf("while full: files %+v idle %v, want %d pending", st.Files, st.Idle, n)
	}
	held := time.Since(begin)
	out, _ := exec.Command(e.facedctl, "--config", e.cfg, "status").CombinedOutput()
	t.Logf("data disk full (%v after the photos arrived), facedctl status:\n%s", held.Round(time.Millisecond), head(string(out), 12))
	if !strings.Contains(string(out), "ERROR data disk full: 200 new files wait to be queued") {
		t.Errorf("facedctl status while the data disk is full lacks the error:\n%s", out)
	}
	cpu0 := procCPU(pid)
	time.Sleep(3 * time.Second) // retries fail meanwhile
	t.Logf("faced CPU while the data disk stayed full: %v over 3 s", procCPU(pid)-cpu0)

	// Space returns on the data disk: analyses are stored; sidecars fail.
	freeData()
	spaceData := time.Now()
	e.waitFor("status to show 200 failing sidecars", 3*time.Minute, func() bool {
		var err error
		st, err = e.client().Status(context.Background())
		p, ok := hasProblem(st, "sidecar_writes_failing")
		return err == nil && ok && p.Count == n && st.Files.Done == n
	})
	if _, ok := hasProblem(st, "data_disk_full"); ok {
		t.Errorf("data_disk_full still shown after space returned: %+v", st.Problems)
	}
	if st.Files.SidecarFailed != n {
		t.Errorf("files %+v, want %d without sidecar", st.Files, n)
	}
	analysed := time.Since(spaceData)
	out, _ = exec.Command(e.facedctl, "--config", e.cfg, "status").CombinedOutput()
	t.Logf("data disk freed: 200 analysed and stored in %v; library full, facedctl status:\n%s", analysed.Round(time.Millisecond), head(string(out), 12))

	if !strings.Contains(string(out), "200 without sidecar (writes failing)") ||
		!strings.Contains(string(out), "ERROR sidecar writes failing: 200 files") {
		t.Errorf("facedctl status while the library is full lacks the error:\n%s", out)
	}

	// Space returns on the library disk: the backoff retry writes them.
	freeLib()
	spaceLib := time.Now()
	e.waitFor("all 200 sidecars", 2*time.Minute, func() bool {
		for _, p := range paths {
			if _, err := os.Stat(p + ".xmp"); err != nil {
				return false
			}
		}
		return true
	})
	written := time.Since(spaceLib)
	st = e.idle(time.Minute)
	t.Logf("library freed: 200 sidecars written %v later; total %v from arrival", written.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))

	if st.PID != pid {
		t.Errorf("faced restarted (pid %d, was %d)", st.PID, pid)
	}
	if st.Files.Done != n || st.Files.Failed != 0 || st.Queue != 0 || len(st.Problems) != 0 || st.Files.SidecarFailed != 0 {
		t.Errorf("after recovery: files %+v queue %d problems %+v", st.Files, st.Queue, st.Problems)
	}
	counts := e.analyses()
	total := 0
	for i, p := range paths {
		if c := counts[p]; c != 1 {
			t.Errorf("%s analysed %d times, want 1", p, c)
		}
		got, ok := sidecarFaces(t, p+".xmp")
		if !ok {
			t.Errorf("no readable sidecar for %s", p)
		}
		total += len(got)
		if sha(t, p) != sha(t, photos[i]) {
			t.Errorf("photo %s was modified", p)
		}
	}
	t.Logf("after recovery: %d done, %d faces, %d persons, %d sidecar regions", st.Files.Done, st.Faces, st.Persons, total)
	e.stop()

	ix, err := index.OpenReadOnly(context.Background(), filepath.Join(e.data, "faces.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	// Every sidecar is current: the index has no export pending (which
	// regions a sidecar holds is the exporter's policy).
	if pend, err := ix.FilesNeedingExport(context.Background(), n); err != nil || len(pend) != 0 {
		t.Errorf("%d sidecars still pending after recovery (%v)", len(pend), err)
	}
	if err := ix.IntegrityCheck(context.Background()); err != nil {
		t.Error(err)
	} else {
		t.Log("PRAGMA integrity_check: ok")
	}
}
