package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faced/faced/api"
	"github.com/faced/faced/index"
	"github.com/faced/faced/internal/cli"
)

// indexFile is the index's name inside DataDirectory (as daemon/wire names
// it; facedctl does not link the daemon).
const indexFile = "faces.db"

type statusOptions struct {
	json    bool
	timeout time.Duration
}

func init() { rootCmd.AddCommand(newStatusCommand()) }

func newStatusCommand() *cobra.Command {
	var o statusOptions
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether faced runs, its queue, rate, counts and last errors",
		Long: `Show whether the faced daemon runs (asked over its local socket), its
version, uptime, queue length, files done, failed and pending, faces,
persons, photos/s over the last minute, ETA and the last errors with file
and reason. When the daemon is not running, the counts and the failed files
come from the index itself.

EXIT STATUS
  0  the daemon is running
  3  the daemon is not running (the index counts are still shown)
  1  an error (bad configuration, unreadable index, API version mismatch)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the status as JSON (the /v1/status body)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 3*time.Second, "how long to wait for the daemon's answer")
	return cmd
}

func runStatus(ctx context.Context, o statusOptions, w io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	socket, dataDir, cfg, err := cli.DaemonPaths(configPath)
	if err != nil {
		return err
	}
	qctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	st, err := api.NewClient(socket).Status(qctx)
	running := err == nil
	if err != nil && !errors.Is(err, api.ErrNotRunning) {
		return cli.Exit(cli.ExitFailure, err)
	}
	if !running {
		st, err = offlineStatus(ctx, dataDir)
		if err != nil {
			return cli.Exit(cli.ExitFailure, err)
		}
		st.InputDirectory = cfg.InputDirectory()
	}
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return cli.Exit(cli.ExitFailure, err)
		}
	} else {
		printStatus(w, st)
	}
	if !running {
		return cli.ExitQuiet(cli.ExitNotRunning, fmt.Errorf("faced is not running (no answer on %s)", socket))
	}
	return nil
}

// offlineStatus reads the counts from the index when the daemon is down.
func offlineStatus(ctx context.Context, dataDir string) (api.Status, error) {
	st := api.Status{Errors: []api.FileError{}}
	p := filepath.Join(dataDir, indexFile)
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return st, nil // never ran: nothing indexed yet
	}
	// Read-only: a status query never creates, migrates or checkpoints.
	ix, err := index.OpenReadOnly(ctx, p)
	if err != nil {
		return st, err
	}
	defer ix.Close()
	is, err := ix.Stats(ctx, 20)
	if err != nil {
		return st, err
	}
	q := is.QueueWaiting + is.QueueLeased
	st.Queue = q
	st.Files = api.FileCounts{Done: is.Files[index.StatusDone], Failed: is.Files[index.StatusFailed], Pending: q, Media: is.Media}
	st.Faces, st.Persons = is.Faces, is.Persons
	for _, e := range is.Errors {
		st.Errors = append(st.Errors, api.FileError{File: e.Path, Reason: e.Error, Time: e.At})
	}
	if q > 0 {
		st.ETASeconds = -1
	}
	return st, nil
}

func printStatus(w io.Writer, st api.Status) {
	if st.Running {
		fmt.Fprintf(w, "faced %s running (pid %d, up %s)\n", st.Version, st.PID,
			(time.Duration(st.UptimeSeconds) * time.Second).String())
	} else {
		fmt.Fprintln(w, "faced is not running; counts from the index")
	}
	if st.InputDirectory != "" {
		fmt.Fprintf(w, "input:   %s\n", st.InputDirectory)
	}
	fmt.Fprintf(w, "queue:   %d", st.Queue)
	if st.Running {
		fmt.Fprintf(w, " (%d in analysis), %.2f photos/s over the last minute", st.InFlight, st.PhotosPerSecond)
		switch {
		case st.ETASeconds > 0:
			fmt.Fprintf(w, ", ETA %s", (time.Duration(st.ETASeconds) * time.Second).String())
		case st.ETASeconds < 0:
			fmt.Fprint(w, ", ETA unknown")
		}
		if st.Scanning {
			fmt.Fprint(w, ", scanning")
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "files:   %d done, %d failed, %d pending", st.Files.Done, st.Files.Failed, st.Files.Pending)
	if st.Files.SidecarFailed > 0 {
		fmt.Fprintf(w, ", %d without sidecar (writes failing)", st.Files.SidecarFailed)
	}
	fmt.Fprintln(w)
	if line := mediaLine(st.Files.Media); line != "" {
		fmt.Fprintf(w, "media:   %s\n", line)
	}
	fmt.Fprintf(w, "faces:   %d\npersons: %d\n", st.Faces, st.Persons)
	if len(st.Problems) > 0 {
		fmt.Fprintln(w, "problems:")
		for _, p := range st.Problems {
			fmt.Fprintf(w, "  ERROR %s\n", p.Message)
			if p.Error != "" {
				fmt.Fprintf(w, "        last error: %s\n", p.Error)
			}
		}
	}
	if len(st.Errors) > 0 {
		fmt.Fprintln(w, "last errors:")
		for _, e := range st.Errors {
			fmt.Fprintf(w, "  %q: %s\n", e.File, strings.TrimSpace(e.Reason))
		}
	}
}

// mediaLine names the analysed files by media kind, in the media table's
// order of kinds ("12 photo, 3 motion photo, 2 raw, 1 video").
func mediaLine(m map[string]int) string {
	var parts []string
	for _, k := range []string{"photo", "motion", "raw", "video"} {
		if n := m[k]; n > 0 {
			name := k
			if k == "motion" {
				name = "motion photo"
			}
			parts = append(parts, fmt.Sprintf("%d %s", n, name))
		}
	}
	for k, n := range m {
		if k != "photo" && k != "motion" && k != "raw" && k != "video" && n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	return strings.Join(parts, ", ")
}
