package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/faced/faced/daemon/wire"
	"github.com/faced/faced/exporters"
	"github.com/faced/faced/index"
	"github.com/faced/faced/internal/cli"
	"github.com/faced/faced/persons"
)

func init() { rootCmd.AddCommand(newExportCommand()) }

type exportOptions struct {
	all, json, embedded bool
}

func newExportCommand() *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export [PATH...|--all]",
		Short: "Rewrite XMP sidecars from the face index",
		Long: `Write (merge) the XMP sidecars of the given analysed files, or of every
analysed file with --all, from what the face index holds: MWG and Microsoft
face regions, person keywords and faced's namespace. Other tools' regions,
names and keywords stay; a sidecar that is already current is not touched.
Names users gave faced's faces in their photo manager are listed.

--embedded also merges into the XMP inside the photos (for Lightroom, which
does not read sidecars of JPEGs), with exiftool's safe in-place write.

EXIT STATUS
  0  done
  1  an error (some files could not be exported)`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.all == (len(args) > 0) {
				return cli.Exit(cli.ExitFailure, errors.New("export: give PATH... or --all"))
			}
			return runExport(cmd.Context(), o, args, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&o.all, "all", false, "export every analysed file")
	cmd.Flags().BoolVar(&o.json, "json", false, "print one JSON object per file")
	cmd.Flags().BoolVar(&o.embedded, "embedded", false, "also write into the photos' embedded XMP (modifies the photos)")
	return cmd
}

type exportLine struct {
	File      string               `json:"file"`
	Written   []string             `json:"written,omitempty"`
	Unchanged bool                 `json:"unchanged"`
	UserNames []exporters.UserName `json:"user_names,omitempty"`
	Error     string               `json:"error,omitempty"`
}

func runExport(ctx context.Context, o exportOptions, args []string, w io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	_, dataDir, cfg, err := cli.DaemonPaths(configPath)
	if err != nil {
		return err
	}
	p := filepath.Join(dataDir, wire.IndexFile)
	if _, err := os.Stat(p); err != nil {
		return cli.Exit(cli.ExitFailure, fmt.Errorf("export: no face index at %s (run faced first): %w", p, err))
	}
	ix, err := index.Open(ctx, p)
	if err != nil {
		return cli.Exit(cli.ExitFailure, err)
	}
	defer ix.Close()
	ex, err := exporters.New(exporters.Options{Naming: string(cfg.SidecarNaming()), UnnamedLabel: cfg.UnnamedPersonLabel(),
		VisibilityKeywordRoot: cfg.VisibilityKeywordRoot(), Embedded: o.embedded, FacedVersion: "faced-lab",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel()}))})
	if err != nil {
		return cli.Exit(cli.ExitFailure, err)
	}
	src := wire.NewExporter(persons.New(ix, persons.Options{}), ex)
	paths := args
	if o.all {
		files, err := ix.Files(ctx, index.StatusDone)
		if err != nil {
			return cli.Exit(cli.ExitFailure, err)
		}
		paths = paths[:0:0]
		for _, f := range files {
			paths = append(paths, f.Path)
		}
	}
	var failed, wrote, current int
	enc := json.NewEncoder(w)
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			return cli.Exit(cli.ExitFailure, err)
		}
		line := exportLine{File: path}
		res, err := exportOne(ctx, src, ex, path)
		if err != nil {
			failed++
			line.Error = err.Error()
		} else {
			line.Written, line.Unchanged, line.UserNames = res.Written, res.Unchanged, res.UserNames
			if res.Unchanged {
				current++
			} else {
				wrote++
			}
		}
		if o.json {
			enc.Encode(line)
			continue
		}
		switch {
		case line.Error != "":
			fmt.Fprintf(w, "error    %s: %s\n", path, line.Error)
		case line.Unchanged:
			fmt.Fprintf(w, "current  %s\n", path)
		default:
			for _, s := range line.Written {
				fmt.Fprintf(w, "wrote    %s\n", s)
			}
		}
		for _, u := range line.UserNames {
			fmt.Fprintf(w, "name     %q on face %d (person %d) in %s [%s]\n", u.Name, u.FaceID, u.PersonID, u.Sidecar, u.Source)
		}
	}
	if !o.json {
		fmt.Fprintf(w, "%d written, %d already current, %d failed\n", wrote, current, failed)
	}
	if failed > 0 {
		return cli.Exit(cli.ExitFailure, fmt.Errorf("export: %d of %d files failed", failed, len(paths)))
	}
	return nil
}

// exportOne exports path, trying its absolute form when the index knows
// the file by that.
func exportOne(ctx context.Context, src *wire.Exporter, ex *exporters.Exporter, path string) (exporters.Result, error) {
	ph, err := src.Photo(ctx, path)
	if errors.Is(err, index.ErrNotFound) {
		if abs, aerr := filepath.Abs(path); aerr == nil && abs != path {
			ph, err = src.Photo(ctx, abs)
		}
	}
	if errors.Is(err, index.ErrNotFound) {
		return exporters.Result{}, fmt.Errorf("not in the face index (not analysed yet?)")
	}
	if err != nil {
		return exporters.Result{}, err
	}
	return ex.Export(ctx, ph)
}
