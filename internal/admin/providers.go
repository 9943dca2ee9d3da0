package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/federation"
	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/store"
)

// Messages of the provider rules (catalog IDs).
const (
	msgProviderNotFound = "admin.err.provider_not_found"
	msgAliasFormat      = "admin.err.alias"
	msgAliasTaken       = "admin.err.alias_taken"
	msgAliasFixed       = "admin.err.alias_fixed"
	msgDisplayName      = "admin.err.display_name"
	msgProviderClientID = "admin.err.provider_client_id"
	msgProviderSecret   = "admin.err.provider_secret"
	msgClaimFormat      = "admin.err.claim"
	msgUsernameClaim    = "admin.err.username_claim"
	msgLinkPolicy       = "admin.err.link_policy"
	msgScopesOpenID     = "admin.err.scopes_openid"
)

// reservedName is the path segment of the console's add pages, which no
// alias or client ID may take.
const reservedName = "new"

// Compiled on first use, like clientIDPattern.
var (
	aliasPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`) })
	claimPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,100}$`) })
)

// Defaults of a new provider whose request leaves them out. The link policy
// defaults to the strictest: nobody gets in until an administrator links them.
var defaultProviderScopes = []string{"openid", "profile", "email"}

// DefaultProviderScopes are the scopes asked of a new upstream provider when
// its request names none; the console's add form starts with them.
func DefaultProviderScopes() []string { return slices.Clone(defaultProviderScopes) }

// LinkPolicies lists the linking policies, strictest last.
var LinkPolicies = []string{store.LinkCreate, store.LinkVerifiedMail, store.LinkExisting}

// ProviderPatch holds the provider fields to set; nil leaves a field as it is.
// Alias can be chosen at creation only. ClientSecret is write-only: it is
// sealed, and "" removes it.
type ProviderPatch struct {
	Alias          *string
	DisplayName    *string
	IssuerURL      *string
	ClientID       *string
	ClientSecret   *string
	Scopes         *[]string
	ClaimUsername  *string
	ClaimEmail     *string
	ClaimFirstName *string
	ClaimLastName  *string
	LinkPolicy     *string
	Enabled        *bool
	RequireOTP     *bool
	SyncProfile    *bool
}

// ListProviders returns one page of the providers, ordered by alias, and the
// cursor of the next page ("" on the last); with enabled set, only those
// whose Enabled equals it.
func (s *Service) ListProviders(ctx context.Context, enabled *bool, pg store.Page) ([]*store.Provider, string, error) {
	ps, next, err := s.Store.ListProvidersPage(ctx, store.ProviderPageFilter{Enabled: enabled}, pg)
	if err != nil {
		return nil, "", pageError(err, "providers")
	}
	return ps, next, nil
}

// GetProvider returns the provider with alias.
func (s *Service) GetProvider(ctx context.Context, alias string) (*store.Provider, error) {
	p, err := s.Store.GetProvider(ctx, alias)
	if err != nil {
		return nil, missing(err, msgProviderNotFound)
	}
	return p, nil
}

