// Package login is the login pipeline: a small state machine over a login
// transaction (LT) kept in the store. Each step is derived from the LT and the
// user; nothing else decides where the browser goes next. See docs/design.md.
package login

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/internal/federation"
	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/password"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// Cookie names.
const (
	SessionCookie     = "authz_session"
	TransactionCookie = "authz_login"
)

// Authentication method references (RFC 8176) recorded in sessions and ID tokens.
const (
	AMRPassword  = "pwd"
	AMROTP       = "otp"
	AMRMFA       = "mfa"
	AMRFederated = "fed"
)

// upstreamAMRPrefix marks, in a session's AMR, a method an upstream provider
// reported, as opposed to one authz checked itself.
const upstreamAMRPrefix = "up:"

// PublicAMR is the amr claim of a session's methods: upstream methods lose
// their mark, duplicates go.
func PublicAMR(amr []string) []string {
	var out []string
	for _, m := range amr {
		out = appendOnce(out, strings.TrimPrefix(m, upstreamAMRPrefix))
	}
	return out
}

// Resumer answers the authorization request parked in a login transaction once
// the pipeline has finished; internal/oauth implements it.
type Resumer interface {
	// ResumeAuthorization issues the authorization response for sess; u is
	// its user as the pipeline read it in this request. The pipeline has
	// deleted lt, so the request is answered once.
	ResumeAuthorization(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction, sess *store.Session, u *store.User)
	// DenyAuthorization answers the parked request with access_denied; the
	// pipeline has deleted lt.
	DenyAuthorization(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction)
}

// Pipeline serves the login pages.
type Pipeline struct {
	Store          store.Store
	Passwords      *password.Hasher
	OTP            *mfa.Verifier
	Federation     *federation.Service
	Resume         Resumer
	Log            *slog.Logger
	SecureCookies  bool
	SessionTTL     time.Duration
	TransactionTTL time.Duration
	// OTPIssuer names authz in authenticator apps.
	OTPIssuer string
	// Now is the clock; tests replace it.
	Now func() time.Time
}

func (p *Pipeline) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

// newToken returns a random cookie or link token and the store ID derived from it:
// the store keeps only the hash, so a leaked row opens nothing.
func newToken() (token, id string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("login: crypto/rand failed: " + err.Error())
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, TokenID(token)
}

// TokenID is the store ID of a cookie or link token.
func TokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func (p *Pipeline) setCookie(w http.ResponseWriter, name, value string, expires time.Time) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: p.SecureCookies, SameSite: http.SameSiteLaxMode}
	if expires.IsZero() {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	http.SetCookie(w, c)
}

