package cli

import (
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// roffEscapes are the font changes of a man(7) page; flagInPage finds
// the long flags a page names.
var (
	roffEscapes = strings.NewReplacer(`\-`, "-", `\fB`, "", `\fI`, "", `\fR`, "", `\fP`, "", `\(em`, "-", `\&`, "")
	flagInPage  = regexp.MustCompile(`--[a-z][a-z0-9-]*`)
)

// ManPageGaps compares a manual page (man(7) source, docs/man) with the
// program's command tree: missing lists the commands and flags the page
// does not describe (a command's name must appear on one line with the
// names of its parents), stale the long flags the page names that no
// command has, except those of other programs (foreign: --chuid of
// start-stop-daemon).
func ManPageGaps(root *cobra.Command, page string, foreign ...string) (missing, stale []string) {
	text := roffEscapes.Replace(page)
	lines := strings.Split(text, "\n")
	if root.Version != "" {
		root.InitDefaultVersionFlag()
	}
	known := map[string]bool{"--help": true}
	noteFlags := func(c *cobra.Command, fs *pflag.FlagSet) {
		fs.VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" {
				return
			}
			known["--"+f.Name] = true
			if !strings.Contains(text, "--"+f.Name) {
				missing = append(missing, c.CommandPath()+" --"+f.Name)
			}
		})
	}
	var walk func(c *cobra.Command, parents []string)
	walk = func(c *cobra.Command, parents []string) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		noteFlags(c, c.LocalNonPersistentFlags())
		noteFlags(c, c.PersistentFlags())
		if c != root {
			words := append(slices.Clone(parents), c.Name())
			if !slices.ContainsFunc(lines, func(l string) bool { return hasWords(l, words) }) {
				missing = append(missing, c.CommandPath())
			}
			parents = words
		}
		for _, s := range c.Commands() {
			walk(s, parents)
		}
	}
	walk(root, nil)
	for _, f := range flagInPage.FindAllString(text, -1) {
		if !known[f] && !slices.Contains(foreign, f) && !slices.Contains(stale, f) {
			stale = append(stale, f)
		}
	}
	return missing, stale
}

// hasWords reports whether every word is a whole word of line.
func hasWords(line string, words []string) bool {
	fields := strings.FieldsFunc(line, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
	})
	for _, w := range words {
		if !slices.Contains(fields, w) {
			return false
		}
	}
	return true
}