// CreateProvider stores a new upstream provider. Its issuer is not contacted:
// a provider may be configured before it is reachable; Discover tests it.
func (s *Service) CreateProvider(ctx context.Context, a Actor, p ProviderPatch) (*store.Provider, error) {
	now := s.now()
	pr := &store.Provider{Scopes: defaultProviderScopes, ClaimUsername: "preferred_username", ClaimEmail: "email",
		ClaimFirstName: "given_name", ClaimLastName: "family_name", LinkPolicy: store.LinkExisting, Enabled: true,
		SyncProfile: true, CreatedAt: now, UpdatedAt: now}
	if p.Alias != nil {
		pr.Alias = strings.TrimSpace(*p.Alias)
	}
	if !aliasPattern().MatchString(pr.Alias) || pr.Alias == reservedName {
		return nil, invalid("alias", msgAliasFormat)
	}
	if _, err := s.applyProviderPatch(pr, p, true); err != nil {
		return nil, err
	}
	err := s.write(ctx, func(ctx context.Context) error {
		if _, err := s.Store.GetProvider(ctx, pr.Alias); err == nil {
			return conflict("alias", msgAliasTaken)
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("admin: look up provider %q: %w", pr.Alias, err)
		}
		if err := s.Store.CreateProvider(ctx, pr); err != nil {
			return fmt.Errorf("admin: create provider %q: %w", pr.Alias, err)
		}
		return s.record(ctx, a, event{typ: audit.ProviderCreated, detail: "provider=" + pr.Alias + " issuer=" + pr.IssuerURL})
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, conflict("alias", msgAliasTaken)
	}
	if err != nil {
		return nil, err
	}
	return pr, nil
}

// UpdateProvider applies p to provider alias and reports whether anything
// changed.
func (s *Service) UpdateProvider(ctx context.Context, a Actor, alias string, p ProviderPatch) (bool, error) {
	var changed bool
	err := s.write(ctx, func(ctx context.Context) error {
		pr, err := s.Store.GetProvider(ctx, alias)
		if err != nil {
			return missing(err, msgProviderNotFound)
		}
		if p.Alias != nil && strings.TrimSpace(*p.Alias) != pr.Alias {
			return invalid("alias", msgAliasFixed)
		}
		old := *pr
		fields, err := s.applyProviderPatch(pr, p, false)
		if err != nil {
			return err
		}
		if changed = len(fields) > 0; !changed {
			return nil
		}
		pr.UpdatedAt = s.bump(old.UpdatedAt)
		if err := s.Store.UpdateProvider(ctx, pr); err != nil {
			return fmt.Errorf("admin: update provider %q: %w", alias, err)
		}
		return s.auditProviderUpdate(ctx, a, &old, pr, fields)
	})
	return changed, err
}

func (s *Service) auditProviderUpdate(ctx context.Context, a Actor, old, pr *store.Provider, fields []string) error {
	detail := "provider=" + pr.Alias + " changed=" + strings.Join(fields, ",")
	if err := s.record(ctx, a, event{typ: audit.ProviderUpdated, detail: detail}); err != nil {
		return err
	}
	switch {
	case old.Enabled && !pr.Enabled:
		return s.record(ctx, a, event{typ: audit.ProviderDisabled, detail: "provider=" + pr.Alias})
	case !old.Enabled && pr.Enabled:
		return s.record(ctx, a, event{typ: audit.ProviderEnabled, detail: "provider=" + pr.Alias})
	}
	return nil
}

// DeleteProvider deletes provider alias. Its users' links stay (the store's
// rule), so adding the provider back under the same alias restores them.
func (s *Service) DeleteProvider(ctx context.Context, a Actor, alias string) error {
	return s.write(ctx, func(ctx context.Context) error {
		if _, err := s.Store.GetProvider(ctx, alias); err != nil {
			return missing(err, msgProviderNotFound)
		}
		if err := s.Store.DeleteProvider(ctx, alias); err != nil {
			return fmt.Errorf("admin: delete provider %q: %w", alias, err)
		}
		return s.record(ctx, a, event{typ: audit.ProviderDeleted, detail: "provider=" + alias})
	})
}

// applyProviderPatch sets p's fields on pr, checking each value that changes
// (every value when creating), and returns the names of the changed fields.
func (s *Service) applyProviderPatch(pr *store.Provider, p ProviderPatch, creating bool) ([]string, error) {
	var changed []string
	for _, f := range []struct {
		name  string
		value *string
		dst   *string
		check func(string) i18n.Message
	}{
		{"display_name", p.DisplayName, &pr.DisplayName, textCheck(100, msgDisplayName, true)},
		{"issuer_url", p.IssuerURL, &pr.IssuerURL, checkIssuerURL},
		{"client_id", p.ClientID, &pr.ClientID, textCheck(255, msgProviderClientID, true)},
		{"claim_username", p.ClaimUsername, &pr.ClaimUsername, checkClaim("admin.label.claim_username", true)},
		{"claim_email", p.ClaimEmail, &pr.ClaimEmail, checkClaim("admin.label.claim_email", false)},
		{"claim_first_name", p.ClaimFirstName, &pr.ClaimFirstName, checkClaim("admin.label.claim_first_name", false)},
		{"claim_last_name", p.ClaimLastName, &pr.ClaimLastName, checkClaim("admin.label.claim_last_name", false)},
		{"link_policy", p.LinkPolicy, &pr.LinkPolicy, checkLinkPolicy},
	} {
		v := *f.dst
		if f.value != nil {
			v = strings.TrimSpace(*f.value)
		}
		if creating || v != *f.dst {
			if msg := f.check(v); msg.ID != "" {
				return nil, NewError(KindInvalid, f.name, msg)
			}
		}
		if v != *f.dst {
			changed = append(changed, f.name)
		}
		*f.dst = v
	}
	more, err := s.applyProviderRest(pr, p)
	return append(changed, more...), err
}

// applyProviderRest sets the scopes, the switches and the secret.
func (s *Service) applyProviderRest(pr *store.Provider, p ProviderPatch) ([]string, error) {
	var changed []string
	if p.Scopes != nil {
		if err := checkProviderScopes(*p.Scopes); err != nil {
			return nil, err
		}
		if !slices.Equal(pr.Scopes, *p.Scopes) {
			changed = append(changed, "scopes")
		}
		pr.Scopes = slices.Clone(*p.Scopes)
	}
	for _, b := range []struct {
		name  string
		value *bool
		dst   *bool
	}{{"enabled", p.Enabled, &pr.Enabled}, {"require_otp", p.RequireOTP, &pr.RequireOTP}, {"sync_profile", p.SyncProfile, &pr.SyncProfile}} {
		if b.value != nil && *b.value != *b.dst {
			changed = append(changed, b.name)
			*b.dst = *b.value
		}
	}
	if p.ClientSecret == nil {
		return changed, nil
	}
	if err := s.sealSecret(pr, *p.ClientSecret); err != nil {
		return nil, err
	}
	return append(changed, "client_secret"), nil
}

// sealSecret stores secret sealed, bound to the alias so a sealed value
// copied to another provider's row does not open.
func (s *Service) sealSecret(pr *store.Provider, secret string) error {
	if len(secret) > 1000 || !validText(secret, 1000) {
		return invalid("client_secret", msgProviderSecret)
	}
	if secret == "" {
		pr.SealedClientSecret = nil
		return nil
	}
	if s.Sealer == nil {
		return errors.New("admin: no sealer configured for provider secrets")
	}
	sealed, err := s.Sealer.Seal([]byte(secret), []byte("provider:"+pr.Alias))
	if err != nil {
		return fmt.Errorf("admin: seal client secret of %q: %w", pr.Alias, err)
	}
	pr.SealedClientSecret = sealed
	return nil
}

// textCheck refuses with the message id a value longer than maxLen
// characters, with control characters, or empty when required.
func textCheck(maxLen int, id string, required bool) func(string) i18n.Message {
	return func(v string) i18n.Message {
		if (required && v == "") || !validText(v, maxLen) {
			return i18n.M(id)
		}
		return noMsg
	}
}

// checkClaim checks a claim name; label is the catalog ID of the field's
// name.
func checkClaim(label string, required bool) func(string) i18n.Message {
	return func(v string) i18n.Message {
		switch {
		case v == "" && required:
			return i18n.M(msgUsernameClaim)
		case v != "" && !claimPattern().MatchString(v):
			return i18n.M(msgClaimFormat, "Label", i18n.M(label))
		}
		return noMsg
	}
}

func checkLinkPolicy(v string) i18n.Message {
	if !slices.Contains(LinkPolicies, v) {
		return i18n.M(msgLinkPolicy)
	}
	return noMsg
}

// checkIssuerURL applies federation's form check, and asks for https except
// on the loopback interface: discovery over plain http to another host could
// be redirected to a forged provider.
func checkIssuerURL(v string) i18n.Message {
	if v == "" {
		return i18n.M("admin.err.issuer_required")
	}
	if len(v) > maxURILen {
		return i18n.M("admin.err.issuer_long", "Max", maxURILen)
	}
	if err := federation.ValidateIssuerURL(v); err != nil {
		return i18n.M(issuerFormReason(v), "Value", strconv.Quote(v))
	}
	u, _ := url.Parse(v)
	if u.Scheme != "https" && !loopbackHost(u.Hostname()) {
		return i18n.M("admin.err.issuer_https")
	}
	if u.User != nil {
		return i18n.M("admin.err.issuer_credentials")
	}
	return noMsg
}

// issuerFormReason words why federation.ValidateIssuerURL refused v (a
// catalog ID), taking its checks in the same order.
func issuerFormReason(v string) string {
	u, err := url.Parse(v)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return "admin.err.issuer_not_absolute"
	case u.Scheme != "https" && u.Scheme != "http":
		return "admin.err.issuer_scheme"
	}
	return "admin.err.issuer_query"
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkProviderScopes(scopes []string) error {
	if err := checkList("scopes", scopes); err != nil {
		return err
	}
	for _, sc := range scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\"\\") {
			return invalid("scopes", "admin.err.provider_scope", "Value", strconv.Quote(sc))
		}
	}
	if !slices.Contains(scopes, "openid") {
		return invalid("scopes", msgScopesOpenID)
	}
	return nil
}

// UpstreamRedirectURI is the redirect URI the administrator registers at the
// upstream provider alias: {issuer}/login/upstream/{alias}/callback.
func (s *Service) UpstreamRedirectURI(alias string) string {
	return federation.CallbackURL(s.Issuer, alias)
}
