package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"github.com/faced/faced/agegender"
	"github.com/faced/faced/analyzer"
	"github.com/faced/faced/analyzer/anconfig"
	"github.com/faced/faced/config"
	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/cli"
)

// analyzerFlags are the settings shared by analyze and bench.
type analyzerFlags struct {
	minSize int
	variant string
	exact   bool
	data    string
	threads int
}

func (f *analyzerFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVar(&f.minSize, "minsize", 0, "smallest face side in pixels (default: MinFaceSize of the config, else 32)")
	cmd.Flags().StringVar(&f.variant, "variant", "", "age/gender model variant: int8 or float32 (default: ModelVariant of the config)")
	cmd.Flags().BoolVar(&f.exact, "exact", false, "the seed's exact pipeline: detect on the full-resolution image")
	cmd.Flags().StringVar(&f.data, "data", "", "data directory holding models/ (default: DataDirectory of the config)")
	cmd.Flags().IntVar(&f.threads, "threads", 0, "ONNX Runtime threads per network run (0 = one per core)")
}

// openAnalyzer reads the config (when present) and opens an Analyzer.
func (f *analyzerFlags) open() (*analyzer.Analyzer, error) {
	dataDir, ortLib := f.data, ""
	cfg, err := config.Load(configPath)
	switch {
	case err == nil:
		if dataDir == "" {
			dataDir = cfg.DataDirectory()
		}
		ortLib = cfg.ORTLibrary()
	case errors.Is(err, fs.ErrNotExist) && !rootCmd.PersistentFlags().Changed("config"):
		// No config file: defaults.
		cfg = nil
	default:
		return nil, err
	}
	if dataDir == "" {
		dataDir = "var/data"
	}
	reg, err := openRegistry(ortLib, dataDir)
	if err != nil {
		return nil, err
	}
	// The daemon's mapping of the config, the flags on top.
	opt, err := anconfig.AnalyzerOptions(cfg, reg, anconfig.Overrides{MinSize: f.minSize, Variant: f.variant, Exact: f.exact, Threads: &f.threads})
	if err != nil {
		return nil, err
	}
	return analyzer.New(reg, opt)
}

// analyzeJSON is one file of `faced-lab analyze --json`. Identity features
// are never printed.
type analyzeJSON struct {
	File        string             `json:"file"`
	Kind        face.Kind          `json:"kind,omitempty"`
	Width       int                `json:"width"`
	Height      int                `json:"height"`
	Orientation int                `json:"orientation"`
	Faces       []analyzeFaceJSON  `json:"faces"`
	TimingMS    map[string]float64 `json:"timing_ms,omitempty"`
	Error       string             `json:"error,omitempty"`
}

type analyzeFaceJSON struct {
	Box       [4]float64  `json:"box"`
	StoredBox [4]float64  `json:"stored_box"`
	Score     float64     `json:"score"`
	Age       float64     `json:"age"`
	MaleProb  float64     `json:"male_prob"`
	Landmarks [10]float64 `json:"landmarks"`
	FrameTime float64     `json:"frame_time,omitempty"`
	Frames    int         `json:"frames,omitempty"`
}

func box4(b face.Box) [4]float64 { return [4]float64{b.X1, b.Y1, b.X2, b.Y2} }

func timingMS(t analyzer.Timings) map[string]float64 {
	ms := func(d interface{ Seconds() float64 }) float64 { return d.Seconds() * 1000 }
	return map[string]float64{"decode": ms(t.Decode), "pnet": ms(t.PNet), "rnet": ms(t.RNet), "onet": ms(t.ONet),
		"crop": ms(t.Crop), "agegender": ms(t.AgeGender), "total": ms(t.Total)}
}

func init() {
	var f analyzerFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "analyze [--minsize N] [--json] FILE|DIR...",
		Short: "Detect faces in photos and videos and print box, age, gender and timing per stage",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := f.open()
			if err != nil {
				return err
			}
			defer a.Close()
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			// A folder stands for the photos and videos directly in it.
			var paths []string
			for _, arg := range args {
				if st, err := os.Stat(arg); err == nil && st.IsDir() {
					files, err := mediaFiles(arg, true)
					if err != nil {
						return cli.Exit(cli.ExitUsage, fmt.Errorf("%s: %w", arg, err))
					}
					paths = append(paths, files...)
					continue
				}
				paths = append(paths, arg)
			}
			var out []analyzeJSON
			failed := 0
			for _, path := range paths {
				res, tm, err := a.AnalyzeTimed(ctx, path)
				j := analyzeJSON{File: path, Faces: []analyzeFaceJSON{}}
				if err != nil {
					failed++
					j.Error = err.Error()
					if ctx.Err() != nil {
						return err
					}
				} else {
					j.Kind, j.Width, j.Height, j.Orientation = res.Kind, res.Width, res.Height, res.Orientation
					for _, fc := range res.Faces {
						j.Faces = append(j.Faces, analyzeFaceJSON{Box: box4(fc.Box), StoredBox: box4(fc.StoredBox), Score: fc.Score,
							Age: fc.Age, MaleProb: fc.MaleProb, Landmarks: fc.Landmarks, FrameTime: fc.FrameTime, Frames: fc.Frames})
					}
					j.TimingMS = timingMS(tm)
				}
				if asJSON {
					out = append(out, j)
					continue
				}
				printAnalysis(cmd, j, tm)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(out); err != nil {
					return err
				}
			}
			if failed > 0 {
				return cli.Exit(cli.ExitUsage, fmt.Errorf("%d of %d files could not be analysed", failed, len(paths)))
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array, one object per file")
	rootCmd.AddCommand(cmd)
}

func printAnalysis(cmd *cobra.Command, j analyzeJSON, tm analyzer.Timings) {
	w := cmd.OutOrStdout()
	if j.Error != "" {
		fmt.Fprintf(w, "%s: error: %s\n", j.File, j.Error)
		return
	}
	fmt.Fprintf(w, "%s: %s %dx%d orientation %d, %d face(s)\n", j.File, j.Kind, j.Width, j.Height, j.Orientation, len(j.Faces))
	for i, fc := range j.Faces {
		// The seed's rule (agegender.MaleThreshold): male from 0.6, not 0.5.
		g := fmt.Sprintf("female: < %g", agegender.MaleThreshold)
		if fc.MaleProb >= agegender.MaleThreshold {
			g = fmt.Sprintf("male: >= %g", agegender.MaleThreshold)
		}
		fmt.Fprintf(w, "  face %d: box %.1f %.1f %.1f %.1f  stored %.1f %.1f %.1f %.1f  score %.4f  age %.1f  male_prob %.3f (%s)",
			i+1, fc.Box[0], fc.Box[1], fc.Box[2], fc.Box[3], fc.StoredBox[0], fc.StoredBox[1], fc.StoredBox[2], fc.StoredBox[3],
			fc.Score, fc.Age, fc.MaleProb, g)
		if fc.Frames > 0 {
			fmt.Fprintf(w, "  frames %d at %.2fs", fc.Frames, fc.FrameTime)
		}
		fmt.Fprintln(w)
	}
	t := j.TimingMS
	fmt.Fprintf(w, "  timing ms: decode %.1f  pnet %.1f  rnet %.1f  onet %.1f  crop %.1f  agegender %.1f  total %.1f",
		t["decode"], t["pnet"], t["rnet"], t["onet"], t["crop"], t["agegender"], t["total"])
	if tm.Frames > 0 {
		fmt.Fprintf(w, "  (%d frames)", tm.Frames)
	}
	fmt.Fprintln(w)
}
