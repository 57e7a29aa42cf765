package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faced/faced/internal/shared"
	"github.com/faced/faced/internal/tmpfs"
)

// faced on a data disk too full for SQLite to open the index exited with
// "data disk full" (and under SysV stayed down). It now waits: facedctl
// status answers with the error meanwhile, and once space returns faced
// opens the index and does its work with no restart.
func TestStartOnFullDataDisk(t *testing.T) {
	e := newEnv(t, "")
	tmpfs.MountAt(t, e.data, 24<<20)
	if err := os.Symlink(filepath.Join(shared.DataDir(t), "models"), filepath.Join(e.data, "models")); err != nil {
		t.Fatal(err)
	}
	photo := filepath.Join(e.photos, "p.jpg")
	copyFile(t, filepath.Join(shared.Dir(t, "testdata/photos/exif_orientation"), "pillow_hopper.jpg"), photo)
	free := tmpfs.Fill(t, e.data)
	e.start() // waits for the API to answer: faced did not exit
	st, code := e.status()
	p, ok := hasProblem(st, "data_disk_full")
	if code != 0 || !st.Running || !ok || st.Idle {
		t.Fatalf("status on a full data disk: exit %d, running %v, problems %+v, idle %v; want the data disk full error", code, st.Running, st.Problems, st.Idle)
	}
	out, _ := exec.Command(e.facedctl, "--config", e.cfg, "status").CombinedOutput()
	t.Logf("facedctl status while full:\n%s\n(error: %s)", head(string(out), 8), p.Error)
	if !strings.Contains(string(out), "ERROR data disk full: the index cannot be opened") {
		t.Errorf("facedctl status lacks the error:\n%s", out)
	}
	if _, err := os.Stat(photo + ".xmp"); err == nil {
		t.Fatal("a sidecar was written before the index could be opened")
	}
	free()
	begin := time.Now()
	e.waitFor("the photo's sidecar once space returned", 90*time.Second, func() bool {
		_, err := os.Stat(photo + ".xmp")
		return err == nil
	})
	st = e.idle(time.Minute)
	t.Logf("index opened and the photo exported %v after space returned", time.Since(begin).Round(time.Millisecond))
	if _, ok := hasProblem(st, "data_disk_full"); ok || st.Files.Done != 1 {
		t.Errorf("after space returned: problems %+v, files %+v", st.Problems, st.Files)
	}
	if _, err := e.client().Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.stop()
}
