package federation

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"github.com/authz/authz/internal/i18n"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authz/authz/internal/randtoken"
	"github.com/authz/authz/internal/store"
)

// Sealer opens sealed provider client secrets; *seal.Sealer implements it.
type Sealer interface {
	Open(sealed, associatedData []byte) ([]byte, error)
}

// SecretAD is the associated data a provider's client secret is sealed with.
func SecretAD(alias string) []byte { return []byte("provider:" + alias) }

// Error is a failed upstream login. Reason is written for the user; the wrapped
// error (if any) is for the log.
type Error struct {
	// Reason is the failure in English, for the log, the audit and the
	// client's error_description; Key and Provider render it for people
	// (i18n.T(ctx, Key, "Provider", Provider)).
	Reason   string
	Key      string
	Provider string
	// Denied is set when the login was refused (the user declined at the
	// provider, or no account here may use this identity), as opposed to a
	// provider or response that failed.
	Denied bool
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "federation: " + e.Reason + ": " + e.Err.Error()
	}
	return "federation: " + e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

func fail(key, provider string, err error) error {
	return &Error{Key: key, Provider: provider, Reason: english(key, provider), Err: err}
}

func english(key, provider string) string {
	return i18n.T(context.Background(), key, "Provider", provider)
}

// deny is fail for a login that was refused rather than broken.
func deny(key, provider string, err error) error {
	return &Error{Key: key, Provider: provider, Reason: english(key, provider), Denied: true, Err: err}
}

// Service runs the round trip to upstream providers.
type Service struct {
	Store  store.Store
	Sealer Sealer
	// Issuer is authz's own issuer URL; callbacks live under it.
	Issuer string
	Log    *slog.Logger

	mu        sync.Mutex
	providers map[string]cachedProvider
}

type cachedProvider struct {
	p       *oidc.Provider
	fetched time.Time
}

// discoveryTTL is how long a discovery document is reused.
const discoveryTTL = 10 * time.Minute

// CallbackURL is the redirect URI to register at the upstream provider.
func (s *Service) CallbackURL(alias string) string { return CallbackURL(s.Issuer, alias) }

// CallbackURL is the redirect URI an administrator registers at the upstream
// provider alias of the authz at issuer.
func CallbackURL(issuer, alias string) string {
	return strings.TrimSuffix(issuer, "/") + "/login/upstream/" + url.PathEscape(alias) + "/callback"
}

func (s *Service) discover(ctx context.Context, issuer string) (*oidc.Provider, error) {
	s.mu.Lock()
	c, ok := s.providers[issuer]
	s.mu.Unlock()
	if ok && time.Since(c.fetched) < discoveryTTL {
		return c.p, nil
	}
	p, err := Discover(ctx, issuer)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.providers == nil {
		s.providers = map[string]cachedProvider{}
	}
	s.providers[issuer] = cachedProvider{p, time.Now()}
	s.mu.Unlock()
	return p, nil
}

// provider loads an enabled provider and its OAuth configuration.
func (s *Service) provider(ctx context.Context, alias string) (*store.Provider, *oidc.Provider, *oauth2.Config, error) {
	p, err := s.Store.GetProvider(ctx, alias)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !p.Enabled) {
		return nil, nil, nil, fail("fed.unavailable", "", err)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	op, err := s.discover(ctx, p.IssuerURL)
	if err != nil {
		return nil, nil, nil, fail("fed.unreachable", p.DisplayName, err)
	}
	secret, err := s.Sealer.Open(p.SealedClientSecret, SecretAD(p.Alias))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("federation: open client secret of %s: %w", alias, err)
	}
	scopes := p.Scopes
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	}
	cfg := &oauth2.Config{ClientID: p.ClientID, ClientSecret: string(secret), Endpoint: op.Endpoint(), RedirectURL: s.CallbackURL(alias), Scopes: scopes}
	return p, op, cfg, nil
}

// Begin starts an upstream login: it records state, nonce and PKCE verifier in
// lt (the caller saves it) and returns the upstream authorization URL.
func (s *Service) Begin(ctx context.Context, lt *store.LoginTransaction, alias string) (string, error) {
	_, _, cfg, err := s.provider(ctx, alias)
	if err != nil {
		return "", err
	}
	lt.UpstreamAlias, lt.UpstreamState, lt.UpstreamNonce, lt.UpstreamVerifier = alias, randtoken.New(24), randtoken.New(24), oauth2.GenerateVerifier()
	return cfg.AuthCodeURL(lt.UpstreamState, oidc.Nonce(lt.UpstreamNonce), oauth2.S256ChallengeOption(lt.UpstreamVerifier)), nil
}

