package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func init() { rootCmd.AddCommand(newRetryCommand()) }

func newRetryCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "retry",
		Short: "Queue every failed file for analysis again",
		Long: `Ask the running daemon to queue every file whose analysis failed again
(after fixing the files, installing a codec, ...).

EXIT STATUS
  0  done
  3  the daemon is not running
  1  an error`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRetry(cmd.Context(), cmd.OutOrStdout())
		},
	}
}

func runRetry(ctx context.Context, w io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	c, err := clientOrExit()
	if err != nil {
		return err
	}
	res, err := c.Retry(ctx)
	if err != nil {
		return apiErr(err)
	}
	fmt.Fprintf(w, "requeued %d failed files\n", res.Requeued)
	if res.Sidecars > 0 {
		fmt.Fprintf(w, "writing %d failed sidecars again\n", res.Sidecars)
	}
	return nil
}
