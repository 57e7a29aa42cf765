package main

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faced/faced/internal/shared"
)

// The daemon runs under strace (file syscalls of every thread and child,
// exiftool included) through a session that meets every kind of path:
// photos present at start and copied in, a video, a link inside the
// library, links leading out (to /etc/shadow, to a photo outside, to a
// folder outside), a FIFO, `facedctl scan` of the folder link, a rename.
// No write may land outside the library and DataDirectory; nothing
// outside is read as a photo; DataDirectory ends private.
func TestEndToEndConfinedWrites(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace not installed (scripts/setup.sh installs it)")
	}
	e := newEnv(t, "")
	refPhoto, _ := reference(t)
	group := groupPhotos(t)
	outside := filepath.Join(e.dir, "outside")
	copyFile(t, refPhoto, filepath.Join(outside, "secret.jpg"))
	copyFile(t, group[0], filepath.Join(outside, "dir", "other.jpg"))
	copyFile(t, refPhoto, filepath.Join(e.photos, "a.jpg"))
	copyFile(t, group[0], filepath.Join(e.photos, "sub", "g.jpg"))
	links := map[string]string{
		"in.jpg":     "a.jpg",                                      // inside -> inside: works
		"shadow.jpg": "/etc/shadow",                                // out
		"out.jpg":    filepath.Join(outside, "secret.jpg"),         // out
		"LINK":       filepath.Join(outside, "dir"),                // folder out
		"rel.jpg":    filepath.Join("..", "outside", "secret.jpg"), // out, relative
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(e.photos, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(e.photos, "fifo.jpg"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("ffmpeg"); err == nil {
		clip := filepath.Join(shared.Dir(t, "testdata/photos/video"), "face_recognition_short_hamilton_clip.mp4")
		if out, err := exec.Command("ffmpeg", "-v", "error", "-i", clip, "-t", "2", "-an", "-c:v", "libx264",
			"-preset", "ultrafast", filepath.Join(e.photos, "clip.mp4")).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
	}
	// A video FFmpeg cannot open: OpenCV then tries GStreamer, which wrote
	// its registry cache to $HOME/.cache. A fresh HOME shows any such write.
	if err := os.WriteFile(filepath.Join(e.photos, "broken.avi"), []byte("RIFF\x00\x00\x00\x00AVI LIST not a real video"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", filepath.Join(e.dir, "home"))
	t.Setenv("XDG_CACHE_HOME", "")
	trace := filepath.Join(e.dir, "strace.txt")
	e.wrap = []string{"strace", "-f", "-qq", "-y", "-e", "trace=%file", "-o", trace}
	e.start()

	e.waitFor("the broken video's failure", 2*time.Minute, func() bool {
		st, err := e.client().Status(context.Background())
		if err != nil {
			return false
		}
		for _, fe := range st.Errors {
			if strings.HasSuffix(fe.File, "broken.avi") {
				return true
			}
		}
		return false
	})
	inside := []string{"a.jpg", "sub/g.jpg", "in.jpg"}
	if _, err := os.Stat(filepath.Join(e.photos, "clip.mp4")); err == nil {
		inside = append(inside, "clip.mp4")
	}
	for _, p := range inside {
		p := filepath.Join(e.photos, p)
		e.waitFor("sidecar of "+p, 2*time.Minute, func() bool { _, err := os.Stat(p + ".xmp"); return err == nil })
	}
	copyFile(t, group[1], filepath.Join(e.photos, "later", "copied.jpg"))
	e.waitFor("sidecar of the copied photo", time.Minute, func() bool {
		_, err := os.Stat(filepath.Join(e.photos, "later", "copied.jpg.xmp"))
		return err == nil
	})
	// facedctl scan LINK is refused; a scan of the library finds nothing new.
	out, err := exec.Command(e.facedctl, "--config", e.cfg, "scan", filepath.Join(e.photos, "LINK")).CombinedOutput()
	if err == nil {
		t.Errorf("facedctl scan LINK succeeded:\n%s", out)
	}
	t.Logf("facedctl scan LINK: %v: %s", err, strings.TrimSpace(string(out)))
	if out, err := exec.Command(e.facedctl, "--config", e.cfg, "scan").CombinedOutput(); err != nil {
		t.Errorf("facedctl scan: %v\n%s", err, out)
	}
	if err := os.Rename(filepath.Join(e.photos, "a.jpg"), filepath.Join(e.photos, "renamed.jpg")); err != nil {
		t.Fatal(err)
	}
	e.waitFor("sidecar of the renamed photo", time.Minute, func() bool {
		_, err := os.Stat(filepath.Join(e.photos, "renamed.jpg.xmp"))
		return err == nil
	})
	st := e.idle(time.Minute)
	reasons := map[string]string{}
	for _, fe := range st.Errors {
		reasons[filepath.Base(fe.File)] = fe.Reason
	}
	for _, n := range []string{"shadow.jpg", "out.jpg", "rel.jpg"} {
		if !strings.Contains(reasons[n], "outside") {
			t.Errorf("status does not report %s as leading outside: %q", n, reasons[n])
		}
	}
	t.Logf("status errors: %q", reasons)

	// Stop faced (strace's child) with SIGTERM; strace exits with it.
	pid := tracedChild(t, e.cmd.Process.Pid)
	syscall.Kill(pid, syscall.SIGTERM)
	select {
	case err := <-e.exited:
		if err != nil {
			t.Errorf("faced under strace exited with %v\n%s", err, tail(e.log))
		}
	case <-time.After(20 * time.Second):
		e.cmd.Process.Kill()
		t.Fatal("faced did not stop within 20 s of SIGTERM")
	}
	e.cmd = nil

	// Nothing written outside the library and DataDirectory.
	wd, _ := os.Getwd() // faced's working folder
	writes, failed := tracedWrites(t, trace, wd)
	var bad []string
	for _, w := range writes {
		if !within(w.path, e.photos) && !within(w.path, e.data) {
			bad = append(bad, w.String()+"\n    "+w.line)
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d writes outside the library and DataDirectory:\n%s", len(bad), strings.Join(bad, "\n"))
	}
	t.Logf("written paths (%d calls, %d paths):\n%s", len(writes), len(summarise(writes, e)), strings.Join(summarise(writes, e), "\n"))
	if len(failed) > 0 {
		t.Logf("failed write attempts:\n%s", strings.Join(failed, "\n"))
	}
	// Nothing outside got a sidecar; the inside link did.
	filepath.WalkDir(outside, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".xmp") {
			t.Errorf("sidecar written outside the library: %s", p)
		}
		return nil
	})
	// DataDirectory is private: the folder 0700, its files 0600.
	var modes []string
	filepath.WalkDir(e.data, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(e.data, p)
		modes = append(modes, fmt.Sprintf("%v %s", fi.Mode(), rel))
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
		case fi.IsDir() && fi.Mode().Perm() != 0o700, !fi.IsDir() && fi.Mode().Perm()&0o077 != 0:
			t.Errorf("%s is %v: readable by others", rel, fi.Mode())
		}
		return nil
	})
	t.Logf("DataDirectory after the run:\n%s", strings.Join(modes, "\n"))
}

// tracedChild returns the pid of strace's (pid's) child: faced.
func tracedChild(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		t.Fatal("strace has no child")
	}
	c, _ := strconv.Atoi(f[0])
	return c
}

