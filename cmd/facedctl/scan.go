package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/faced/faced/api"
	"github.com/faced/faced/internal/cli"
)

type scanOptions struct {
	wait bool
}

func init() { rootCmd.AddCommand(newScanCommand()) }

func newScanCommand() *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:   "scan [PATH]",
		Short: "Ask the daemon to reconcile PATH (default: the whole input folder) and show the progress",
		Long: `Ask the running daemon to compare PATH (a file or folder inside InputDirectory,
default all of it) with the index and to queue what is new or changed, then
follow the analysis with a progress bar until the queue is empty.

EXIT STATUS
  0  done
  3  the daemon is not running
  1  an error`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := ""
			if len(args) == 1 {
				p = args[0]
				if _, err := os.Stat(p); err == nil {
					if abs, err := filepath.Abs(p); err == nil {
						p = abs
					}
				}
			}
			return runScan(cmd.Context(), o, p, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVar(&o.wait, "wait", true, "follow the analysis until the queue is empty")
	return cmd
}

func clientOrExit() (*api.Client, error) {
	socket, _, _, err := cli.DaemonPaths(configPath)
	if err != nil {
		return nil, err
	}
	return api.NewClient(socket), nil
}

func apiErr(err error) error {
	if errors.Is(err, api.ErrNotRunning) {
		return cli.Exit(cli.ExitNotRunning, err)
	}
	return cli.Exit(cli.ExitFailure, err)
}

func runScan(ctx context.Context, o scanOptions, path string, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	c, err := clientOrExit()
	if err != nil {
		return err
	}
	res, err := c.Scan(ctx, path)
	if err != nil {
		return apiErr(err)
	}
	fmt.Fprintf(stdout, "scanned %d files: %d queued, %d gone\n", res.Seen, res.Queued, res.Removed)
	if !o.wait {
		return nil
	}
	st, err := c.Status(ctx)
	if err != nil {
		return apiErr(err)
	}
	total := int64(max(st.Queue, res.Queued))
	var bar *progressbar.ProgressBar
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) && total > 0 {
		bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("analysing"), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
	}
	start := time.Now()
	for st.Queue > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if st, err = c.Status(ctx); err != nil {
			return apiErr(err)
		}
		if int64(st.Queue) > total {
			total = int64(st.Queue)
			if bar != nil {
				bar.ChangeMax64(total)
			}
		}
		if bar != nil {
			bar.Set64(total - int64(st.Queue))
		}
	}
	if bar != nil {
		bar.Finish()
	}
	fmt.Fprintf(stdout, "queue empty after %s: %d done, %d failed, %d faces, %d persons\n",
		time.Since(start).Round(100*time.Millisecond), st.Files.Done, st.Files.Failed, st.Faces, st.Persons)
	return nil
}
