package persons

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faced/faced/index"
)

// writerEnv makes the test binary a writer process (see TestMain).
const writerEnv = "FACED_PERSONS_TEST_WRITER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(writerEnv); dir != "" {
		os.Exit(writer(dir))
	}
	os.Exit(m.Run())
}

// writer is one process editing persons the way facedctl does with the
// daemon stopped: Open (waiting while the other holds the lock), a rename,
// the critical section recorded in a shared log, Close; 20 times.
func writer(dir string) int {
	ctx := context.Background()
	log, err := os.OpenFile(filepath.Join(dir, "log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer log.Close()
	me := strconv.Itoa(os.Getpid())
	for i := 0; i < 20; {
		l, err := Open(ctx, dir, "")
		if errors.Is(err, ErrLocked) {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintf(log, "begin %s\n", me)
		if err := l.Name(ctx, 1, fmt.Sprintf("%s-%d", me, i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		time.Sleep(2 * time.Millisecond) // widen the window an overlap would need
		fmt.Fprintf(log, "end %s\n", me)
		if err := l.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		i++
	}
	return 0
}

// TestTwoWritersNeverOverlap runs two writer processes against one
// DataDirectory: their sections under the lock never interleave, every edit
// lands, and while one holds the lock the other's Open fails with ErrLocked
// (as the daemon's start does).
func TestTwoWritersNeverOverlap(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ix, err := index.Open(ctx, filepath.Join(dir, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.CreatePerson(ctx, index.Person{}); err != nil {
		t.Fatal(err)
	}
	ix.Close()

	var cmds []*exec.Cmd
	for range 2 {
		c := exec.Command(os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), writerEnv+"="+dir)
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	f, err := os.Open(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	holder, n := "", 0
	for sc.Scan() {
		what, pid, _ := strings.Cut(sc.Text(), " ")
		switch {
		case what == "begin" && holder == "":
			holder = pid
		case what == "end" && holder == pid:
			holder = ""
			n++
		default:
			t.Fatalf("line %q while %q holds the lock: two writers overlapped", sc.Text(), holder)
		}
	}
	if n != 40 {
		t.Fatalf("%d edits completed, want 40", n)
	}

	// While one holds it, the other (a daemon starting, facedctl) is refused.
	l, err := Open(ctx, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, dir, ""); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open while locked: %v, want ErrLocked", err)
	}
	if _, err := TakeLock(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("TakeLock while locked: %v, want ErrLocked", err)
	}
	l.Close()
	l2, err := TakeLock(dir)
	if err != nil {
		t.Fatalf("TakeLock after Close: %v", err)
	}
	l2.Unlock()
}
