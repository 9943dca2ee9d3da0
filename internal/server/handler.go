package server

import (
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/authz/authz/internal/i18n"

	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/views"
)

// contentSecurityPolicy allows one script, the WebAuthn ceremony's static
// file, by its hash (no inline script, no other file), styles and images
// from authz only (QR codes are data: URIs), and no framing.
var contentSecurityPolicy = "default-src 'none'; script-src " + views.WebAuthnScriptHash + " " + views.FormPostScriptHash + "; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"

// routes is every route of the app: the route table of docs/design.md
// (routes_test.go holds the two together).
func (a *App) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writePlain(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", a.ready)
	if a.Config.MetricsListen == "" {
		mux.Handle("GET /metrics", a.Metrics.Handler())
	}
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(filesOnly{views.Static})))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	})
	mux.Handle("POST /language", i18n.SelectHandler(a.Config.Issuer.Scheme == "https"))
	a.Pipeline.Register(mux)
	a.Provider.Register(mux)
	a.AdminConsole.Register(mux)
	a.AdminAPI.Register(mux)
	if a.Outbox != nil {
		mux.HandleFunc("GET /dev/mail", a.devMail)
	}
	return mux
}

// Handler returns the whole HTTP surface of the app, with its middleware.
func (a *App) Handler() http.Handler {
	mux := a.routes()
	cop := http.NewCrossOriginProtection()
	// Machine-to-machine endpoints are called cross-origin by design (public
	// clients in browsers); they authenticate clients, not cookies. An
	// authorization request may be a cross-site form post (OIDC Core 3.1.2.1)
	// and changes nothing by itself; logout checks its own confirmation token.
	for _, p := range []string{"/oauth2/token", "/oauth2/par", "/oauth2/revoke", "/oauth2/introspect", "/userinfo", "/oauth2/auth", "/oauth2/logout"} {
		cop.AddInsecureBypassPattern("POST " + p)
	}
	var h http.Handler = recordRoute(mux)
	h = i18n.Middleware(a.Config.DefaultLocale, a.Config.TimeZone, a.Config.Issuer.Scheme == "https", h)
	h = cop.Handler(h)
	h = clientip.Resolver{Trusted: a.Config.TrustedProxies}.Middleware(h)
	h = securityHeaders(h, a.Config.Issuer.Scheme == "https")
	h = a.recoverPanics(h)
	h = bounded(h, a.Config.RequestTimeout)
	h = a.instrument(h)
	return a.logRequests(h)
}

// MetricsHandler serves the separate metrics listener (metrics.listen):
// /metrics, and the health checks a scraper or orchestrator on the same
// network may want. It answers nothing else.
func (a *App) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writePlain(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", a.ready)
	mux.Handle("GET /metrics", a.Metrics.Handler())
	return mux
}

// bounded gives every request a deadline, so that a stalled database or
// upstream ends in the handlers' 503 with Retry-After instead of a request
// that waits as long as its client does.
func bounded(next http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func writePlain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

// ready answers 503 while the store cannot be reached.
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.Store.Ping(ctx); err != nil {
		a.Log.Warn("readiness: store unreachable", "err", err)
		writePlain(w, http.StatusServiceUnavailable, "store unreachable")
		return
	}
	writePlain(w, http.StatusOK, "ready")
}

func (a *App) devMail(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(a.Outbox.Messages())
}

// securityHeaderValues are set on every response. The value slices are
// shared rather than built per request: Header.Set replaces a slice and
// Header.Add appends to a full one, so nothing writes into them.
var securityHeaderValues = []struct {
	key   string
	value []string
}{
	{"Content-Security-Policy", []string{contentSecurityPolicy}},
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"Referrer-Policy", []string{"no-referrer"}},
	{"X-Frame-Options", []string{"DENY"}},
}

var strictTransportSecurity = []string{"max-age=31536000"}

func securityHeaders(next http.Handler, https bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, kv := range securityHeaderValues {
			h[kv.key] = kv.value
		}
		if https {
			h["Strict-Transport-Security"] = strictTransportSecurity
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a bare 500: the stack goes to the log, never
// to the client.
func (a *App) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.Log.Error("panic serving request", "path", loggedPath(r.URL.Path), "panic", v, "stack", string(debug.Stack()))
				writePlain(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (a *App) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		level := slog.LevelDebug
		if rec.status >= 500 {
			level = slog.LevelWarn
		}
		// Checked first: the arguments would be boxed (allocated) for a
		// record that, at the default level, nobody writes.
		if a.Log.Enabled(r.Context(), level) {
			a.Log.Log(r.Context(), level, "request", "method", r.Method, "path", loggedPath(r.URL.Path), "status", rec.status, "duration", time.Since(start))
		}
	})
}

// filesOnly serves files and no directory listings: a directory is not found.
type filesOnly struct{ fs.FS }

// Open implements fs.FS.
func (f filesOnly) Open(name string) (fs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := file.Stat(); err != nil || st.IsDir() {
		_ = file.Close()
		return nil, fs.ErrNotExist
	}
	return file, nil
}

// linkPrefix starts the path of an e-mailed link, whose last segment is the
// link's secret.
const linkPrefix = "/link/"

// loggedPath is path as a log may keep it: without the secret of a link
// (whoever reads the log must not be able to use it).
func loggedPath(path string) string {
	if strings.HasPrefix(path, linkPrefix) {
		return linkPrefix + "…"
	}
	return path
}
