package main

// facedctl persons: list, inspect and correct the persons in the index.
// This file must stay light: it imports only config, face-free index code
// and the standard library, never analyzer, models, agegender or gocv, so
// these commands start instantly (deps_test.go checks the index side).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/faced/faced/config"
	"github.com/faced/faced/exporters"
	"github.com/faced/faced/index"
	"github.com/faced/faced/internal/cli"
)

// personsIndexName is the index file inside DataDirectory.
const personsIndexName = "faces.db"

func init() { rootCmd.AddCommand(newPersonsCommand()) }

type personsCmd struct {
	json         bool
	all          bool
	unnamedLabel string // UnnamedPersonLabel of the config, set by open
}

func newPersonsCommand() *cobra.Command {
	var o personsCmd
	cmd := &cobra.Command{
		Use:   "persons",
		Short: "List, inspect, name, merge, split and forget persons",
		Long: `Work on the persons in the index (<DataDirectory>/faces.db). Changes are
user decisions: the clusterer never overrides them, and the sidecars of the
affected photos are rewritten by the running daemon.

EXIT STATUS
  0  done
  1  an error (bad configuration, unreadable index, invalid argument)
  4  no such person or face, or no index yet`,
	}
	cmd.PersistentFlags().BoolVar(&o.json, "json", false, "print JSON")
	list := &cobra.Command{
		Use:   "list",
		Short: "List persons with their face counts, birth year and gender",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return o.read(c, func(ctx context.Context, ix *index.Index, w io.Writer) error {
				ps, err := ix.Persons(ctx, index.PersonQuery{Inactive: o.all})
				if err != nil {
					return err
				}
				if o.json {
					if ps == nil {
						ps = []index.Person{}
					}
					return personsWriteJSON(w, ps)
				}
				printPersons(w, ps, o.unnamedLabel)
				return nil
			})
		},
	}
	list.Flags().BoolVar(&o.all, "all", false, "also list merged and opted-out persons")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one person and their faces",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return o.read(c, func(ctx context.Context, ix *index.Index, w io.Writer) error {
				id, err := personsParseID("person", args[0])
				if err != nil {
					return err
				}
				p, err := ix.Person(ctx, id)
				if err != nil {
					return err
				}
				faces, err := ix.Faces(ctx, index.FaceQuery{PersonID: id, NoFeatures: true})
				if err != nil {
					return err
				}
				if o.json {
					if faces == nil {
						faces = []index.FaceRecord{}
					}
					return personsWriteJSON(w, struct {
						index.Person
						FaceList []index.FaceRecord `json:"face_list"`
					}{p, faces})
				}
				printPersons(w, []index.Person{p}, o.unnamedLabel)
				if p.MergedInto != 0 {
					fmt.Fprintf(w, "\nmerged into person %d\n", p.MergedInto)
				}
				if len(faces) > 0 {
					fmt.Fprintln(w)
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "FACE\tSOURCE\tAGE\tBOX\tFILE")
					for _, f := range faces {
						fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.0f,%.0f %.0fx%.0f\t%s\n", f.ID, f.Source, f.Age,
							f.Box.X1, f.Box.Y1, f.Box.W(), f.Box.H(), f.Path)
					}
					tw.Flush()
				}
				return nil
			})
		},
	}
	name := &cobra.Command{
		Use:   "name ID NAME...",
		Short: `Name a person (the words are joined with spaces; "" removes the name)`,
		Args:  cobra.MinimumNArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			return o.change(c, args[0], func(ctx context.Context, ix *index.Index, id int64) (string, error) {
				n := strings.Join(args[1:], " ")
				if _, err := ix.SetName(ctx, id, n, index.SourceUser); err != nil {
					return "", err
				}
				if strings.TrimSpace(n) == "" {
					return fmt.Sprintf("person %d is unnamed", id), nil
				}
				return fmt.Sprintf("person %d is %q", id, strings.TrimSpace(n)), nil
			})
		},
	}
	merge := &cobra.Command{
		Use:   "merge A B",
		Short: "Merge person B into person A (A keeps its id; the stronger name wins)",
		Args:  cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			return o.change(c, args[0], func(ctx context.Context, ix *index.Index, a int64) (string, error) {
				b, err := personsParseID("person", args[1])
				if err != nil {
					return "", err
				}
				if err := ix.Merge(ctx, a, b); err != nil {
					return "", err
				}
				return fmt.Sprintf("merged person %d into %d", b, a), nil
			})
		},
	}
	split := &cobra.Command{
		Use:   "split ID FACE...",
		Short: "Move faces of a person to a new person; they never return to the old one",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			var newID int64
			return o.changeThen(c, args[0], func(ctx context.Context, ix *index.Index, id int64) (string, error) {
				var faces []int64
				for _, a := range args[1:] {
					f, err := personsParseID("face", a)
					if err != nil {
						return "", err
					}
					faces = append(faces, f)
				}
				var err error
				if newID, err = ix.Split(ctx, id, faces); err != nil {
					return "", err
				}
				return fmt.Sprintf("moved %d face(s) of person %d to new person %d", len(faces), id, newID), nil
			}, func() int64 { return newID })
		},
	}
	forget := &cobra.Command{
		Use:   "forget ID",
		Short: "Opt a person out: erase name and birth year, unassign their faces for good",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return o.change(c, args[0], func(ctx context.Context, ix *index.Index, id int64) (string, error) {
				if err := ix.Forget(ctx, id); err != nil {
					return "", err
				}
				return fmt.Sprintf("person %d is forgotten: no face of theirs will be assigned or named again", id), nil
			})
		},
	}
	setBirth := &cobra.Command{
		Use:   "set-birth ID YEAR",
		Short: "Set a person's birth year (0 removes it); it overrides the estimate",
		Args:  cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			return o.change(c, args[0], func(ctx context.Context, ix *index.Index, id int64) (string, error) {
				y, err := strconv.Atoi(args[1])
				if err != nil {
					return "", fmt.Errorf("%w: birth year %q is not a number", index.ErrInvalid, args[1])
				}
				if _, err := ix.SetBirthYear(ctx, id, y, index.SourceUser); err != nil {
					return "", err
				}
				return fmt.Sprintf("person %d was born in %d", id, y), nil
			})
		},
	}
	cmd.AddCommand(list, show, name, merge, split, forget, setBirth)
	return cmd
}