type write struct {
	pid     string
	syscall string
	path    string
	line    string // strace's line
}

func (w write) String() string { return w.syscall + " " + w.path + " (pid " + w.pid + ")" }

var (
	straceLine       = regexp.MustCompile(`^(\d+) +([a-z0-9_]+)\((.*)\) += (-?\d+)`)
	straceUnfinished = regexp.MustCompile(`^(\d+) +(.*?) *<unfinished \.\.\.>$`)
	straceResumed    = regexp.MustCompile(`^(\d+) +<\.\.\. [a-z0-9_]+ resumed>(.*)$`)
	straceArg        = regexp.MustCompile(`(?:(AT_FDCWD|\d+)<((?:[^>\\]|\\.)*)>, )?"((?:[^"\\]|\\.)*)"`)
	// Syscalls that change the file system at their path arguments.
	writeCalls = map[string]bool{"mkdir": true, "mkdirat": true, "unlink": true, "unlinkat": true, "rmdir": true,
		"rename": true, "renameat": true, "renameat2": true, "link": true, "linkat": true, "symlink": true, "symlinkat": true,
		"chmod": true, "fchmodat": true, "fchmodat2": true, "chown": true, "lchown": true, "fchownat": true, "truncate": true,
		"mknod": true, "mknodat": true, "utimes": true, "utime": true, "utimensat": true, "setxattr": true, "lsetxattr": true,
		"removexattr": true, "lremovexattr": true, "creat": true}
	openCalls = map[string]bool{"open": true, "openat": true, "openat2": true}
)

