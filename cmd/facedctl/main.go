// Command facedctl is faced's daily client: status, scan, retry, persons
// and models. It links neither OpenCV nor the analysis code, so it starts at
// once; the analysis and research tools are in faced-lab. Each sub-command
// lives in its own file and registers itself on rootCmd in an init function
// (rootCmd.AddCommand, or cli.Parent(rootCmd, ...) to add under a shared
// parent).
package main

import "github.com/faced/faced/internal/cli"

// configPath is the --config flag shared by every sub-command.
var configPath string

var rootCmd = cli.NewRoot("facedctl", "Control the faced daemon and read its index", `
facedctl is faced's daily client: whether the daemon runs and how far it is
(status), what it should look at again (scan, retry), the persons it found
(persons) and its models (models). It talks to the running daemon over its
local socket, or reads the index when the daemon is down.

The analysis and research tools (analyze, bench, eval, export, samples,
models train-heads) are in faced-lab.`, &configPath)

func main() {
	cli.Main(rootCmd, "the analysis and research tools (analyze, bench, eval, export, samples, models train-heads) are in faced-lab: see faced-lab --help")
}
