package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/authz/authz/internal/oauth"
	"github.com/authz/authz/internal/store"
)

// APIPrefix is where the admin JSON API lives.
const APIPrefix = "/admin/api/v1"

// AdminScope is the scope a client_credentials token needs for the API.
const AdminScope = "authz.admin"

// API paging: limit defaults to defaultLimit and may not exceed maxLimit.
const (
	defaultLimit = 20
	maxLimit     = 100
	// maxOffset keeps offsets far from overflow in either store.
	maxOffset = 1_000_000_000
)

// TokenIntrospector checks an access token presented to the API;
// *oauth.Provider is one.
type TokenIntrospector interface {
	IntrospectAccessToken(ctx context.Context, token string) (clientID string, scopes []string, err error)
}

// caller is who the API admitted.
type caller struct {
	actor Actor
}

// apiHandler is an API handler that runs once the caller is admitted.
type apiHandler func(w http.ResponseWriter, r *http.Request, c *caller)

// apiRoute is one operation of the API; path is below APIPrefix and names
// its parameters as the OpenAPI document does.
type apiRoute struct {
	method string
	path   string
	h      apiHandler
}

// apiRoutes lists every operation, so that routing and the test against the
// OpenAPI document read the same table.
func (c *Console) apiRoutes() []apiRoute {
	return slices.Concat(c.userRoutes(), c.clientRoutes(), c.providerRoutes(), []apiRoute{
		{"GET", "/audit-events", c.apiListAudit},
		{"GET", "/stats", c.apiStats},
	})
}

// registerAPI mounts the API below APIPrefix on mux.
func (c *Console) registerAPI(mux *http.ServeMux) {
	mux.Handle(APIPrefix+"/", c.apiMux())
}

// apiMux routes the API. Its own catch-all answers unknown paths and methods
// with problem documents instead of the plain-text defaults.
func (c *Console) apiMux() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range c.apiRoutes() {
		mux.HandleFunc(rt.method+" "+APIPrefix+rt.path, c.apiGuard(rt.h))
	}
	mux.HandleFunc("GET "+APIPrefix+"/openapi.json", serveOpenAPI)
	mux.HandleFunc(APIPrefix+"/", func(w http.ResponseWriter, r *http.Request) { noRoute(mux, w, r) })
	return mux
}

// noRoute answers 405 with Allow when another method has a route here, else 404.
func noRoute(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != APIPrefix+"/" {
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

// apiGuard admits administrators and admin clients, then runs h.
func (c *Console) apiGuard(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		var (
			who *caller
			ok  bool
		)
		if r.Header.Get("Authorization") != "" {
			who, ok = c.tokenCaller(w, r)
		} else {
			who, ok = c.sessionCaller(w, r)
		}
		if ok {
			h(w, r, who)
		}
	}
}

// tokenCaller admits a bearer token that a client obtained for itself with
// the admin scope.
func (c *Console) tokenCaller(w http.ResponseWriter, r *http.Request) (*caller, bool) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" || c.Tokens == nil {
		unauthorized(w, `Bearer realm="authz admin API"`, "Send a bearer token (client_credentials, scope "+AdminScope+") or use an administrator's browser session.")
		return nil, false
	}
	clientID, scopes, err := c.Tokens.IntrospectAccessToken(r.Context(), token)
	switch {
	case errors.Is(err, oauth.ErrNotClientToken):
		writeProblem(w, http.StatusForbidden, "forbidden", "Forbidden",
			"This token was issued on behalf of a user; the admin API accepts only tokens a client obtained for itself (client_credentials).", "")
		return nil, false
	case errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded):
		c.apiFail(w, r, err)
		return nil, false
	case err != nil:
		unauthorized(w, `Bearer realm="authz admin API", error="invalid_token"`, "The bearer token is not active: unknown, expired, revoked, or its client is disabled.")
		return nil, false
	case !slices.Contains(scopes, AdminScope):
		w.Header().Set("WWW-Authenticate", `Bearer realm="authz admin API", error="insufficient_scope", scope="`+AdminScope+`"`)
		writeProblem(w, http.StatusForbidden, "insufficient-scope", "Forbidden", "The token lacks the scope "+AdminScope+".", "")
		return nil, false
	}
	return &caller{actor: Actor{ClientID: clientID}}, true
}

