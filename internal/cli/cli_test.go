package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestExitCodes runs a small root through run and checks the table's codes:
// a command's own code, a plain error, an unknown command and a bad flag.
func TestExitCodes(t *testing.T) {
	var cfg string
	root := NewRoot("tool", "a tool", "does things", &cfg)
	root.AddCommand(&cobra.Command{Use: "ok", RunE: func(*cobra.Command, []string) error { return nil }})
	root.AddCommand(&cobra.Command{Use: "down", RunE: func(*cobra.Command, []string) error {
		return fmt.Errorf("wrapped: %w", Exit(ExitNotRunning, errors.New("not running")))
	}})
	root.AddCommand(&cobra.Command{Use: "said", RunE: func(*cobra.Command, []string) error {
		return ExitQuiet(ExitNotRunning, errors.New("already said on stdout"))
	}})
	root.AddCommand(&cobra.Command{Use: "plain", RunE: func(*cobra.Command, []string) error { return errors.New("boom") }})
	Parent(root, "eval", "evaluations").AddCommand(&cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error {
		return Exit(ExitNotFound, errors.New("none"))
	}})
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"ok"}, ExitOK, ""},
		{[]string{"down"}, ExitNotRunning, "tool: wrapped: not running"},
		{[]string{"plain"}, ExitFailure, "tool: boom"},
		{[]string{"said"}, ExitNotRunning, ""},
		{[]string{"eval", "x"}, ExitNotFound, "tool: none"},
		{[]string{"nosuch"}, ExitUsage, "see elsewhere"},
		{[]string{"ok", "--nosuchflag"}, ExitUsage, "unknown flag"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		root.SetArgs(tt.args)
		got := run(root, &stderr, "see elsewhere")
		if got != tt.code {
			t.Errorf("%v: exit %d, want %d (%s)", tt.args, got, tt.code, stderr.String())
		}
		if tt.msg == "" && stderr.Len() > 0 {
			t.Errorf("%v: stderr %q, want nothing", tt.args, stderr.String())
		}
		if !strings.Contains(stderr.String(), tt.msg) {
			t.Errorf("%v: stderr %q lacks %q", tt.args, stderr.String(), tt.msg)
		}
	}
	if Parent(root, "eval", "again") != Parent(root, "eval", "") {
		t.Error("Parent created a second eval")
	}
	if !strings.Contains(root.Long, ExitTable) {
		t.Error("the root's help lacks the exit-code table")
	}
}

// TestDefaultConfigPath: ./config.txt wins; without it the packaged
// /etc/faced/config.txt when installed, else config.txt.
func TestDefaultConfigPath(t *testing.T) {
	t.Chdir(t.TempDir())
	_, err := os.Stat(SystemConfig)
	want := "config.txt"
	if err == nil {
		want = SystemConfig
	}
	if got := DefaultConfigPath(); got != want {
		t.Errorf("no config.txt here: %q, want %q", got, want)
	}
	os.WriteFile("config.txt", nil, 0o644)
	if got := DefaultConfigPath(); got != "config.txt" {
		t.Errorf("config.txt here: %q", got)
	}
}
