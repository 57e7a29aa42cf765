// Command facedctl drives the faced daemon and runs the one-shot tools:
// status, persons, scan, analyze, eval, bench, models and export. Each
// sub-command lives in its own file and registers itself on rootCmd in an
// init function.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

var rootCmd = &cobra.Command{
	Use:           "facedctl",
	Short:         "Control faced and run its analysis, evaluation and maintenance tools",
	SilenceUsage:  true,
	SilenceErrors: true,
}

// configPath is the --config flag shared by every sub-command.
var configPath string

func init() {
	rootCmd.PersistentFlags().StringVar(&configPath, "config", "config.txt", "faced configuration file")
}

// exitError carries a documented exit code out of a sub-command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "facedctl:", err)
		if ee, ok := err.(*exitError); ok {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}
