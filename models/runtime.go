package models

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// ORTVersion is the ONNX Runtime release faced is built and tested against.
const ORTVersion = "1.24.1"

// ORTLibName is the shared library's file name under var/lib.
const ORTLibName = "libonnxruntime.so." + ORTVersion

// MissingRuntimeError says the ONNX Runtime shared library was not found and
// how to get it.
type MissingRuntimeError struct {
	Tried []string
}

func (e *MissingRuntimeError) Error() string {
	return fmt.Sprintf("ONNX Runtime %s shared library (%s) not found; looked at %q. Run `make setup` (scripts/setup.sh fetches it into var/lib) or set FACED_ORT_LIB to the library's path",
		ORTVersion, ORTLibName, e.Tried)
}

// FindORTLibrary locates the ONNX Runtime library: the configured path,
// then $FACED_ORT_LIB, then <repo>/var/lib/libonnxruntime.so.1.24.1 (repo =
// the working directory or one of its parents holding go.mod), then
// <dir of executable>/../var/lib/.
func FindORTLibrary(configured string) (string, error) {
	// A library named explicitly (config, then FACED_ORT_LIB) must be
	// there: silently using another one would hide a typo.
	for _, explicit := range []string{configured, os.Getenv("FACED_ORT_LIB")} {
		if explicit == "" {
			continue
		}
		if st, err := os.Stat(explicit); err != nil || st.IsDir() {
			return "", &MissingRuntimeError{Tried: []string{explicit}}
		}
		return filepath.Abs(explicit)
	}
	var cands []string
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				cands = append(cands, filepath.Join(d, "var", "lib", ORTLibName))
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
		// An installation (/usr/bin/faced: /usr/lib/faced), then a checkout.
		cands = append(cands, filepath.Join(filepath.Dir(exe), "..", "lib", "faced", ORTLibName),
			filepath.Join(filepath.Dir(exe), "..", "var", "lib", ORTLibName))
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return filepath.Abs(c)
		}
	}
	return "", &MissingRuntimeError{Tried: cands}
}

var (
	initMu   sync.Mutex
	initPath string
)

// InitRuntime loads the ONNX Runtime library and creates its environment,
// once per process. Later calls return nil (or the first call's error is
// not cached: a failed call may be retried).
func InitRuntime(libPath string) error {
	initMu.Lock()
	defer initMu.Unlock()
	if ort.IsInitialized() {
		return nil
	}
	if libPath == "" {
		return &MissingRuntimeError{}
	}
	if _, err := os.Stat(libPath); err != nil {
		return &MissingRuntimeError{Tried: []string{libPath}}
	}
	ort.SetSharedLibraryPath(libPath)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("initialise ONNX Runtime from %s: %w", libPath, err)
	}
	initPath = libPath
	return nil
}

// SessionOptions tune a session.
type SessionOptions struct {
	// IntraOpThreads is the number of threads one Run may use (0 = ORT's
	// default, one per core).
	IntraOpThreads int
	// AllowSpinning lets ORT's intra- and inter-op pool threads busy-wait
	// for work between and inside runs (ORT's own default). Off (the zero
	// value) they sleep: with several workers on few cores, spinning
	// threads burn the CPU the other workers need.
	AllowSpinning bool
	// Unfused opens the graph exactly as converted, without replacing its
	// PReLU subgraphs by PRelu nodes (fusePReLU; same outputs bit for bit,
	// slower): for tests that compare the two.
	Unfused bool
}

// Tensor is a float32 tensor in row-major order.
type Tensor struct {
	Shape []int64
	Data  []float32
}

// Session runs one model.
//
// Concurrency: Run is safe for concurrent use by several goroutines. The
// underlying OrtSession::Run is documented thread-safe by ONNX Runtime, and
// every Run creates its own input and output OrtValues (nothing is bound to
// the session), so workers can share one Session; each call still uses up
// to IntraOpThreads threads, so several workers sharing a session should
// lower IntraOpThreads accordingly.
type Session struct {
	info ModelInfo
	s    *ort.DynamicAdvancedSession
	mu   sync.RWMutex // guards s against Close during Run
}

// NewSession opens a session for a registered model. InitRuntime must have
// been called.
func (r *Registry) NewSession(name string, opt SessionOptions) (*Session, error) {
	mi, err := r.Model(name)
	if err != nil {
		return nil, err
	}
	return OpenSession(r.Path(mi), mi, opt)
}

