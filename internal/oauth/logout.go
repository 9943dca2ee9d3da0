package oauth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	jose4 "github.com/go-jose/go-jose/v4"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// logout serves RP-initiated logout 1.0 at /oauth2/logout. The session ends at
// once when a valid id_token_hint names the session's own user, or when the
// form carries the session's confirmation token; otherwise the user confirms
// first, so a cross-site link cannot sign anyone out.
func (p *Provider) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxAuthorizeQuery)
	if err := r.ParseForm(); err != nil || len(r.URL.RawQuery) > maxAuthorizeQuery {
		p.errorPage(w, r, http.StatusBadRequest, "err.bad_request", "err.logout_unreadable")
		return
	}
	hint, uri := r.Form.Get("id_token_hint"), r.Form.Get("post_logout_redirect_uri")
	clientID, hintSubject := r.Form.Get("client_id"), ""
	if hint != "" {
		aud, sub, err := p.verifyIDTokenHint(ctx, hint)
		if err != nil || (clientID != "" && clientID != aud) {
			p.errorPage(w, r, http.StatusBadRequest, "err.logout_failed", "err.logout_bad_hint")
			return
		}
		clientID, hintSubject = aud, sub
	}
	if uri != "" && !p.postLogoutAllowed(ctx, clientID, uri) {
		p.errorPage(w, r, http.StatusBadRequest, "err.logout_failed", "err.logout_bad_uri")
		return
	}
	sess, err := p.sessions.Current(r)
	if err != nil {
		p.errorPage(w, r, http.StatusServiceUnavailable, "err.unavailable", "err.try_later")
		return
	}
	if sess != nil && !p.logoutConfirmed(r, sess, hintSubject) {
		views.Render(w, r, http.StatusOK, views.LogoutConfirmPage(views.LogoutData{Confirm: session.LogoutToken(sess.ID), PostLogoutURI: uri, State: r.Form.Get("state"), ClientID: clientID}), p.log)
		return
	}
	p.endSession(w, r, sess, clientID)
	if uri == "" {
		views.Render(w, r, http.StatusOK, views.LoggedOutPage(), p.log)
		return
	}
	target, _ := url.Parse(uri)
	if state := r.Form.Get("state"); state != "" {
		q := target.Query()
		q.Set("state", state)
		target.RawQuery = q.Encode()
	}
	http.Redirect(w, r, target.String(), http.StatusSeeOther)
}

// logoutConfirmed reports whether the request may end sess without asking.
func (p *Provider) logoutConfirmed(r *http.Request, sess *store.Session, hintSubject string) bool {
	if hintSubject != "" && hintSubject == sess.UserID {
		return true
	}
	got := r.PostForm.Get("confirm")
	return r.Method == http.MethodPost && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(session.LogoutToken(sess.ID))) == 1
}

func (p *Provider) endSession(w http.ResponseWriter, r *http.Request, sess *store.Session, clientID string) {
	if _, err := p.sessions.End(w, r); err != nil {
		p.log.ErrorContext(r.Context(), "logout: end session", "err", err)
	}
	if sess != nil {
		p.audit(r.Context(), audit.Logout, sess.UserID, clientID)
		// The store queued the back-channel logouts with the session's end;
		// they go out now, on this replica's worker, not in this request.
		p.backchannel.Kick()
	}
}

func (p *Provider) postLogoutAllowed(ctx context.Context, clientID, uri string) bool {
	if clientID == "" {
		return false
	}
	c, err := p.store.GetClient(ctx, clientID)
	return err == nil && !c.Disabled && validPostLogoutURI(c, uri)
}

// verifyIDTokenHint checks that hint is an ID token this server signed and
// returns its audience and subject. An expired hint is accepted, as the
// specification allows.
func (p *Provider) verifyIDTokenHint(ctx context.Context, hint string) (aud, sub string, err error) {
	if len(hint) > 8<<10 {
		return "", "", errors.New("oauth: id_token_hint too long")
	}
	jws, err := jose4.ParseSignedCompact(hint, []jose4.SignatureAlgorithm{jose4.RS256, jose4.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return "", "", fmt.Errorf("oauth: parse id_token_hint: %w", err)
	}
	// The same keys sign JWT access tokens (at+jwt) and logout tokens
	// (logout+jwt): neither may pass for an ID token, or whoever holds a
	// user's access token could sign the user out without asking (RFC 8725
	// §3.11). ID tokens are typed JWT, or not at all.
	if typ, _ := jws.Signatures[0].Header.ExtraHeaders[jose4.HeaderType].(string); typ != "" && !strings.EqualFold(typ, "JWT") {
		return "", "", fmt.Errorf("oauth: id_token_hint is typed %q, not an ID token", typ)
	}
	key, err := p.keys.publicKey(ctx, jws.Signatures[0].Header.KeyID)
	if err != nil {
		return "", "", err
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return "", "", fmt.Errorf("oauth: verify id_token_hint: %w", err)
	}
	var claims struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Iss != p.cfg.Issuer {
		return "", "", errors.New("oauth: id_token_hint from another issuer")
	}
	var one string
	if json.Unmarshal(claims.Aud, &one) == nil && one != "" {
		return one, claims.Sub, nil
	}
	var many []string
	if json.Unmarshal(claims.Aud, &many) == nil && len(many) > 0 {
		return many[0], claims.Sub, nil
	}
	return "", "", errors.New("oauth: id_token_hint without audience")
}

func (p *Provider) audit(ctx context.Context, typ audit.Type, userID, clientID string) {
	audit.Record(ctx, p.store, p.log, &store.AuditEvent{Time: nowUTC(), Type: string(typ), ActorID: userID, UserID: userID, ClientID: clientID})
}