// Result is a completed upstream login.
type Result struct {
	User     *store.User
	Provider *store.Provider
	// AMR is what the upstream provider says about how the user authenticated.
	AMR     []string
	Created bool // the user was provisioned by this login
	Linked  bool // the identity was linked to an existing user by this login
}

// callback is what the upstream sent back, taken from lt before it is cleared.
type callback struct {
	alias, state, nonce, verifier string
}

// Complete finishes an upstream login from the callback query q. The upstream
// fields of lt are cleared whatever happens (the caller saves lt), so a
// callback can be used once.
func (s *Service) Complete(ctx context.Context, lt *store.LoginTransaction, alias string, q url.Values) (*Result, error) {
	cb := callback{lt.UpstreamAlias, lt.UpstreamState, lt.UpstreamNonce, lt.UpstreamVerifier}
	lt.UpstreamState, lt.UpstreamNonce, lt.UpstreamVerifier = "", "", ""
	if cb.state == "" || cb.alias != alias || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(cb.state)) != 1 {
		return nil, fail("fed.bad_response", "", nil)
	}
	if e := q.Get("error"); e != "" {
		err := fmt.Errorf("upstream error %q: %s", e, q.Get("error_description"))
		if e == "access_denied" || e == "login_required" || e == "consent_required" || e == "interaction_required" {
			return nil, deny(upstreamErrorMessage(e), "", err)
		}
		return nil, fail(upstreamErrorMessage(e), "", err)
	}
	code := q.Get("code")
	if code == "" {
		return nil, fail("fed.no_code", "", nil)
	}
	p, op, cfg, err := s.provider(ctx, alias)
	if err != nil {
		return nil, err
	}
	claims, amr, err := s.exchange(ctx, op, cfg, code, cb, p)
	if err != nil {
		return nil, err
	}
	return s.resolve(ctx, p, claims, amr)
}

func upstreamErrorMessage(code string) string {
	if code == "access_denied" {
		return "fed.cancelled"
	}
	return "fed.provider_failed"
}

// exchange redeems the code and verifies the ID token: signature, issuer,
// audience, expiry (go-oidc) and nonce.
func (s *Service) exchange(ctx context.Context, op *oidc.Provider, cfg *oauth2.Config, code string, cb callback, p *store.Provider) (map[string]any, []string, error) {
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, httpClient), upstreamTimeout)
	defer cancel()
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(cb.verifier))
	if err != nil {
		return nil, nil, fail("fed.not_accepted", "", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return nil, nil, fail("fed.no_id_token", "", nil)
	}
	idt, err := op.Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		return nil, nil, fail("fed.bad_id_token", "", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(cb.nonce)) != 1 {
		return nil, nil, fail("fed.bad_id_token", "", errors.New("nonce mismatch"))
	}
	if strings.TrimSpace(idt.Subject) == "" {
		// go-oidc does not require sub; without one, every such login would
		// be the same identity (resolve trims the subject).
		return nil, nil, fail("fed.bad_id_token", "", errors.New("no subject"))
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, nil, fail("fed.bad_id_token", "", err)
	}
	claims["sub"] = idt.Subject
	if err := fillFromUserInfo(ctx, op, tok, claims, p); err != nil {
		return nil, nil, err
	}
	var amr []string
	if list, ok := claims["amr"].([]any); ok {
		for _, v := range list {
			if s, ok := v.(string); ok && len(s) <= 32 {
				amr = append(amr, s)
			}
		}
	}
	return claims, amr, nil
}

// profileClaims are the claims provider p maps onto a user.
func profileClaims(p *store.Provider) []string {
	return []string{
		claimOr(p.ClaimEmail, "email"), "email_verified", claimOr(p.ClaimUsername, "preferred_username"),
		claimOr(p.ClaimFirstName, "given_name"), claimOr(p.ClaimLastName, "family_name"),
	}
}

