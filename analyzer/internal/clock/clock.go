// Package clock is the time source of the analyzer's per-stage timings:
// wall time by default; profiling tests switch it to the calling thread's
// CPU time (with the goroutine locked to its OS thread and ONNX Runtime
// single-threaded) to see where the CPU goes on a machine shared with
// other work.
package clock

import (
	"syscall"
	"time"
	"unsafe"
)

var start = time.Now()

// Now returns the current reading of the stage clock. Tests may replace it
// (not concurrently with analyses).
var Now = Wall

// Since is Now() - t0.
func Since(t0 time.Duration) time.Duration { return Now() - t0 }

// Wall is the monotonic wall time since process start.
func Wall() time.Duration { return time.Since(start) }

// ThreadCPU is the CPU time (user+system) of the calling OS thread.
func ThreadCPU() time.Duration {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	if _, _, e := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

// ProcessCPU is the CPU time (user+system) of the whole process, all
// threads.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
