package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/faced/faced/api"
)

// Daemon-wide problems (full disks) and files without a sidecar are shown
// as errors, not hidden behind "N done, 0 failed".
func TestPrintStatusShowsProblems(t *testing.T) {
	st := api.Status{Running: true, Queue: 200,
		Files: api.FileCounts{Done: 180, Pending: 200, SidecarFailed: 180},
		Problems: []api.Problem{
			{Kind: "data_disk_full", Count: 200, Message: "data disk full: 200 new files wait to be queued, 0 analyses wait to be stored",
				Error: "enqueue: data disk full: database or disk is full (13)"},
			{Kind: "sidecar_writes_failing", Count: 180, Message: "sidecar writes failing: 180 files without an up-to-date sidecar (180: library disk full)"},
		}}
	var b bytes.Buffer
	printStatus(&b, st)
	out := b.String()
	for _, want := range []string{
		"files:   180 done, 0 failed, 200 pending, 180 without sidecar (writes failing)",
		"ERROR data disk full: 200 new files",
		"last error: enqueue: data disk full",
		"ERROR sidecar writes failing: 180 files",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
}
