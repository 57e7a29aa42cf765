package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Backend is what the daemon provides to the API handlers.
type Backend interface {
	Status(ctx context.Context) (Status, error)
	Scan(ctx context.Context, req ScanRequest) (ScanResult, error)
	Retry(ctx context.Context) (RetryResult, error)
}

// ErrBadRequest marks a Backend error caused by the request (answered 400).
var ErrBadRequest = errors.New("bad request")

// Handler returns the HTTP handler of the v1 API over b, with the routes
// opts add (WithPersons).
func Handler(b Backend, opts ...Option) http.Handler {
	mux := http.NewServeMux()
	for _, o := range opts {
		o(mux)
	}
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := b.Status(r.Context())
		reply(w, st, err)
	})
	mux.HandleFunc("POST /v1/scan", func(w http.ResponseWriter, r *http.Request) {
		var req ScanRequest
		if r.ContentLength != 0 {
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
				reply(w, nil, fmt.Errorf("%w: scan body: %v", ErrBadRequest, err))
				return
			}
		}
		res, err := b.Scan(r.Context(), req)
		reply(w, res, err)
	})
	mux.HandleFunc("POST /v1/retry", func(w http.ResponseWriter, r *http.Request) {
		res, err := b.Retry(r.Context())
		reply(w, res, err)
	})
	return versioned(mux)
}

// versioned sets the version header and refuses requests from a client that
// speaks another version, or that come from a browser.
func versioned(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(VersionHeader, strconv.Itoa(Version))
		if r.Header.Get("Origin") != "" || r.Header.Get("Referer") != "" {
			reply(w, nil, &httpError{http.StatusForbidden, errors.New("browser requests are refused")})
			return
		}
		if v := r.Header.Get(VersionHeader); v != strconv.Itoa(Version) {
			reply(w, nil, &httpError{http.StatusBadRequest,
				fmt.Errorf("client speaks API version %q, daemon speaks %d: use the facedctl of the same release", v, Version)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

type httpError struct {
	code int
	err  error
}

func (e *httpError) Error() string { return e.err.Error() }

func reply(w http.ResponseWriter, body any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		code := http.StatusInternalServerError
		var he *httpError
		switch {
		case errors.As(err, &he):
			code = he.code
		case errors.Is(err, ErrBadRequest):
			code = http.StatusBadRequest
		case errors.Is(err, ErrNotFound):
			code = http.StatusNotFound
		case errors.Is(err, ErrConflict):
			code = http.StatusConflict
		case errors.Is(err, context.Canceled):
			code = http.StatusServiceUnavailable
		}
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(ErrorBody{Error: err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(body)
}

// ServeUntil serves h on ln until ctx ends, then shuts the server down
// (in-flight requests get a second). The channel yields the server's final
// error, nil after a shutdown. The daemon's socket and the review page both
// serve this way.
func ServeUntil(ctx context.Context, ln net.Listener, h http.Handler) <-chan error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return done
}
