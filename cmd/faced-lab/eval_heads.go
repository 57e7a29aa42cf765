package main

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"golang.org/x/term"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faced/faced/agegender"
	"github.com/faced/faced/analyzer"
	"github.com/faced/faced/cluster"
	"github.com/faced/faced/eval/utkface"
	"github.com/faced/faced/face"
	"github.com/faced/faced/heads"
	"github.com/faced/faced/heads/hook"
	"github.com/faced/faced/internal/cli"
	"github.com/faced/faced/models"
	"github.com/spf13/cobra"
)

// lfwGenderResult is one heads' figures on LFW.
type lfwGenderResult struct {
	Heads          string  `json:"heads"`
	Images         int     `json:"images"`
	ImageAccuracy  float64 `json:"image_accuracy"`
	Persons        int     `json:"persons"`
	PersonAccuracy float64 `json:"person_accuracy"` // Dempster–Shafer fusion per person
}

func init() {
	var (
		headsNames               []string
		variant, dataDir, ortLib string
		threads                  int
		asJSON                   bool
	)
	cmd := &cobra.Command{
		Use:   "lfw-gender DIR [--heads NAME]...",
		Short: "Out-of-domain gender: LFW photos of the people in DIR/genders.csv, per image and per person (the seed's Dempster–Shafer fusion), seed heads beside trained heads",
		Long: `lfw-gender detects faces in DIR/images/PERSON/*.jpg with the analyzer,
keeps the largest face containing the image centre (else the largest), runs
its seed crop (box + 10 px) through the age/gender network and scores the
gender of every person listed in DIR/genders.csv (person,gender): per image
(male iff P >= 0.6) and per person (male iff the sum over the person's
photos of ln(1+d1) - ln(1+d0) > 0, d0 = sqrt2|p-0.875|, d1 = sqrt2|p-0.353|).
The seed's heads are always scored; --heads adds trained heads.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			people, err := readLFWGenders(filepath.Join(dir, "genders.csv"))
			if err != nil {
				return cli.Exit(cli.ExitUsage, err)
			}
			reg, err := openRegistry(ortLib, dataDir)
			if err != nil {
				return err
			}
			_, hs, err := loadTrainedHeads(reg, variant, headsNames)
			if err != nil {
				return err
			}
			an, err := analyzer.New(reg, analyzer.Options{Variant: variant, Threads: threads})
			if err != nil {
				return err
			}
			defer an.Close()
			net, err := agegender.Open(reg, variant, models.SessionOptions{IntraOpThreads: threads})
			if err != nil {
				return err
			}
			defer net.Close()

			start := time.Now()
			var faces []heads.FaceSample
			var owner []string
			noFace := 0
			names := make([]string, 0, len(people))
			for p := range people {
				names = append(names, p)
			}
			sort.Strings(names)
			tty := term.IsTerminal(int(os.Stderr.Fd())) // progress only where someone watches
			for _, person := range names {
				files, _ := filepath.Glob(filepath.Join(dir, "images", person, "*.jpg"))
				sort.Strings(files)
				if len(files) == 0 {
					return cli.Exit(cli.ExitUsage, fmt.Errorf("%s: no photos of %s", dir, person))
				}
				for _, f := range files {
					res, err := an.Analyze(cmd.Context(), f)
					if err != nil {
						return err
					}
					b, ok := centralFace(res)
					if !ok {
						noFace++
						continue
					}
					faces = append(faces, heads.FaceSample{Key: f, Path: f, Box: [4]float64{b.X1, b.Y1, b.X2, b.Y2}})
					owner = append(owner, person)
				}
				if tty {
					fmt.Fprintf(os.Stderr, "\rlfw: %d photos with a face", len(faces))
				}
			}
			if tty {
				fmt.Fprintln(os.Stderr)
			}
			ins, err := hook.CropExtractor{Net: net}.ExtractFaces(cmd.Context(), faces)
			if err != nil {
				return err
			}
			score := func(label string, male func(heads.Input) (float64, error)) (lfwGenderResult, error) {
				r := lfwGenderResult{Heads: label, Images: len(ins)}
				fusion := map[string]float64{}
				ok := 0
				for i, in := range ins {
					p, err := male(in)
					if err != nil {
						return r, fmt.Errorf("%s: %w", faces[i].Path, err)
					}
					if agegender.IsMale(p) == people[owner[i]] {
						ok++
					}
					d0 := math.Sqrt2 * math.Abs(p-0.875)
					d1 := math.Sqrt2 * math.Abs(p-0.353)
					fusion[owner[i]] += math.Log1p(d1) - math.Log1p(d0)
				}
				r.ImageAccuracy = float64(ok) / float64(max(1, len(ins)))
				pok := 0
				for _, person := range names {
					s, seen := fusion[person]
					if !seen {
						continue
					}
					r.Persons++
					if (s > 0) == people[person] {
						pok++
					}
				}
				r.PersonAccuracy = float64(pok) / float64(max(1, r.Persons))
				return r, nil
			}
			results := []lfwGenderResult{}
			r, err := score(heads.Seed, func(in heads.Input) (float64, error) { return in.MaleProb, nil })
			if err != nil {
				return err
			}
			results = append(results, r)
			for _, h := range hs {
				r, err := score(h.Name, func(in heads.Input) (float64, error) { _, p, err := h.Apply(in); return p, err })
				if err != nil {
					return err
				}
				results = append(results, r)
			}
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(results)
			}
			fmt.Printf("LFW people with a gender label: %d; photos with a face: %d (%d without), %s, variant %s\n",
				len(names), len(ins), noFace, time.Since(start).Round(time.Second), net.Variant())
			for _, r := range results {
				fmt.Printf("  %-12s per image %.2f %% (n=%d)   per person (Dempster–Shafer) %.2f %% (n=%d)\n",
					r.Heads, 100*r.ImageAccuracy, r.Images, 100*r.PersonAccuracy, r.Persons)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&headsNames, "heads", nil, "trained heads to score beside the seed's (repeatable)")
	f.StringVar(&variant, "variant", agegender.DefaultVariant, "age/gender model variant: int8 or float32")
	f.StringVar(&dataDir, "data", "var/data", "data directory holding models/")
	f.StringVar(&ortLib, "ort-lib", "", "ONNX Runtime shared library (default: $FACED_ORT_LIB or var/lib)")
	f.IntVar(&threads, "threads", 0, "intra-op threads (0 = ONNX Runtime default)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	evalParent().AddCommand(cmd)
}

// readLFWGenders reads person,gender rows; true = male.
func readLFWGenders(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = 2
	out := map[string]bool{}
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if line == 1 && rec[0] == "person" {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(rec[1])) {
		case "male":
			out[rec[0]] = true
		case "female":
			out[rec[0]] = false
		default:
			return nil, fmt.Errorf("%s line %d: gender %q (want male or female)", path, line, rec[1])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no people", path)
	}
	return out, nil
}

// centralFace picks the labelled person's face: the largest face whose box
// contains the image centre, else the largest face.
func centralFace(r *face.Result) (face.Box, bool) {
	best, bestC := -1, -1
	cx, cy := float64(r.Width)/2, float64(r.Height)/2
	for i, f := range r.Faces {
		if best < 0 || f.Box.Area() > r.Faces[best].Box.Area() {
			best = i
		}
		if f.Box.X1 <= cx && cx <= f.Box.X2 && f.Box.Y1 <= cy && cy <= f.Box.Y2 {
			if bestC < 0 || f.Box.Area() > r.Faces[bestC].Box.Area() {
				bestC = i
			}
		}
	}
	if bestC >= 0 {
		return r.Faces[bestC].Box, true
	}
	if best >= 0 {
		return r.Faces[best].Box, true
	}
	return face.Box{}, false
}

func init() {
	var (
		headsNames                         []string
		variant, dataDir, ortLib, cacheDir string
		threads, batch                     int
		asJSON, calib                      bool
	)
	cmd := &cobra.Command{
		Use:   "heads DIR [--heads NAME]... [--calib]",
		Short: "UTKFace chips (seed protocol, eval utkface's scoring) with the seed's heads beside trained heads; network outputs cached",
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
			mi, hs, err := loadTrainedHeads(reg, variant, headsNames)
			if err != nil {
				return err
			}
			net, err := agegender.Open(reg, variant, models.SessionOptions{IntraOpThreads: threads})
			if err != nil {
				return err
			}
			defer net.Close()
			files := make([]heads.File, len(samples))
			for i, s := range samples {
				b, err := os.ReadFile(s.Path)
				if err != nil {
					return err
				}
				sum := sha256.Sum256(b)
				files[i] = heads.File{Path: s.Path, SHA256: hex.EncodeToString(sum[:])}
			}
			cache := headsFeatureCache(cacheDir, dataDir, mi, net, batch)
			ins, err := cache.Extract(cmd.Context(), files)
			if err != nil {
				return err
			}
			type row struct {
				Heads string `json:"heads"`
				utkface.Result
				Within5Ages2160 float64 `json:"within5_ages_21_60"`
			}
			var rows []row
			add := func(name string, apply func(heads.Input) (float64, float64, error)) error {
				age := make([]float64, len(ins))
				male := make([]float64, len(ins))
				for i, in := range ins {
					var err error
					if age[i], male[i], err = apply(in); err != nil {
						return fmt.Errorf("%s: %w", samples[i].Path, err)
					}
				}
				r := row{Heads: name, Result: utkface.Score(samples, age, male)}
				r.Variant = net.Variant()
				n, w := 0, 0
				for i, s := range samples {
					if s.Age >= 21 && s.Age <= 60 {
						n++
						if math.Abs(math.Min(60, math.Max(21, age[i]))-float64(s.Age)) <= 5 {
							w++
						}
					}
				}
				r.Within5Ages2160 = float64(w) / float64(max(1, n))
				rows = append(rows, r)
				if calib {
					truth := make([]float64, len(samples))
					for i, s := range samples {
						truth[i] = float64(s.Age)
					}
					fmt.Fprintf(os.Stderr, "apparent-age calibration of %s (apparent, mean true, sd), cluster.FitAgeCalib:\n", name)
					for _, c := range cluster.FitAgeCalib(age, truth) {
						fmt.Fprintf(os.Stderr, "\t{%.1f, %.1f, %.1f},\n", c[0], c[1], c[2])
					}
				}
				return nil
			}
			if err := add(heads.Seed, func(in heads.Input) (float64, float64, error) {
				return agegender.DecodeAge(in.AgeProbs), in.MaleProb, nil
			}); err != nil {
				return err
			}
			for _, h := range hs {
				if err := add(h.Name, h.Apply); err != nil {
					return err
				}
			}
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			fmt.Printf("UTKFace chips: %d (%s), variant %s, %d network outputs from the cache; male iff P >= %.1f\n",
				len(samples), filepath.Clean(args[0]), net.Variant(), cache.Hits, agegender.MaleThreshold)
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "heads\tgender\tMAE\twithin 5\tAdience\t| 21-60 clipped: n\tgender\tMAE\twithin 5\t")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%.2f %%\t%.2f\t%.1f %%\t%.1f %%\t| %d\t%.2f %%\t%.2f\t%.1f %%\t\n", r.Heads, 100*r.GenderAccuracy, r.AgeMAE,
					100*r.Within5, 100*r.AdienceAccuracy, r.Ages2160.N, 100*r.Ages2160.GenderAccuracy, r.Ages2160.AgeMAE, 100*r.Within5Ages2160)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&headsNames, "heads", nil, "trained heads to score beside the seed's (repeatable)")
	f.StringVar(&variant, "variant", agegender.DefaultVariant, "age/gender model variant: int8 or float32")
	f.StringVar(&dataDir, "data", "var/data", "data directory holding models/")
	f.StringVar(&ortLib, "ort-lib", "", "ONNX Runtime shared library (default: $FACED_ORT_LIB or var/lib)")
	f.StringVar(&cacheDir, "cache", "", "network output cache (default DATA/cache/heads-features)")
	f.IntVar(&threads, "threads", 0, "intra-op threads (0 = ONNX Runtime default)")
	f.IntVar(&batch, "batch", 8, "chips per network call")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.BoolVar(&calib, "calib", false, "also print each heads' apparent-age calibration on DIR (to stderr; the table cluster/age.go uses for the seed heads)")
	evalParent().AddCommand(cmd)
}

// useHeads installs the heads called name ("" or "seed": the network's own)
// on net, refusing heads trained on another model file. It returns the
// name in effect.
func useHeads(net *agegender.Net, reg *models.Registry, name string) (string, error) {
	hk, err := hook.Open(reg, net.Variant(), name)
	if err != nil {
		return "", err
	}
	if hk == nil {
		return heads.Seed, nil
	}
	net.SetHeads(hk)
	return name, nil
}
