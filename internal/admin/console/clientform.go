package console

import (
	"net/http"
	"slices"
	"strings"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// readClientForm takes the application fields from a parsed POST form.
func readClientForm(r *http.Request) views.AdminClientForm {
	f := r.PostForm
	grants := f["grant_types"]
	return views.AdminClientForm{
		Name:                   strings.TrimSpace(f.Get("name")),
		Type:                   strings.TrimSpace(f.Get("type")),
		RedirectURIs:           f.Get("redirect_uris"),
		PostLogoutRedirectURIs: f.Get("post_logout_redirect_uris"),
		Scopes:                 f.Get("scopes"),
		GrantAuthorizationCode: slices.Contains(grants, "authorization_code"),
		GrantRefreshToken:      slices.Contains(grants, "refresh_token"),
		GrantClientCredentials: slices.Contains(grants, "client_credentials"),
		SkipConsent:            f.Get("skip_consent") != "",
		IntrospectAny:          f.Get("introspect_any") != "",

		AccessTokenFormat:                f.Get("access_token_format"),
		IDTokenAlg:                       f.Get("id_token_alg"),
		Audiences:                        f.Get("audiences"),
		RequirePAR:                       f.Get("require_par") != "",
		TokenAuthMethod:                  f.Get("token_auth_method"),
		JWKS:                             strings.TrimSpace(f.Get("jwks")),
		JWKSURI:                          strings.TrimSpace(f.Get("jwks_uri")),
		BackchannelLogoutURI:             strings.TrimSpace(f.Get("backchannel_logout_uri")),
		BackchannelLogoutSessionRequired: f.Get("backchannel_logout_session_required") != "",
	}
}

// clientPatchOfForm sets every editable field of the form; the type is the
// caller's, since only the add form has it.
func clientPatchOfForm(f views.AdminClientForm) admin.ClientPatch {
	redirects, postLogout, scopes := strings.Fields(f.RedirectURIs), strings.Fields(f.PostLogoutRedirectURIs), splitScopes(f.Scopes)
	var grants []string
	for _, g := range []struct {
		on   bool
		name string
	}{{f.GrantAuthorizationCode, "authorization_code"}, {f.GrantRefreshToken, "refresh_token"}, {f.GrantClientCredentials, "client_credentials"}} {
		if g.on {
			grants = append(grants, g.name)
		}
	}
	audiences := strings.Fields(f.Audiences)
	p := admin.ClientPatch{Name: &f.Name, RedirectURIs: &redirects, PostLogoutRedirectURIs: &postLogout,
		GrantTypes: &grants, Scopes: &scopes, SkipConsent: &f.SkipConsent, IntrospectAny: &f.IntrospectAny,
		Audiences: &audiences, RequirePAR: &f.RequirePAR, JWKS: &f.JWKS, JWKSURI: &f.JWKSURI,
		BackchannelLogoutURI: &f.BackchannelLogoutURI, BackchannelLogoutSessionRequired: &f.BackchannelLogoutSessionRequired}
	// A form without the fields (a public application's) keeps the defaults.
	if f.AccessTokenFormat != "" {
		p.AccessTokenFormat = &f.AccessTokenFormat
	}
	if f.TokenAuthMethod != "" {
		p.TokenAuthMethod = &f.TokenAuthMethod
	}
	if alg := f.IDTokenAlg; alg != "" {
		if alg == "default" {
			alg = ""
		}
		p.IDTokenAlg = &alg
	}
	return p
}

// splitScopes splits typed scopes at white space and commas, neither of
// which a scope contains.
func splitScopes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// clientFormOf is the form showing cl as stored.
func clientFormOf(cl *store.Client) views.AdminClientForm {
	return views.AdminClientForm{
		Name: cl.Name, Type: admin.ClientType(cl), RedirectURIs: strings.Join(cl.RedirectURIs, "\n"),
		PostLogoutRedirectURIs: strings.Join(cl.PostLogoutRedirectURIs, "\n"), Scopes: strings.Join(cl.Scopes, " "),
		GrantAuthorizationCode: slices.Contains(cl.GrantTypes, "authorization_code"),
		GrantRefreshToken:      slices.Contains(cl.GrantTypes, "refresh_token"),
		GrantClientCredentials: slices.Contains(cl.GrantTypes, "client_credentials"),
		SkipConsent:            cl.SkipConsent,
		IntrospectAny:          cl.IntrospectAny,

		AccessTokenFormat:                cl.AccessTokenFormat,
		IDTokenAlg:                       cl.IDTokenAlg,
		Audiences:                        strings.Join(cl.Audiences, "\n"),
		RequirePAR:                       cl.RequirePAR,
		TokenAuthMethod:                  admin.AuthMethod(cl),
		JWKS:                             cl.JWKS,
		JWKSURI:                          cl.JWKSURI,
		BackchannelLogoutURI:             cl.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired: cl.BackchannelLogoutSessionRequired,
	}
}
