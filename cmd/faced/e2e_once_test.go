package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faced/faced/exporters"
	"github.com/faced/faced/exporters/xmp"
)

// bigKeywordSidecar is another tool's sidecar with n keywords in two
// families (about 90 bytes a keyword): merging it takes seconds.
func bigKeywordSidecar(n int) []byte {
	var b strings.Builder
	b.WriteString(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:lr="http://ns.adobe.com/lightroom/1.0/">
<dc:subject><rdf:Bag>
`)
	for i := range n {
		fmt.Fprintf(&b, "<rdf:li>keyword %06d</rdf:li>\n", i)
	}
	b.WriteString("</rdf:Bag></dc:subject>\n<lr:hierarchicalSubject><rdf:Bag>\n")
	for i := range n {
		fmt.Fprintf(&b, "<rdf:li>Places|Somewhere|keyword %06d</rdf:li>\n", i)
	}
	b.WriteString("</rdf:Bag></lr:hierarchicalSubject>\n</rdf:Description></rdf:RDF></x:xmpmeta>\n")
	return []byte(b.String())
}

// TestOnceSIGTERM: `faced run --once` on 200 photos, eight of them with
// other tools' 13 MB sidecars (150 000 keywords in two families), gets
// SIGTERM while it works: it exits within 10 s (before: 47 s, the merges
// of the big sidecars ignored the signal), leaves no temporary file, and
// every sidecar is either untouched or a complete document.
func TestOnceSIGTERM(t *testing.T) {
	e := newEnv(t, "")
	big := bigKeywordSidecar(150000)
	for i, src := range smallPhotos(t, 200) {
		p := filepath.Join(e.photos, fmt.Sprintf("o%03d.jpg", i))
		copyFile(t, src, p)
		if i < 8 {
			if err := os.WriteFile(p+".xmp", big, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd := exec.Command(e.faced, "run", "--once", "--config", e.cfg)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Signal once the exports of the big sidecars are under way (the
	// first sidecars are due right after the first analyses).
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(out.String(), "msg=analysing") && time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("faced run --once ended before the signal: %v\n%s", err, out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	time.Sleep(3 * time.Second)
	begin := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		t.Logf("faced run --once exited %v after SIGTERM (%v)", time.Since(begin).Round(time.Millisecond), err)
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("faced run --once still running 10 s after SIGTERM\n%s", tail2(out.String()))
	}
	ents, _ := os.ReadDir(e.photos)
	for _, de := range ents {
		name := filepath.Join(e.photos, de.Name())
		if exporters.IsTempName(de.Name()) {
			t.Errorf("temporary file %s left", de.Name())
			continue
		}
		if !strings.HasSuffix(de.Name(), ".xmp") {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(data, big) {
			continue
		}
		if _, err := xmp.Parse(data); err != nil {
			t.Errorf("%s is not a complete XMP document: %v", de.Name(), err)
		}
	}
}

// TestOnceFIFOSidecar: a FIFO named like a sidecar (photo.jpg.xmp) no longer
// hangs a worker: `faced run --once` finishes, names the file in its
// errors, and the FIFO is still a FIFO.
func TestOnceFIFOSidecar(t *testing.T) {
	e := newEnv(t, "")
	for i, src := range smallPhotos(t, 3) {
		copyFile(t, src, filepath.Join(e.photos, fmt.Sprintf("f%d.jpg", i)))
	}
	fifo := filepath.Join(e.photos, "f0.jpg.xmp")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	cmd := exec.Command(e.faced, "run", "--once", "--config", e.cfg)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("faced run --once: %v\n%s", err, tail2(out.String()))
		}
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("faced run --once hangs on a FIFO sidecar\n%s", tail2(out.String()))
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v %v", fi.Mode(), err)
	}
	if !strings.Contains(out.String(), "not a regular file") || !strings.Contains(out.String(), "f0.jpg.xmp") {
		t.Errorf("no error naming the FIFO sidecar in the output:\n%s", tail2(out.String()))
	}
	for _, n := range []string{"f1.jpg.xmp", "f2.jpg.xmp"} {
		if _, err := os.Stat(filepath.Join(e.photos, n)); err != nil {
			t.Errorf("the other photos' sidecars: %v", err)
		}
	}
}

func tail2(s string) string {
	if len(s) > 4000 {
		return s[len(s)-4000:]
	}
	return s
}
