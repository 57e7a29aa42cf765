package main

import (
	"os"
	"strings"
	"testing"
)

func TestParseProcStatus(t *testing.T) {
	in := "Name:\tfaced\nVmHWM:\t  532696 kB\nVmRSS:\t  409840 kB\nRssAnon:\t  315000 kB\nRssFile:\t   94000 kB\nThreads:\t13\n"
	m, err := parseProcStatus(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.hwm != 532696<<10 || m.rss != 409840<<10 || m.anon != 315000<<10 || m.file != 94000<<10 {
		t.Errorf("parsed %+v", m)
	}
	if _, err := parseProcStatus(strings.NewReader("Name:\tx\n")); err == nil {
		t.Error("a status without VmRSS parsed")
	}
	// This process's own figures are there and sane.
	own, err := procStatus(os.Getpid())
	if err != nil || own.rss <= 0 || own.hwm < own.rss {
		t.Errorf("own status %+v, %v", own, err)
	}
	if cpu, err := procCPU(os.Getpid()); err != nil || cpu < 0 {
		t.Errorf("own CPU %v, %v", cpu, err)
	}
}
