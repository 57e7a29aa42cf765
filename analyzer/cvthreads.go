package analyzer

/*
#cgo pkg-config: opencv4
#cgo CXXFLAGS: --std=c++11
void faced_cv_set_num_threads(int n);
int faced_cv_get_num_threads(void);
*/
import "C"

// SetOpenCVThreads sets the number of threads OpenCV's parallel loops
// (resizes, colour conversions) use in this process; n ≤ 0 restores
// OpenCV's default (one per core). With as many analysis workers as cores,
// 1 is best: OpenCV's own pool threads then only compete with the workers
// (measured on the 12 MP few-face photos: about 3-8 ms less CPU per photo).
// It is process-wide, so it is a function and not an Analyzer option.
func SetOpenCVThreads(n int) {
	if n <= 0 {
		n = -1
	}
	C.faced_cv_set_num_threads(C.int(n))
}

// OpenCVThreads returns the number of threads OpenCV's parallel loops use.
func OpenCVThreads() int { return int(C.faced_cv_get_num_threads()) }
