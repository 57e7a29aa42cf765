package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faced/faced/api"
	"github.com/faced/faced/internal/shared"
)

// The end-to-end tests build bin/faced and bin/facedctl into a temp folder
// and drive them as a user would: a temp photo folder, a config, the daemon
// as a child process, facedctl status --json.

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries returns the paths of freshly built faced and facedctl; it skips
// without the converted models.
func binaries(t *testing.T) (faced, facedctl string) {
	t.Helper()
	shared.DataDir(t)
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "faced-e2e-bin")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+"/", "./cmd/faced", "./cmd/facedctl")
		cmd.Dir = shared.Root()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "faced"), filepath.Join(binDir, "facedctl")
}

type env struct {
	t                *testing.T
	dir, photos, cfg string
	data             string
	faced, facedctl  string
	log              string
	wrap             []string // a command faced runs under (strace ...), if any
	cmd              *exec.Cmd
	exited           chan error
}

// newEnv prepares a photo folder, a data folder using the installed models
// and a config; extra config lines are appended.
func newEnv(t *testing.T, extra string) *env {
	t.Helper()
	faced, facedctl := binaries(t)
	models := filepath.Join(shared.DataDir(t), "models")
	dir, err := os.MkdirTemp("", "fe") // short: the socket path must stay < 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Chmod(filepath.Join(dir, "photos", "unreadable.jpg"), 0o644)
		os.RemoveAll(dir)
	})
	e := &env{t: t, dir: dir, photos: filepath.Join(dir, "photos"), data: filepath.Join(dir, "data"),
		cfg: filepath.Join(dir, "config.txt"), faced: faced, facedctl: facedctl, log: filepath.Join(dir, "faced.log")}
	for _, d := range []string{e.photos, e.data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(models, filepath.Join(e.data, "models")); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("[DEFAULT]\nInputDirectory = %s\nDataDirectory = %s\nWorkers = 2\nSettleSeconds = 1\nLogLevel = debug\n%s",
		e.photos, e.data, extra)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// start runs faced and waits until its API answers.
func (e *env) start() {
	e.t.Helper()
	logf, err := os.OpenFile(e.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	args := append(slices.Clone(e.wrap), e.faced, "run", "--config", e.cfg)
	e.cmd = exec.Command(args[0], args[1:]...)
	e.cmd.Stdout, e.cmd.Stderr = logf, logf
	if err := e.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.exited = make(chan error, 1)
	go func(c *exec.Cmd) { e.exited <- c.Wait(); logf.Close() }(e.cmd)
	e.t.Cleanup(func() {
		if e.cmd != nil && e.cmd.ProcessState == nil {
			e.cmd.Process.Kill()
		}
	})
	e.waitFor("the API to answer", 60*time.Second, func() bool {
		select {
		case err := <-e.exited:
			e.t.Fatalf("faced exited at start: %v\n%s", err, tail(e.log))
		default:
		}
		_, err := e.client().Status(context.Background())
		return err == nil
	})
}

func (e *env) client() *api.Client { return api.NewClient(filepath.Join(e.data, "faced.sock")) }

// stop sends SIGTERM and checks faced exits cleanly within 10 s.
func (e *env) stop() {
	e.t.Helper()
	begin := time.Now()
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-e.exited:
		if err != nil {
			e.t.Errorf("faced exited with %v after SIGTERM\n%s", err, tail(e.log))
		}
	case <-time.After(10 * time.Second):
		e.cmd.Process.Kill()
		e.t.Fatalf("faced did not stop within 10 s of SIGTERM")
	}
	e.t.Logf("stopped in %v", time.Since(begin).Round(time.Millisecond))
	e.cmd = nil
}

// kill SIGKILLs faced.
func (e *env) kill() {
	e.cmd.Process.Kill()
	<-e.exited
	e.cmd = nil
}

// status runs facedctl status --json.
func (e *env) status() (api.Status, int) {
	e.t.Helper()
	cmd := exec.Command(e.facedctl, "--config", e.cfg, "status", "--json")
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	var st api.Status
	if err := json.Unmarshal(out, &st); err != nil {
		e.t.Fatalf("facedctl status --json: %v\n%s", err, out)
	}
	return st, code
}

func (e *env) waitFor(what string, timeout time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %v waiting for %s\n%s", timeout, what, tail(e.log))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// idle waits until the daemon's queue is empty and nothing is in flight.
func (e *env) idle(timeout time.Duration) api.Status {
	e.t.Helper()
	var st api.Status
	e.waitFor("an empty queue", timeout, func() bool {
		var err error
		st, err = e.client().Status(context.Background())
		return err == nil && st.Idle && st.Queue == 0
	})
	return st
}

// analyses counts the "analysing" log lines per file.
func (e *env) analyses() map[string]int { return e.logged("analysing") }

// logged counts the daemon's debug log lines with message msg per file.
func (e *env) logged(msg string) map[string]int {
	f, err := os.Open(e.log)
	if err != nil {
		return nil
	}
	defer f.Close()
	n := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	re := regexp.MustCompile(`msg=` + regexp.QuoteMeta(msg) + ` file=("(?:[^"\\]|\\.)*"|\S+)`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			p := m[1]
			if strings.HasPrefix(p, `"`) {
				p, _ = strconv.Unquote(p)
			}
			n[p]++
		}
	}
	return n
}

func tail(p string) string {
	b, _ := os.ReadFile(p)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func sha(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// area is an MWG region's centre and size (normalised).
type area struct{ x, y, w, h float64 }

var (
	// facedArea is a face's area in faced:Faces, faced's record of every
	// face it found (a face with no name gets no MWG region: issue 12).
	facedArea = regexp.MustCompile(`(?s)<faced:Area[^>]*>(.*?)</faced:Area>`)
	stField   = regexp.MustCompile(`<stArea:([xywh])>([^<]+)</stArea:[xywh]>`)
)

// sidecarFaces parses the sidecar (it must be well-formed XML) and returns
// the face areas faced recorded in it (faced:Faces).
func sidecarFaces(t *testing.T, p string) ([]area, bool) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	d := xml.NewDecoder(strings.NewReader(string(b)))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Errorf("sidecar %s is not well-formed XML: %v", p, err)
			return nil, false
		}
	}
	var out []area
	for _, m := range facedArea.FindAllStringSubmatch(string(b), -1) {
		var a area
		for _, f := range stField.FindAllStringSubmatch(m[1], -1) {
			v, _ := strconv.ParseFloat(f[2], 64)
			switch f[1] {
			case "x":
				a.x = v
			case "y":
				a.y = v
			case "w":
				a.w = v
			case "h":
				a.h = v
			}
		}
		out = append(out, a)
	}
	return out, true
}