// tracedWrites parses strace -y output: the paths written (opened for
// writing, created, renamed, removed, chmod...) by successful calls, and
// the failed attempts. Relative paths without a decoded folder are taken
// against cwd.
func tracedWrites(t *testing.T, trace, cwd string) (writes []write, failed []string) {
	t.Helper()
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	pending := map[string]string{} // pid -> the first half of an interrupted call
	for sc.Scan() {
		line := sc.Text()
		// A call interrupted by another thread's comes in two halves:
		// "PID call(args <unfinished ...>" and "PID <... call resumed>rest".
		if m := straceUnfinished.FindStringSubmatch(line); m != nil {
			pending[m[1]] = m[2]
			continue
		}
		if m := straceResumed.FindStringSubmatch(line); m != nil {
			line = m[1] + " " + pending[m[1]] + m[2]
			delete(pending, m[1])
		}
		m := straceLine.FindStringSubmatch(line)
		if m == nil {
			continue // signals, exits
		}
		pid, call, args, ret := m[1], m[2], m[3], m[4]
		isOpen := openCalls[call]
		if !writeCalls[call] && !isOpen {
			continue
		}
		if isOpen && !regexp.MustCompile(`O_WRONLY|O_RDWR|O_CREAT|O_TRUNC`).MatchString(args) {
			continue
		}
		paths := straceArg.FindAllStringSubmatch(args, -1)
		if call == "symlink" || call == "symlinkat" {
			paths = paths[min(1, len(paths)):] // the first string is the target
		}
		if isOpen && len(paths) > 1 {
			paths = paths[:1]
		}
		for _, p := range paths {
			path, err := strconv.Unquote(`"` + p[3] + `"`)
			if err != nil {
				path = p[3]
			}
			if !filepath.IsAbs(path) {
				base := cwd
				if p[2] != "" {
					base = p[2]
				}
				path = filepath.Join(base, path)
			}
			w := write{pid: pid, syscall: call, path: filepath.Clean(path), line: line}
			if strings.HasPrefix(ret, "-") {
				failed = append(failed, w.String()+": "+strings.TrimSpace(line[strings.LastIndex(line, "="):]))
				continue
			}
			writes = append(writes, w)
		}
	}
	return writes, failed
}

// summarise lists the written paths with the syscalls, folding the
// per-photo sidecars and temporary files into patterns.
func summarise(ws []write, e *env) []string {
	calls := map[string]map[string]bool{}
	tmp := regexp.MustCompile(`\.faced-tmp-.*`)
	for _, w := range ws {
		p := w.path
		switch {
		case within(p, e.photos):
			rel, _ := filepath.Rel(e.photos, p)
			p = "LIBRARY/" + tmp.ReplaceAllString(rel, ".faced-tmp-*")
		case within(p, e.data):
			rel, _ := filepath.Rel(e.data, p)
			p = "DATA/" + rel
		}
		if calls[p] == nil {
			calls[p] = map[string]bool{}
		}
		calls[p][w.syscall] = true
	}
	var out []string
	for p, cs := range calls {
		var names []string
		for c := range cs {
			names = append(names, c)
		}
		sort.Strings(names)
		out = append(out, p+" "+strings.Join(names, ","))
	}
	sort.Strings(out)
	return out
}

func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// faced refuses to start, naming the key and its line, when the socket
// path holds a file it did not create, and leaves the file alone (Socket =
// /etc/passwd removed the file).
func TestSocketPathNotOursRefused(t *testing.T) {
	e := newEnv(t, "")
	sock := filepath.Join(e.data, "api.sock")
	if err := os.WriteFile(sock, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(e.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "Socket = %s\n", sock)
	f.Close()
	src, _ := os.ReadFile(e.cfg)
	line := strings.Count(string(src), "\n") // the Socket line is the last
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, e.faced, "run", "--config", e.cfg).CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("faced started over a regular file at the socket path (%v):\n%s", err, out)
	}
	want := fmt.Sprintf("%s:%d: Socket:", e.cfg, line)
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), "not a socket") {
		t.Errorf("error does not name %q and the reason:\n%s", want, out)
	}
	if b, err := os.ReadFile(sock); err != nil || string(b) != "precious\n" {
		t.Errorf("the file at the socket path was changed: %q, %v", b, err)
	}
}
