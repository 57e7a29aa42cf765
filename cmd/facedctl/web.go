package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/faced/faced/api"
	"github.com/faced/faced/internal/cli"
	"github.com/faced/faced/review"
)

func init() { rootCmd.AddCommand(newWebCommand()) }

func newWebCommand() *cobra.Command {
	var open bool
	cmd := &cobra.Command{
		Use:   "web",
		Short: "Print (or open) the address of the review page, with its secret",
		Long: `Print the address of faced's review page (persons grid, merge suggestions,
photo view). The address carries the per-install secret once; the page then
keeps it in a cookie. Anyone with the address can edit your persons: do not
share it. The page is served by the running daemon on ReviewAddress.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx := c.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			socket, dataDir, cfg, err := cli.DaemonPaths(configPath)
			if err != nil {
				return err
			}
			addr := cfg.ReviewAddress()
			if addr == "" {
				return cli.Exit(cli.ExitFailure, errors.New("ReviewAddress is off in the configuration"))
			}
			secret, err := review.Secret(dataDir)
			if err != nil {
				return cli.Exit(cli.ExitFailure, err)
			}
			u := review.URL(addr, secret)
			fmt.Fprintln(c.OutOrStdout(), u)
			if _, err := api.NewClient(socket).Status(ctx); errors.Is(err, api.ErrNotRunning) {
				fmt.Fprintln(c.ErrOrStderr(), "facedctl: faced is not running: the page answers once it is started")
			}
			if open {
				if err := exec.Command("xdg-open", u).Start(); err != nil {
					return cli.Exit(cli.ExitFailure, fmt.Errorf("open a browser: %w", err))
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&open, "open", false, "open it in the desktop's browser (xdg-open)")
	return cmd
}
