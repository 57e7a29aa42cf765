// OpenCV's thread count (cv::setNumThreads is C++ only; gocv 0.31 does not
// bind it).
#include <opencv2/core.hpp>

extern "C" void faced_cv_set_num_threads(int n) { cv::setNumThreads(n); }
extern "C" int faced_cv_get_num_threads(void) { return cv::getNumThreads(); }