// read opens the index of the configuration read-only and calls fn.
func (o *personsCmd) read(c *cobra.Command, fn func(ctx context.Context, ix *index.Index, w io.Writer) error) error {
	return o.open(c, index.OpenReadOnly, fn)
}

// run opens the index of the configuration for writing and calls fn.
func (o *personsCmd) run(c *cobra.Command, fn func(ctx context.Context, ix *index.Index, w io.Writer) error) error {
	return o.open(c, index.Open, fn)
}

func (o *personsCmd) open(c *cobra.Command, open func(context.Context, string) (*index.Index, error),
	fn func(ctx context.Context, ix *index.Index, w io.Writer) error) error {
	ctx := c.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	path, label, err := personsIndexPath(configPath)
	o.unnamedLabel = label
	if err != nil {
		return cli.Exit(cli.ExitFailure, err)
	}
	if _, err := os.Stat(path); err != nil {
		return cli.Exit(cli.ExitNotFound, fmt.Errorf("no index at %s (faced has not analysed anything yet): %w", path, err))
	}
	ix, err := open(ctx, path)
	if err != nil {
		return cli.Exit(cli.ExitFailure, err)
	}
	err = fn(ctx, ix, c.OutOrStdout())
	if cerr := ix.Close(); err == nil && cerr != nil {
		err = cerr
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, index.ErrNotFound):
		return cli.Exit(cli.ExitNotFound, err)
	}
	return cli.Exit(cli.ExitFailure, err)
}

// change runs a modification of the person named by arg and prints the
// message, or with --json the person afterwards.
func (o *personsCmd) change(c *cobra.Command, arg string, fn func(context.Context, *index.Index, int64) (string, error)) error {
	return o.changeThen(c, arg, fn, nil)
}

// changeThen is change; show, when set, names the person to print as JSON.
func (o *personsCmd) changeThen(c *cobra.Command, arg string, fn func(context.Context, *index.Index, int64) (string, error), show func() int64) error {
	return o.run(c, func(ctx context.Context, ix *index.Index, w io.Writer) error {
		id, err := personsParseID("person", arg)
		if err != nil {
			return err
		}
		msg, err := fn(ctx, ix, id)
		if err != nil {
			return err
		}
		if !o.json {
			fmt.Fprintln(w, msg)
			return nil
		}
		if show != nil {
			id = show()
		}
		p, err := ix.Person(ctx, id)
		if err != nil {
			return err
		}
		return personsWriteJSON(w, p)
	})
}

func personsParseID(what, s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: %s id %q is not a positive number", index.ErrInvalid, what, s)
	}
	return id, nil
}

// printPersons prints ps as a table; unnamedLabel is the config's
// UnnamedPersonLabel, so unnamed persons show as their sidecars name them.
func printPersons(w io.Writer, ps []index.Person, unnamedLabel string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tFACES\tFILES\tBORN\tGENDER\tSTATE")
	for _, p := range ps {
		name := p.Name
		if name == "" {
			// What the sidecars call this person, marked as not a name.
			name = exporters.UnnamedName(unnamedLabel, p.ID) + " (unnamed)"
			if unnamedLabel == "" {
				name = "-"
			}
		} else if p.NameSource != index.SourceUser {
			name += " (" + string(p.NameSource) + ")"
		}
		born := "-"
		if p.BirthYear != 0 {
			born = strconv.Itoa(p.BirthYear)
			if p.BirthYearSource != index.SourceUser {
				born = "~" + born
			}
		}
		g := string(p.Gender)
		if g == "" {
			g = "-"
		}
		state := "active"
		switch {
		case p.OptOut:
			state = "opted out"
		case p.MergedInto != 0:
			state = fmt.Sprintf("merged into %d", p.MergedInto)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\t%s\n", p.ID, name, p.Faces, p.Files, born, g, state)
	}
	tw.Flush()
}

func personsWriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// personsIndexPath returns <DataDirectory>/faces.db and the
// UnnamedPersonLabel of the configuration.
func personsIndexPath(cfgPath string) (string, string, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return "", "", err
	}
	return filepath.Join(cfg.DataDirectory(), personsIndexName), cfg.UnnamedPersonLabel(), nil
}
