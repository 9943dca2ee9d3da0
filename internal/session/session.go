// Package session owns authz's browser sessions: the cookies that carry them,
// the hashed token IDs the store keeps instead of the tokens, the
// authentication methods a session records, the confirmation token of a
// logout form, single-use set-up links, and the consent a user has granted.
//
// The login pipeline creates sessions; the OpenID provider and the admin
// console read and end them through this package, so neither depends on the
// pipeline.
package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/authz/authz/internal/randtoken"
	"github.com/authz/authz/internal/store"
)

// Cookie names.
const (
	// Cookie carries the browser session's token.
	Cookie = "authz_session"
	// TransactionCookie carries the token of the login in progress.
	TransactionCookie = "authz_login"
	// RememberCookie carries the token of a remembered browser: logins of
	// its user there skip the one-time-code step until it expires.
	RememberCookie = "authz_remember"
	// DeviceCookie carries a sealed note that a user completed a sign-in in
	// the browser: its password attempts are spared the account-wide lock.
	DeviceCookie = "authz_device"
)

// Authentication method references (RFC 8176) recorded in sessions and ID tokens.
const (
	AMRPassword  = "pwd"
	AMROTP       = "otp"
	AMRMFA       = "mfa"
	AMRFederated = "fed"
	// AMRHardwareKey is a WebAuthn security key or passkey (RFC 8176 "hwk":
	// proof of possession of a key the authenticator holds).
	AMRHardwareKey = "hwk"
	// AMRRemembered marks a login whose code step a remembered browser
	// skipped: no second factor was checked in it, and it says so.
	AMRRemembered = "remembered"
)

// SecondFactor reports whether amr holds a second factor authz checked
// itself: a one-time code (or recovery code) or a security key. A
// remembered browser is not one, nor anything an upstream provider reports.
func SecondFactor(amr []string) bool {
	return slices.Contains(amr, AMROTP) || slices.Contains(amr, AMRHardwareKey)
}

// upstreamAMRPrefix marks, in a session's AMR, a method an upstream provider
// reported, as opposed to one authz checked itself: an upstream "otp" must
// never pass for the local code step or the admin's OTP gate.
const upstreamAMRPrefix = "up:"

// UpstreamAMR is how a method an upstream provider reported is recorded.
func UpstreamAMR(method string) string { return upstreamAMRPrefix + method }

// PublicAMR is the amr claim of a session's methods: upstream methods lose
// their mark, duplicates go.
func PublicAMR(amr []string) []string {
	var out []string
	for _, m := range amr {
		m = strings.TrimPrefix(m, upstreamAMRPrefix)
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// NewToken returns a random cookie or link token and the store ID derived from
// it: the store keeps only the hash, so a leaked row opens nothing.
func NewToken() (token, id string) {
	token = randtoken.New(32)
	return token, TokenID(token)
}

// TokenID is the store ID of a cookie or link token.
func TokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// SID is the sid claim (OIDC Back-Channel Logout 1.0 §2.4) of session
// sessionID: derived, so it needs no column, and one-way, so the ID tokens
// that carry it do not reveal the store key of the session.
func SID(sessionID string) string {
	sum := sha256.Sum256([]byte("sid:" + sessionID))
	return hex.EncodeToString(sum[:16])
}

// LogoutToken is the confirmation token a logout form of session sessionID must
// carry: a cross-site form cannot know it, so it cannot sign anyone out.
func LogoutToken(sessionID string) string {
	sum := sha256.Sum256([]byte("logout-csrf:" + sessionID))
	return hex.EncodeToString(sum[:])
}

// IssueLink creates a single-use action token of kind for userID and returns
// the token to put in the link. Older unused links of the same kind stop
// working.
func IssueLink(ctx context.Context, st store.Store, userID, kind string, ttl time.Duration, now time.Time) (string, error) {
	token, id := NewToken()
	err := st.CreateActionToken(ctx, &store.ActionToken{ID: id, UserID: userID, Kind: kind, CreatedAt: now, ExpiresAt: now.Add(ttl)})
	return token, err
}

// LinkPath is the path of the page an action link opens.
func LinkPath(token string) string { return "/link/" + url.PathEscape(token) }

// NeedsConsent reports whether userID has not yet granted clientID every scope.
func NeedsConsent(ctx context.Context, st store.Store, userID, clientID string, scopes []string) (bool, error) {
	c, err := st.GetConsent(ctx, userID, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return len(scopes) > 0, nil
	}
	if err != nil {
		return false, err
	}
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			return true, nil
		}
	}
	return false, nil
}

// LoginRequest is what a sign-in is asked for: by the authorization endpoint
// (every browser request it accepts), or by a page that needs a signed-in user.
type LoginRequest struct {
	// AuthRequest is the authorization request to answer once the user is
	// signed in, or nil for a login to the account page.
	AuthRequest url.Values
	ClientID    string
	RequestedAt time.Time
}

// Why an authorization request ended without a signed-in user; the login
// pipeline hands one to the provider, which answers with the OAuth error.
var (
	ErrAccessDenied    = errors.New("session: the user denied the request")
	ErrLoginRequired   = errors.New("session: login required")
	ErrConsentRequired = errors.New("session: consent required")
)

// UpstreamFailure is why a login through an upstream provider failed, for
// the relying application that asked for it.
type UpstreamFailure struct {
	// Denied is set when the login was refused (declined at the provider,
	// or no account here may use the identity), rather than broken.
	Denied bool
	// Reason is written for people: the relying application may show it.
	Reason string
}

func (e *UpstreamFailure) Error() string { return "session: upstream login failed: " + e.Reason }

