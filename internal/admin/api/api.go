// Package api serves the admin JSON API of authz under /admin/api/v1,
// described by openapi.json. It admits clients holding an access token they
// obtained for themselves with the scope authz.admin, and administrators'
// browser sessions under the console's rule (adminsession) with the session's
// CSRF token in X-CSRF-Token. Refusals are RFC 9457 problem documents. What a
// request changes, the admin Service changes, under the same rules as the
// console and the CLI.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
)

// Prefix is where the API lives.
const Prefix = "/admin/api/v1"

// Scope is the scope a client_credentials token needs for the API.
const Scope = "authz.admin"

// API serves the admin JSON API.
type API struct {
	// Service carries out what the requests ask for.
	Service *admin.Service
	// Store is read for the user of a browser session.
	Store store.Store
	// Sessions reads the browser sessions of administrators.
	Sessions *session.Manager
	// Tokens checks the bearer tokens of requests; nil admits browser
	// sessions only.
	Tokens TokenIntrospector
	Log    *slog.Logger
}

// TokenIntrospector checks an access token presented to the API;
// *oauth.Provider is one.
type TokenIntrospector interface {
	IntrospectAccessToken(ctx context.Context, token string) (clientID string, scopes []string, err error)
}

// route is one operation of the API; path is below Prefix and names its
// parameters as the OpenAPI document does.
type route struct {
	method string
	path   string
	h      handler
}

// routes lists every operation, so that routing and the test against the
// OpenAPI document read the same table.
func (a *API) routes() []route {
	return slices.Concat(a.userRoutes(), a.clientRoutes(), a.providerRoutes(), []route{
		{"GET", "/audit-events", a.listAudit},
		{"GET", "/stats", a.stats},
	})
}

// Register mounts the API below Prefix on mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle(Prefix+"/", a.mux())
}

// mux routes the API. Its own catch-all answers unknown paths and methods
// with problem documents instead of the plain-text defaults.
func (a *API) mux() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range a.routes() {
		h := rt.h
		if strings.HasPrefix(rt.path, "/users/{id}") {
			h = a.resolveUser(h)
		}
		mux.HandleFunc(rt.method+" "+Prefix+rt.path, a.guard(h))
	}
	mux.HandleFunc("GET "+Prefix+"/openapi.json", serveOpenAPI)
	mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) { noRoute(mux, w, r) })
	return mux
}

// noRoute answers 405 with Allow when another method has a route here, else 404.
func noRoute(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != Prefix+"/" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeProblem(w, http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed",
			r.Method+" is not supported here; use "+strings.Join(allowed, ", ")+".", "")
		return
	}
	writeProblem(w, http.StatusNotFound, "not-found", "Not found", "There is no API resource at "+r.URL.Path+".", "")
}

func (a *API) logger() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}
