package main

// facedctl persons: list, inspect and correct the persons in the index.
// While the daemon runs every command goes through its local API (the
// daemon is then the only writer); with the daemon stopped, reads open the
// index read-only and edits open it through package persons under the
// writers' lock of DataDirectory. Either way the verbs are persons'.
// This file must stay light: never analyzer, models, agegender or gocv
// (deps_test.go checks).

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

	"github.com/faced/faced/api"
	"github.com/faced/faced/exporters"
	"github.com/faced/faced/index"
	"github.com/faced/faced/internal/cli"
	"github.com/faced/faced/persons"
)

func init() { rootCmd.AddCommand(newPersonsCommand()) }

type personsCmd struct {
	json         bool
	all          bool
	unnamedLabel string // UnnamedPersonLabel of the config, set by open
	// via tells which way the last command went: "daemon" or "index".
	via    string
	unhide bool
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func newPersonsCommand() *cobra.Command {
	var o personsCmd
	cmd := &cobra.Command{
		Use:   "persons",
		Short: "List, inspect, name, merge, split and forget persons",
		Long: `Work on the persons in the index (<DataDirectory>/faces.db). Changes are
user decisions: the clusterer never overrides them, and the sidecars of the
affected photos are rewritten by the daemon.

While faced runs, facedctl asks it over the local API (faced is then the
only writer of the index). When it is stopped, facedctl edits the index
itself under the writers' lock (<DataDirectory>/faced.lock): a faced
started meanwhile waits for nothing and fails clearly instead of writing
at the same time; the sidecars follow at its next start.

EXIT STATUS
  0  done
  1  an error (bad configuration, unreadable index, invalid argument, index in use)
  4  no such person or face, or no index yet`,
	}
	cmd.PersistentFlags().BoolVar(&o.json, "json", false, "print JSON")
	list := &cobra.Command{
		Use:   "list",
		Short: "List persons with their face counts, birth year and gender",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return o.do(c, false, func(ctx context.Context, b api.PersonsBackend, w io.Writer) error {
				ps, err := b.Persons(ctx, api.PersonQuery{All: o.all})
				if err != nil {
					return err
				}
				if o.json {
					if ps.Persons == nil {
						ps.Persons = []api.Person{}
					}
					return personsWriteJSON(w, ps.Persons)
				}
				printPersons(w, ps.Persons, o.unnamedLabel)
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
			return o.do(c, false, func(ctx context.Context, b api.PersonsBackend, w io.Writer) error {
				id, err := personsParseID("person", args[0])
				if err != nil {
					return err
				}
				p, err := b.Person(ctx, id)
				if err != nil {
					return err
				}
				page, err := b.PersonFaces(ctx, id, 0, 0)
				if err != nil {
					return err
				}
				faces := page.Faces
				if faces == nil {
					faces = []api.Face{}
				}
				if o.json {
					return personsWriteJSON(w, struct {
						api.Person
						FaceList []api.Face `json:"face_list"`
					}{p, faces})
				}
				printPersons(w, []api.Person{p}, o.unnamedLabel)
				if p.MergedInto != 0 {
					fmt.Fprintf(w, "\nmerged into person %d\n", p.MergedInto)
				}
				if len(faces) > 0 {
					fmt.Fprintln(w)
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "FACE\tSOURCE\tAPPARENT AGE\tBOX\tFILE")
					for _, f := range faces {
						fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.0f,%.0f %.0fx%.0f\t%s\n", f.ID, f.Source, f.ApparentAge,
							f.Box[0], f.Box[1], f.Box[2]-f.Box[0], f.Box[3]-f.Box[1], f.Path)
					}
					tw.Flush()
				}
				return nil
			})
		},
	}
	edit := func(use, short string, args cobra.PositionalArgs, verb string, req func(args []string) (api.EditRequest, error),
		msg func(args []string, res api.EditResult) string) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: args,
			RunE: func(c *cobra.Command, args []string) error {
				return o.do(c, true, func(ctx context.Context, b api.PersonsBackend, w io.Writer) error {
					var id int64
					if verb != "move" {
						var err error
						if id, err = personsParseID("person", args[0]); err != nil {
							return err
						}
					}
					r, err := req(args)
					if err != nil {
						return err
					}
					res, err := b.Edit(ctx, verb, id, r)
					if err != nil {
						return err
					}
					if o.json {
						return personsWriteJSON(w, res.Person)
					}
					fmt.Fprintln(w, msg(args, res))
					return nil
				})
			}}
	}
	faceIDs := func(args []string) ([]int64, error) {
		var out []int64
		for _, a := range args {
			f, err := personsParseID("face", a)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
		return out, nil
	}
	name := edit("name ID NAME...", `Name a person (the words are joined with spaces; "" removes the name)`, cobra.MinimumNArgs(2), "name",
		func(args []string) (api.EditRequest, error) {
			n := strings.Join(args[1:], " ")
			return api.EditRequest{Name: &n}, nil
		}, func(args []string, res api.EditResult) string {
			if res.Person.Name == "" {
				return fmt.Sprintf("person %d is unnamed", res.Person.ID)
			}
			return fmt.Sprintf("person %d is %q", res.Person.ID, res.Person.Name)
		})
	merge := edit("merge A B", "Merge person B into person A (A keeps its id; the stronger name wins)", cobra.ExactArgs(2), "merge",
		func(args []string) (api.EditRequest, error) {
			b, err := personsParseID("person", args[1])
			return api.EditRequest{Other: b}, err
		}, func(args []string, res api.EditResult) string {
			return fmt.Sprintf("merged person %s into %d", strings.TrimPrefix(args[1], "#"), res.Person.ID)
		})
	split := edit("split ID FACE...", "Move faces of a person to a new person; they never return to the old one", cobra.MinimumNArgs(2), "split",
		func(args []string) (api.EditRequest, error) {
			fs, err := faceIDs(args[1:])
			return api.EditRequest{Faces: fs}, err
		}, func(args []string, res api.EditResult) string {
			return fmt.Sprintf("moved %d face(s) of person %s to new person %d", len(args)-1, strings.TrimPrefix(args[0], "#"), res.Person.ID)
		})
	not := edit("not ID FACE...", "Say these faces are not this person: they leave it and never come back", cobra.MinimumNArgs(2), "not",
		func(args []string) (api.EditRequest, error) {
			fs, err := faceIDs(args[1:])
			return api.EditRequest{Faces: fs}, err
		}, func(args []string, res api.EditResult) string {
			return fmt.Sprintf("%d face(s) are not person %d", len(args)-1, res.Person.ID)
		})
	move := edit("move PERSON FACE...", "Move faces to a person (0: a new person)", cobra.MinimumNArgs(2), "move",
		func(args []string) (api.EditRequest, error) {
			to, err := strconv.ParseInt(strings.TrimPrefix(args[0], "#"), 10, 64)
			if err != nil || to < 0 {
				return api.EditRequest{}, fmt.Errorf("%w: person id %q is not a number", index.ErrInvalid, args[0])
			}
			fs, err := faceIDs(args[1:])
			return api.EditRequest{Faces: fs, To: to}, err
		}, func(args []string, res api.EditResult) string {
			return fmt.Sprintf("moved %d face(s) to person %d", len(args)-1, res.Person.ID)
		})
	different := edit("different A B", "Say persons A and B are different (never suggested for a merge again)", cobra.ExactArgs(2), "different",
		func(args []string) (api.EditRequest, error) {
			b, err := personsParseID("person", args[1])
			return api.EditRequest{Other: b}, err
		}, func(args []string, res api.EditResult) string {
			return fmt.Sprintf("persons %d and %s are different", res.Person.ID, strings.TrimPrefix(args[1], "#"))
		})
	forget := edit("forget ID", "Forget a person: name, birth year, face features and thumbnails erased, their regions and keywords leave the sidecars", cobra.ExactArgs(1), "forget",
		func([]string) (api.EditRequest, error) { return api.EditRequest{}, nil },
		func(args []string, res api.EditResult) string {
			return fmt.Sprintf("person %d is forgotten: no face of theirs will be assigned or named again", res.Person.ID)
		})
	hide := edit("hide ID", "Hide a person: never exported to sidecars (unhide with --show)", cobra.ExactArgs(1), "hide",
		func([]string) (api.EditRequest, error) { h := !o.unhide; return api.EditRequest{Hidden: &h}, nil },
		func(args []string, res api.EditResult) string {
			if res.Person.Hidden {
				return fmt.Sprintf("person %d is hidden: never exported", res.Person.ID)
			}
			return fmt.Sprintf("person %d is exported again", res.Person.ID)
		})
	hide.Flags().BoolVar(&o.unhide, "show", false, "show (export) the person again")
	setBirth := edit("set-birth ID YEAR", "Set a person's birth year (0 removes it); it overrides the estimate", cobra.ExactArgs(2), "birth-year",
		func(args []string) (api.EditRequest, error) {
			y, err := strconv.Atoi(args[1])
			if err != nil {
				return api.EditRequest{}, fmt.Errorf("%w: birth year %q is not a number", index.ErrInvalid, args[1])
			}
			return api.EditRequest{BirthYear: &y}, nil
		}, func(args []string, res api.EditResult) string {
			return fmt.Sprintf("person %d was born in %s", res.Person.ID, args[1])
		})
	cmd.AddCommand(list, show, name, merge, split, not, move, different, forget, hide, setBirth)
	return cmd
}