// Manager reads, writes and ends browser sessions.
type Manager struct {
	Store store.Store
	// SecureCookies marks cookies Secure: set when authz is reached over TLS.
	SecureCookies bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

// SetCookie sets an HttpOnly, SameSite=Lax cookie valid until expires, or
// deletes it when expires is zero.
func (m *Manager) SetCookie(w http.ResponseWriter, name, value string, expires time.Time) {
	c := &http.Cookie{Name: m.CookieName(name), Value: value, Path: "/", HttpOnly: true, Secure: m.SecureCookies, SameSite: http.SameSiteLaxMode}
	if expires.IsZero() {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	http.SetCookie(w, c)
}

// CookieName is cookie name as the browser holds it: with the __Host-
// prefix when cookies are Secure. A browser takes such a cookie only from
// this very host over TLS, with Path=/ and no Domain, so neither a
// neighbouring subdomain nor a network attacker can plant one: a login
// cookie of the attacker's choosing would let them follow the victim's
// login (its ID and the pending form's CSRF secret derive from it).
func (m *Manager) CookieName(name string) string {
	if m.SecureCookies {
		return "__Host-" + name
	}
	return name
}

// CookieValue is the value of the request's cookie name (see CookieName),
// or "" when it has none.
func (m *Manager) CookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(m.CookieName(name))
	if err != nil {
		return ""
	}
	return c.Value
}

// touchEvery is how stale a session's LastSeenAt may get before a request
// writes it again: "last seen" to a few minutes costs one write a session per
// interval, not one a request.
const touchEvery = 5 * time.Minute

// Current returns the browser session of r, or nil when there is none. A
// session not seen for a while is marked seen now.
func (m *Manager) Current(r *http.Request) (*store.Session, error) {
	token := m.CookieValue(r, Cookie)
	if token == "" {
		return nil, nil
	}
	now := m.now()
	s, err := m.Store.GetSession(r.Context(), TokenID(token), now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err == nil && now.Sub(s.LastSeenAt) >= touchEvery {
		// Only the account page's list reads it: a failed write (or a
		// session ended meanwhile) must not fail the request.
		if m.Store.TouchSession(r.Context(), s.ID, now) == nil {
			s.LastSeenAt = now
		}
	}
	return s, err
}

// maxUserAgent bounds the browser description a session keeps.
const maxUserAgent = 512

// SignIn ends the login transaction loginID (none when empty) and stores a
// session for s.UserID, with the user's last login and the sign-in's audit
// event e (store.Store.SignIn: store.ErrNotFound when the transaction is
// gone), and sets the session's cookie and clears the transaction's. The
// session records the request's browser; s.IP is the caller's to set, since
// only the caller knows which proxies to trust.
func (m *Manager) SignIn(w http.ResponseWriter, r *http.Request, loginID string, s *store.Session, ttl time.Duration, e *store.AuditEvent) error {
	token, id := NewToken()
	now := m.now()
	s.ID, s.CreatedAt, s.ExpiresAt, s.LastSeenAt = id, now, now.Add(ttl), now
	if s.UserAgent == "" {
		s.UserAgent = truncate(r.UserAgent(), maxUserAgent)
	}
	if err := m.Store.SignIn(r.Context(), loginID, s, e); err != nil {
		return err
	}
	if loginID != "" {
		m.SetCookie(w, TransactionCookie, "", time.Time{})
	}
	m.SetCookie(w, Cookie, token, s.ExpiresAt)
	return nil
}

// End deletes the browser session of r and its cookie, and any login in
// progress in the browser: a transaction begun from the session (at the
// consent page, say) must not outlive it. It returns the session that ended,
// or nil.
func (m *Manager) End(w http.ResponseWriter, r *http.Request) (*store.Session, error) {
	ctx := r.Context()
	if token := m.CookieValue(r, TransactionCookie); token != "" {
		if err := m.Store.DeleteLoginTransaction(ctx, TokenID(token)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	m.SetCookie(w, TransactionCookie, "", time.Time{})
	s, err := m.Current(r)
	m.SetCookie(w, Cookie, "", time.Time{})
	if err != nil || s == nil {
		return s, err
	}
	return s, m.EndSession(ctx, s)
}

// EndSession ends the browser session s, wherever its browser is: the one
// place a session ends, whether its own browser signs out or the user signs
// it out from another. A session already gone is no error.
func (m *Manager) EndSession(ctx context.Context, s *store.Session) error {
	if err := m.Store.DeleteSession(ctx, s.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("session: end session of %s: %w", s.UserID, err)
	}
	return nil
}

// List returns the user's live sessions, newest first.
func (m *Manager) List(ctx context.Context, userID string) ([]*store.Session, error) {
	return m.Store.ListUserSessions(ctx, userID, m.now())
}

// EndOthers ends every session of the user but keepID's and returns how many
// it ended.
func (m *Manager) EndOthers(ctx context.Context, userID, keepID string) (int, error) {
	all, err := m.List(ctx, userID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range all {
		if s.ID == keepID {
			continue
		}
		if err := m.EndSession(ctx, s); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Handle names session id in pages and forms without giving away its store
// ID, which is the key to the row.
func Handle(id string) string {
	sum := sha256.Sum256([]byte("session-handle:" + id))
	return hex.EncodeToString(sum[:12])
}

// FormToken is the confirmation token the forms of session sessionID's
// account page carry, as LogoutToken is for its logout form.
func FormToken(sessionID string) string {
	sum := sha256.Sum256([]byte("account-csrf:" + sessionID))
	return hex.EncodeToString(sum[:])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
