package login

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authz/authz/internal/session"
)

// knownDeviceLifetime is how long a browser stays known to an account after
// a complete sign-in there.
const knownDeviceLifetime = 90 * 24 * time.Hour

// knownDeviceAD binds the sealed note to its purpose: no other sealed value
// (a TOTP secret, recovery codes) opens as one.
var knownDeviceAD = []byte("known-device")

// markKnownDevice notes in the browser, sealed, that userID completed a
// sign-in on it. Nothing is stored: the note proves itself.
//
// The account-wide password lock (throttle.PasswordAccount) stops guessing
// spread over many addresses, but whoever keeps it tripped keeps the owner
// out too. A browser the owner signed in with is spared it (OWASP's device
// cookies): its wrong passwords still count against its address.
func (p *Pipeline) markKnownDevice(w http.ResponseWriter, userID string) {
	if p.OTP == nil || p.OTP.Sealer == nil {
		return
	}
	exp := p.now().Add(knownDeviceLifetime)
	sealed, err := p.OTP.Sealer.Seal([]byte(userID+"|"+strconv.FormatInt(exp.Unix(), 10)), knownDeviceAD)
	if err != nil {
		return // the sign-in stands; the browser is only not remembered
	}
	p.Sessions.SetCookie(w, session.DeviceCookie, base64.RawURLEncoding.EncodeToString(sealed), exp)
}

// knownDevice reports whether the request's browser carries an unexpired
// note that userID completed a sign-in on it.
func (p *Pipeline) knownDevice(r *http.Request, userID string) bool {
	v := p.Sessions.CookieValue(r, session.DeviceCookie)
	if v == "" || len(v) > 512 || p.OTP == nil || p.OTP.Sealer == nil {
		return false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return false
	}
	note, err := p.OTP.Sealer.Open(sealed, knownDeviceAD)
	if err != nil {
		return false
	}
	id, exp, ok := strings.Cut(string(note), "|")
	unix, err := strconv.ParseInt(exp, 10, 64)
	return ok && err == nil && id == userID && p.now().Before(time.Unix(unix, 0))
}
