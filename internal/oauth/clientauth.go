package oauth

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/ory/fosite"

	"github.com/authz/authz/internal/httpjson"
	"github.com/authz/authz/internal/store"
)

// Client authentication at the token, revocation and introspection
// endpoints (RFC 6749 §2.3): client_secret_basic or client_secret_post, never
// both, and 401 with WWW-Authenticate for a client that tried Basic (§5.2).

// clientAuthenticated wraps an endpoint that authenticates clients: a
// request carrying credentials twice, or two client IDs, is refused before
// anything is checked, and a 401 answer to a client that tried HTTP Basic
// names the scheme.
func (p *Provider) clientAuthenticated(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if triedBasic(r) {
			w = basicChallenge{ResponseWriter: w}
		}
		if !formEncoded(r) {
			p.writeClientError(w, r, fosite.ErrInvalidRequest.WithHint("The request body must be application/x-www-form-urlencoded."))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxTokenBody)
		if err := r.ParseForm(); err != nil {
			p.writeClientError(w, r, fosite.ErrInvalidRequest.WithHint("The request body could not be read."))
			return
		}
		if err := singleValues(r.PostForm); err != nil {
			p.writeClientError(w, r, err)
			return
		}
		if err := singleClientAuthentication(r); err != nil {
			p.writeClientError(w, r, err)
			return
		}
		h(w, r)
	}
}

// basicChallenge adds WWW-Authenticate: Basic to a 401 answer.
type basicChallenge struct{ http.ResponseWriter }

func (b basicChallenge) WriteHeader(status int) {
	if status == http.StatusUnauthorized {
		b.Header().Set("WWW-Authenticate", `Basic realm="authz", charset="UTF-8"`)
	}
	b.ResponseWriter.WriteHeader(status)
}

func (b basicChallenge) Unwrap() http.ResponseWriter { return b.ResponseWriter }

// triedBasic reports whether the client tried HTTP Basic authentication,
// well-formed or not: a 401 answer to it names the scheme either way
// (RFC 6749 §5.2).
func triedBasic(r *http.Request) bool {
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.EqualFold(scheme, "Basic")
}

// formEncoded reports whether the request's body is a form as RFC 6749 §3.2
// sends it. fosite would also read multipart bodies, which no client of
// these endpoints sends, and whose parts could carry a parameter twice.
func formEncoded(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// singleValues refuses a parameter sent more than once (RFC 6749 §3.1,
// §3.2): fosite reads the first of them, a check in front of it might read
// another. audience and resource (RFC 8707) are lists by their definition,
// which fosite reads whole.
func singleValues(form url.Values) error {
	for k, v := range form {
		if len(v) > 1 && k != "audience" && k != "resource" {
			return fosite.ErrInvalidRequest.WithHintf("The parameter %s must not be repeated.", k)
		}
	}
	return nil
}

// singleClientAuthentication refuses a request that authenticates its client
// more than one way, or names two clients: which one the server would take is
// exactly what an attacker hopes to choose (RFC 6749 §2.3: "MUST NOT use more
// than one authentication method in each request").
func singleClientAuthentication(r *http.Request) error {
	form := r.PostForm
	_, bodySecret := form["client_secret"]
	_, assertion := form["client_assertion"]
	id, _, basic := r.BasicAuth()
	switch {
	case triedBasic(r) && (bodySecret || assertion):
		return fosite.ErrInvalidRequest.WithHint("The client authenticated both with HTTP Basic and in the request body; use one method.")
	case triedBasic(r) && !basic:
		// fosite would look past a Basic header it cannot read, to the
		// body: a client_id there would pass as a public client.
		return errUnauthenticated
	case bodySecret && assertion:
		return fosite.ErrInvalidRequest.WithHint("The client sent both a client secret and a client assertion; use one method.")
	case basic && form.Get("client_id") != "":
		basicID, err := url.QueryUnescape(id)
		if err != nil || basicID != form.Get("client_id") {
			return fosite.ErrInvalidRequest.WithHint("The client_id in the body differs from the client authenticated with HTTP Basic.")
		}
	}
	return nil
}

// errUnauthenticated is the single answer to every failed client
// authentication: which part was wrong is not the caller's business.
var errUnauthenticated = fosite.ErrInvalidClient.WithHint("Client authentication failed.")

// authenticateConfidential authenticates a confidential client with either
// method, for introspection (RFC 7662 §2.1), whose fosite handler knows only
// HTTP Basic. Public clients have no secret to present and may not
// introspect.
func (p *Provider) authenticateConfidential(ctx context.Context, r *http.Request) (*store.Client, error) {
	if r.PostForm.Get("client_assertion") != "" || r.PostForm.Get("client_assertion_type") != "" {
		return p.authenticateAssertion(ctx, r.PostForm, p.cfg.Issuer+r.URL.Path)
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		var errID, errSecret error
		id, errID = url.QueryUnescape(id)
		secret, errSecret = url.QueryUnescape(secret)
		if errID != nil || errSecret != nil {
			return nil, fosite.ErrInvalidRequest.WithHint("The HTTP Basic credentials are not form-urlencoded.")
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id == "" {
		return nil, errUnauthenticated
	}
	c, err := p.store.GetClient(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errUnauthenticated
	case err != nil:
		return nil, err
	case c.Disabled || c.Public || len(c.SecretHash) == 0 || c.TokenAuthMethod == store.AuthPrivateKeyJWT:
		return nil, errUnauthenticated
	}
	if err := p.hasher.Compare(ctx, c.SecretHash, []byte(secret)); err != nil {
		return nil, errUnauthenticated
	}
	return c, nil
}

// writeClientError answers an error of client authentication or of the
// request itself with its RFC 6749 code.
func (p *Provider) writeClientError(w http.ResponseWriter, r *http.Request, err error) {
	if storeDown(err) {
		p.unavailable(w, r, err)
		return
	}
	p.logFailure(r, "client authentication failed", err)
	// A 401 names the Basic scheme through clientAuthenticated's wrapper,
	// which every caller runs under.
	rfc := fosite.ErrorToRFC6749Error(err)
	body := map[string]string{"error": rfc.ErrorField}
	if d := rfc.GetDescription(); d != "" {
		body["error_description"] = d
	}
	w.Header().Set("Pragma", "no-cache")
	httpjson.Write(w, rfc.CodeField, body)
}