// OpenSession opens a session on an ONNX file outside the registry (tests,
// experiments); mi supplies the input and output names.
func OpenSession(path string, mi ModelInfo, opt SessionOptions) (*Session, error) {
	name := mi.Name
	if !ort.IsInitialized() {
		return nil, errors.New("ONNX Runtime not initialised: call models.InitRuntime first")
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	if mi.FoldWeights {
		// Constant-fold DequantizeLinear (ORT keeps DQ nodes for QDQ
		// fusion otherwise, and then cannot pre-pack the weights).
		if err := so.AddSessionConfigEntry("session.disable_quant_qdq", "1"); err != nil {
			return nil, err
		}
	}
	spin := "0"
	if opt.AllowSpinning {
		spin = "1"
	}
	for _, k := range []string{"session.intra_op.allow_spinning", "session.inter_op.allow_spinning"} {
		if err := so.AddSessionConfigEntry(k, spin); err != nil {
			return nil, fmt.Errorf("session option %s: %w", k, err)
		}
	}
	if opt.IntraOpThreads > 0 {
		if err := so.SetIntraOpNumThreads(opt.IntraOpThreads); err != nil {
			return nil, err
		}
	}
	mo := CurrentMemoryOptions()
	if mo.SharedArena && !mo.NoCPUArena {
		if err := useSharedArena(); err != nil {
			return nil, err
		}
		if err := so.AddSessionConfigEntry("session.use_env_allocators", "1"); err != nil {
			return nil, fmt.Errorf("session option use_env_allocators: %w", err)
		}
	}
	if mo.NoCPUArena || mo.NoMemPattern {
		if mo.NoCPUArena {
			if err := so.SetCpuMemArena(false); err != nil {
				return nil, fmt.Errorf("session option cpu arena: %w", err)
			}
		}
		if mo.NoMemPattern {
			if err := so.SetMemPattern(false); err != nil {
				return nil, fmt.Errorf("session option memory pattern: %w", err)
			}
		}
	}
	s, err := newSession(path, mi, so, !opt.Unfused)
	if err != nil {
		return nil, fmt.Errorf("open model %s (%s): %w", name, path, err)
	}
	return &Session{info: mi, s: s}, nil
}

// newSession opens the ONNX file at path, with its PReLU subgraphs fused
// into PRelu nodes when fuse is set.
func newSession(path string, mi ModelInfo, so *ort.SessionOptions, fuse bool) (*ort.DynamicAdvancedSession, error) {
	if !fuse {
		return ort.NewDynamicAdvancedSession(path, mi.Inputs, mi.Outputs, so)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	fused, n, err := fusePReLU(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if n == 0 {
		return ort.NewDynamicAdvancedSession(path, mi.Inputs, mi.Outputs, so)
	}
	return ort.NewDynamicAdvancedSessionWithONNXData(fused, mi.Inputs, mi.Outputs, so)
}

// Info returns the session's registry entry.
func (s *Session) Info() ModelInfo { return s.info }

// Run feeds one input tensor and returns the outputs in ModelInfo.Outputs
// order.
func (s *Session) Run(in Tensor) ([]Tensor, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.s == nil {
		return nil, fmt.Errorf("model %s: session closed", s.info.Name)
	}
	n := int64(1)
	for _, d := range in.Shape {
		if d <= 0 {
			return nil, fmt.Errorf("model %s: input shape %v has a non-positive dimension", s.info.Name, in.Shape)
		}
		n *= d
	}
	if len(in.Shape) == 0 || n != int64(len(in.Data)) {
		return nil, fmt.Errorf("model %s: input shape %v needs %d values, got %d", s.info.Name, in.Shape, n, len(in.Data))
	}
	it, err := ort.NewTensor(ort.NewShape(in.Shape...), in.Data)
	if err != nil {
		return nil, fmt.Errorf("model %s: input: %w", s.info.Name, err)
	}
	defer it.Destroy()
	outs := make([]ort.Value, len(s.info.Outputs))
	if err := s.s.Run([]ort.Value{it}, outs); err != nil {
		return nil, fmt.Errorf("model %s: %w", s.info.Name, err)
	}
	res := make([]Tensor, len(outs))
	for i, o := range outs {
		t, ok := o.(*ort.Tensor[float32])
		if !ok {
			for _, o := range outs {
				o.Destroy()
			}
			return nil, fmt.Errorf("model %s: output %s is not float32", s.info.Name, s.info.Outputs[i])
		}
		// onnxruntime_go (v1.27, pinned in go.mod) has already copied the
		// output into a Go slice of its own (createTensorWithCData);
		// Destroy releases only the OrtValue and drops its reference, so
		// the slice is kept instead of copied once more (P-Net's outputs
		// are about 1 MB per photo).
		res[i] = Tensor{Shape: append([]int64(nil), t.GetShape()...), Data: t.GetData()}
		o.Destroy()
	}
	return res, nil
}

// Close releases the session; it waits for running calls.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	return err
}