// fillFromUserInfo adds the profile claims of p the ID token lacks from the
// provider's userinfo endpoint: OIDC Core §5.4 lets a provider return profile
// claims only there, and several do by default. The userinfo subject must be
// the ID token's (§5.3.2), or the answer belongs to someone else. Claims the
// ID token has are never replaced. A provider without a userinfo endpoint
// keeps what the ID token said.
func fillFromUserInfo(ctx context.Context, op *oidc.Provider, tok *oauth2.Token, claims map[string]any, p *store.Provider) error {
	wanted := profileClaims(p)
	missing := slices.ContainsFunc(wanted, func(c string) bool { _, ok := claims[c]; return !ok })
	if !missing || op.UserInfoEndpoint() == "" {
		return nil
	}
	info, err := op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fail("fed.profile_unreadable", "", err)
	}
	if info.Subject != claims["sub"] {
		return fail("fed.profile_invalid", "", fmt.Errorf("userinfo subject %q differs from the ID token's", info.Subject))
	}
	extra := map[string]any{}
	if err := info.Claims(&extra); err != nil {
		return fail("fed.profile_invalid", "", err)
	}
	mergeUserInfo(claims, extra, wanted, claimOr(p.ClaimEmail, "email"))
	return nil
}

// mergeUserInfo copies the wanted claims missing from claims out of extra.
// email_verified speaks of one address, so it is taken only from an answer
// whose address is the one kept: an ID token's address must not pass as
// verified on the word of a userinfo answer about another.
func mergeUserInfo(claims, extra map[string]any, wanted []string, emailClaim string) {
	for _, c := range wanted {
		if _, ok := claims[c]; ok {
			continue
		}
		v, ok := extra[c]
		if !ok {
			continue
		}
		if c == "email_verified" && (claimString(claims, emailClaim) == "" || claimString(claims, emailClaim) != claimString(extra, emailClaim)) {
			continue
		}
		claims[c] = v
	}
}

func claimString(claims map[string]any, name string) string {
	v, _ := claims[name].(string)
	return strings.TrimSpace(v)
}

// resolve finds the local user of an upstream identity, linking or creating one
// as the provider's policy allows.
func (s *Service) resolve(ctx context.Context, p *store.Provider, claims map[string]any, amr []string) (*Result, error) {
	sub := claimString(claims, "sub")
	res := &Result{Provider: p, AMR: amr}
	fi, err := s.Store.GetFederatedIdentity(ctx, p.Alias, sub)
	switch {
	case err == nil:
		res.User, err = s.Store.GetUser(ctx, fi.UserID)
		if errors.Is(err, store.ErrNotFound) {
			err = deny("fed.account_gone", "", err)
		}
		if err == nil && p.SyncProfile && res.User.Enabled {
			err = s.syncProfile(ctx, p, claims, res.User)
		}
	case errors.Is(err, store.ErrNotFound):
		// The user and the link are written together, so a failure leaves no
		// orphan account that would block every later login.
		err = store.InTx(ctx, s.Store, func(ctx context.Context) error { return s.link(ctx, p, claims, res) })
		// A conflict is a concurrent first login of this identity when the
		// link now exists; otherwise provision's reason (the username or
		// e-mail belongs to another account) is the one to show.
		var fe *Error
		if errors.Is(err, store.ErrConflict) && (!errors.As(err, &fe) || s.linked(ctx, p.Alias, sub)) {
			err = fail("fed.concurrent", "", err)
		}
	}
	if err != nil {
		return nil, err
	}
	if !res.User.Enabled {
		return nil, deny("err.disabled", "", nil)
	}
	return res, nil
}

// linked reports whether subject at alias is linked to a user.
func (s *Service) linked(ctx context.Context, alias, subject string) bool {
	_, err := s.Store.GetFederatedIdentity(ctx, alias, subject)
	return err == nil
}

func (s *Service) link(ctx context.Context, p *store.Provider, claims map[string]any, res *Result) error {
	email := claimString(claims, claimOr(p.ClaimEmail, "email"))
	verified, _ := claims["email_verified"].(bool)
	if !verified {
		// An address the provider has not verified is not kept: authz tells
		// relying applications its addresses are verified.
		email = ""
	}
	switch p.LinkPolicy {
	case store.LinkVerifiedMail:
		if email == "" {
			return deny("fed.no_verified_email", p.DisplayName, nil)
		}
		u, err := s.Store.GetUserByEmail(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			return deny("fed.no_match", p.DisplayName, nil)
		}
		if err != nil {
			return err
		}
		res.User, res.Linked = u, true
	case store.LinkCreate:
		u, err := s.provision(ctx, p, claims, email)
		if err != nil {
			return err
		}
		res.User, res.Created = u, true
	default:
		return deny("fed.not_linked", p.DisplayName, nil)
	}
	return s.Store.CreateFederatedIdentity(ctx, &store.FederatedIdentity{ProviderAlias: p.Alias, Subject: claimString(claims, "sub"), UserID: res.User.ID, CreatedAt: time.Now().UTC()})
}

