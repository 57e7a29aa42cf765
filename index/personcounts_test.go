package index

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faced/faced/face"
)

// checkPersonCounts compares what the index keeps as assignments change
// (persons' face and file counts, person_files, each assignment's file and
// quality) with the same figures counted from scratch, and BestFace and
// PersonFaces with a sort of every face.
func checkPersonCounts(t *testing.T, ix *Index, step string) {
	t.Helper()
	ctx := context.Background()
	rows, err := ix.w.QueryContext(ctx, `SELECT p.id, p.face_count, p.file_count,
		(SELECT COUNT(*) FROM assignments a WHERE a.person_id = p.id),
		(SELECT COUNT(DISTINCT f.file_id) FROM assignments a JOIN faces f ON f.id = a.face_id WHERE a.person_id = p.id),
		(SELECT COALESCE(SUM(n), 0) FROM person_files pf WHERE pf.person_id = p.id),
		(SELECT COUNT(*) FROM person_files pf WHERE pf.person_id = p.id)
		FROM persons p ORDER BY p.id`)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id, faces, files, wantFaces, wantFiles, pfFaces, pfFiles int
		if err := rows.Scan(&id, &faces, &files, &wantFaces, &wantFiles, &pfFaces, &pfFiles); err != nil {
			t.Fatal(err)
		}
		if faces != wantFaces || files != wantFiles || pfFaces != wantFaces || pfFiles != wantFiles {
			t.Errorf("%s: person #%d keeps %d faces / %d files (person_files %d / %d), counted %d / %d",
				step, id, faces, files, pfFaces, pfFiles, wantFaces, wantFiles)
		}
		ids = append(ids, int64(id))
	}
	rows.Close()
	var bad int
	if err := ix.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM assignments a JOIN faces f ON f.id = a.face_id
		WHERE a.file_id <> f.file_id OR a.quality <> f.score * (f.x2 - f.x1)`).Scan(&bad); err != nil || bad != 0 {
		t.Errorf("%s: %d assignments with a stale file or quality (%v)", step, bad, err)
	}
	if err := ix.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM person_files WHERE n <= 0`).Scan(&bad); err != nil || bad != 0 {
		t.Errorf("%s: %d empty person_files rows (%v)", step, bad, err)
	}
	for _, id := range ids {
		all, err := ix.Faces(ctx, FaceQuery{PersonID: id, NoFeatures: true})
		if err != nil {
			t.Fatal(err)
		}
		slices.SortStableFunc(all, func(a, b FaceRecord) int {
			return cmp.Or(cmp.Compare(b.Score*b.Box.W(), a.Score*a.Box.W()), cmp.Compare(a.ID, b.ID))
		})
		best, err := ix.BestFace(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if (len(all) == 0 && best != 0) || (len(all) > 0 && best != all[0].ID) {
			t.Errorf("%s: best face of #%d is %d, want the first of %v", step, id, best, faceIDs(all))
		}
		// pages of two, then one past the end
		var paged []FaceRecord
		for off := 0; off <= len(all); off += 2 {
			pg, err := ix.PersonFaces(ctx, id, off, 2)
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, pg...)
		}
		if !slices.Equal(faceIDs(paged), faceIDs(all)) {
			t.Errorf("%s: pages of #%d give %v, want %v", step, id, faceIDs(paged), faceIDs(all))
		}
	}
	checkCentroids(t, ix, step)
}