// reference returns the seed's face boxes of test_image.jpg as MWG areas.
func reference(t *testing.T) (string, []area) {
	t.Helper()
	dir := shared.Dir(t, "seed/reference")
	var ref struct {
		ShapeHW []float64 `json:"shape_hw"`
		Faces   []struct {
			Box []float64 `json:"mtcnn_box_float"`
		} `json:"faces"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "reference_test_image_minsize32_quantized.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	h, w := ref.ShapeHW[0], ref.ShapeHW[1]
	var out []area
	for _, f := range ref.Faces {
		x1, y1, x2, y2 := f.Box[0], f.Box[1], f.Box[2], f.Box[3]
		out = append(out, area{(x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h})
	}
	return filepath.Join(dir, "test_image.jpg"), out
}

// sameFaces checks that every reference face has a region whose centre is
// within 2% of the image size, and that the counts agree.
func sameFaces(t *testing.T, name string, got, want []area) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d face regions, want %d", name, len(got), len(want))
		return
	}
	for _, w := range want {
		ok := false
		for _, g := range got {
			if math.Abs(g.x-w.x) < 0.02 && math.Abs(g.y-w.y) < 0.02 {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s: no region near the reference face at (%.3f, %.3f); regions %v", name, w.x, w.y, got)
		}
	}
}

func groupPhotos(t *testing.T) []string {
	t.Helper()
	ps, _ := filepath.Glob(filepath.Join(shared.Dir(t, "testdata/photos/group"), "*.jpg"))
	sort.Strings(ps)
	if len(ps) < 2 {
		t.Skip("need at least two group photos")
	}
	return ps
}

func TestEndToEnd(t *testing.T) {
	e := newEnv(t, "")
	refPhoto, refFaces := reference(t)
	group := groupPhotos(t)
	sources := map[string]string{} // photo in the folder -> its source
	put := func(rel, src string) string {
		p := filepath.Join(e.photos, rel)
		copyFile(t, src, p)
		sources[p] = src
		return p
	}
	before := put("before.jpg", refPhoto)
	put("group0.jpg", group[0])

	e.start()
	e.waitFor("sidecars of the photos present at start", time.Minute, func() bool {
		_, ok1 := sidecarFaces(t, before+".xmp")
		_, ok2 := sidecarFaces(t, filepath.Join(e.photos, "group0.jpg.xmp"))
		return ok1 && ok2
	})

	// Copied in while running.
	copied := put("copied.jpg", refPhoto)
	// Into a sub-folder created after start.
	nested := put(filepath.Join("later", "deeper", "nested.jpg"), refPhoto)
	put(filepath.Join("later", "group1.jpg"), group[1])
	// A slow partial copy: 10 chunks, 300 ms apart (settle time 1 s).
	slow := filepath.Join(e.photos, "slow.jpg")
	sources[slow] = refPhoto
	data, _ := os.ReadFile(refPhoto)
	f, err := os.Create(slow)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		f.Write(data[i*len(data)/10 : (i+1)*len(data)/10])
		f.Sync()
		time.Sleep(300 * time.Millisecond)
	}
	f.Close()
	for _, p := range []string{copied, nested, slow} {
		e.waitFor("sidecar of "+p, time.Minute, func() bool { _, ok := sidecarFaces(t, p+".xmp"); return ok })
	}
	e.idle(time.Minute)

	// A rename keeps the faces without a new analysis.
	renamed := filepath.Join(e.photos, "renamed.jpg")
	if err := os.Rename(before, renamed); err != nil {
		t.Fatal(err)
	}
	sources[renamed] = refPhoto
	delete(sources, before)
	e.waitFor("sidecar of the renamed photo", time.Minute, func() bool { _, ok := sidecarFaces(t, renamed+".xmp"); return ok })
	st := e.idle(time.Minute)

	for _, p := range []string{renamed, copied, nested, slow} {
		got, _ := sidecarFaces(t, p+".xmp")
		sameFaces(t, filepath.Base(p), got, refFaces)
	}
	n := e.analyses()
	if n[slow] != 1 {
		t.Errorf("the slowly copied photo was analysed %d times, want once", n[slow])
	}
	if n[renamed] != 0 {
		t.Errorf("the renamed photo was analysed again (%d times)", n[renamed])
	}
	for p, c := range n {
		if c > 1 {
			t.Errorf("%s analysed %d times", p, c)
		}
	}

	// facedctl status --json shows the counts.
	st, code := e.status()
	if code != 0 || !st.Running {
		t.Errorf("status exit %d, running %v", code, st.Running)
	}
	if st.Files.Done != len(sources) || st.Files.Failed != 0 || st.Queue != 0 {
		t.Errorf("status files = %+v queue %d, want %d done", st.Files, st.Queue, len(sources))
	}
	total := 0
	for p := range sources {
		got, ok := sidecarFaces(t, p+".xmp")
		if !ok {
			t.Errorf("no sidecar for %s", p)
		}
		total += len(got)
	}
	if st.Faces != total {
		t.Errorf("status says %d faces, the sidecars list %d", st.Faces, total)
	}
	// facedctl scan of a sub-folder finds nothing new; of a new file, queues it.
	out, err := exec.Command(e.facedctl, "--config", e.cfg, "scan", filepath.Join(e.photos, "later")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "scanned 2 files: 0 queued") {
		t.Errorf("facedctl scan later: %v\n%s", err, out)
	}
	e.stop()

	// Stopped: status still reports the index's counts, exit code 3.
	st2, code := e.status()
	if code != 3 || st2.Running || st2.Files.Done != st.Files.Done || st2.Faces != st.Faces {
		t.Errorf("status of a stopped daemon: exit %d, %+v", code, st2)
	}
	for p, src := range sources {
		if sha(t, p) != sha(t, src) {
			t.Errorf("photo %s was modified", p)
		}
	}
}
