// Package review serves the persons review page: a web page, embedded in
// the binary and working offline, where the user names persons, merges
// and splits them, says "not this person" and forgets. Every edit goes
// through package persons, exactly as facedctl's does.
//
// The page is guarded for a browser on the same machine (threat model in
// README.md, "Review page"): it listens on loopback unless configured, the
// Host header must name the bound address (DNS rebinding), a per-install
// secret (DataDirectory/review.secret, 0600) must come with every request
// (first in the URL facedctl web prints, then as an HttpOnly SameSite=Strict
// cookie), state changes only by POST carrying the secret in a header from
// the page's own origin, and a strict Content-Security-Policy allows no
// script, style or image from anywhere else.
package review

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/faced/faced/api"
	"github.com/faced/faced/persons"
)

//go:embed static
var staticFS embed.FS

// SecretFile is the per-install secret's name inside DataDirectory.
const SecretFile = "review.secret"

// cookieName carries the secret after the first visit.
const cookieName = "faced_review"

// tokenHeader carries the secret on state-changing requests.
const tokenHeader = "X-Faced-Token"

// CSP allows nothing from elsewhere: scripts, styles, images and fetches
// from the page's own origin only, no inline code, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// Secret returns dataDir's review secret, creating it (mode 0600) on first
// use.
func Secret(dataDir string) (string, error) {
	p := filepath.Join(dataDir, SecretFile)
	if b, err := os.ReadFile(p); err == nil && len(bytes.TrimSpace(b)) >= 32 {
		return string(bytes.TrimSpace(b)), nil
	}
	var r [32]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	s := hex.EncodeToString(r[:])
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Made meanwhile by another process: use theirs.
		b, err := os.ReadFile(p)
		return string(bytes.TrimSpace(b)), err
	}
	if err != nil {
		return "", fmt.Errorf("review secret: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(s + "\n"); err != nil {
		return "", fmt.Errorf("review secret: %w", err)
	}
	return s, nil
}

// URL is the address facedctl web prints: it carries the secret once.
func URL(addr, secret string) string {
	return "http://" + addr + "/?k=" + secret
}

// Server is the review page over a persons Service.
type Server struct {
	S      *persons.Service
	Secret string
	// Addr is the host:port the page is served on (the Host header must
	// name it; for a loopback address also localhost and the other
	// loopback spellings).
	Addr   string
	Logger *slog.Logger
	// Library is the photos folder (originals are read inside it only).
	Library string

	api  persons.API
	sugg suggestionCache
}

// Handler returns the page's HTTP handler.
func (s *Server) Handler() http.Handler {
	s.api = persons.API{S: s.S}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.Handle("GET /static/", http.FileServerFS(staticFS))
	mux.HandleFunc("GET /api/persons", s.persons)
	mux.HandleFunc("GET /api/persons/{id}", s.withID(func(w http.ResponseWriter, r *http.Request, id int64) {
		p, err := s.api.Person(r.Context(), id)
		s.reply(w, p, err)
	}))
	mux.HandleFunc("GET /api/persons/{id}/faces", s.withID(func(w http.ResponseWriter, r *http.Request, id int64) {
		p, err := s.api.PersonFaces(r.Context(), id, intParam(r, "offset"), intParam(r, "limit"))
		s.reply(w, p, err)
	}))
	mux.HandleFunc("GET /api/photos/{id}", s.withID(func(w http.ResponseWriter, r *http.Request, id int64) {
		p, err := s.api.Photo(r.Context(), id)
		s.reply(w, p, err)
	}))
	mux.HandleFunc("GET /api/photos/{id}/image", s.withID(s.image))
	mux.HandleFunc("GET /api/suggestions", s.suggestions)
	mux.HandleFunc("GET /api/public", s.public)
	mux.HandleFunc("GET /api/videos", s.videos)
	mux.HandleFunc("GET /thumb/{id}", s.withID(s.thumb))
	for _, v := range api.Verbs {
		mux.HandleFunc("POST /api/persons/{id}/"+v, s.edit(v))
	}
	mux.HandleFunc("POST /api/faces/move", s.edit("move"))
	return s.guard(mux)
}

// Serve listens on s.Addr until ctx ends.
func (s *Server) Serve(ctx context.Context) (net.Addr, <-chan error, error) {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("review page: %w", err)
	}
	s.Addr = ln.Addr().String()
	done := api.ServeUntil(ctx, ln, s.Handler())
	return ln.Addr(), done, nil
}

// allowedHost reports whether the Host header names this server.
func (s *Server) allowedHost(h string) bool {
	if strings.EqualFold(h, s.Addr) {
		return true
	}
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return false
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		for _, alias := range []string{"localhost", "127.0.0.1", "[::1]"} {
			if strings.EqualFold(h, alias+":"+port) {
				return true
			}
		}
	}
	return false
}

func (s *Server) secretOK(v string) bool {
	return v != "" && subtle.ConstantTimeCompare([]byte(v), []byte(s.Secret)) == 1
}

