package wire

import (
	"context"
	"log/slog"

	"github.com/faced/faced/review"
)

// ServeReview serves the review page on the configured ReviewAddress until
// ctx ends (nothing when it is "off"). A page that cannot listen (port in
// use) is logged, not fatal: the daemon's work does not depend on it.
func (a *App) ServeReview(ctx context.Context, log *slog.Logger) {
	addr := a.Config.ReviewAddress()
	if addr == "" {
		return
	}
	secret, err := review.Secret(a.Config.DataDirectory())
	if err != nil {
		log.Warn("review page not served", "err", err)
		return
	}
	srv := &review.Server{S: a.Persons, Secret: secret, Addr: addr, Library: a.Config.InputDirectory(), Logger: log}
	bound, _, err := srv.Serve(ctx)
	if err != nil {
		log.Warn("review page not served", "err", err)
		return
	}
	log.Info("review page listening (facedctl web prints its address)", "addr", bound.String())
}
