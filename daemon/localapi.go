package daemon

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/faced/faced/api"
)

// ServeAPI serves the local API on the unix socket at path until ctx ends.
// It returns once the socket listens; the returned channel yields the
// server's final error.
func (d *Daemon) ServeAPI(ctx context.Context, path string) (<-chan error, error) {
	ln, err := api.Listen(path)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: api.Handler(d, d.opt.API...), ReadHeaderTimeout: 5 * time.Second}
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
	d.log.Info("local API listening", "socket", path)
	return done, nil
}
