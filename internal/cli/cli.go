// Package cli holds what faced's two command-line programs share: the one
// exit-code table, the root command with its --config flag, parent commands
// that several files add to, and the paths a config gives a client.
//
// facedctl is the daily client (status, scan, retry, persons, models): pure
// Go, no OpenCV, starts at once. faced-lab holds the analysis and research
// tools (analyze, bench, eval, export, samples, models train-heads), which link
// OpenCV and ONNX Runtime. Each command lives in its own file of its program
// and registers itself on the program's root in an init function.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faced/faced/config"
)

// The exit codes of every facedctl and faced-lab command.
const (
	ExitOK         = 0 // done; for status: the daemon is running
	ExitFailure    = 1 // an error: bad configuration, unreadable index, a file that failed
	ExitUsage      = 2 // bad arguments or input: unknown flag or value, a photo that cannot be analysed
	ExitNotRunning = 3 // the daemon is not running (status, scan, retry)
	ExitNotFound   = 4 // no such person or face, or no index yet (persons)
)

// ExitTable is the exit-code table as the programs' help prints it.
const ExitTable = `EXIT STATUS (every facedctl and faced-lab command)
  0  done (status: the daemon is running)
  1  an error (bad configuration, unreadable index, a file that failed)
  2  bad arguments or input (unknown command, flag or value; a photo that cannot be analysed)
  3  the daemon is not running (status, scan, retry)
  4  no such person or face, or no index yet (persons)`

// SystemConfig is the configuration the Debian package installs.
const SystemConfig = "/etc/faced/config.txt"

// ConfigFlagHelp is the help of the --config flag of every program.
const ConfigFlagHelp = "faced configuration file; without the flag ./config.txt if present, else " + SystemConfig

// DefaultConfigPath is config.txt in the current folder when there is one
// (a checkout), else SystemConfig when there is one (an installation), else
// config.txt (whose absence the command then reports).
func DefaultConfigPath() string {
	for _, p := range []string{"config.txt", SystemConfig} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "config.txt"
}

// ExitError carries an exit code out of a command.
type ExitError struct {
	Code int
	Err  error
	// Quiet: the command already said it on stdout (status: "faced is not
	// running"), so the program prints nothing more; the code still tells.
	Quiet bool
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Exit returns err with exit code code.
func Exit(code int, err error) error { return &ExitError{Code: code, Err: err} }

// ExitQuiet is Exit for an outcome the command already printed.
func ExitQuiet(code int, err error) error { return &ExitError{Code: code, Err: err, Quiet: true} }

// Code returns the exit code for err: 0 for nil, the code of an ExitError
// in its chain, else ExitFailure.
func Code(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}

// NewRoot returns a program's root command: the --config flag bound to
// configPath, the exit-code table in its help, flag errors as usage errors.
func NewRoot(use, short, long string, configPath *string) *cobra.Command {
	root := &cobra.Command{
		Use:           use,
		Short:         short,
		Long:          strings.TrimSpace(long) + "\n\n" + ExitTable,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(configPath, "config", DefaultConfigPath(), ConfigFlagHelp)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return Exit(ExitUsage, err) })
	return root
}

// Parent returns root's sub-command called name, creating it (with short as
// its help line) if no other file's init has yet: files that add
// sub-commands to it must not depend on their init order.
func Parent(root *cobra.Command, name, short string) *cobra.Command {
	for _, c := range root.Commands() {
		if c.Name() == name {
			return c
		}
	}
	c := &cobra.Command{Use: name, Short: short}
	root.AddCommand(c)
	return c
}

// Main runs root with os.Args and exits with the table's code; hint, when
// not empty, follows the message of an unknown command.
func Main(root *cobra.Command, hint string) {
	os.Exit(run(root, os.Stderr, hint))
}

func run(root *cobra.Command, stderr io.Writer, hint string) int {
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) && ee.Quiet {
		return ee.Code
	}
	fmt.Fprintf(stderr, "%s: %v\n", root.Name(), err)
	if !errors.As(err, &ee) && strings.HasPrefix(err.Error(), "unknown command") {
		if hint != "" {
			fmt.Fprintln(stderr, hint)
		}
		return ExitUsage
	}
	return Code(err)
}

// DaemonPaths loads the config at configPath and returns the daemon's socket
// and data directory.
func DaemonPaths(configPath string) (socket, dataDir string, cfg *config.Config, err error) {
	cfg, err = config.Load(configPath)
	if err != nil {
		return "", "", nil, Exit(ExitFailure, err)
	}
	socket = cfg.Socket()
	if socket == "" {
		socket = config.DefaultSocket(cfg.DataDirectory())
	}
	return socket, cfg.DataDirectory(), cfg, nil
}
