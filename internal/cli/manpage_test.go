package cli

import (
	"slices"
	"testing"

	"github.com/spf13/cobra"
)

// ManPageGaps finds a command or flag the page lacks and a flag it names
// that the program no longer has.
func TestManPageGaps(t *testing.T) {
	tree := func() *cobra.Command {
		var s string
		root := &cobra.Command{Use: "prog", Version: "1"}
		root.PersistentFlags().StringVar(&s, "config", "", "")
		p := &cobra.Command{Use: "persons"}
		l := &cobra.Command{Use: "list", Run: func(*cobra.Command, []string) {}}
		l.Flags().Bool("all", false, "")
		p.AddCommand(l)
		root.AddCommand(p)
		return root
	}
	full := ".TH PROG 1\n.TP\n.B persons list \\fR[\\fB\\-\\-all\\fR]\n.BI \\-\\-config \" file\"\n.B \\-\\-version\n"
	for _, c := range []struct {
		name, page     string
		missing, stale []string
	}{
		{"complete", full, nil, nil},
		{"command missing", ".B persons\n.B list\n\\-\\-all \\-\\-config \\-\\-version", []string{"prog persons list"}, nil},
		{"flag missing", ".B persons list\n\\-\\-config \\-\\-version", []string{"prog persons list --all"}, nil},
		{"flag gone", full + ".B \\-\\-jsonl\nstart-stop-daemon \\-\\-chuid\n", nil, []string{"--jsonl"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			missing, stale := ManPageGaps(tree(), c.page, "--chuid")
			if !slices.Equal(missing, c.missing) || !slices.Equal(stale, c.stale) {
				t.Errorf("missing %q stale %q; want %q %q", missing, stale, c.missing, c.stale)
			}
		})
	}
}
