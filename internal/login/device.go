package login

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authz/authz/internal/randtoken"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
)

// knownDeviceLifetime is how long a browser stays known to an account after
// a complete sign-in there.
const knownDeviceLifetime = 90 * 24 * time.Hour

// knownDeviceAD binds the sealed note to its purpose: no other sealed value
// (a TOTP secret, recovery codes) opens as one.
var knownDeviceAD = []byte("known-device")

// markKnownDevice notes in the browser, sealed, that u completed a sign-in
// on it. Nothing is stored: the note proves itself.
//
// The account-wide password lock (throttle.PasswordAccount) stops guessing
// spread over many addresses, but whoever keeps it tripped keeps the owner
// out too. A browser the owner signed in with is spared it (OWASP's device
// cookies): its wrong passwords count against its address and against the
// note itself (chargePassword), so a copied note buys no more guesses than
// the account-wide lock allows. The note names the password it was earned
// with, so a new password voids every note made before.
func (p *Pipeline) markKnownDevice(w http.ResponseWriter, u *store.User) {
	if p.OTP == nil || p.OTP.Sealer == nil {
		return
	}
	exp := p.now().Add(knownDeviceLifetime)
	note := strings.Join([]string{u.ID, strconv.FormatInt(exp.Unix(), 10), randtoken.New(16), passwordTag(u.PasswordHash)}, "|")
	sealed, err := p.OTP.Sealer.Seal([]byte(note), knownDeviceAD)
	if err != nil {
		return // the sign-in stands; the browser is only not remembered
	}
	p.Sessions.SetCookie(w, session.DeviceCookie, base64.RawURLEncoding.EncodeToString(sealed), exp)
}

// knownDevice returns the ID of the request's note that u completed a
// sign-in on this browser with u's current password, if it has an unexpired
// one; "" otherwise.
func (p *Pipeline) knownDevice(r *http.Request, u *store.User) string {
	v := p.Sessions.CookieValue(r, session.DeviceCookie)
	if u == nil || v == "" || len(v) > 512 || p.OTP == nil || p.OTP.Sealer == nil {
		return ""
	}
	sealed, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return ""
	}
	note, err := p.OTP.Sealer.Open(sealed, knownDeviceAD)
	if err != nil {
		return ""
	}
	f := strings.Split(string(note), "|")
	if len(f) != 4 || f[0] != u.ID || f[2] == "" || f[3] != passwordTag(u.PasswordHash) {
		return ""
	}
	if unix, err := strconv.ParseInt(f[1], 10, 64); err != nil || !p.now().Before(time.Unix(unix, 0)) {
		return ""
	}
	return f[2]
}

// passwordTag names a password hash in a note: enough of its digest to tell
// one hash from the next, inside the sealed note only.
func passwordTag(hash string) string {
	sum := sha256.Sum256([]byte(hash))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}
