// Command faced is the face-analysis daemon: it watches InputDirectory,
// analyses new photos and videos, keeps the face index, clusters persons and
// writes XMP sidecars. `faced run` runs it in the foreground;
// install|uninstall|start|stop|status manage it as an OS service.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "faced: not wired yet")
	os.Exit(1)
}
