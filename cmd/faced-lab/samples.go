package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gocv.io/x/gocv"

	"github.com/faced/faced/internal/cli"
)

// sample is one derived photo: how its stored pixels are made from the
// upright source, the EXIF orientation that turns them upright again, and
// how many days before the source's mtime it is dated.
type sample struct {
	name        string
	mirror      bool // mirror the upright picture first (a "different" photo)
	orientation int  // 1, 6 or 8
	daysBefore  int
}

var samplePlan = []sample{
	{"family_mirrored.jpg", true, 1, 1},
	{"family_orientation6.jpg", false, 6, 3},
	{"family_mirrored_orientation8.jpg", true, 8, 5},
	{"family_orientation8.jpg", false, 8, 8},
}

func init() {
	var from, into string
	samplesCmd := &cobra.Command{
		Use:   "samples",
		Short: "Sample photos for the default configuration",
	}
	makeCmd := &cobra.Command{
		Use:   "make --from PHOTO --into DIR",
		Short: "Write mirrored and EXIF-rotated copies of PHOTO into DIR, dated over several days (PHOTO is never modified)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" || into == "" {
				return cli.Exit(cli.ExitUsage, fmt.Errorf("--from and --into are required"))
			}
			names, err := makeSamples(from, into)
			for _, n := range names {
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			return err
		},
	}
	makeCmd.Flags().StringVar(&from, "from", "", "source photo (upright, read only)")
	makeCmd.Flags().StringVar(&into, "into", "", "folder to write the samples into")
	samplesCmd.AddCommand(makeCmd)
	rootCmd.AddCommand(samplesCmd)
}

// makeSamples writes samplePlan's photos derived from src into dir.
func makeSamples(src, dir string) ([]string, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("exiftool"); err != nil {
		return nil, fmt.Errorf("exiftool is needed to write EXIF orientation tags: %w", err)
	}
	img := gocv.IMRead(src, gocv.IMReadColor) // upright (OpenCV applies EXIF orientation)
	if img.Empty() {
		return nil, fmt.Errorf("%s: cannot decode the photo", src)
	}
	defer img.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	absSrc, _ := filepath.Abs(src)
	var written []string
	for _, s := range samplePlan {
		dst := filepath.Join(dir, s.name)
		if absDst, _ := filepath.Abs(dst); absDst == absSrc {
			return written, fmt.Errorf("refusing to overwrite the source photo %s", src)
		}
		pic := img.Clone()
		if s.mirror {
			gocv.Flip(img, &pic, 1)
		}
		stored := gocv.NewMat()
		switch s.orientation {
		case 6: // the viewer rotates 90° clockwise: store it rotated counter-clockwise
			gocv.Rotate(pic, &stored, gocv.Rotate90CounterClockwise)
		case 8:
			gocv.Rotate(pic, &stored, gocv.Rotate90Clockwise)
		default:
			pic.CopyTo(&stored)
		}
		pic.Close()
		tmp := dst + ".tmp.jpg"
		ok := gocv.IMWriteWithParams(tmp, stored, []int{gocv.IMWriteJpegQuality, 95})
		stored.Close()
		if !ok {
			return written, fmt.Errorf("%s: cannot write", tmp)
		}
		if s.orientation != 1 {
			out, err := exec.Command("exiftool", "-q", "-overwrite_original", fmt.Sprintf("-Orientation#=%d", s.orientation), tmp).CombinedOutput()
			if err != nil {
				os.Remove(tmp)
				return written, fmt.Errorf("exiftool on %s: %v: %s", tmp, err, strings.TrimSpace(string(out)))
			}
		}
		if err := os.Rename(tmp, dst); err != nil {
			os.Remove(tmp)
			return written, err
		}
		t := st.ModTime().Add(-time.Duration(s.daysBefore) * 24 * time.Hour)
		if err := os.Chtimes(dst, t, t); err != nil {
			return written, err
		}
		written = append(written, dst)
	}
	return written, nil
}
