package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	fositestorage "github.com/ory/fosite/storage"

	"github.com/authz/authz/internal/store"
)

// Storage implements fosite's storage interfaces over a store.Store.
type Storage struct {
	Store store.Store
	// RefreshReuseGrace is how long after its rotation a refresh token still
	// counts as active, so that two refreshes racing with one token (two
	// tabs, a retry after a timeout) do not end the grant; 0 disables it.
	RefreshReuseGrace time.Duration
	// Now is the clock of the grace; nil means time.Now.
	Now func() time.Time

	accessSessions sessionCache
}

func (s *Storage) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// graceSince is the earliest rotation that is still within the grace at now,
// or the zero time when there is no grace.
func (s *Storage) graceSince(now time.Time) time.Time {
	if s.RefreshReuseGrace <= 0 {
		return time.Time{}
	}
	return now.Add(-s.RefreshReuseGrace)
}

// withinGrace reports whether t was rotated, not revoked, within the grace.
func (s *Storage) withinGrace(t *store.OAuthToken) bool {
	since := s.graceSince(s.now())
	return !since.IsZero() && !t.RotatedAt.IsZero() && t.RotatedAt.After(since)
}

var (
	_ fosite.ClientManager               = (*Storage)(nil)
	_ oauth2.CoreStorage                 = (*Storage)(nil)
	_ oauth2.TokenRevocationStorage      = (*Storage)(nil)
	_ pkce.PKCERequestStorage            = (*Storage)(nil)
	_ openid.OpenIDConnectRequestStorage = (*Storage)(nil)
	_ fositestorage.Transactional        = (*Storage)(nil)
	_ fosite.PARStorage                  = (*Storage)(nil)
)

// GetClient implements fosite.ClientManager. Disabled clients do not exist for
// the protocol.
func (s *Storage) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := s.Store.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if c.Disabled {
		return nil, fosite.ErrNotFound
	}
	return Client{c}, nil
}

// ClientAssertionJWTValid implements fosite.ClientManager. fosite's own
// assertion check never runs (Provider.authenticateClient verifies
// assertions and records their jti atomically with UseAssertionJTI), so no
// JTI is known here.
func (s *Storage) ClientAssertionJWTValid(context.Context, string) error { return nil }

// SetClientAssertionJWT implements fosite.ClientManager; see ClientAssertionJWTValid.
func (s *Storage) SetClientAssertionJWT(context.Context, string, time.Time) error { return nil }

// BeginTX implements storage.Transactional. fosite's transactions rely on the
// conditional updates for single use, so READ COMMITTED suffices and spares
// unrelated grants the serialization aborts of SERIALIZABLE.
//
// The tokens a transaction creates (a code exchange's or a refresh's access
// and refresh token) are kept until Commit and stored there together, one
// round trip: nothing in the transaction reads them back, and a conflict
// still aborts it.
func (s *Storage) BeginTX(ctx context.Context) (context.Context, error) {
	ctx, err := s.Store.BeginTx(store.ReadCommitted(ctx))
	if err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, txCreatesKey{}, &txCreates{}), nil
}

// Commit implements storage.Transactional: it stores the transaction's new
// tokens, then commits. fosite rolls back when it fails.
func (s *Storage) Commit(ctx context.Context) error {
	if c, _ := ctx.Value(txCreatesKey{}).(*txCreates); c != nil && len(c.tokens) > 0 {
		if err := s.Store.CreateTokens(ctx, c.tokens, nil); err != nil {
			return mapErr(err)
		}
		c.tokens = nil
	}
	return s.Store.Commit(ctx)
}

type txCreatesKey struct{}

// txCreates collects the tokens a fosite transaction creates. A request
// runs its transaction on one goroutine, so it needs no lock.
type txCreates struct{ tokens []*store.OAuthToken }

// Rollback implements storage.Transactional.
func (s *Storage) Rollback(ctx context.Context) error { return s.Store.Rollback(ctx) }

// CreateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage.
func (s *Storage) CreateAuthorizeCodeSession(ctx context.Context, sig string, r fosite.Requester) error {
	return s.create(ctx, store.TokenCode, sig, "", r, fosite.AuthorizeCode)
}

// GetAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage. A used code is
// returned together with ErrInvalidatedAuthorizeCode so fosite can revoke what it
// issued.
func (s *Storage) GetAuthorizeCodeSession(ctx context.Context, sig string, sess fosite.Session) (fosite.Requester, error) {
	req, t, err := s.get(ctx, store.TokenCode, sig, sess)
	if err != nil {
		return nil, err
	}
	if !t.Active {
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage. It is a
// conditional update, so of two concurrent redemptions only one succeeds.
func (s *Storage) InvalidateAuthorizeCodeSession(ctx context.Context, sig string) error {
	forgetCodeGrantToken(ctx, store.TokenKey{Kind: store.TokenCode, Signature: sig})
	return mapErr(s.Store.DeactivateToken(ctx, store.TokenCode, sig))
}

// CreateAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *Storage) CreateAccessTokenSession(ctx context.Context, sig string, r fosite.Requester) error {
	return s.create(ctx, store.TokenAccess, sig, "", r, fosite.AccessToken)
}

// GetAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *Storage) GetAccessTokenSession(ctx context.Context, sig string, sess fosite.Session) (fosite.Requester, error) {
	req, t, err := s.get(ctx, store.TokenAccess, sig, sess)
	if err != nil {
		return nil, err
	}
	if !t.Active {
		return nil, fosite.ErrNotFound
	}
	return req, nil
}

// DeleteAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *Storage) DeleteAccessTokenSession(ctx context.Context, sig string) error {
	return mapErr(s.Store.DeleteToken(ctx, store.TokenAccess, sig))
}

// CreateRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *Storage) CreateRefreshTokenSession(ctx context.Context, sig, accessSig string, r fosite.Requester) error {
	return s.create(ctx, store.TokenRefresh, sig, accessSig, r, fosite.RefreshToken)
}

// GetRefreshTokenSession implements oauth2.RefreshTokenStorage. A token rotated
// within the grace counts as active (for refresh, introspection and
// revocation alike); any other inactive token comes back with
// ErrInactiveToken, on which fosite's refresh grant revokes the whole grant.
func (s *Storage) GetRefreshTokenSession(ctx context.Context, sig string, sess fosite.Session) (fosite.Requester, error) {
	req, t, err := s.get(ctx, store.TokenRefresh, sig, sess)
	if err != nil {
		return nil, err
	}
	if !t.Active && !s.withinGrace(t) {
		return req, fosite.ErrInactiveToken
	}
	return req, nil
}

// DeleteRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *Storage) DeleteRefreshTokenSession(ctx context.Context, sig string) error {
	return mapErr(s.Store.DeleteToken(ctx, store.TokenRefresh, sig))
}

// RotateRefreshToken implements oauth2.RefreshTokenStorage: the used refresh token
// is kept, inactive and stamped with the time, so a later reuse is detected;
// the access token issued with it goes, in the same statement (only this
// token's own: the grant's others belong to pairs issued within the grace,
// to other tabs). Of concurrent refreshes with one token exactly one rotates
// it. Within the grace the others, and later uses, succeed too and leave
// everything as it is: each gets a pair of its own in the same grant, and
// the pairs issued before stay valid, so two tabs refreshing at once both
// carry on. A rotation does not reset the grace, and revoking the grant ends
// it.
func (s *Storage) RotateRefreshToken(ctx context.Context, _, sig string) error {
	now := s.now()
	_, err := s.Store.RotateToken(ctx, store.TokenRefresh, sig, now, s.graceSince(now))
	if errors.Is(err, store.ErrConflict) {
		return fosite.ErrInactiveToken
	}
	return mapErr(err)
}

// RevokeRefreshToken implements oauth2.TokenRevocationStorage.
func (s *Storage) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return mapErr(s.Store.DeactivateTokensByRequest(ctx, store.TokenRefresh, requestID))
}

// RevokeAccessToken implements oauth2.TokenRevocationStorage.
func (s *Storage) RevokeAccessToken(ctx context.Context, requestID string) error {
	return mapErr(s.Store.DeleteTokensByRequest(ctx, store.TokenAccess, requestID))
}

