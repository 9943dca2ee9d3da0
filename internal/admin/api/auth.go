package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/admin/adminsession"
	"github.com/authz/authz/internal/oauth"
	"github.com/authz/authz/internal/store"
)

// caller is who the API admitted.
type caller struct {
	actor admin.Actor
}

// handler is an API handler that runs once the caller is admitted.
type handler func(w http.ResponseWriter, r *http.Request, c *caller)

// guard admits administrators and admin clients, then runs h.
func (a *API) guard(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		var (
			who *caller
			ok  bool
		)
		if r.Header.Get("Authorization") != "" {
			who, ok = a.tokenCaller(w, r)
		} else {
			who, ok = a.sessionCaller(w, r)
		}
		if ok {
			h(w, r, who)
		}
	}
}

// tokenCaller admits a bearer token that a client obtained for itself with
// the admin scope.
func (a *API) tokenCaller(w http.ResponseWriter, r *http.Request) (*caller, bool) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" || a.Tokens == nil {
		unauthorized(w, `Bearer realm="authz admin API"`, "Send a bearer token (client_credentials, scope "+Scope+") or use an administrator's browser session.")
		return nil, false
	}
	clientID, scopes, err := a.Tokens.IntrospectAccessToken(r.Context(), token)
	switch {
	case errors.Is(err, oauth.ErrNotClientToken):
		writeProblem(w, http.StatusForbidden, "forbidden", "Forbidden",
			"This token was issued on behalf of a user; the admin API accepts only tokens a client obtained for itself (client_credentials).", "")
		return nil, false
	case errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded):
		a.fail(w, r, err)
		return nil, false
	case err != nil:
		unauthorized(w, `Bearer realm="authz admin API", error="invalid_token"`, "The bearer token is not active: unknown, expired, revoked, or its client is disabled.")
		return nil, false
	case !slices.Contains(scopes, Scope):
		w.Header().Set("WWW-Authenticate", `Bearer realm="authz admin API", error="insufficient_scope", scope="`+Scope+`"`)
		writeProblem(w, http.StatusForbidden, "insufficient-scope", "Forbidden", "The token lacks the scope "+Scope+".", "")
		return nil, false
	}
	return &caller{actor: admin.Actor{ClientID: clientID}}, true
}

// sessionCaller admits an administrator's browser session under the
// console's rule; requests that change something must also carry the
// session's CSRF token in X-CSRF-Token, which another site cannot read.
func (a *API) sessionCaller(w http.ResponseWriter, r *http.Request) (*caller, bool) {
	const realm = `Bearer realm="authz admin API"`
	sess, u, v, err := adminsession.Judge(r, a.Sessions, a.Store)
	switch {
	case err != nil:
		a.fail(w, r, err)
	case v == adminsession.NoSession:
		unauthorized(w, realm, "Send a bearer token (client_credentials, scope "+Scope+") or use an administrator's browser session.")
	case v == adminsession.UserGone:
		unauthorized(w, realm, "The session's user no longer exists.")
	case v == adminsession.NotAdmin:
		writeProblem(w, http.StatusForbidden, "forbidden", "Forbidden", "The admin API is for administrators only.", "")
	case v == adminsession.WithoutOTP:
		writeProblem(w, http.StatusForbidden, "forbidden", "Forbidden", "Administration requires a sign-in with a one-time code.", "")
	case !safeMethod(r.Method) && !adminsession.CheckCSRF(r.Header.Get("X-CSRF-Token"), adminsession.CSRFToken(sess.ID)):
		writeProblem(w, http.StatusForbidden, "csrf", "CSRF token missing or wrong",
			"A browser session must send the console's CSRF token in the X-CSRF-Token header.", "X-CSRF-Token")
	default:
		return &caller{actor: admin.Actor{UserID: u.ID}}, true
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
