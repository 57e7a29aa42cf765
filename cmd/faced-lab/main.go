// Command faced-lab holds faced's analysis and research tools: analyze,
// bench, eval, export, samples and models train-heads. It links OpenCV and
// ONNX Runtime; the daily client is facedctl. Each sub-command lives in its
// own file and registers itself on rootCmd in an init function
// (rootCmd.AddCommand, or cli.Parent(rootCmd, ...) to add under a shared
// parent such as eval).
package main

import "github.com/faced/faced/internal/cli"

// configPath is the --config flag shared by every sub-command.
var configPath string

var rootCmd = cli.NewRoot("faced-lab", "faced's analysis, evaluation and training tools", `
faced-lab runs faced's networks outside the daemon: analyze photos and print
what was found (analyze), measure throughput (bench), evaluate on labelled
data (eval), rewrite sidecars from the index (export), make the sample photos
(samples) and train the age/gender heads (models train-heads).

The daily client (status, scan, retry, persons, models list) is facedctl.`, &configPath)

func main() {
	cli.Main(rootCmd, "the daily commands (status, scan, retry, persons, models list) are in facedctl: see facedctl --help")
}