// CreatePKCERequestSession implements pkce.PKCERequestStorage.
func (s *Storage) CreatePKCERequestSession(ctx context.Context, sig string, r fosite.Requester) error {
	return s.create(ctx, store.TokenPKCE, sig, "", r, fosite.AuthorizeCode)
}

// GetPKCERequestSession implements pkce.PKCERequestStorage.
func (s *Storage) GetPKCERequestSession(ctx context.Context, sig string, sess fosite.Session) (fosite.Requester, error) {
	req, _, err := s.get(ctx, store.TokenPKCE, sig, sess)
	return req, err
}

// DeletePKCERequestSession implements pkce.PKCERequestStorage.
func (s *Storage) DeletePKCERequestSession(ctx context.Context, sig string) error {
	forgetCodeGrantToken(ctx, store.TokenKey{Kind: store.TokenPKCE, Signature: sig})
	return mapErr(s.Store.DeleteToken(ctx, store.TokenPKCE, sig))
}

// CreateOpenIDConnectSession implements openid.OpenIDConnectRequestStorage. fosite
// keys it by the raw authorization code, so it is hashed before it is stored.
func (s *Storage) CreateOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) error {
	return s.create(ctx, store.TokenOIDC, hashCode(code), "", r, fosite.AuthorizeCode)
}

// GetOpenIDConnectSession implements openid.OpenIDConnectRequestStorage.
func (s *Storage) GetOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) (fosite.Requester, error) {
	req, _, err := s.get(ctx, store.TokenOIDC, hashCode(code), r.GetSession())
	return req, err
}

// DeleteOpenIDConnectSession implements openid.OpenIDConnectRequestStorage.
func (s *Storage) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	forgetCodeGrantToken(ctx, store.TokenKey{Kind: store.TokenOIDC, Signature: hashCode(code)})
	return mapErr(s.Store.DeleteToken(ctx, store.TokenOIDC, hashCode(code)))
}

// CreatePARSession implements fosite.PARStorage: the pushed request is kept
// in the store, so any replica can redeem its request_uri, under a hash of
// the request_uri.
func (s *Storage) CreatePARSession(ctx context.Context, requestURI string, r fosite.AuthorizeRequester) error {
	// The pushed form carried the client's credentials; only hashes of
	// secrets are ever stored.
	for _, k := range []string{"client_secret", "client_assertion", "client_assertion_type"} {
		r.GetRequestForm().Del(k)
	}
	return s.create(ctx, store.TokenPAR, hashCode(requestURI), "", r, fosite.PushedAuthorizeRequestContext)
}

// GetPARSession implements fosite.PARStorage. It redeems the request_uri:
// of concurrent redemptions exactly one gets the request, and a used or
// expired one is unknown.
func (s *Storage) GetPARSession(ctx context.Context, requestURI string) (fosite.AuthorizeRequester, error) {
	sig := hashCode(requestURI)
	req, t, err := s.get(ctx, store.TokenPAR, sig, nil)
	if err != nil {
		return nil, err
	}
	if !t.Active || !t.ExpiresAt.After(s.now()) {
		return nil, fmt.Errorf("%w: request_uri used or expired", fosite.ErrNotFound)
	}
	// fosite checks the client only after the request_uri is used up, so
	// another client could otherwise spend one it cannot redeem.
	if id, ok := ctx.Value(redeemingClientKey{}).(string); ok && id != t.ClientID {
		return nil, fmt.Errorf("%w: request_uri of another client", fosite.ErrNotFound)
	}
	if err := s.Store.DeactivateToken(ctx, store.TokenPAR, sig); err != nil {
		return nil, fmt.Errorf("%w: request_uri used: %v", fosite.ErrNotFound, err)
	}
	form := req.Form
	redirect, err := url.Parse(form.Get("redirect_uri"))
	if err != nil {
		return nil, fmt.Errorf("oauth: stored redirect_uri: %w", err)
	}
	ar := &fosite.AuthorizeRequest{
		Request:              *req,
		RedirectURI:          redirect,
		ResponseTypes:        fosite.RemoveEmpty(strings.Split(form.Get("response_type"), " ")),
		State:                form.Get("state"),
		ResponseMode:         fosite.ResponseModeType(form.Get("response_mode")),
		DefaultResponseMode:  fosite.ResponseModeQuery,
		HandledResponseTypes: fosite.Arguments{},
	}
	return ar, nil
}