// do runs fn against the running daemon's API, or, when it is not running,
// against the index through package persons: read-only for reads, under
// the writers' lock for edits.
func (o *personsCmd) do(c *cobra.Command, write bool, fn func(ctx context.Context, b api.PersonsBackend, w io.Writer) error) error {
	ctx := c.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	socket, dataDir, cfg, err := cli.DaemonPaths(configPath)
	if err != nil {
		return err
	}
	o.unnamedLabel = cfg.UnnamedPersonLabel()
	client := api.NewClient(socket)
	if _, err = client.Status(ctx); err == nil {
		o.via = "daemon"
		return exitOf(fn(ctx, client, c.OutOrStdout()))
	}
	if !errors.Is(err, api.ErrNotRunning) {
		return cli.Exit(cli.ExitFailure, err)
	}
	o.via = "index"
	if write {
		l, err := persons.Open(ctx, dataDir, cfg.InputDirectory())
		if err != nil {
			return exitOf(err)
		}
		err = fn(ctx, persons.API{S: l.Service}, c.OutOrStdout())
		if cerr := l.Close(); err == nil && cerr != nil {
			err = cerr
		}
		return exitOf(err)
	}
	p := filepath.Join(dataDir, persons.IndexFile)
	ix, err := index.OpenReadOnly(ctx, p)
	if err != nil {
		if errors.Is(err, index.ErrNotFound) || !fileExists(p) {
			return cli.Exit(cli.ExitNotFound, fmt.Errorf("no index at %s (faced has not analysed anything yet): %w", p, err))
		}
		return cli.Exit(cli.ExitFailure, err)
	}
	err = fn(ctx, persons.API{S: persons.New(ix, persons.Options{})}, c.OutOrStdout())
	if cerr := ix.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return exitOf(err)
}