// usernameChars are those a provisioned username may keep: what an
// administrator may give one (see admin's usernamePattern) but "@", or a
// provisioned "victim@corp" would shadow that user's login by e-mail.
var usernameChars = regexp.MustCompile(`[^A-Za-z0-9._\p{Han}\p{Hiragana}\p{Katakana}ー-]`)

// provision creates the local user of a first upstream login.
func (s *Service) provision(ctx context.Context, p *store.Provider, claims map[string]any, email string) (*store.User, error) {
	name := usernameChars.ReplaceAllString(store.CanonicalUsername(claimString(claims, claimOr(p.ClaimUsername, "preferred_username"))), "")
	if name == "" {
		name = p.Alias + "-" + usernameChars.ReplaceAllString(claimString(claims, "sub"), "")
	}
	if r := []rune(name); len(r) > 64 {
		name = string(r[:64])
	}
	now := time.Now().UTC()
	u := &store.User{ID: store.NewID(), Username: name, Email: email, FirstName: claimString(claims, claimOr(p.ClaimFirstName, "given_name")),
		LastName: claimString(claims, claimOr(p.ClaimLastName, "family_name")), Enabled: true, Role: store.RoleUser, CreatedAt: now, UpdatedAt: now}
	if err := s.Store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, deny("fed.exists", "", err)
		}
		return nil, err
	}
	return u, nil
}

// claimOr returns the configured claim name, or def when none is configured.
func claimOr(configured, def string) string {
	if configured != "" {
		return configured
	}
	return def
}

// syncProfile updates u's names and e-mail from the claims of a login
// through p, as the provider's "sync profile" setting asks: the provider is
// where the user keeps them. A claim that is missing or empty changes
// nothing, an e-mail only counts when the provider verified it, and an
// address another user has is left alone (logged). The link itself is by
// subject: a changed e-mail never re-links anything.
func (s *Service) syncProfile(ctx context.Context, p *store.Provider, claims map[string]any, u *store.User) error {
	if s.profileOf(ctx, p, claims, u) == *u {
		return nil // the common login: nothing to write
	}
	var synced *store.User
	// One transaction, on a fresh copy of the user: a password or state
	// changed since u was read is not written back, and a new address whose
	// old links outlived it would never be seen as new again.
	err := store.InTx(ctx, s.Store, func(ctx context.Context) error {
		cur, err := s.Store.GetUser(ctx, u.ID)
		if err != nil {
			return err
		}
		next := s.profileOf(ctx, p, claims, cur)
		if next == *cur {
			synced = cur
			return nil
		}
		next.UpdatedAt = time.Now().UTC()
		if err := s.Store.UpdateUser(ctx, &next); err != nil {
			return err
		}
		synced = &next
		if strings.EqualFold(next.Email, cur.Email) {
			return nil
		}
		// As when an administrator changes it: links sent to the old
		// address stop working.
		return s.Store.DeleteUnusedActionTokens(ctx, u.ID)
	})
	if errors.Is(err, store.ErrConflict) {
		// Taken between the check and the write: keep the user as is.
		s.Log.WarnContext(ctx, "upstream profile not synced: e-mail taken", "provider", p.Alias, "user", u.ID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("federation: sync profile of %s: %w", u.ID, err)
	}
	*u = *synced
	return nil
}

// profileOf is u with the names and the verified e-mail address of claims;
// an address another user has is left alone (logged).
func (s *Service) profileOf(ctx context.Context, p *store.Provider, claims map[string]any, u *store.User) store.User {
	next := *u
	if v := claimString(claims, claimOr(p.ClaimFirstName, "given_name")); v != "" {
		next.FirstName = v
	}
	if v := claimString(claims, claimOr(p.ClaimLastName, "family_name")); v != "" {
		next.LastName = v
	}
	if v, verified := claimString(claims, claimOr(p.ClaimEmail, "email")), claims["email_verified"] == true; v != "" && verified && !strings.EqualFold(v, u.Email) {
		if other, err := s.Store.GetUserByEmail(ctx, v); err == nil && other.ID != u.ID {
			s.Log.WarnContext(ctx, "upstream e-mail belongs to another user; not synced", "provider", p.Alias, "user", u.ID)
		} else {
			next.Email = v
		}
	}
	return next
}