// redeemingClientKey carries, in the context of an authorization request
// naming a request_uri, the client_id it names.
type redeemingClientKey struct{}

// DeletePARSession implements fosite.PARStorage; GetPARSession has used the
// request_uri up already, so a request_uri gone by now is no error.
func (s *Storage) DeletePARSession(ctx context.Context, requestURI string) error {
	if err := s.Store.DeleteToken(ctx, store.TokenPAR, hashCode(requestURI)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return mapErr(err)
	}
	return nil
}

func hashCode(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

func (s *Storage) create(ctx context.Context, kind, sig, accessSig string, r fosite.Requester, tt fosite.TokenType) error {
	sess, err := json.Marshal(r.GetSession())
	if err != nil {
		return fmt.Errorf("oauth: encode session: %w", err)
	}
	expires := r.GetSession().GetExpiresAt(tt)
	if expires.IsZero() {
		// fosite leaves the expiry of an OIDC/PKCE record to the code's.
		expires = time.Now().Add(24 * time.Hour)
	}
	t := &store.OAuthToken{
		Kind:            kind,
		Signature:       sig,
		RequestID:       r.GetID(),
		RequestedAt:     r.GetRequestedAt(),
		ClientID:        r.GetClient().GetID(),
		Subject:         r.GetSession().GetSubject(),
		Scopes:          r.GetRequestedScopes(),
		GrantedScopes:   r.GetGrantedScopes(),
		Audience:        r.GetRequestedAudience(),
		GrantedAudience: r.GetGrantedAudience(),
		Form:            r.GetRequestForm().Encode(),
		Session:         sess,
		Active:          true,
		AccessSignature: accessSig,
		ExpiresAt:       expires,
	}
	if collectIssued(ctx, t) {
		return nil
	}
	if c, _ := ctx.Value(txCreatesKey{}).(*txCreates); c != nil {
		c.tokens = append(c.tokens, t)
		return nil
	}
	return mapErr(s.Store.CreateToken(ctx, t))
}

// get rebuilds the fosite request of a stored token, and returns the token
// too. sess may be nil (fosite's revocation path), in which case a fresh
// session is decoded.
func (s *Storage) get(ctx context.Context, kind, sig string, sess fosite.Session) (*fosite.Request, *store.OAuthToken, error) {
	t, ok, err := codeGrantToken(ctx, s.Store, store.TokenKey{Kind: kind, Signature: sig})
	if !ok {
		t, err = s.Store.GetToken(ctx, kind, sig)
	}
	if err != nil {
		return nil, nil, mapErr(err)
	}
	if sess == nil {
		sess = NewSession("")
	}
	if err := s.decodeSession(kind, t.Session, sess); err != nil {
		return nil, nil, fmt.Errorf("oauth: decode session: %w", err)
	}
	client, err := s.GetClient(ctx, t.ClientID)
	if err != nil {
		return nil, nil, err
	}
	form, err := url.ParseQuery(t.Form)
	if err != nil {
		return nil, nil, fmt.Errorf("oauth: decode form: %w", err)
	}
	return &fosite.Request{
		ID:                t.RequestID,
		RequestedAt:       t.RequestedAt,
		Client:            client,
		RequestedScope:    t.Scopes,
		GrantedScope:      t.GrantedScopes,
		RequestedAudience: t.Audience,
		GrantedAudience:   t.GrantedAudience,
		Form:              form,
		Session:           sess,
	}, t, nil
}

// decodeSession fills sess from its stored JSON. Access token sessions, the
// ones read again and again (introspection, userinfo), go through the cache
// of decoded sessions; the others are decoded each time.
func (s *Storage) decodeSession(kind string, raw []byte, sess fosite.Session) error {
	if ds, ok := sess.(*openid.DefaultSession); ok && kind == store.TokenAccess {
		return s.accessSessions.decode(raw, ds)
	}
	return unmarshalSession(raw, sess)
}

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %v", fosite.ErrNotFound, err)
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%w: %v", fosite.ErrSerializationFailure, err)
	default:
		return err
	}
}
