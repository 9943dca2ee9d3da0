package admin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/oauth"
	"github.com/authz/authz/internal/store"
)

// Client types as the API and the forms name them.
const (
	TypeConfidential = "confidential"
	TypePublic       = "public"
)

// Messages of the client rules (catalog IDs).
const (
	msgClientNotFound    = "admin.err.client_not_found"
	msgClientIDFormat    = "admin.err.client_id"
	msgClientIDTaken     = "admin.err.client_id_taken"
	msgClientIDFixed     = "admin.err.client_id_fixed"
	msgClientName        = "admin.err.client_name"
	msgClientType        = "admin.err.client_type"
	msgClientTypeFixed   = "admin.err.client_type_fixed"
	msgPublicHasNoSecret = "admin.err.public_no_secret"

	msgKeyClientHasNoSecret = "admin.err.key_client_no_secret"
	msgTokenFormat          = "admin.err.token_format"
	msgAuthMethod           = "admin.err.auth_method"
	msgIDTokenAlg           = "admin.err.id_token_alg"
	msgKeyAuthPublic        = "admin.err.key_auth_public"
	msgKeysNeeded           = "admin.err.keys_needed"
	msgJWKS                 = "admin.err.jwks"
	msgJWKSDetail           = "admin.err.jwks_detail"
	// msgQuery refuses a search term or filter key that is too long.
	msgQuery = "admin.err.query"
)

// List limits of a client, far above real use, so that no request can make
// the row (and every token request reading it) arbitrarily large.
const (
	maxListItems = 50
	maxURILen    = 2000
	maxScopeLen  = 100
)

// Defaults of a new client whose request leaves them out.
var (
	defaultGrantTypes = []string{"authorization_code", "refresh_token"}
	defaultScopes     = []string{"openid", "profile", "email", "offline_access"}
)

// DefaultClientScopes are the scopes a new client gets when its request
// names none; the console's add form starts with them.
func DefaultClientScopes() []string { return slices.Clone(defaultScopes) }

