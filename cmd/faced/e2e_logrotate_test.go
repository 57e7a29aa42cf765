package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faced/faced/daemon/service"
	"github.com/faced/faced/internal/shared"
)

// The SysV service's log (start-stop-daemon --output, opened as root) was
// never rotated. The package's logrotate configuration
// (packaging/deb/faced.logrotate) run by Debian's logrotate against the log
// of faced started by its init script, as the unprivileged user the
// script starts it as: the lines so far move to faced.log.1, then
// faced.log.2.gz, and faced keeps logging at the start of the emptied
// faced.log (copytruncate; its descriptor is O_APPEND, so no NUL hole).
func TestSysVLogRotation(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: the init script starts faced with start-stop-daemon --chuid")
	}
	for _, tool := range []string{"start-stop-daemon", "logrotate"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/setup.sh installs logrotate): %v", tool, err)
		}
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	e := newEnv(t, fmt.Sprintf("ORTLibrary = %s\n",
		filepath.Join(shared.VarDir(), "lib", "libonnxruntime.so.1.24.1")))
	// nobody runs faced: its binary, models (copied: the shared ones are
	// root's), DataDirectory and photo folder.
	if err := os.Chmod(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	faced := filepath.Join(e.dir, "faced")
	copyFile(t, e.faced, faced)
	os.Chmod(faced, 0o755)
	models := filepath.Join(e.data, "models")
	installed, err := os.Readlink(models)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(models)
	os.MkdirAll(models, 0o700)
	ents, err := os.ReadDir(installed)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range ents {
		copyFile(t, filepath.Join(installed, en.Name()), filepath.Join(models, en.Name()))
	}
	for _, d := range []string{e.data, e.photos} {
		filepath.Walk(d, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, uid, gid) })
	}

	name := fmt.Sprintf("faced-logrotate-%d", os.Getpid())
	logDir := filepath.Join(e.dir, "log")
	script, err := service.SysVScript(service.SysV{Name: name, Executable: faced, ConfigPath: e.cfg, User: "nobody", LogDir: logDir})
	if err != nil {
		t.Fatal(err)
	}
	sp := filepath.Join(e.dir, name)
	if err := os.WriteFile(sp, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	initd := func(arg string) {
		t.Helper()
		if out, err := exec.Command(sp, arg).CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, arg, err, out)
		}
	}
	initd("start")
	t.Cleanup(func() { exec.Command(sp, "stop").Run() })
	log := filepath.Join(logDir, name+".log")
	read := func(p string) string {
		b, _ := os.ReadFile(p)
		return string(b)
	}
	e.log = log // for waitFor's tail
	e.waitFor("faced's start-up reconciliation in the log", 60*time.Second, func() bool {
		return strings.Contains(read(log), "reconciliation done")
	})

	// The package's configuration, pointed at this log.
	conf, err := os.ReadFile(filepath.Join(shared.Root(), "packaging", "deb", "faced.logrotate"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(conf, []byte("/var/log/faced/faced.log {")) {
		t.Fatalf("faced.logrotate does not name /var/log/faced/faced.log:\n%s", conf)
	}
	confPath, state := filepath.Join(e.dir, "logrotate.conf"), filepath.Join(e.dir, "logrotate.state")
	if err := os.WriteFile(confPath, bytes.ReplaceAll(conf, []byte("/var/log/faced/faced.log"), []byte(log)), 0o644); err != nil {
		t.Fatal(err)
	}
	rotate := func() {
		t.Helper()
		// --force: rotate now, as the weekly run (or maxsize) would.
		if out, err := exec.Command("logrotate", "--verbose", "--force", "--state", state, confPath).CombinedOutput(); err != nil {
			t.Fatalf("logrotate: %v\n%s", err, out)
		}
	}
	before := read(log)
	rotate()
	if got := read(log + ".1"); !strings.Contains(got, "faced starting") || !strings.HasPrefix(got, before) {
		t.Fatalf("%s.1 does not hold the log so far:\n%s", filepath.Base(log), head(got, 2000))
	}

	// faced keeps logging, into the emptied faced.log.
	photo := filepath.Join(e.photos, "after-rotation.jpg")
	copyFile(t, filepath.Join(shared.Dir(t, "testdata/photos/exif_orientation"), "pillow_hopper.jpg"), photo)
	os.Lchown(photo, uid, gid)
	e.waitFor("faced to log the photo added after the rotation", 60*time.Second, func() bool {
		return strings.Contains(read(log), "after-rotation.jpg")
	})
	now := read(log)
	if i := strings.IndexByte(now, 0); i >= 0 {
		t.Fatalf("faced wrote past a hole of NUL bytes (at %d) after the truncation: its log is not O_APPEND", i)
	}
	if !strings.HasPrefix(now, "time=") || strings.Contains(now, "faced starting") {
		t.Errorf("the new %s does not start with faced's new lines:\n%s", filepath.Base(log), head(now, 2000))
	}

	// The next rotation compresses the previous one (delaycompress).
	rotate()
	gz, err := os.Open(log + ".2.gz")
	if err != nil {
		t.Fatalf("second rotation: %v", err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := io.ReadAll(zr)
	if !strings.Contains(string(old), "faced starting") {
		t.Errorf("%s.2.gz does not hold the first lines", filepath.Base(log))
	}
	if !strings.Contains(read(log+".1"), "after-rotation.jpg") {
		t.Errorf("%s.1 does not hold the lines logged after the first rotation", filepath.Base(log))
	}
	initd("stop")
}
