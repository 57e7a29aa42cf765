package analyzer

import "testing"

func TestSetOpenCVThreads(t *testing.T) {
	def := OpenCVThreads()
	SetOpenCVThreads(1)
	if n := OpenCVThreads(); n != 1 {
		t.Errorf("after SetOpenCVThreads(1): %d threads", n)
	}
	SetOpenCVThreads(0)
	if n := OpenCVThreads(); n != def {
		t.Errorf("after SetOpenCVThreads(0): %d threads, default was %d", n, def)
	}
}