// guard applies the security rules to every request.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if !s.allowedHost(r.Host) {
			http.Error(w, "unknown host: open the address facedctl web prints", http.StatusMisdirectedRequest)
			return
		}
		// The secret in the URL (first visit): set the cookie and drop it
		// from the address bar and history.
		if k := r.URL.Query().Get("k"); k != "" && r.Method == http.MethodGet && r.URL.Path == "/" {
			if !s.secretOK(k) {
				http.Error(w, "wrong key: open the address facedctl web prints", http.StatusForbidden)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.Secret, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, MaxAge: 30 * 24 * 3600})
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		c, err := r.Cookie(cookieName)
		if err != nil || !s.secretOK(c.Value) {
			if r.URL.Path == "/" {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintln(w, "faced review: run `facedctl web` and open the address it prints.")
				return
			}
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if r.Method != http.MethodPost {
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			// Same origin only: the browser's Origin must be this page's,
			// and the secret must come in a header (a form or a cross-site
			// fetch cannot set it).
			if o := r.Header.Get("Origin"); o != "http://"+r.Host {
				http.Error(w, "cross-origin request refused", http.StatusForbidden)
				return
			}
			if sf := r.Header.Get("Sec-Fetch-Site"); sf != "" && sf != "same-origin" {
				http.Error(w, "cross-site request refused", http.StatusForbidden)
				return
			}
			if !s.secretOK(r.Header.Get(tokenHeader)) {
				http.Error(w, "missing token", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

var indexTmpl = template.Must(template.ParseFS(staticFS, "static/index.html"))

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = indexTmpl.Execute(w, struct{ Token string }{s.Secret})
}

func intParam(r *http.Request, name string) int {
	n, _ := strconv.Atoi(r.URL.Query().Get(name))
	return max(n, 0)
}

func (s *Server) withID(fn func(w http.ResponseWriter, r *http.Request, id int64)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			s.reply(w, nil, fmt.Errorf("%w: id %q", api.ErrBadRequest, r.PathValue("id")))
			return
		}
		fn(w, r, id)
	}
}

func (s *Server) reply(w http.ResponseWriter, body any, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		code := http.StatusInternalServerError
		switch {
		case errors.Is(err, api.ErrBadRequest):
			code = http.StatusBadRequest
		case errors.Is(err, api.ErrNotFound):
			code = http.StatusNotFound
		case errors.Is(err, api.ErrConflict):
			code = http.StatusConflict
		default:
			s.Logger.Warn("review page", "err", err)
		}
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) persons(w http.ResponseWriter, r *http.Request) {
	limit := intParam(r, "limit")
	if limit <= 0 || limit > 500 {
		limit = 60
	}
	res, err := s.api.Persons(r.Context(), api.PersonQuery{Review: true, Offset: intParam(r, "offset"), Limit: limit})
	s.reply(w, res, err)
}

func (s *Server) thumb(w http.ResponseWriter, r *http.Request, id int64) {
	b, err := s.api.Thumbnail(r.Context(), id)
	if err != nil {
		if errors.Is(err, api.ErrNotFound) {
			// A neutral placeholder (video frames, undecodable formats).
			w.Header().Set("Content-Type", "image/svg+xml")
			w.Header().Set("Cache-Control", "private, max-age=60")
			fmt.Fprint(w, placeholderSVG)
			return
		}
		s.reply(w, nil, err)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	_, _ = w.Write(b)
}

const placeholderSVG = `<svg xmlns="http://www.w3.org/2000/svg" width="160" height="160"><rect width="160" height="160" fill="#333"/>` +
	`<circle cx="80" cy="64" r="30" fill="#666"/><rect x="35" y="104" width="90" height="40" rx="20" fill="#666"/></svg>`

// image serves the original photo (the browser applies its EXIF
// orientation, so the boxes in upright pixels fit), read inside the
// library only.
func (s *Server) image(w http.ResponseWriter, r *http.Request, id int64) {
	f, err := s.S.Index().FileByID(r.Context(), id)
	if err != nil {
		s.reply(w, nil, fmt.Errorf("%w: %w", api.ErrNotFound, err))
		return
	}
	rel, err := filepath.Rel(s.Library, f.Path)
	if err != nil || !filepath.IsLocal(rel) {
		s.reply(w, nil, fmt.Errorf("%w: outside the library", api.ErrNotFound))
		return
	}
	root, err := os.OpenRoot(s.Library)
	if err != nil {
		s.reply(w, nil, err)
		return
	}
	defer root.Close()
	fh, err := root.Open(rel)
	if err != nil {
		s.reply(w, nil, fmt.Errorf("%w: %w", api.ErrNotFound, err))
		return
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		s.reply(w, nil, fmt.Errorf("%w: not a regular file", api.ErrNotFound))
		return
	}
	w.Header().Set("Cache-Control", "private, max-age=3600")
	// The name is not used for the type: only image types are sniffed.
	http.ServeContent(w, r, "", fi.ModTime(), fh)
}

func (s *Server) edit(verb string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var id int64
		if verb != "move" {
			var err error
			if id, err = strconv.ParseInt(r.PathValue("id"), 10, 64); err != nil || id <= 0 {
				s.reply(w, nil, fmt.Errorf("%w: person id", api.ErrBadRequest))
				return
			}
		}
		var req api.EditRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
			s.reply(w, nil, fmt.Errorf("%w: %v", api.ErrBadRequest, err))
			return
		}
		res, err := s.api.Edit(r.Context(), verb, id, req)
		if err == nil {
			s.sugg.invalidate()
		}
		s.reply(w, res, err)
	}
}
