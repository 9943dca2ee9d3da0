package login

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/throttle"
	"github.com/authz/authz/views"
)

// Logins started while nobody is signed in are counted per client address
// before their transaction is stored: an authorization request without a
// session (or whose prompt=login or max_age sets it aside), an upstream
// sign-in begun without a login in progress, and the posted form of a
// pending login. Each is a row until it expires, and such requests cost the
// client nothing, so without the count a flood from one address would grow
// the table without bound. Storing nothing until the sign-in form is
// posted, as GET /login does, does not fit the first two: the authorization
// request must be kept until it is answered, and an upstream round trip
// needs its state, nonce and verifier kept here.

// errTooManyLogins is the refusal of a login that the client address may not
// start yet; the error also carries the *throttle.LockedError saying until
// when.
var errTooManyLogins = errors.New("login: too many logins started from this address")

// beginLogin is begin for a login that an authorization request or an
// upstream sign-in starts: when nobody is identified in lt, it is counted
// against the client address first.
func (p *Pipeline) beginLogin(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) error {
	if lt.UserID == "" {
		if err := p.countAnonymous(r); err != nil {
			return err
		}
	}
	return p.begin(w, r, lt)
}

// countAnonymous counts a login transaction about to be stored for r, which
// identifies nobody, against r's client address.
func (p *Pipeline) countAnonymous(r *http.Request) error {
	if p.AnonymousLogins == 0 {
		return nil
	}
	ctx := r.Context()
	err := throttle.CountLogin(ctx, p.Store, clientip.FromContext(ctx), p.AnonymousLogins, p.now())
	if errors.Is(err, throttle.ErrLocked) {
		return fmt.Errorf("%w: %w", errTooManyLogins, err)
	}
	return err
}

// tooManyLogins answers a login the client address may not start before
// until: 429 with Retry-After, on a page of authz's own even when an
// authorization request asked, since a client that retries on errors would
// keep the flood going.
func (p *Pipeline) tooManyLogins(w http.ResponseWriter, r *http.Request, until time.Time) {
	wait := max(until.Sub(p.now()), time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	ctx := r.Context()
	// Said in whole minutes, rounded up: "in 0 minutes" would mislead.
	text := i18n.T(ctx, "err.too_many_logins_text", "Wait", i18n.Duration(ctx, (wait+time.Minute-1).Truncate(time.Minute)))
	p.render(w, r, http.StatusTooManyRequests, views.ErrorPage(i18n.T(ctx, "err.too_many_logins"), text, "", ""))
}
