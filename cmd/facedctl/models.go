package main

import (
	"fmt"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/faced/faced/internal/cli"
	"github.com/faced/faced/models"
	"github.com/spf13/cobra"
)

func init() {
	var dataDir string
	modelsCmd := &cobra.Command{
		Use:   "models [list]",
		Short: "List the installed models (verified against their SHA-256)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && args[0] != "list" {
				return cli.Exit(cli.ExitUsage, fmt.Errorf("unknown models sub-command %q (list, install)", args[0]))
			}
			return listModels(dataDir)
		},
	}
	modelsCmd.PersistentFlags().StringVar(&dataDir, "data", "var/data", "data directory (models live in DATA/models)")
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
	st, err := models.List(dataDir)
	if err != nil {
		return cli.Exit(cli.ExitFailure, err)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFILE\tSIZE\tSHA-256\tSTATUS")
	bad := 0
	for _, s := range st {
		status := "ok"
		if s.Err != nil {
			status = s.Err.Error()
			bad++
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f MB\t%s\t%s\n", s.Name, s.File, float64(s.Size)/1e6, s.SHA256, status)
	}
	tw.Flush()
	if bad > 0 {
		return cli.Exit(cli.ExitFailure, fmt.Errorf("%d model(s) failed verification", bad))
	}
	return nil
}
