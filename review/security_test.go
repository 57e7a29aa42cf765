package review

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faced/faced/index"
	"github.com/faced/faced/persons"
)

func testServer(t *testing.T) (*Server, *index.Index, http.Handler) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	ix, err := index.Open(ctx, filepath.Join(dir, "faces.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if _, err := ix.CreatePerson(ctx, index.Person{}); err != nil {
		t.Fatal(err)
	}
	secret, err := Secret(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{S: persons.New(ix, persons.Options{}), Secret: secret, Addr: "127.0.0.1:7878", Library: dir}
	return s, ix, s.Handler()
}

// TestSecretFile: one secret per install, 0600, stable.
func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	a, err := Secret(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Secret(dir)
	fi, err := os.Stat(filepath.Join(dir, SecretFile))
	if err != nil || a != b || len(a) != 64 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret %q then %q, mode %v, %v", a, b, fi.Mode().Perm(), err)
	}
}

// TestGuard: the page's security rules, request by request.
func TestGuard(t *testing.T) {
	s, ix, h := testServer(t)
	cookie := &http.Cookie{Name: cookieName, Value: s.Secret}
	origin := "http://127.0.0.1:7878"
	tests := []struct {
		name    string
		method  string
		path    string
		host    string
		cookie  bool
		origin  string
		token   string
		want    int
		renames bool
	}{
		{"first visit with the key sets the cookie", "GET", "/?k=" + s.Secret, "127.0.0.1:7878", false, "", "", http.StatusSeeOther, false},
		{"wrong key", "GET", "/?k=nope", "127.0.0.1:7878", false, "", "", http.StatusForbidden, false},
		{"no cookie", "GET", "/api/persons", "127.0.0.1:7878", false, "", "", http.StatusUnauthorized, false},
		{"with cookie", "GET", "/api/persons", "127.0.0.1:7878", true, "", "", http.StatusOK, false},
		{"localhost alias", "GET", "/api/persons", "localhost:7878", true, "", "", http.StatusOK, false},
		{"DNS rebinding: foreign Host", "GET", "/api/persons", "evil.example:7878", true, "", "", http.StatusMisdirectedRequest, false},
		{"other port", "GET", "/api/persons", "127.0.0.1:9999", true, "", "", http.StatusMisdirectedRequest, false},
		{"POST without token", "POST", "/api/persons/1/name", "127.0.0.1:7878", true, origin, "", http.StatusForbidden, false},
		{"POST cross-origin", "POST", "/api/persons/1/name", "127.0.0.1:7878", true, "http://evil.example", s.Secret, http.StatusForbidden, false},
		{"POST without Origin", "POST", "/api/persons/1/name", "127.0.0.1:7878", true, "", s.Secret, http.StatusForbidden, false},
		{"POST without cookie", "POST", "/api/persons/1/name", "127.0.0.1:7878", false, origin, s.Secret, http.StatusUnauthorized, false},
		{"GET cannot edit", "GET", "/api/persons/1/name", "127.0.0.1:7878", true, origin, s.Secret, http.StatusMethodNotAllowed, false},
		{"PUT refused", "PUT", "/api/persons/1/name", "127.0.0.1:7878", true, origin, s.Secret, http.StatusMethodNotAllowed, false},
		{"POST same origin with token", "POST", "/api/persons/1/name", "127.0.0.1:7878", true, origin, s.Secret, http.StatusOK, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if _, err := ix.SetName(ctx, 1, "", index.SourceUser); err != nil {
				t.Fatal(err)
			}
			var body *strings.Reader = strings.NewReader(`{"name":"Mallory"}`)
			req := httptest.NewRequest(tc.method, tc.path, body)
			req.Host = tc.host
			if tc.cookie {
				req.AddCookie(cookie)
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.token != "" {
				req.Header.Set(tokenHeader, tc.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if csp := rec.Header().Get("Content-Security-Policy"); csp != CSP {
				t.Errorf("CSP %q", csp)
			}
			p, _ := ix.Person(ctx, 1)
			if (p.Name == "Mallory") != tc.renames {
				t.Errorf("person name %q after the request (renames: %v)", p.Name, tc.renames)
			}
			if tc.want == http.StatusSeeOther {
				c := rec.Result().Cookies()
				if len(c) != 1 || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Value != s.Secret {
					t.Errorf("cookie %+v", c)
				}
				if loc := rec.Header().Get("Location"); loc != "/" {
					t.Errorf("redirect to %q, want / (the key leaves the address bar)", loc)
				}
			}
		})
	}
}
