package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/faced/faced/eval/lifetime"
	"github.com/faced/faced/heads"
)

func init() {
	var (
		asJSON, noCache       bool
		dataDir, ortLib, half string
		extra                 []string
		workers               int
	)
	cmd := &cobra.Command{
		Use:   "lifetime DIR",
		Short: "Score persons across ages on an aging set (FG-NET layout: PPP/PPPAxx.JPG): BCubed, persons per identity, birth years, apparent age by band",
		Long: `Copy every photo of DIR (one folder per person, PPPAxx.JPG = age xx) into a
temporary library, date each copy birth date + age (birth dates derived from
the folder names; the originals are never touched), analyse the copies and
cluster them with the daemon's code and the default configuration, then score
the person of each photo's labelled face against the folders (see package
eval/lifetime). Runs once for the seed heads and once per --heads NAME.
--half a|b keeps every other identity (by folder name): a held-out split.

Analyses are cached (never committed) under var/cache/evallifetime, keyed by
the models, the heads, the photos and this executable's SHA-256.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := openRegistry(ortLib, dataDir)
			if err != nil {
				return err
			}
			cache := filepath.Join("var", "cache", "evallifetime")
			if noCache {
				cache = ""
			}
			var reps []*lifetime.Report
			for _, h := range append([]string{heads.Seed}, extra...) {
				r, err := lifetime.Run(cmd.Context(), lifetime.Options{Dir: args[0], Registry: reg, Heads: h,
					CacheDir: cache, Build: executableSHA256(), Workers: workers, Half: half, Log: os.Stderr})
				if err != nil {
					return err
				}
				reps = append(reps, r)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if len(reps) == 1 {
					return enc.Encode(reps[0])
				}
				return enc.Encode(reps)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, r := range reps {
				fmt.Fprintf(tw, "heads\t%s\n", r.Heads)
				if r.Half != "" {
					fmt.Fprintf(tw, "half\t%s (every other identity by folder name)\n", r.Half)
				}
				fmt.Fprintf(tw, "photos\t%d of %d identities (%d without a face)\n", r.Photos, r.Identities, r.NoFace)
				fmt.Fprintf(tw, "BCubed P / R / F1\t%.3f / %.3f / %.3f\n", r.BCubedPrecision, r.BCubedRecall, r.BCubedF1)
				fmt.Fprintf(tw, "persons\t%d for %d identities (%.2f per identity)\n", r.Persons, r.Identities, r.PersonsPerIdentity)
				fmt.Fprintf(tw, "photos in a person\t%d of %d\n", r.InPerson, r.Photos)
				fmt.Fprintf(tw, "birth year MAE\t%.2f years over %d identities (%.0f %%; %d within 4.5 years; mean confidence %.0f %%)\n",
					r.BirthYearMAE, r.BirthYearIdentities, 100*r.BirthYearCoverage, r.BirthYearWithin45, 100*r.BirthYearConfidence)
				var b []string
				for _, x := range r.AgeBands {
					b = append(b, fmt.Sprintf("%s %.2f (n %d)", x.Name, x.MAE, x.N))
				}
				fmt.Fprintf(tw, "apparent age MAE\t%.2f; %s\n", r.AgeMAE, strings.Join(b, ", "))
				fmt.Fprintf(tw, "\t\n")
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the report as JSON (a list when --heads is given)")
	f.BoolVar(&noCache, "no-cache", false, "re-analyse even when cached analyses exist")
	f.StringVar(&dataDir, "data", "var/data", "data directory holding models/")
	f.StringVar(&ortLib, "ort-lib", "", "ONNX Runtime shared library (default: $FACED_ORT_LIB or var/lib)")
	f.StringSliceVar(&extra, "heads", nil, "also evaluate these trained heads (DATA/models/heads-NAME.json)")
	f.StringVar(&half, "half", "", `cluster and score only half of the identities, "a" or "b" (sorted folder names, alternately): tune on one, report the other`)
	f.IntVar(&workers, "workers", 0, "analysis workers (0 = number of CPUs)")
	evalParent().AddCommand(cmd)
}
