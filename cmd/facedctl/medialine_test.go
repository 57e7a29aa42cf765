package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/faced/faced/api"
)

// TestStatusMediaLine: status names the analysed files by media kind.
func TestStatusMediaLine(t *testing.T) {
	var b bytes.Buffer
	printStatus(&b, api.Status{Files: api.FileCounts{Done: 6, Media: map[string]int{"photo": 3, "motion": 2, "raw": 1}}})
	if !strings.Contains(b.String(), "media:   3 photo, 2 motion photo, 1 raw\n") {
		t.Errorf("status:\n%s", b.String())
	}
	b.Reset()
	printStatus(&b, api.Status{})
	if strings.Contains(b.String(), "media:") {
		t.Errorf("a media line without media:\n%s", b.String())
	}
}