// Compiled on first use: the bounded repetition makes a large program
// (tens of KB of heap) that an idle server need not hold.
var clientIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`) })

// ClientPatch holds the client fields to set; nil leaves a field as it is.
// ID and Type can be chosen at creation only.
type ClientPatch struct {
	ID                     *string
	Name                   *string
	Type                   *string
	RedirectURIs           *[]string
	PostLogoutRedirectURIs *[]string
	GrantTypes             *[]string
	Scopes                 *[]string
	SkipConsent            *bool
	// IntrospectAny lets a confidential client (a resource server)
	// introspect tokens issued to other clients.
	IntrospectAny *bool
	Disabled      *bool

	// AccessTokenFormat is "opaque" or "jwt" (RFC 9068).
	AccessTokenFormat *string
	// Audiences are the resource servers of the client's access tokens.
	Audiences *[]string
	// RequirePAR refuses authorization requests not pushed first.
	RequirePAR *bool
	// TokenAuthMethod is AuthClientSecret (or one of the client_secret_*
	// names) or "private_key_jwt".
	TokenAuthMethod *string
	// JWKS is the client's public keys (a JSON Web Key Set), or "".
	JWKS *string
	// JWKSURI is where the client publishes its keys, or "".
	JWKSURI *string
	// BackchannelLogoutURI receives logout tokens, or "".
	BackchannelLogoutURI             *string
	BackchannelLogoutSessionRequired *bool
	// IDTokenAlg signs the client's ID and logout tokens: "RS256", "ES256",
	// or "" for the server's default.
	IDTokenAlg *string
}

// AuthClientSecret is the token endpoint authentication method of a
// confidential client with a secret: client_secret_basic or
// client_secret_post, whichever it sends.
const AuthClientSecret = "client_secret_basic"

// AuthMethod names how c authenticates at the token endpoint.
func AuthMethod(c *store.Client) string {
	switch {
	case c.Public:
		return "none"
	case c.TokenAuthMethod == store.AuthPrivateKeyJWT:
		return store.AuthPrivateKeyJWT
	}
	return AuthClientSecret
}

// maxJWKSLen bounds a registered JWKS: a few public keys.
const maxJWKSLen = 16 << 10

// ClientFilter selects clients in ListClients.
type ClientFilter struct {
	// Query matches a substring of the name or client ID, case-insensitively.
	Query string
	// Disabled, when set, keeps only clients whose Disabled flag equals it.
	Disabled *bool
}

// ClientType names the type of c.
func ClientType(c *store.Client) string {
	if c.Public {
		return TypePublic
	}
	return TypeConfidential
}

// ListClients returns one page of the clients matching f, ordered by name
// then ID, and the cursor of the next page ("" on the last).
func (s *Service) ListClients(ctx context.Context, f ClientFilter, pg store.Page) ([]*store.Client, string, error) {
	if !validText(f.Query, maxQueryLen) {
		return nil, "", invalid("q", msgQuery, "Max", maxQueryLen)
	}
	clients, next, err := s.Store.ListClientsPage(ctx, store.ClientPageFilter{Query: f.Query, Disabled: f.Disabled}, pg)
	if err != nil {
		return nil, "", pageError(err, "clients")
	}
	return clients, next, nil
}

// GetClient returns the client with id.
func (s *Service) GetClient(ctx context.Context, id string) (*store.Client, error) {
	c, err := s.Store.GetClient(ctx, id)
	if err != nil {
		return nil, missing(err, msgClientNotFound)
	}
	return c, nil
}

// CreateClient registers a client and returns it with its secret, which
// exists only in this answer (the store keeps a hash); public clients get
// none.
func (s *Service) CreateClient(ctx context.Context, a Actor, p ClientPatch) (*store.Client, string, error) {
	now := s.now()
	c := &store.Client{GrantTypes: defaultGrantTypes, Scopes: defaultScopes, AccessTokenFormat: store.AccessTokenOpaque, CreatedAt: now, UpdatedAt: now}
	if p.ID == nil || strings.TrimSpace(*p.ID) == "" {
		c.ID = store.NewID()
	} else if c.ID = strings.TrimSpace(*p.ID); !clientIDPattern().MatchString(c.ID) || c.ID == reservedName {
		return nil, "", invalid("client_id", msgClientIDFormat)
	}
	typ := TypeConfidential
	if p.Type != nil {
		typ = strings.TrimSpace(*p.Type)
	}
	if typ != TypeConfidential && typ != TypePublic {
		return nil, "", invalid("type", msgClientType)
	}
	c.Public = typ == TypePublic
	if err := applyClientPatch(c, p, true); err != nil {
		return nil, "", err
	}
	secret, err := s.newSecret(c)
	if err != nil {
		return nil, "", err
	}
	err = s.write(ctx, func(ctx context.Context) error {
		if _, err := s.Store.GetClient(ctx, c.ID); err == nil {
			return conflict("client_id", msgClientIDTaken)
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("admin: look up client %s: %w", c.ID, err)
		}
		if err := s.Store.CreateClient(ctx, c); err != nil {
			return fmt.Errorf("admin: create client %s: %w", c.ID, err)
		}
		return s.record(ctx, a, event{typ: audit.ClientCreated, clientID: c.ID, detail: "name=" + c.Name + " type=" + typ})
	})
	if errors.Is(err, store.ErrConflict) {
		// Another request registered the same ID between check and insert.
		return nil, "", conflict("client_id", msgClientIDTaken)
	}
	if err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// newSecret gives a confidential c a fresh secret hash and returns the secret.
func (s *Service) newSecret(c *store.Client) (string, error) {
	if c.Public || c.TokenAuthMethod == store.AuthPrivateKeyJWT {
		c.SecretHash = nil
		return "", nil
	}
	if s.Secrets == nil {
		return "", errors.New("admin: no client secret generator configured")
	}
	secret, hash, err := s.Secrets.NewClientSecret()
	if err != nil {
		return "", fmt.Errorf("admin: client secret: %w", err)
	}
	c.SecretHash = hash
	return secret, nil
}

// UpdateClient applies p to client id and reports whether anything changed.
func (s *Service) UpdateClient(ctx context.Context, a Actor, id string, p ClientPatch) (bool, error) {
	var changed bool
	err := s.write(ctx, func(ctx context.Context) error {
		c, err := s.Store.GetClient(ctx, id)
		if err != nil {
			return missing(err, msgClientNotFound)
		}
		if p.ID != nil && strings.TrimSpace(*p.ID) != c.ID {
			return invalid("client_id", msgClientIDFixed)
		}
		if p.Type != nil && strings.TrimSpace(*p.Type) != ClientType(c) {
			return invalid("type", msgClientTypeFixed)
		}
		old := *c
		if err := applyClientPatch(c, p, false); err != nil {
			return err
		}
		if c.TokenAuthMethod == store.AuthPrivateKeyJWT {
			// A key-authenticated client has no secret that could still work.
			c.SecretHash = nil
		}
		fields := changedClientFields(&old, c)
		if changed = len(fields) > 0; !changed {
			return nil
		}
		c.UpdatedAt = s.bump(old.UpdatedAt)
		if err := s.Store.UpdateClient(ctx, c); err != nil {
			return fmt.Errorf("admin: update client %s: %w", id, err)
		}
		return s.auditClientUpdate(ctx, a, &old, c, fields)
	})
	return changed, err
}

func (s *Service) auditClientUpdate(ctx context.Context, a Actor, old, c *store.Client, fields []string) error {
	if err := s.record(ctx, a, event{typ: audit.ClientUpdated, clientID: c.ID, detail: "changed=" + strings.Join(fields, ",")}); err != nil {
		return err
	}
	switch {
	case !old.Disabled && c.Disabled:
		return s.record(ctx, a, event{typ: audit.ClientDisabled, clientID: c.ID})
	case old.Disabled && !c.Disabled:
		return s.record(ctx, a, event{typ: audit.ClientEnabled, clientID: c.ID})
	}
	return nil
}

func changedClientFields(old, c *store.Client) []string {
	var out []string
	for _, f := range []struct {
		name    string
		changed bool
	}{
		{"name", old.Name != c.Name},
		{"redirect_uris", !slices.Equal(old.RedirectURIs, c.RedirectURIs)},
		{"post_logout_redirect_uris", !slices.Equal(old.PostLogoutRedirectURIs, c.PostLogoutRedirectURIs)},
		{"grant_types", !slices.Equal(old.GrantTypes, c.GrantTypes)},
		{"scopes", !slices.Equal(old.Scopes, c.Scopes)},
		{"skip_consent", old.SkipConsent != c.SkipConsent},
		{"introspect_any", old.IntrospectAny != c.IntrospectAny},
		{"disabled", old.Disabled != c.Disabled},
		{"access_token_format", old.AccessTokenFormat != c.AccessTokenFormat},
		{"id_token_signed_response_alg", old.IDTokenAlg != c.IDTokenAlg},
		{"audiences", !slices.Equal(old.Audiences, c.Audiences)},
		{"require_par", old.RequirePAR != c.RequirePAR},
		{"token_endpoint_auth_method", old.TokenAuthMethod != c.TokenAuthMethod},
		{"jwks", old.JWKS != c.JWKS},
		{"jwks_uri", old.JWKSURI != c.JWKSURI},
		{"backchannel_logout_uri", old.BackchannelLogoutURI != c.BackchannelLogoutURI},
		{"backchannel_logout_session_required", old.BackchannelLogoutSessionRequired != c.BackchannelLogoutSessionRequired},
	} {
		if f.changed {
			out = append(out, f.name)
		}
	}
	return out
}

// RotateSecret gives client id a new secret and returns it; the old one stops
// working at once.
func (s *Service) RotateSecret(ctx context.Context, a Actor, id string) (string, error) {
	var secret string
	err := s.write(ctx, func(ctx context.Context) error {
		c, err := s.Store.GetClient(ctx, id)
		if err != nil {
			return missing(err, msgClientNotFound)
		}
		if c.Public {
			return conflict("type", msgPublicHasNoSecret)
		}
		if c.TokenAuthMethod == store.AuthPrivateKeyJWT {
			return conflict("token_endpoint_auth_method", msgKeyClientHasNoSecret)
		}
		if secret, err = s.newSecret(c); err != nil {
			return err
		}
		c.UpdatedAt = s.bump(c.UpdatedAt)
		if err := s.Store.UpdateClient(ctx, c); err != nil {
			return fmt.Errorf("admin: update client %s: %w", id, err)
		}
		return s.record(ctx, a, event{typ: audit.ClientSecretRotated, clientID: id})
	})
	return secret, err
}

// DeleteClient deletes client id; its tokens stop working, since the protocol
// no longer finds the client.
func (s *Service) DeleteClient(ctx context.Context, a Actor, id string) error {
	return s.write(ctx, func(ctx context.Context) error {
		c, err := s.Store.GetClient(ctx, id)
		if err != nil {
			return missing(err, msgClientNotFound)
		}
		if err := s.Store.DeleteClient(ctx, id); err != nil {
			return fmt.Errorf("admin: delete client %s: %w", id, err)
		}
		return s.record(ctx, a, event{typ: audit.ClientDeleted, clientID: id, detail: "name=" + c.Name})
	})
}

// applyClientPatch sets p's fields on c and checks the result.
func applyClientPatch(c *store.Client, p ClientPatch, creating bool) error {
	if p.Name != nil {
		c.Name = strings.TrimSpace(*p.Name)
	}
	if creating || p.Name != nil {
		if c.Name == "" || !validText(c.Name, 200) {
			return invalid("name", msgClientName)
		}
	}
	for _, l := range []struct {
		field string
		value *[]string
		dst   *[]string
	}{
		{"redirect_uris", p.RedirectURIs, &c.RedirectURIs},
		{"post_logout_redirect_uris", p.PostLogoutRedirectURIs, &c.PostLogoutRedirectURIs},
		{"grant_types", p.GrantTypes, &c.GrantTypes},
		{"scopes", p.Scopes, &c.Scopes},
		{"audiences", p.Audiences, &c.Audiences},
	} {
		if l.value == nil {
			continue
		}
		if err := checkList(l.field, *l.value); err != nil {
			return err
		}
		*l.dst = slices.Clone(*l.value)
	}
	if p.SkipConsent != nil {
		c.SkipConsent = *p.SkipConsent
	}
	if p.IntrospectAny != nil {
		c.IntrospectAny = *p.IntrospectAny
	}
	if p.Disabled != nil {
		c.Disabled = *p.Disabled
	}
	if err := applyBreadthPatch(c, p); err != nil {
		return err
	}
	return checkClient(c)
}

// applyBreadthPatch sets and checks the settings of JWT access tokens, PAR,
// private_key_jwt and back-channel logout.
func applyBreadthPatch(c *store.Client, p ClientPatch) error {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&c.AccessTokenFormat, p.AccessTokenFormat)
	set(&c.JWKS, p.JWKS)
	set(&c.JWKSURI, p.JWKSURI)
	set(&c.BackchannelLogoutURI, p.BackchannelLogoutURI)
	set(&c.IDTokenAlg, p.IDTokenAlg)
	if !slices.Contains([]string{"", "RS256", "ES256"}, c.IDTokenAlg) {
		return invalid("id_token_signed_response_alg", msgIDTokenAlg)
	}
	if p.RequirePAR != nil {
		c.RequirePAR = *p.RequirePAR
	}
	if p.BackchannelLogoutSessionRequired != nil {
		c.BackchannelLogoutSessionRequired = *p.BackchannelLogoutSessionRequired
	}
	if p.TokenAuthMethod != nil {
		switch m := strings.TrimSpace(*p.TokenAuthMethod); {
		case m == "none" && !c.Public:
			// A confidential client authenticates: saying it does not
			// must not pass silently as its secret.
			return invalid("token_endpoint_auth_method", msgAuthMethod)
		case slices.Contains([]string{"", "client_secret_basic", "client_secret_post", "none"}, m):
			c.TokenAuthMethod = ""
		case m == store.AuthPrivateKeyJWT:
			c.TokenAuthMethod = m
		default:
			return invalid("token_endpoint_auth_method", msgAuthMethod)
		}
	}
	switch c.AccessTokenFormat {
	case "":
		c.AccessTokenFormat = store.AccessTokenOpaque
	case store.AccessTokenOpaque, store.AccessTokenJWT:
	default:
		return invalid("access_token_format", msgTokenFormat)
	}
	for _, a := range c.Audiences {
		if a == "" || strings.ContainsAny(a, " \t") {
			return listInvalid("audiences", i18n.M("admin.err.list_audience"))
		}
	}
	if c.BackchannelLogoutURI != "" {
		if err := oauth.ValidateRedirectURI("backchannel_logout_uri", c.BackchannelLogoutURI); err != nil {
			return uriInvalid(err)
		}
	}
	return checkKeys(c)
}

// uriInvalid is the field error of a URI refused by oauth.ValidateRedirectURI.
func uriInvalid(err error) error {
	if fe, ok := errors.AsType[*oauth.FieldError](err); ok {
		return ruleInvalid(fe)
	}
	return err
}

// checkKeys checks a client's keys and that a private_key_jwt client has
// them.
func checkKeys(c *store.Client) error {
	if c.JWKS != "" {
		if _, err := oauth.ParseClientJWKS(c.JWKS); err != nil || len(c.JWKS) > maxJWKSLen {
			if err != nil {
				// The parser's reason is technical detail, in English.
				return invalid("jwks", msgJWKSDetail, "Detail", err.Error())
			}
			return invalid("jwks", msgJWKS)
		}
	}
	if c.JWKSURI != "" {
		if err := oauth.ValidateRedirectURI("jwks_uri", c.JWKSURI); err != nil {
			return uriInvalid(err)
		}
	}
	if c.TokenAuthMethod != store.AuthPrivateKeyJWT {
		return nil
	}
	switch {
	case c.Public:
		return invalid("token_endpoint_auth_method", msgKeyAuthPublic)
	case (c.JWKS == "") == (c.JWKSURI == ""):
		return invalid("jwks", msgKeysNeeded)
	}
	return nil
}

// checkList checks the form of one list: its length, its items' lengths, no
// duplicates.
func checkList(field string, items []string) error {
	maxLen := maxURILen
	if field == "grant_types" || field == "scopes" {
		maxLen = maxScopeLen
	}
	if len(items) > maxListItems {
		return listInvalid(field, i18n.M("admin.err.list_too_many", "Max", maxListItems))
	}
	seen := map[string]bool{}
	for _, v := range items {
		switch {
		case len(v) > maxLen:
			return listInvalid(field, i18n.M("admin.err.list_entry_long", "Max", maxLen))
		case !validText(v, maxLen):
			return listInvalid(field, i18n.M("admin.err.list_control"))
		case seen[v]:
			return listInvalid(field, i18n.M("admin.err.list_twice", "Value", strconv.Quote(v)))
		}
		seen[v] = true
	}
	return nil
}

// checkClient applies the protocol's rules (oauth.ValidateClientFields) to the
// whole client, the same rules the old client command used.
func checkClient(c *store.Client) error {
	if c.Public && c.IntrospectAny {
		// Introspection needs a client secret (RFC 7662 §2.1).
		return invalid("introspect_any", "admin.err.introspect_public")
	}
	err := oauth.ValidateClientFields(c.Name, c.Public, c.RedirectURIs, c.PostLogoutRedirectURIs, c.GrantTypes, c.Scopes)
	if fe, ok := errors.AsType[*oauth.FieldError](err); ok {
		return ruleInvalid(fe)
	}
	return err
}

// fieldLabels name the client fields in messages as the form labels do
// (catalog IDs).
var fieldLabels = map[string]string{
	"name":                      "admin.label.name",
	"redirect_uris":             "admin.label.redirect_uris",
	"post_logout_redirect_uris": "admin.label.post_logout_redirect_uris",
	"grant_types":               "admin.label.grant_types",
	"scopes":                    "admin.label.scopes",
	"audiences":                 "admin.label.audiences",
	"backchannel_logout_uri":    "admin.label.backchannel_logout_uri",
	"jwks_uri":                  "admin.label.jwks_uri",
}

// listInvalid refuses field with reason, prefixed by the field's label, since
// the reasons of the protocol's checks do not say which list they are about.
func listInvalid(field string, reason i18n.Message) error {
	var label any = field
	if id, ok := fieldLabels[field]; ok {
		label = i18n.M(id)
	}
	return invalid(field, "admin.err.list", "Label", label, "Reason", reason)
}

// ruleReasons word the rules of oauth's client checks (catalog IDs); their
// English is oauth's Reason.
var ruleReasons = map[string]string{
	oauth.RuleNotAbsolute:             "admin.err.rule_not_absolute",
	oauth.RuleFragment:                "admin.err.rule_fragment",
	oauth.RuleWildcard:                "admin.err.rule_wildcard",
	oauth.RuleCredentials:             "admin.err.rule_credentials",
	oauth.RuleHTTPSOrLoopback:         "admin.err.rule_https_or_loopback",
	oauth.RuleHTTPS:                   "admin.err.rule_https",
	oauth.RuleName:                    "admin.err.rule_name",
	oauth.RuleGrantRequired:           "admin.err.rule_grant_required",
	oauth.RuleGrantUnknown:            "admin.err.rule_grant_unknown",
	oauth.RulePublicClientCredentials: "admin.err.rule_public_client_credentials",
	oauth.RuleRedirectNeeded:          "admin.err.rule_redirect_needed",
	oauth.RuleScope:                   "admin.err.rule_scope",
	oauth.RuleDuplicates:              "admin.err.rule_duplicates",
}

// ruleInvalid is the field error of a client refused by oauth's checks.
func ruleInvalid(fe *oauth.FieldError) error {
	id, ok := ruleReasons[fe.Rule]
	if !ok {
		// A rule without words here: oauth's English.
		return listInvalid(fe.Field, i18n.M("admin.err.rule_other", "Reason", fe.Reason))
	}
	return listInvalid(fe.Field, i18n.M(id, "Value", strconv.Quote(fe.Value), "Allowed", oauth.AllowedGrantTypes()))
}
