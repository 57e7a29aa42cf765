package exporters

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faced/faced/face"
	"github.com/faced/faced/internal/shared"
)

// keywordSidecar is a sidecar another tool wrote with n flat keywords
// (dc:subject only), as photo managers that keep a big vocabulary do.
func keywordSidecar(n int) []byte {
	var b strings.Builder
	b.WriteString(`<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
   <dc:subject>
    <rdf:Bag>
`)
	for i := range n {
		fmt.Fprintf(&b, "     <rdf:li>keyword %06d</rdf:li>\n", i)
	}
	b.WriteString(`    </rdf:Bag>
   </dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
`)
	return []byte(b.String())
}

// BenchmarkKeywordMerge: faced merges one named face into a sidecar holding
// n keywords, which it copies into digiKam's TagsList and Lightroom's
// hierarchicalSubject (read, parse, merge, atomic write: a whole export).
// The time per keyword stays flat from 2 000 to 200 000 keywords (linear
// merge); with the quadratic AppendChild it grew with n.
func BenchmarkKeywordMerge(b *testing.B) {
	src := filepath.Join(shared.Dir(b, orientationDir), "pillow_hopper.jpg")
	for _, n := range []int{2000, 20000, 200000} {
		b.Run(fmt.Sprintf("keywords=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			photo := copyFile(b, src, dir, "k.jpg")
			side := photo + ".xmp"
			data := keywordSidecar(n)
			e := newExporter(b, Options{})
			p := Photo{Path: photo, StoredWidth: 128, StoredHeight: 128, Keywords: []string{"Ann"},
				Regions: []Region{{FaceID: 1, PersonID: 1, Name: "Ann", StoredBox: face.Box{X1: 10, Y1: 10, X2: 60, Y2: 70}}}}
			var cpu time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if err := os.WriteFile(side, data, 0o644); err != nil {
					b.Fatal(err)
				}
				c0 := cpuTime()
				b.StartTimer()
				if r := mustExport(b, e, p); r.Unchanged {
					b.Fatal("nothing written")
				}
				b.StopTimer()
				cpu += cpuTime() - c0
				b.StartTimer()
			}
			// CPU time (user+system of the process): the wall time holds the
			// fsync of a sidecar of several MB on a shared disk.
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/keyword")
		})
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
