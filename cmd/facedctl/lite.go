//go:build lite

// The lite build of facedctl (go build -tags lite) links neither OpenCV nor
// the inference code, so the everyday commands (status, persons, scan,
// retry, models list) start instantly. The analysis, evaluation and export
// commands live in the full build, installed next to it as facedctl-full;
// the lite build hands them over with exec, arguments unchanged.

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
)

// fullCommands are the top-level commands only the full build has; "models
// train-heads" is the one heavy sub-command of a light parent.
var fullCommands = map[string]string{
	"analyze": "Detect faces in photos and videos and print box, age, gender and timing per stage",
	"bench":   "Measure analysis throughput (photos/s) and time per stage",
	"eval":    "Evaluate faced on labelled data (utkface, cluster, heads, lfw-gender)",
	"export":  "Rewrite XMP sidecars from the face index",
	"samples": "Sample photos for the default configuration",
}

// positionals returns the command words of args, skipping flags and the
// value of the persistent --config flag.
func positionals(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(out, args[i+1:]...)
		case a == "--config":
			i++
		case len(a) > 0 && a[0] == '-':
		default:
			out = append(out, a)
		}
	}
	return out
}

// needsFull reports whether args name a command of the full build.
func needsFull(args []string) bool {
	pos := positionals(args)
	if len(pos) == 0 {
		return false
	}
	if _, ok := fullCommands[pos[0]]; ok {
		return true
	}
	return len(pos) > 1 && pos[0] == "models" && pos[1] == "train-heads"
}

func init() {
	if len(os.Args) > 1 && needsFull(os.Args[1:]) {
		exe, err := os.Executable()
		if err == nil {
			full := filepath.Join(filepath.Dir(exe), "facedctl-full")
			err = syscall.Exec(full, append([]string{full}, os.Args[1:]...), os.Environ())
			err = fmt.Errorf("%s: %w", full, err)
		}
		fmt.Fprintf(os.Stderr, "facedctl: %q needs the full build facedctl-full next to facedctl (make build): %v\n", positionals(os.Args[1:])[0], err)
		os.Exit(1)
	}
	// Listed in --help like every other command; never run (init hands over).
	for name, short := range fullCommands {
		rootCmd.AddCommand(&cobra.Command{Use: name, Short: short, DisableFlagParsing: true,
			RunE: func(*cobra.Command, []string) error { return fmt.Errorf("%s needs facedctl-full", name) }})
	}
}