// exitOf gives err its exit code: 4 for an unknown person, face or index.
func exitOf(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, api.ErrNotFound), errors.Is(err, index.ErrNotFound):
		return cli.Exit(cli.ExitNotFound, err)
	}
	return cli.Exit(cli.ExitFailure, err)
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
func printPersons(w io.Writer, ps []api.Person, unnamedLabel string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tFACES\tFILES\tBORN\tAPPARENT GENDER\tSTATE")
	for _, p := range ps {
		name := p.Name
		if name == "" {
			// What the sidecars call this person, marked as not a name.
			name = exporters.UnnamedName(unnamedLabel, p.ID) + " (unnamed)"
			if unnamedLabel == "" {
				name = "-"
			}
		} else if p.NameSource != string(index.SourceUser) {
			name += " (" + p.NameSource + ")"
		}
		born := "-"
		if p.BirthYear != 0 {
			born = strconv.Itoa(p.BirthYear)
			if p.BirthYearSource != string(index.SourceUser) {
				born = "~" + born
			}
			if p.BirthYearSource == string(index.SourceAuto) && p.BirthYearConfidence > 0 {
				// how sure the estimate is: the chance it is within two years
				born += fmt.Sprintf(" (%.0f%%)", 100*p.BirthYearConfidence)
			}
		}
		g := p.Gender
		if g == "" {
			g = "-"
		}
		state := "active"
		switch {
		case p.OptOut:
			state = "opted out"
		case p.MergedInto != 0:
			state = fmt.Sprintf("merged into %d", p.MergedInto)
		case p.Hidden:
			state = "hidden"
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
