package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faced/faced/config"
	"github.com/faced/faced/heads"
	"github.com/faced/faced/internal/cli"
	"github.com/faced/faced/models"
	"github.com/spf13/cobra"
)

func init() {
	var dataDir string
	modelsCmd := &cobra.Command{
		Use:   "models [list]",
		Short: "List the installed models (verified against their SHA-256) and trained heads",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && args[0] != "list" {
				return cli.Exit(cli.ExitUsage, fmt.Errorf("unknown models sub-command %q (list, install)", args[0]))
			}
			return listModels(dataDir)
		},
	}
	modelsCmd.PersistentFlags().StringVar(&dataDir, "data", "", "data directory (models live in DATA/models; default: DataDirectory of the config, else var/data)")
	modelsCmd.PersistentPreRun = func(*cobra.Command, []string) {
		if dataDir == "" {
			dataDir = "var/data"
			if cfg, err := config.Load(configPath); err == nil {
				dataDir = cfg.DataDirectory()
			}
		}
	}
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List the installed models",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return listModels(dataDir) },
	}
	var seedDir string
	installCmd := &cobra.Command{
		Use:   "install --seed DIR --data DIR",
		Short: "Convert the seed's TensorFlow GraphDefs to ONNX into DATA/models (once; verifies when done)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			res, err := models.Install(cmd.Context(), seedDir, dataDir, log)
			if err != nil {
				return err
			}
			if len(res.Converted) == 0 {
				fmt.Fprintf(os.Stderr, "models: up to date in %s (verified in %s)\n", res.Dir, time.Since(start).Round(time.Millisecond))
			} else {
				fmt.Fprintf(os.Stderr, "models: converted %v into %s in %s\n", res.Converted, res.Dir, time.Since(start).Round(time.Millisecond))
			}
			return nil
		},
	}
	installCmd.Flags().StringVar(&seedDir, "seed", "var/seed", "folder holding the seed's .pb files and LICENSE")
	modelsCmd.AddCommand(listCmd, installCmd)
	rootCmd.AddCommand(modelsCmd)
}

func listModels(dataDir string) error {
	return writeModels(os.Stdout, dataDir)
}

// writeModels prints the registry's models, verified, and the trained
// heads files beside them (heads-NAME.json) with the model they were
// trained on; a model that fails verification or an unreadable heads file
// makes it exit 1.
func writeModels(w io.Writer, dataDir string) error {
	st, err := models.List(dataDir)
	if err != nil {
		return cli.Exit(cli.ExitFailure, err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFILE\tSIZE\tSHA-256\tSTATUS")
	bad := 0
	bySHA := map[string]string{}
	for _, s := range st {
		status := "ok"
		if s.Err != nil {
			status = s.Err.Error()
			bad++
		}
		bySHA[s.SHA256] = s.Name
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.File, fileSize(s.Size), s.SHA256, status)
	}
	tw.Flush()
	dir := filepath.Join(dataDir, "models")
	files, _ := filepath.Glob(heads.Path(dir, "*"))
	if len(files) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "HEADS\tFILE\tSIZE\tTRAINED ON\tSAMPLES\tLICENSE\tSTATUS")
		for _, f := range files {
			size := int64(0)
			if fi, err := os.Stat(f); err == nil {
				size = fi.Size()
			}
			name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "heads-"), ".json")
			h, err := heads.Load(f)
			if err != nil {
				bad++
				fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\t%v\n", name, filepath.Base(f), fileSize(size), err)
				continue
			}
			on, status := bySHA[h.Model.SHA256], "ok (Heads = "+name+" in the config uses it)"
			if on == "" {
				on, status = h.Model.Variant, "trained on another model file: not usable with these models"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", name, filepath.Base(f), fileSize(size), on, h.Data.N, h.Data.License, status)
		}
		tw.Flush()
	}
	if bad > 0 {
		return cli.Exit(cli.ExitFailure, fmt.Errorf("%d model or heads file(s) failed verification", bad))
	}
	return nil
}

// fileSize prints n bytes in kB below 1 MB (pnet is 31 kB, not "0.0 MB").
func fileSize(n int64) string {
	if n < 1_000_000 {
		return fmt.Sprintf("%.0f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