// CurrentSession returns the browser session of r, or nil when there is none.
func (p *Pipeline) CurrentSession(r *http.Request) (*store.Session, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	s, err := p.Store.GetSession(r.Context(), TokenID(c.Value), p.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return s, err
}

// LogoutToken is the confirmation token a logout form of session sessionID must
// carry: a cross-site form cannot know it, so it cannot sign anyone out.
func LogoutToken(sessionID string) string {
	sum := sha256.Sum256([]byte("logout-csrf:" + sessionID))
	return hex.EncodeToString(sum[:])
}

// EndSession deletes the browser session of r and its cookie, and any login in
// progress in the browser: a transaction begun from the session (at the consent
// page, say) must not outlive it.
func (p *Pipeline) EndSession(w http.ResponseWriter, r *http.Request) (*store.Session, error) {
	if lt, err := p.transaction(r); err == nil {
		_ = p.Store.DeleteLoginTransaction(r.Context(), lt.ID)
	}
	p.setCookie(w, TransactionCookie, "", time.Time{})
	s, err := p.CurrentSession(r)
	p.setCookie(w, SessionCookie, "", time.Time{})
	if err != nil || s == nil {
		return s, err
	}
	return s, p.Store.DeleteSession(r.Context(), s.ID)
}

// StartRequest describes why a login transaction begins.
type StartRequest struct {
	// AuthRequest is the authorization request to resume, or nil for a login
	// to the account page.
	AuthRequest url.Values
	ClientID    string
	RequestedAt time.Time
	// Session, when set, already authenticates the user: only the remaining
	// steps (consent) run.
	Session *store.Session
}

// Start creates a login transaction and sends the browser to its first step.
func (p *Pipeline) Start(w http.ResponseWriter, r *http.Request, sr StartRequest) {
	lt := &store.LoginTransaction{Purpose: store.PurposeLogin, ClientID: sr.ClientID, RequestedAt: sr.RequestedAt}
	if sr.AuthRequest != nil {
		lt.AuthRequest = sr.AuthRequest.Encode()
	}
	if s := sr.Session; s != nil {
		lt.UserID, lt.AMR, lt.AuthTime, lt.UpstreamAlias = s.UserID, s.AMR, s.AuthTime, s.Provider
	}
	if err := p.begin(w, r, lt); err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// begin stores lt with fresh ID, CSRF secret and expiry, and sets its cookie.
func (p *Pipeline) begin(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) error {
	token, id := newToken()
	csrf, _ := newToken()
	now := p.now()
	lt.ID, lt.CSRF, lt.CreatedAt, lt.ExpiresAt = id, csrf, now, now.Add(p.TransactionTTL)
	if err := p.Store.CreateLoginTransaction(r.Context(), lt); err != nil {
		return fmt.Errorf("login: create transaction: %w", err)
	}
	p.setCookie(w, TransactionCookie, token, lt.ExpiresAt)
	return nil
}

var errNoTransaction = errors.New("login: no login transaction")

// transaction loads the LT of the request's cookie.
func (p *Pipeline) transaction(r *http.Request) (*store.LoginTransaction, error) {
	c, err := r.Cookie(TransactionCookie)
	if err != nil || c.Value == "" {
		return nil, errNoTransaction
	}
	lt, err := p.Store.GetLoginTransaction(r.Context(), TokenID(c.Value), p.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoTransaction
	}
	return lt, err
}

// checkCSRF compares the form's csrf field with the LT's secret in constant time.
func checkCSRF(r *http.Request, lt *store.LoginTransaction) bool {
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(lt.CSRF)) == 1
}

func (p *Pipeline) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// Login pages carry CSRF secrets, keys and codes: never cache them.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := c.Render(r.Context(), w); err != nil {
		p.Log.ErrorContext(r.Context(), "render page", "err", err)
	}
}

// fail ends a request on an internal error without detail for the client.
func (p *Pipeline) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		// The browser went away: nobody is left to read an answer.
		p.Log.DebugContext(r.Context(), "login: client gone", "err", err)
		return
	}
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		p.Log.WarnContext(r.Context(), "login: store unavailable", "err", err)
		w.Header().Set("Retry-After", "5")
		p.render(w, r, http.StatusServiceUnavailable, views.ErrorPage("Temporarily unavailable", "authz cannot reach its database right now. Please try again in a moment.", "", ""))
		return
	}
	p.Log.ErrorContext(r.Context(), "login: internal error", "err", err)
	p.render(w, r, http.StatusInternalServerError, views.ErrorPage("Something went wrong", "Your request could not be completed. Please try again.", "", ""))
}

// expired tells the browser its LT is gone.
func (p *Pipeline) expired(w http.ResponseWriter, r *http.Request) {
	p.setCookie(w, TransactionCookie, "", time.Time{})
	p.render(w, r, http.StatusBadRequest, views.ErrorPage("Login timed out",
		"Your login attempt has expired or was already completed. Return to the application and sign in again.", "/account", "Go to your account"))
}

func (p *Pipeline) audit(ctx context.Context, typ, actorID, userID, clientID, detail string) {
	e := &store.AuditEvent{Time: p.now(), Type: typ, ActorID: actorID, UserID: userID, ClientID: clientID, IP: clientip.FromContext(ctx), Detail: detail}
	if err := p.Store.AppendAudit(ctx, e); err != nil {
		p.Log.ErrorContext(ctx, "audit append failed", "type", typ, "err", err)
	}
}

func has(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func appendOnce(list []string, v string) []string {
	if has(list, v) {
		return list
	}
	return append(list, v)
}
