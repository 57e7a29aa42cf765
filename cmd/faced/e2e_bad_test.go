package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBadInput(t *testing.T) {
	e := newEnv(t, "")
	refPhoto, refFaces := reference(t)
	group := groupPhotos(t)
	good := filepath.Join(e.photos, "good.jpg")
	copyFile(t, refPhoto, good)
	e.start()
	e.waitFor("the first sidecar", time.Minute, func() bool { _, ok := sidecarFaces(t, good+".xmp"); return ok })

	data, _ := os.ReadFile(refPhoto)
	bad := map[string]string{} // file -> what the reason must mention (lower case), "" = any
	write := func(name string, b []byte) string {
		p := filepath.Join(e.photos, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad[write("truncated.jpg", data[:len(data)*6/10])] = ""
	bad[write("zero.jpg", nil)] = "empty"
	bad[write("text.jpg", []byte("this is a text file, not a photo\n"))] = ""
	loop := filepath.Join(e.photos, "loop.jpg")
	if err := os.Symlink("loop.jpg", loop); err != nil {
		t.Fatal(err)
	}
	bad[loop] = ""
	if os.Geteuid() != 0 {
		p := write("unreadable.jpg", data)
		os.Chmod(p, 0)
		bad[p] = "permission"
	} else {
		t.Log("running as root: the unreadable-file case cannot be made and is skipped")
	}
	// A good photo next to a sidecar that is not XMP: the sidecar is left
	// alone and status says why.
	withBad := write("withbad.jpg", data)
	corrupt := []byte("<x:xmpmeta><rdf:RDF>broken")
	if err := os.WriteFile(withBad+".xmp", corrupt, 0o644); err != nil {
		t.Fatal(err)
	}
	bad[withBad] = "sidecar"
	// Odd but valid names are processed like any other.
	odd := []string{write("new\nline.jpg", data), write("bad\xff\xfeutf8.jpg", data)}

	// A file deleted while queued: a burst of larger photos in front of it.
	var burst []string
	for i := range 8 {
		p := filepath.Join(e.photos, fmt.Sprintf("q%02d.jpg", i))
		copyFile(t, group[i%len(group)], p)
		burst = append(burst, p)
	}
	deleted := write("zz_deleted.jpg", data)
	// Delete it once the daemon has queued it (its log says so), not
	// before: a file removed before the watcher emits it was never queued.
	e.waitFor("zz_deleted.jpg to be queued", time.Minute, func() bool { return e.logged("queued")[deleted] > 0 })
	if e.analyses()[deleted] > 0 {
		t.Fatalf("zz_deleted.jpg was analysed before it could be deleted: the burst in front of it was too short")
	}
	if err := os.Remove(deleted); err != nil {
		t.Fatal(err)
	}
	bad[deleted] = "deleted"

	st := e.idle(3 * time.Minute)
	if _, err := e.client().Status(context.Background()); err != nil {
		t.Fatalf("daemon died: %v", err)
	}
	reasons := map[string]string{}
	for _, fe := range st.Errors {
		reasons[fe.File] = fe.Reason
	}
	for p, want := range bad {
		r, ok := reasons[p]
		if !ok {
			// JSON turns invalid UTF-8 into U+FFFD; all names here are valid.
			t.Errorf("status does not list %q; errors: %q", p, reasons)
			continue
		}
		if r == "" || !strings.Contains(strings.ToLower(r), want) {
			t.Errorf("%s: reason %q, want it to mention %q", filepath.Base(p), r, want)
		}
		t.Logf("%-16q %s", filepath.Base(p), r)
		if p == withBad {
			continue
		}
		if _, err := os.Lstat(p + ".xmp"); err == nil {
			t.Errorf("a sidecar was written for bad input %s", p)
		}
	}
	if b, _ := os.ReadFile(withBad + ".xmp"); string(b) != string(corrupt) {
		t.Errorf("the corrupted sidecar was changed: %q", b)
	}
	for _, p := range append(odd, good) {
		got, ok := sidecarFaces(t, p+".xmp")
		if !ok {
			t.Errorf("no sidecar for %q", p)
			continue
		}
		sameFaces(t, filepath.Base(p), got, refFaces)
	}
	for _, p := range burst {
		if _, ok := sidecarFaces(t, p+".xmp"); !ok {
			t.Errorf("no sidecar for %s", p)
		}
	}
	// facedctl retry queues the failed files again; they fail again for
	// the same reasons and the daemon stays up.
	out, err := exec.Command(e.facedctl, "--config", e.cfg, "retry").CombinedOutput()
	if want := fmt.Sprintf("requeued %d failed files", st.Files.Failed); err != nil || !strings.Contains(string(out), want) {
		t.Errorf("facedctl retry: %v %q, want %q", err, out, want)
	}
	e.waitFor("the retried files to fail again", time.Minute, func() bool {
		st2, err := e.client().Status(context.Background())
		return err == nil && st2.Idle && st2.Queue == 0 && st2.Files.Failed == st.Files.Failed
	})
	e.stop()
	for _, p := range append(odd, good, withBad) {
		if sha(t, p) != sha(t, refPhoto) {
			t.Errorf("photo %q was modified", p)
		}
	}
	for i, p := range burst {
		if sha(t, p) != sha(t, group[i%len(group)]) {
			t.Errorf("photo %s was modified", p)
		}
	}
}
