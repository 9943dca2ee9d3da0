// Package adminsession holds the one rule by which a browser session may
// administer authz, and the CSRF token bound to such a session. The console
// and the admin API both apply it, each answering a refusal in its own form,
// and neither imports the other.
package adminsession

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
)

// Verdict is whether a browser session may administer, and if not why.
type Verdict int

// Verdicts. The zero value denies: only Judge's last line allows.
const (
	// NoSession: the request carries no live session.
	NoSession Verdict = iota
	// UserGone: the session's user no longer exists.
	UserGone
	// NotAdmin: the user is not an administrator, or is disabled.
	NotAdmin
	// WithoutOTP: the user signed in without a one-time code.
	WithoutOTP
	// Admin: an enabled administrator who signed in with a one-time code.
	Admin
)

// Judge reads the request's browser session from sessions and judges it:
// only an enabled administrator who signed in with a one-time code may
// administer. The session and user come back whenever they exist, so a
// refusal can be worded for them; err is a failure to read either.
func Judge(r *http.Request, sessions *session.Manager, st store.Store) (*store.Session, *store.User, Verdict, error) {
	sess, err := sessions.Current(r)
	if err != nil || sess == nil {
		return nil, nil, NoSession, err
	}
	u, err := st.GetUser(r.Context(), sess.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return sess, nil, UserGone, nil
	case err != nil:
		return nil, nil, NoSession, err
	case u.Role != store.RoleAdmin || !u.Enabled:
		return sess, u, NotAdmin, nil
	case !session.SecondFactor(sess.AMR):
		return sess, u, WithoutOTP, nil
	}
	return sess, u, Admin, nil
}

// CSRFToken is the CSRF token of the session with ID sessionID: console
// forms carry it in a field, API requests in the X-CSRF-Token header. It is
// derived rather than stored: the session ID is a secret hash only the store
// and this browser's cookie lead to, and a token bound to it dies with the
// session.
func CSRFToken(sessionID string) string {
	sum := sha256.Sum256([]byte("admin-csrf:" + sessionID))
	return hex.EncodeToString(sum[:])
}

// CheckCSRF reports whether got is the token want, in constant time; an
// empty token never matches.
func CheckCSRF(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