// sessionCaller admits an administrator's browser session under the
// console's rules; requests that change something must also carry the
// session's CSRF token in X-CSRF-Token, which another site cannot read.
func (c *Console) sessionCaller(w http.ResponseWriter, r *http.Request) (*caller, bool) {
	const realm = `Bearer realm="authz admin API"`
	sess, u, v, err := c.sessionAdmin(r)
	switch {
	case err != nil:
		c.apiFail(w, r, err)
	case v == noSession:
		unauthorized(w, realm, "Send a bearer token (client_credentials, scope "+AdminScope+") or use an administrator's browser session.")
	case v == userGone:
		unauthorized(w, realm, "The session's user no longer exists.")
	case v == notAdmin:
		writeProblem(w, http.StatusForbidden, "forbidden", "Forbidden", "The admin API is for administrators only.", "")
	case v == withoutOTP:
		writeProblem(w, http.StatusForbidden, "forbidden", "Forbidden", "Administration requires a sign-in with a one-time code.", "")
	case !safeMethod(r.Method) && !checkCSRF(r.Header.Get("X-CSRF-Token"), CSRFToken(sess.ID)):
		writeProblem(w, http.StatusForbidden, "csrf", "CSRF token missing or wrong",
			"A browser session must send the console's CSRF token in the X-CSRF-Token header.", "X-CSRF-Token")
	default:
		return &caller{actor: Actor{UserID: u.ID}}, true
	}
	return nil, false
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func unauthorized(w http.ResponseWriter, challenge, detail string) {
	w.Header().Set("WWW-Authenticate", challenge)
	writeProblem(w, http.StatusUnauthorized, "unauthorized", "Unauthorized", detail, "")
}

// problem is an RFC 9457 problem document; Field names the request field at
// fault, in the API's names.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Field  string `json:"field,omitempty"`
}

// problemType is the type URI of the problem called slug.
func problemType(slug string) string { return "urn:authz:problem:" + slug }

func writeProblem(w http.ResponseWriter, status int, slug, title, detail, field string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{Type: problemType(slug), Title: title, Status: status, Detail: detail, Field: field})
}

// apiError answers an operation's error: a service refusal as the matching
// problem, anything else as an internal one.
func (c *Console) apiError(w http.ResponseWriter, r *http.Request, err error) {
	e := AsError(err)
	if e == nil {
		c.apiFail(w, r, err)
		return
	}
	switch e.Kind {
	case KindNotFound:
		writeProblem(w, http.StatusNotFound, "not-found", "Not found", e.Message, e.Field)
	case KindConflict:
		writeProblem(w, http.StatusConflict, "conflict", "Conflict", e.Message, e.Field)
	default:
		writeProblem(w, http.StatusBadRequest, "invalid-field", "Invalid value", e.Message, e.Field)
	}
}

// apiFail ends a request on an internal error without detail for the client.
func (c *Console) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		c.logger().WarnContext(r.Context(), "admin api: store unavailable", "err", err)
		w.Header().Set("Retry-After", "5")
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", "Temporarily unavailable", "The database cannot be reached right now.", "")
		return
	}
	c.logger().ErrorContext(r.Context(), "admin api: internal error", "path", r.URL.Path, "err", err)
	writeProblem(w, http.StatusInternalServerError, "internal", "Internal error", "The request could not be completed.", "")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// list is the answer of every list operation.
type list[T any] struct {
	Items  []T `json:"items"`
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

// paging is a list request's window.
type paging struct{ offset, limit int }

// readQuery checks the query of a list request: only paging and the named
// filters are known, and paging must be in range. Paging beyond the end is
// no error: the list is empty.
func readQuery(w http.ResponseWriter, r *http.Request, filters ...string) (paging, bool) {
	q := r.URL.Query()
	for k := range q {
		if k != "offset" && k != "limit" && !slices.Contains(filters, k) {
			writeProblem(w, http.StatusBadRequest, "unknown-field", "Unknown query parameter",
				"Known parameters: "+strings.Join(append([]string{"offset", "limit"}, filters...), ", ")+".", k)
			return paging{}, false
		}
	}
	p := paging{limit: defaultLimit}
	for _, f := range []struct {
		name     string
		dst      *int
		min, max int
	}{{"offset", &p.offset, 0, maxOffset}, {"limit", &p.limit, 1, maxLimit}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < f.min || n > f.max {
			writeProblem(w, http.StatusBadRequest, "invalid-field", "Invalid value",
				f.name+" must be an integer from "+strconv.Itoa(f.min)+" to "+strconv.Itoa(f.max)+".", f.name)
			return paging{}, false
		}
		*f.dst = n
	}
	return p, true
}

// boolFilter reads an optional true/false query parameter.
func boolFilter(w http.ResponseWriter, r *http.Request, name string) (*bool, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return nil, true
	}
	b, err := strconv.ParseBool(v)
	if err != nil || (v != "true" && v != "false") {
		writeProblem(w, http.StatusBadRequest, "invalid-field", "Invalid value", name+" must be true or false.", name)
		return nil, false
	}
	return &b, true
}
