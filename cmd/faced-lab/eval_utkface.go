package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/faced/faced/agegender"
	"github.com/faced/faced/eval/utkface"
	"github.com/faced/faced/internal/cli"
	"github.com/faced/faced/models"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func init() {
	var (
		asJSON  bool
		variant string
		hname   string
		dataDir string
		ortLib  string
		threads int
		batch   int
	)
	cmd := &cobra.Command{
		Use:   "utkface DIR",
		Short: "The seed's UTKFace evaluation: chips straight to the age/gender network (gender accuracy, age MAE, within 5 years, Adience groups)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			samples, err := utkface.List(args[0])
			if err != nil {
				return cli.Exit(cli.ExitUsage, err)
			}
			reg, err := openRegistry(ortLib, dataDir)
			if err != nil {
				return err
			}
			net, err := agegender.Open(reg, variant, models.SessionOptions{IntraOpThreads: threads})
			if err != nil {
				return err
			}
			defer net.Close()
			if hname, err = useHeads(net, reg, hname); err != nil {
				return err
			}
			var progress func(int)
			if term.IsTerminal(int(os.Stderr.Fd())) {
				bar := progressbar.NewOptions(len(samples), progressbar.OptionSetWriter(os.Stderr),
					progressbar.OptionSetDescription("utkface"), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
				progress = func(done int) { _ = bar.Set(done) }
				defer bar.Finish()
			}
			r, err := utkface.Evaluate(cmd.Context(), samples, net, batch, progress)
			if err != nil {
				return err
			}
			r.Variant = net.Variant()
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "UTKFace chips:        %d (%s)\n", r.N, filepath.Clean(args[0]))
			fmt.Fprintf(out, "model variant:        %s\n", r.Variant)
			fmt.Fprintf(out, "age/gender heads:     %s\n", hname)
			fmt.Fprintf(out, "gender accuracy:      %.2f %% (male iff P(male) >= %.1f)\n", 100*r.GenderAccuracy, agegender.MaleThreshold)
			fmt.Fprintf(out, "age MAE:              %.2f years (top-2 expectation)\n", r.AgeMAE)
			fmt.Fprintf(out, "age within 5 years:   %.1f %%\n", 100*r.Within5)
			fmt.Fprintf(out, "Adience-group acc.:   %.1f %%\n", 100*r.AdienceAccuracy)
			fmt.Fprintf(out, "ages 21-60 (clipped): n=%d, gender %.1f %%, MAE %.2f\n", r.Ages2160.N, 100*r.Ages2160.GenderAccuracy, r.Ages2160.AgeMAE)
			fmt.Fprintf(out, "speed:                %.1f images/s (%.1f s)\n", r.ImagesPerS, r.Seconds)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (keys n, gender_accuracy, age_mae, within5, images_per_s, ...)")
	cmd.Flags().StringVar(&variant, "variant", "", "age/gender model variant: int8 or float32 (default "+agegender.DefaultVariant+")")
	cmd.Flags().StringVar(&hname, "heads", "seed", "age/gender heads: seed (the network's own) or NAME (DATA/models/heads-NAME.json, faced-lab models train-heads)")
	cmd.Flags().StringVar(&dataDir, "data", "var/data", "data directory holding models/")
	cmd.Flags().StringVar(&ortLib, "ort-lib", "", "ONNX Runtime shared library (default: $FACED_ORT_LIB or var/lib)")
	cmd.Flags().IntVar(&threads, "threads", 0, "intra-op threads (0 = ONNX Runtime default)")
	cmd.Flags().IntVar(&batch, "batch", 8, "chips per network call")
	evalParent().AddCommand(cmd)
}
