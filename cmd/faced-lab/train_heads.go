package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faced/faced/agegender"
	"github.com/faced/faced/heads"
	"github.com/faced/faced/heads/hook"
	"github.com/faced/faced/index"
	"github.com/faced/faced/internal/cli"
	"github.com/faced/faced/models"
	"github.com/spf13/cobra"
)

func init() {
	var (
		name, license, csvPath, variant, dataDir, ortLib, cacheDir, lambdas, fromIndex string
		folds, threads, batch                                                          int
		seed                                                                           uint64
		verbose, plain, noExpert                                                       bool
		expertLambdas                                                                  string
	)
	cmd := &cobra.Command{
		Use:   "train-heads [DIR] --license TEXT [--name NAME] [--csv labels.csv] [--from-index faces.db] [--variant int8|float32] [--folds 5]",
		Short: "Train age and gender heads on labelled face chips (never loaded by default)",
		Long: `train-heads runs every labelled chip of DIR through the age/gender network
(whole chip, no detection; outputs cached under DATA/cache), trains a gender
head (L2 logistic regression) and an age head (shared-weight ordinal
regression) on the identity features plus the network's own outputs,
chooses regularisation and group re-weighting by k-fold cross-validation
inside DIR only, then cross-validates an adult age expert (a second
ordinal head trained on ages 16-70 or 18-65, used where the age head's
estimate falls in a gate): the setting with the lowest cross-validated MAE
on ages 21-60 (estimates clipped to [21, 60]) among those keeping the
overall MAE within 1 % of the age head alone is kept if it beats the age
head alone on 21-60. It writes DATA/models/heads-NAME.json with its
provenance. Labels come from UTKFace-style names (AGE_GENDER_..., gender
0 = male) or from --csv (file,age,gender; files relative to DIR).
--from-index adds the face index's age samples: every dated photo of a
person whose birth year the user set (facedctl persons set-birth) is a
labelled face; the network is run again on its crop.
Select trained heads with --heads NAME where supported; the seed's heads
stay the default.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			if dir == "" && fromIndex == "" {
				return cli.Exit(cli.ExitUsage, errors.New("nothing to train on: give a folder of labelled chips, --from-index, or both"))
			}
			if strings.TrimSpace(license) == "" {
				return cli.Exit(cli.ExitUsage, errors.New("--license is required: give the training data's licence terms as you received them"))
			}
			if name == "" {
				if dir == "" {
					return cli.Exit(cli.ExitUsage, errors.New("--name is required with --from-index alone"))
				}
				name = strings.ToLower(filepath.Base(filepath.Clean(dir)))
			}
			if err := heads.ValidName(name); err != nil {
				return cli.Exit(cli.ExitUsage, err)
			}
			if f := cmd.Flag("data"); f != nil && f.Changed {
				dataDir = f.Value.String()
			}
			opt := heads.Options{Folds: folds, Seed: seed, Plain: plain, NoExpert: noExpert}
			if expertLambdas != "" {
				for _, s := range strings.Split(expertLambdas, ",") {
					v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
					if err != nil || v <= 0 {
						return cli.Exit(cli.ExitUsage, fmt.Errorf("--expert-lambdas: %q is not a positive number", s))
					}
					opt.ExpertLambdas = append(opt.ExpertLambdas, v)
				}
			}
			if lambdas != "" {
				for _, s := range strings.Split(lambdas, ",") {
					v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
					if err != nil || v <= 0 {
						return cli.Exit(cli.ExitUsage, fmt.Errorf("--lambdas: %q is not a positive number", s))
					}
					opt.Lambdas = append(opt.Lambdas, v)
				}
			}
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelDebug
			}
			opt.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

			var labels []heads.FileLabel
			var err error
			switch {
			case dir == "":
			case csvPath != "":
				labels, err = heads.LabelsFromCSV(csvPath)
			default:
				labels, err = heads.LabelsFromNames(dir)
			}
			if err != nil {
				return cli.Exit(cli.ExitUsage, err)
			}

			reg, err := openRegistry(ortLib, dataDir)
			if err != nil {
				return err
			}
			mi, err := ageGenderModel(reg, variant)
			if err != nil {
				return err
			}
			net, err := agegender.Open(reg, variant, models.SessionOptions{IntraOpThreads: threads})
			if err != nil {
				return err
			}
			defer net.Close()
			cache := headsFeatureCache(cacheDir, dataDir, mi, net, batch)
			cache.Progress = func(done, total int) {
				fmt.Fprintf(os.Stderr, "\rfeatures: %d/%d", done, total)
			}
			var srcs []heads.Source
			if dir != "" {
				srcs = append(srcs, heads.FileSource{Dir: dir, Labels: labels, Extractor: cache})
			}
			var ixReader *hook.IndexReader
			if fromIndex != "" {
				ix, err := index.Open(cmd.Context(), fromIndex)
				if err != nil {
					return err
				}
				defer ix.Close()
				ixReader = &hook.IndexReader{Ix: ix, Refresh: true}
				srcs = append(srcs, heads.FaceSource{Name: "index:" + filepath.Base(fromIndex), Reader: ixReader,
					Extractor: hook.CropExtractor{Net: net, Batch: batch}})
			}

			t0 := time.Now()
			samples, sources, err := heads.Collect(cmd.Context(), srcs...)
			if err != nil {
				return err
			}
			if ixReader != nil && ixReader.Dropped > 0 {
				fmt.Fprintf(os.Stderr, "index: dropped %d age samples dated before the birth year (wrong date or birth year)\n", ixReader.Dropped)
			}
			extract := time.Since(t0)
			fmt.Fprintf(os.Stderr, "\rfeatures: %d samples in %s (%d from the cache)\n", len(samples), extract.Round(time.Millisecond), cache.Hits)

			t1 := time.Now()
			h, err := heads.Train(cmd.Context(), samples, opt)
			if err != nil {
				return err
			}
			train := time.Since(t1)
			h.Name = name
			h.Model = heads.ModelInfo{SHA256: mi.SHA256, Variant: net.Variant()}
			h.Data.Sources = sources
			h.Data.License = license
			out := heads.Path(reg.Dir(), name)
			if err := h.Save(out); err != nil {
				return err
			}
			st, err := os.Stat(out)
			if err != nil {
				return err
			}
			printHeadsReport(cmd.OutOrStdout(), h, out, st.Size(), extract, train)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "heads name: writes DATA/models/heads-NAME.json (default: DIR's base name)")
	f.StringVar(&license, "license", "", "licence of the training data, as given to you (required; stored in the heads file)")
	f.StringVar(&csvPath, "csv", "", "labels file: file,age,gender rows (gender m/f or UTKFace's 0 = male, 1 = female)")
	f.StringVar(&variant, "variant", agegender.DefaultVariant, "age/gender model variant whose outputs the heads read: int8 or float32")
	f.StringVar(&fromIndex, "from-index", "", "also train on the face index's age samples (set-birth persons × dated photos) from this faces.db")
	f.IntVar(&folds, "folds", 5, "cross-validation folds")
	f.Uint64Var(&seed, "seed", 1, "fold assignment seed")
	f.StringVar(&lambdas, "lambdas", "", "comma-separated L2 strengths to cross-validate for both heads (default: gender 0.01,0.1,1; age 1,10,100)")
	f.StringVar(&dataDir, "data", "var/data", "data directory holding models/")
	f.StringVar(&ortLib, "ort-lib", "", "ONNX Runtime shared library (default: $FACED_ORT_LIB or var/lib)")
	f.StringVar(&cacheDir, "cache", "", "feature cache folder (default DATA/cache/heads-features)")
	f.IntVar(&threads, "threads", 0, "intra-op threads (0 = ONNX Runtime default)")
	f.IntVar(&batch, "batch", 8, "chips per network call")
	f.BoolVar(&plain, "plain", false, "choose hyper-parameters by plain CV figures (default: balanced, every (decade, gender) group counts the same)")
	f.BoolVar(&noExpert, "no-expert", false, "train no adult age expert")
	f.StringVar(&expertLambdas, "expert-lambdas", "", "comma-separated L2 strengths to cross-validate for the adult age expert (default 3,10)")
	f.BoolVarP(&verbose, "verbose", "v", false, "log every cross-validation setting")
	modelsParent().AddCommand(cmd)
}

func printHeadsReport(w io.Writer, h *heads.Heads, path string, size int64, extract, train time.Duration) {
	fmt.Fprintf(w, "heads:            %s -> %s\n", h.Name, path)
	fmt.Fprintf(w, "model:            %s (%.12s)\n", h.Model.Variant, h.Model.SHA256)
	fmt.Fprintf(w, "data:             n=%d (age %d, gender %d), sha256 %.16s, %s\n", h.Data.N, h.Data.NAge, h.Data.NGender, h.Data.SHA256, strings.Join(h.Data.Sources, ", "))
	fmt.Fprintf(w, "licence:          %s\n", h.Data.License)
	fmt.Fprintf(w, "cross-validation: %d folds, seed %d, chosen by %s figures (balanced: every (decade, gender) group counts the same)\n", h.CV.Folds, h.CV.Seed, h.CV.Criterion)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  head\tlambda\tweighted\tdecode\tn\taccuracy\tbalanced\tlog-loss\tMAE\tbalanced\twithin5\tbalanced\tMAE 21-60\tbalanced\t")
	for _, p := range h.CV.Gender {
		fmt.Fprintf(tw, "  gender\t%g\t%v\t\t%d\t%.2f %%\t%.2f %%\t%.4f\t\t\t\t\t\t\t\n", p.Lambda, p.Weighted, p.N, 100*p.Accuracy, 100*p.BalancedAccuracy, p.LogLoss)
	}
	for _, p := range h.CV.Age {
		fmt.Fprintf(tw, "  age\t%g\t%v\t%s\t%d\t\t\t\t%.2f\t%.2f\t%.1f %%\t%.1f %%\t%.2f\t%.2f\t\n", p.Lambda, p.Weighted, p.Decode, p.N, p.MAE, p.BalancedMAE, 100*p.Within5, 100*p.BalancedWithin5, p.MAE2160, p.BalancedMAE2160)
	}
	tw.Flush()
	if len(h.CV.Expert) > 0 {
		fmt.Fprintf(w, "adult age expert on top of the chosen age head, chosen by %s:\n", h.CV.ExpertCriterion)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  range\tgate\tlambda\tpower\tdecode\tMAE\tbalanced\twithin5\tbalanced\tMAE 21-60\tbalanced\t")
		for _, p := range h.CV.Expert {
			fmt.Fprintf(tw, "  %g-%g\t%g-%g\t%g\t%g\t%s\t%.2f\t%.2f\t%.1f %%\t%.1f %%\t%.2f\t%.2f\t\n", p.Range[0], p.Range[1], p.Gate[0], p.Gate[1],
				p.Lambda, p.WeightPower, p.Decode, p.MAE, p.BalancedMAE, 100*p.Within5, 100*p.BalancedWithin5, p.MAE2160, p.BalancedMAE2160)
		}
	}
	tw.Flush()
	g, a := h.CV.GenderChosen, h.CV.AgeChosen
	fmt.Fprintf(w, "chosen gender:    lambda %g, weighted %v: CV accuracy %.2f %% (balanced %.2f %%)\n", g.Lambda, g.Weighted, 100*g.Accuracy, 100*g.BalancedAccuracy)
	fmt.Fprintf(w, "chosen age:       lambda %g, weighted %v, %s: CV MAE %.2f (balanced %.2f), within 5 %.1f %% (balanced %.1f %%), 21-60 clipped %.2f (balanced %.2f)\n", a.Lambda, a.Weighted, a.Decode, a.MAE, a.BalancedMAE, 100*a.Within5, 100*a.BalancedWithin5, a.MAE2160, a.BalancedMAE2160)
	switch e := h.CV.ExpertChosen; {
	case e != nil:
		fmt.Fprintf(w, "chosen expert:    ages %g-%g, gate %g-%g, lambda %g, power %g, %s: CV MAE %.2f (balanced %.2f), within 5 %.1f %% (balanced %.1f %%), 21-60 clipped %.2f (balanced %.2f)\n",
			e.Range[0], e.Range[1], e.Gate[0], e.Gate[1], e.Lambda, e.WeightPower, e.Decode, e.MAE, e.BalancedMAE, 100*e.Within5, 100*e.BalancedWithin5, e.MAE2160, e.BalancedMAE2160)
	case len(h.CV.Expert) > 0:
		fmt.Fprintln(w, "chosen expert:    none (no setting beat the age head alone on ages 21-60)")
	}
	fmt.Fprintf(w, "heads size:       %d parameters, %.1f kB file\n", h.Size(), float64(size)/1e3)
	fmt.Fprintf(w, "time:             features %s, training (CV + final) %s\n", extract.Round(time.Millisecond), train.Round(time.Millisecond))
}
