package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/faced/faced/analyzer"
	"github.com/faced/faced/api"
	"github.com/faced/faced/internal/cli"
)

// The memory command measures the daemon itself (bin/faced run, as a
// service runs it) rather than the analyzer in this process: the resident
// set of interest holds ONNX Runtime's arenas, glibc's heaps, OpenCV and
// libheif buffers and the Go heap of one real daemon.
func init() {
	var o memOptions
	cmd := &cobra.Command{
		Use:   "memory [DIR]",
		Short: "Measure the daemon's peak and idle RSS on a corpus of 12 MP camera-weight photos (JPEG and HEIC) made from DIR",
		Long: `memory makes a corpus of 12 MP photos from the photos in DIR (default
../shared/testdata/photos/group, the crowded group photos): upscaled,
with grain so a JPEG weighs what a camera writes (4-6 MB), and the same
pixels as HEIC (libheif/x265 q80). It starts bin/faced run with Workers = 2
on an empty library in a temporary folder, waits until the daemon is idle,
moves the photos into the library at once (an ingest), and samples
/proc/PID/status: peak RSS (VmHWM) during the ingest, then RSS after the
queue drained, each second for --idle. The corpus and the data directory
are removed at the end (--keep keeps them). FACED_MEM and the MALLOC_*
variables of this process reach the daemon.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.src = "../shared/testdata/photos/group"
			if len(args) == 1 {
				o.src = args[0]
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			return measureMemory(ctx, cmd.OutOrStdout(), o)
		},
	}
	cmd.Flags().IntVar(&o.photos, "photos", 40, "photos in the corpus (cycling over DIR's photos and the formats)")
	cmd.Flags().StringVar(&o.formats, "formats", "jpeg,heic", "formats of the corpus, in turn: jpeg, heic, avif")
	cmd.Flags().Float64Var(&o.grain, "grain", 10, "Gaussian grain (8-bit levels) added before encoding, so the JPEGs weigh what a camera writes")
	cmd.Flags().IntVar(&o.quality, "quality", 92, "JPEG quality of the corpus (92 with grain 10: 4.4-4.8 MB, a camera's weight)")
	cmd.Flags().StringVar(&o.corpus, "corpus", "", "keep the corpus in this folder and reuse what an earlier run made there (default: made in the temporary folder, removed)")
	cmd.Flags().IntVar(&o.workers, "workers", 2, "the daemon's Workers")
	cmd.Flags().DurationVar(&o.idle, "idle", 60*time.Second, "how long to watch the idle daemon after the queue drained")
	cmd.Flags().StringVar(&o.faced, "faced", "bin/faced", "the daemon binary")
	cmd.Flags().StringVar(&o.models, "models", "var/data/models", "the installed models (linked into the temporary data directory)")
	cmd.Flags().StringVar(&o.tmp, "tmp", "", "parent of the temporary folder (default: $TMPDIR)")
	cmd.Flags().BoolVar(&o.keep, "keep", false, "keep the temporary folder (corpus, library, data directory, faced.log)")
	rootCmd.AddCommand(cmd)
}

type memOptions struct {
	src, formats, faced, models, tmp, corpus string
	photos, workers, quality                 int
	grain                                    float64
	idle                                     time.Duration
	keep                                     bool
}

func measureMemory(ctx context.Context, out io.Writer, o memOptions) error {
	srcs, err := filepath.Glob(filepath.Join(o.src, "*.jpg"))
	if err != nil || len(srcs) == 0 {
		return cli.Exit(cli.ExitUsage, fmt.Errorf("%s: no *.jpg photos", o.src))
	}
	sort.Strings(srcs)
	formats := strings.Split(o.formats, ",")
	for _, f := range formats {
		if f != "jpeg" && f != "heic" && f != "avif" {
			return cli.Exit(cli.ExitUsage, fmt.Errorf("--formats: unknown format %q", f))
		}
	}
	faced, err := filepath.Abs(o.faced)
	if err != nil {
		return err
	}
	models, err := filepath.Abs(o.models)
	if err != nil {
		return err
	}
	if _, err := os.Stat(models); err != nil {
		return fmt.Errorf("--models: %w", err)
	}
	dir, err := os.MkdirTemp(o.tmp, "fmem") // short: the socket path must stay < 108 bytes
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(out, "temporary folder kept: %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	corpus, lib, data := o.corpus, filepath.Join(dir, "photos"), filepath.Join(dir, "data")
	if corpus == "" {
		corpus = filepath.Join(dir, "corpus")
	}
	for _, d := range []string{corpus, lib, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.Symlink(models, filepath.Join(data, "models")); err != nil {
		return err
	}

	// The corpus: each source once per format, then copies up to --photos.
	made := map[string]string{} // source+format -> file
	var files []string
	var sizes = map[string][]int64{}
	for i := range o.photos {
		src, format := srcs[i%len(srcs)], formats[(i/len(srcs))%len(formats)]
		key := src + "\x00" + format
		if made[key] == "" {
			// Files of an earlier run with --corpus are reused: the
			// names carry the settings, and a HEIC takes minutes to make.
			base := fmt.Sprintf("%s_q%d_g%g", strings.TrimSuffix(filepath.Base(src), filepath.Ext(src)), o.quality, o.grain)
			jpg := filepath.Join(corpus, base+".jpg")
			if _, err := os.Stat(jpg); err != nil {
				big, err := analyzer.Upscale12MPGrain(src, corpus, o.quality, o.grain)
				if err != nil {
					return err
				}
				if err := os.Rename(big, jpg); err != nil {
					return err
				}
			}
			made[key] = jpg
			if format != "jpeg" {
				c := filepath.Join(corpus, base+"."+format)
				if _, err := os.Stat(c); err != nil {
					if c, err = analyzer.ConvertForBench(jpg, format, ""); err != nil {
						return err
					}
				}
				made[key] = c
			}
		}
		f := made[key]
		st, err := os.Stat(f)
		if err != nil {
			return err
		}
		sizes[format] = append(sizes[format], st.Size())
		files = append(files, f)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	for _, f := range formats {
		s := sizes[f]
		if len(s) == 0 {
			continue
		}
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		var sum int64
		for _, v := range s {
			sum += v
		}
		fmt.Fprintf(out, "corpus: %d %s photos of 12 MP made from %d photos of %s (grain %g): %.2f MB on average, %.2f-%.2f MB\n",
			len(s), f, len(srcs), o.src, o.grain, float64(sum)/float64(len(s))/1e6, float64(s[0])/1e6, float64(s[len(s)-1])/1e6)
	}

	cfg := filepath.Join(dir, "config.txt")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("[DEFAULT]\nInputDirectory = %s\nDataDirectory = %s\nWorkers = %d\nSettleSeconds = 1\n",
		lib, data, o.workers)), 0o644); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(dir, "faced.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	d := exec.Command(faced, "run", "--config", cfg)
	d.Stdout, d.Stderr = logf, logf
	if err := d.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- d.Wait() }()
	defer func() {
		if d.ProcessState == nil {
			d.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(15 * time.Second):
				d.Process.Kill()
			}
		}
	}()
	pid := d.Process.Pid
	client := api.NewClient(filepath.Join(data, "faced.sock"))
	status := func() (api.Status, error) {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return client.Status(c)
	}
	wait := func(what string, limit time.Duration, ok func(api.Status) bool, sample func()) (api.Status, error) {
		deadline := time.Now().Add(limit)
		for {
			select {
			case err := <-exited:
				return api.Status{}, fmt.Errorf("faced exited while waiting for %s: %v (log: %s)", what, err, logf.Name())
			case <-ctx.Done():
				return api.Status{}, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			if sample != nil {
				sample()
			}
			if st, err := status(); err == nil && ok(st) {
				return st, nil
			}
			if time.Now().After(deadline) {
				return api.Status{}, fmt.Errorf("no %s within %v (log: %s)", what, limit, logf.Name())
			}
		}
	}
	idle := func(st api.Status) bool { return st.Idle && st.Queue == 0 }
	if _, err := wait("idle daemon after start", 2*time.Minute, idle, nil); err != nil {
		return err
	}
	start, err := procStatus(pid)
	if err != nil {
		return err
	}
	cpu0, err := procCPU(pid)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "faced started (pid %d, Workers %d, FACED_MEM=%q): RSS %s\n", pid, o.workers, os.Getenv("FACED_MEM"), start)

	// The ingest: every photo appears in the library at once (a rename
	// from a folder on the same file system, as a sync client does).
	stage := filepath.Join(dir, "stage")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return err
	}
	var names []string
	for i, f := range files {
		name := fmt.Sprintf("m%03d%s", i, filepath.Ext(f))
		if err := copyFileTo(f, filepath.Join(stage, name)); err != nil {
			return err
		}
		names = append(names, name)
	}
	begin := time.Now()
	for _, n := range names {
		if err := os.Rename(filepath.Join(stage, n), filepath.Join(lib, n)); err != nil {
			return err
		}
	}
	var maxRSS int64
	sample := func() {
		if s, err := procStatus(pid); err == nil && s.rss > maxRSS {
			maxRSS = s.rss
		}
	}
	st, err := wait("drained queue", time.Hour, func(st api.Status) bool {
		return st.Files.Done+st.Files.Failed >= len(files) && idle(st)
	}, sample)
	if err != nil {
		return err
	}
	took := time.Since(begin)
	cpu1, err := procCPU(pid)
	if err != nil {
		return err
	}
	drained, err := procStatus(pid)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "ingest of %d photos: %d done, %d failed, %d faces; %v wall (%.2f photos/s), process CPU %.1f ms/photo (user+sys)\n",
		len(files), st.Files.Done, st.Files.Failed, st.Faces, took.Round(time.Millisecond), float64(len(files))/took.Seconds(),
		float64((cpu1-cpu0).Microseconds())/1e3/float64(len(files)))
	fmt.Fprintf(out, "peak RSS during the ingest (VmHWM): %.0f MiB (sampled VmRSS max %.0f MiB); at the drain: %s\n",
		mib(drained.hwm), mib(maxRSS), drained)

	// Idle: RSS each second after the drain.
	var marks []string
	var last procMem
	for sec := 1; time.Duration(sec)*time.Second <= o.idle; sec++ {
		select {
		case err := <-exited:
			return fmt.Errorf("faced exited while idle: %v (log: %s)", err, logf.Name())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(begin.Add(took + time.Duration(sec)*time.Second))):
		}
		if last, err = procStatus(pid); err != nil {
			return err
		}
		if sec == 1 || sec == 5 || sec%10 == 0 {
			marks = append(marks, fmt.Sprintf("%ds %.0f", sec, mib(last.rss)))
		}
	}
	fmt.Fprintf(out, "idle RSS (MiB) after the drain: %s\n", strings.Join(marks, ", "))
	fmt.Fprintf(out, "idle RSS at %v: %s; peak over the run (VmHWM) %.0f MiB\n", o.idle, last, mib(last.hwm))
	d.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			return fmt.Errorf("faced exited with %v after SIGTERM (log: %s)", err, logf.Name())
		}
	case <-time.After(15 * time.Second):
		d.Process.Kill()
		return errors.New("faced did not stop within 15 s of SIGTERM")
	}
	return nil
}

// procMem is a process's resident set from /proc/PID/status, in bytes.
type procMem struct {
	rss, hwm, anon, file int64
}

func (m procMem) String() string {
	return fmt.Sprintf("%.0f MiB (anonymous %.0f, files %.0f)", mib(m.rss), mib(m.anon), mib(m.file))
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// procStatus reads VmRSS, VmHWM, RssAnon and RssFile of pid.
func procStatus(pid int) (procMem, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMem{}, err
	}
	defer f.Close()
	return parseProcStatus(f)
}

func parseProcStatus(r io.Reader) (procMem, error) {
	var m procMem
	fields := map[string]*int64{"VmRSS": &m.rss, "VmHWM": &m.hwm, "RssAnon": &m.anon, "RssFile": &m.file}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		p := fields[k]
		if !ok || p == nil {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return m, fmt.Errorf("/proc status %s: %w", k, err)
		}
		*p = kb << 10
	}
	if m.rss == 0 || m.hwm == 0 {
		return m, errors.New("/proc status: no VmRSS or VmHWM")
	}
	return m, sc.Err()
}

// procCPU returns the user+system CPU time pid has used so far
// (/proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields count from its ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	sy, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times", pid)
	}
	return time.Duration(u+sy) * 10 * time.Millisecond, nil
}

func copyFileTo(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
