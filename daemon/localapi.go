package daemon

import (
	"context"

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
	done := api.ServeUntil(ctx, ln, api.Handler(d, d.opt.API...))
	d.log.Info("local API listening", "socket", path)
	return done, nil
}
