package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faced/faced/analyzer"
	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/cli"
)

func init() {
	var f analyzerFlags
	var workersList string
	var rounds int
	var upscale bool
	var grain float64
	var cvThreads int
	var format, rawStub, keep string
	cmd := &cobra.Command{
		Use:   "bench DIR",
		Short: "Measure analysis throughput (photos/s) and time per stage on the photos of DIR, with 1 and 2 workers",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			files, err := mediaFiles(args[0], false)
			if err != nil {
				return err
			}
			if len(files) == 0 {
				return cli.Exit(cli.ExitUsage, fmt.Errorf("%s: no photos", args[0]))
			}
			if upscale {
				tmp := keep
				if tmp == "" {
					if tmp, err = os.MkdirTemp("", "faced-bench-"); err != nil {
						return err
					}
					defer os.RemoveAll(tmp)
				} else if err := os.MkdirAll(tmp, 0o755); err != nil {
					return err
				}
				var big []string
				for _, p := range files {
					b, err := analyzer.Upscale12MPGrain(p, tmp, 90, grain)
					if err != nil {
						return err
					}
					big = append(big, b)
				}
				files = big
				if format != "" {
					// The same 12 MP photos in another format (media names).
					var conv []string
					for _, b := range big {
						if keep != "" {
							// Converted by an earlier run with the same --keep.
							if c := strings.TrimSuffix(b, filepath.Ext(b)) + "." + format; fileExists(c) {
								conv = append(conv, c)
								continue
							}
						}
						c, err := analyzer.ConvertForBench(b, format, rawStub)
						if err != nil {
							return err
						}
						conv = append(conv, c)
					}
					files = conv
				}
				var size int64
				for _, b := range big {
					if st, err := os.Stat(b); err == nil {
						size += st.Size()
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "upscaled %d photos to 12 MP (JPEG quality 90, grain %g: %.2f MB each on average)\n",
					len(files), grain, float64(size)/float64(len(big))/1e6)
				if format != "" {
					size = 0
					for _, c := range files {
						if st, err := os.Stat(c); err == nil {
							size += st.Size()
						}
					}
					fmt.Fprintf(cmd.OutOrStdout(), "converted to %s: %.2f MB each on average\n", format, float64(size)/float64(len(files))/1e6)
				}
			}
			for _, ws := range strings.Split(workersList, ",") {
				w, err := strconv.Atoi(strings.TrimSpace(ws))
				if err != nil || w < 1 {
					return cli.Exit(cli.ExitUsage, fmt.Errorf("--workers: bad count %q", ws))
				}
				if !cmd.Flags().Changed("threads") {
					f.threads = max(1, runtime.NumCPU()/w)
				}
				setBenchCVThreads(cvThreads, w)
				a, err := f.open()
				if err != nil {
					return err
				}
				analyzer.Bench(ctx, a, files, 1, 1) // warm-up
				r := analyzer.Bench(ctx, a, files, w, rounds*len(files))
				a.Close()
				fmt.Fprintf(cmd.OutOrStdout(), "%v (ORT threads per run %d, OpenCV threads %d)\n", r, f.threads, analyzer.OpenCVThreads())
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&workersList, "workers", "1,2", "comma-separated worker counts to measure")
	cmd.Flags().IntVar(&rounds, "rounds", 1, "passes over the photos per measurement")
	cmd.Flags().IntVar(&cvThreads, "cv-threads", 0, "OpenCV threads (0 = as the daemon: 1 when the workers are at least the cores, else OpenCV's default)")
	cmd.Flags().BoolVar(&upscale, "upscale-12mp", false, "measure on copies of the photos upscaled to 12 MP (JPEG quality 90)")
	cmd.Flags().Float64Var(&grain, "grain", 0, "with --upscale-12mp: Gaussian grain (standard deviation in 8-bit levels) added so the files weigh what camera photos do (6: ~2 MB, 10: ~4.5 MB; decoding time follows the file size)")
	cmd.Flags().StringVar(&format, "format", "", "with --upscale-12mp: measure the 12 MP photos converted to heic, avif, jxl or cr2 (the JPEG as a CR2's embedded preview)")
	cmd.Flags().StringVar(&keep, "keep", "", "with --upscale-12mp: write the 12 MP photos (and their conversions) into this folder and keep them, to bench them again without converting (encoding 12 MP HEIC/AVIF takes minutes)")
	cmd.Flags().StringVar(&rawStub, "raw-stub", "../shared/testdata/photos/formats/raw_stubs/CanonRaw.cr2", "with --format cr2: the raw container the preview is written into")
	rootCmd.AddCommand(cmd)
}

// setBenchCVThreads sets OpenCV's threads for a measurement with the given
// workers: n when n > 0, else the daemon's rule (daemon/wire): one thread
// when every core runs a worker, OpenCV's default otherwise.
func setBenchCVThreads(n, workers int) {
	switch {
	case n > 0:
		analyzer.SetOpenCVThreads(n)
	case workers >= runtime.NumCPU():
		analyzer.SetOpenCVThreads(1)
	default:
		analyzer.SetOpenCVThreads(0)
	}
}

// mediaFiles lists the photos (and, with videos, the videos) directly in
// dir, by extension, sorted.
func mediaFiles(dir string, videos bool) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range ents {
		if k, ok := analyzer.MediaKind(e.Name()); ok && !e.IsDir() && (k == face.KindPhoto || videos) {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(files)
	return files, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