// checkCentroids compares the kept person centroids with the mean of the
// features of each active person's faces.
func checkCentroids(t *testing.T, ix *Index, step string) {
	t.Helper()
	ctx := context.Background()
	cs, err := ix.Centroids(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]Centroid{}
	for _, c := range cs {
		got[c.PersonID] = c
	}
	ps, err := ix.Persons(ctx, PersonQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		fs, err := ix.Faces(ctx, FaceQuery{PersonID: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		var sum []float64
		n := 0
		for _, f := range fs {
			if f.Features == nil {
				continue
			}
			if sum == nil {
				sum = make([]float64, len(f.Features))
			}
			for i, x := range f.Features {
				sum[i] += float64(x)
			}
			n++
		}
		c, ok := got[p.ID]
		if n == 0 {
			if ok {
				t.Errorf("%s: person #%d has no face with features but a centroid of %d", step, p.ID, c.Faces)
			}
			continue
		}
		if !ok || c.Faces != n {
			t.Errorf("%s: person #%d: centroid of %d faces (kept %v), want %d", step, p.ID, c.Faces, ok, n)
			continue
		}
		var dot, norm float64
		for i, x := range sum {
			dot += x * float64(c.Mean[i])
			norm += x * x
		}
		if cos := dot / math.Sqrt(norm); cos < 0.99999 {
			t.Errorf("%s: person #%d: kept centroid at cosine %.6f from the faces' mean", step, p.ID, cos)
		}
		delete(got, p.ID)
	}
	for id := range got {
		t.Errorf("%s: centroid of person #%d, who is not active", step, id)
	}
}

func faceIDs(fs []FaceRecord) []int64 {
	out := make([]int64, len(fs))
	for i, f := range fs {
		out[i] = f.ID
	}
	return out
}

// Every write that changes who a face is, or the face itself, keeps the
// person counts, the quality order and the person centroids exact.
func TestPersonCountsFollowEveryWrite(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t)
	a, b, fa, fb := twoPersons(t, ix, "Ann", "")
	checkPersonCounts(t, ix, "two persons")
	// Two more faces of Ann in one file (files count once), of two qualities.
	_, two := addFile(t, ix, "/p/pair.jpg", mkFace(0, 0, 50, 11), mkFace(200, 0, 120, 12))
	if _, err := ix.AssignFaces(ctx, map[int64]int64{two[0]: a, two[1]: a}, SourceAuto); err != nil {
		t.Fatal(err)
	}
	checkPersonCounts(t, ix, "a file with two faces of one person")
	if _, err := ix.AssignFaces(ctx, map[int64]int64{two[1]: b}, SourceUser); err != nil {
		t.Fatal(err)
	}
	checkPersonCounts(t, ix, "a face moved by the user")
	if err := ix.AddFacePersonCannotLink(ctx, fa[0], a); err != nil {
		t.Fatal(err)
	}
	checkPersonCounts(t, ix, "not this person")
	if err := ix.Merge(ctx, a, b); err != nil {
		t.Fatal(err)
	}
	checkPersonCounts(t, ix, "merge")
	n, err := ix.Split(ctx, a, []int64{fb[0], two[0]})
	if err != nil {
		t.Fatal(err)
	}
	checkPersonCounts(t, ix, "split")
	// Re-analysis: the pair's first face keeps its id with a larger box
	// (its quality changes), the second is gone (its assignment with it).
	fid, _ := ix.UpsertFile(ctx, File{Path: "/p/pair.jpg", Size: 1, ModTime: time.Unix(1_600_000_000, 0)})
	if _, err := ix.ReplaceFaces(ctx, fid, []face.Face{mkFace(0, 0, 60, 13)}, "test-model"); err != nil {
		t.Fatal(err)
	}
	checkPersonCounts(t, ix, "re-analysis")
	if err := ix.RemoveFile(ctx, "/p/d.jpg"); err != nil {
		t.Fatal(err)
	}
	checkPersonCounts(t, ix, "file removed (faces and assignments cascade)")
	if err := ix.Forget(ctx, n); err != nil {
		t.Fatal(err)
	}
	checkPersonCounts(t, ix, "forget")
	p, err := ix.Person(ctx, n)
	if err != nil || p.Faces != 0 || p.Files != 0 {
		t.Errorf("forgotten person: %+v (%v), want no faces", p, err)
	}
}

// A page of persons and a page of a person's faces read only their rows:
// no count of every face, no sort of every row (10 000 persons / 1 M
// faces: see BENCHMARKS.md "Review page").
func TestPersonPagesReadOnlyTheirRows(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t)
	twoPersons(t, ix, "Ann", "")
	plan := func(q string, args ...any) string {
		rows, err := ix.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			out = append(out, detail)
		}
		return strings.Join(out, "; ")
	}
	s, args := PersonQuery{Review: true, Offset: 60, Limit: 60}.sql()
	t.Logf("grid page: %s", plan(s, args...))
	t.Logf("face page: %s", plan(qPersonFacePage, 1, 60, 120))
	if p := plan(s, args...); strings.Contains(p, "assignments") || strings.Contains(p, "faces") || strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("a grid page counts or sorts every row: %s", p)
	}
	if p := plan(qPersonFacePage, 1, 60, 120); strings.Contains(p, "TEMP B-TREE") || !strings.Contains(p, "assignments_person_quality") {
		t.Errorf("a page of a person's faces sorts all of them: %s", p)
	}
}

// The merge suggestions' centroids of the largest persons are read in size
// order from an index, not sorted from every person's sum.
func TestCentroidsReadInOrder(t *testing.T) {
	ctx := context.Background()
	ix := openTest(t)
	twoPersons(t, ix, "Ann", "")
	rows, err := ix.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+qCentroids, 2000)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan, top []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, fmt.Sprintf("%d<-%d %s", id, parent, detail))
		if parent == 0 {
			top = append(top, detail) // the outer query (not the dimension's subquery)
		}
	}
	t.Logf("centroids: %s", strings.Join(plan, "; "))
	if p := strings.Join(top, "; "); strings.Contains(p, "TEMP B-TREE") || !strings.Contains(p, "USING INDEX person_centroids_size") {
		t.Errorf("centroids sorted or scanned with their sums: %s", p)
	}
}
