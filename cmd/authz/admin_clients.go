package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/admin/api"
)

var clientColumns = []string{"client_id", "name", "type", "disabled", "redirect_uris"}

var clientCommands = []adminCommand{
	{"client", "list", bindClientList},
	{"client", "get", bindClientByID(func(ctx context.Context, svc *admin.Service, id string) (any, error) {
		c, err := svc.GetClient(ctx, id)
		if err != nil {
			return nil, err
		}
		return api.ClientView(c, ""), nil
	})},
	{"client", "create", bindClientCreate},
	{"client", "update", bindClientUpdate},
	{"client", "delete", bindClientByID(func(ctx context.Context, svc *admin.Service, id string) (any, error) {
		if err := svc.DeleteClient(ctx, admin.Actor{}, id); err != nil {
			return nil, err
		}
		return map[string]string{"deleted": id}, nil
	})},
	{"client", "rotate-secret", bindClientByID(func(ctx context.Context, svc *admin.Service, id string) (any, error) {
		secret, err := svc.RotateSecret(ctx, admin.Actor{}, id)
		if err != nil {
			return nil, err
		}
		c, err := svc.GetClient(ctx, id)
		if err != nil {
			return nil, err
		}
		return api.ClientView(c, secret), nil
	})},
}

func bindClientList(fs *flag.FlagSet) adminRun {
	q := fs.String("q", "", "substring of the name or client ID")
	disabled := fs.Bool("disabled", false, "only disabled (true) or enabled (false) applications; all when not given")
	cursor, limit := pagingFlags(fs)
	return func(ctx context.Context, svc *admin.Service, set map[string]bool) (any, error) {
		pg, err := page(*cursor, *limit)
		if err != nil {
			return nil, err
		}
		clients, next, err := svc.ListClients(ctx, admin.ClientFilter{Query: *q, Disabled: boolFlag{"disabled", disabled}.patch(set)}, pg)
		if err != nil {
			return nil, err
		}
		out := newList(pg, next, clientColumns)
		for _, c := range clients {
			out.Items = append(out.Items, api.ClientView(c, ""))
		}
		return out, nil
	}
}

func bindClientByID(run func(context.Context, *admin.Service, string) (any, error)) func(*flag.FlagSet) adminRun {
	return func(fs *flag.FlagSet) adminRun {
		id := fs.String("id", "", "client ID")
		return func(ctx context.Context, svc *admin.Service, set map[string]bool) (any, error) {
			if err := required(set, "id"); err != nil {
				return nil, err
			}
			return run(ctx, svc, *id)
		}
	}
}

// clientFlags binds the client fields.
type clientFlags struct {
	name                                  strFlag
	redirects, postLogout, grants, scopes listFlag
	skipConsent, introspect, disabled     boolFlag

	tokenFormat, authMethod, jwks, jwksURI, logoutURI strFlag
	idTokenAlg                                        strFlag
	audiences                                         listFlag
	requirePAR, logoutSession                         boolFlag
}

func bindClientFields(fs *flag.FlagSet) *clientFlags {
	return &clientFlags{
		name:        strFlag{"name", fs.String("name", "", "display name")},
		redirects:   listFlag{"redirect-uris", fs.String("redirect-uris", "", "comma-separated redirect URIs")},
		postLogout:  listFlag{"post-logout-redirect-uris", fs.String("post-logout-redirect-uris", "", "comma-separated post-logout redirect URIs")},
		grants:      listFlag{"grant-types", fs.String("grant-types", "authorization_code,refresh_token", "comma-separated grant types")},
		scopes:      listFlag{"scopes", fs.String("scopes", "openid,profile,email,offline_access", "comma-separated scopes (authz.admin: an admin API client)")},
		skipConsent: boolFlag{"skip-consent", fs.Bool("skip-consent", false, "do not ask users for consent")},
		introspect:  boolFlag{"introspect-any", fs.Bool("introspect-any", false, "a resource server: may introspect tokens issued to other clients")},
		disabled:    boolFlag{"disabled", fs.Bool("disabled", false, "the application may not be used")},

		tokenFormat:   strFlag{"access-token-format", fs.String("access-token-format", "opaque", "opaque or jwt (RFC 9068)")},
		audiences:     listFlag{"audiences", fs.String("audiences", "", "comma-separated resource servers: the aud of JWT access tokens")},
		requirePAR:    boolFlag{"require-par", fs.Bool("require-par", false, "refuse authorization requests not pushed first (RFC 9126)")},
		authMethod:    strFlag{"token-auth-method", fs.String("token-auth-method", "client_secret_basic", "client_secret_basic, client_secret_post or private_key_jwt")},
		jwks:          strFlag{"jwks", fs.String("jwks", "", "the client's public keys for private_key_jwt: a JWKS as JSON, or @file")},
		jwksURI:       strFlag{"jwks-uri", fs.String("jwks-uri", "", "where the client publishes its JWKS, for private_key_jwt")},
		logoutURI:     strFlag{"backchannel-logout-uri", fs.String("backchannel-logout-uri", "", "receives back-channel logout tokens")},
		logoutSession: boolFlag{"backchannel-logout-session-required", fs.Bool("backchannel-logout-session-required", false, "the client wants sid in logout tokens")},
		idTokenAlg:    strFlag{"id-token-alg", fs.String("id-token-alg", "", "RS256 or ES256: the algorithm of the client's ID and logout tokens (empty: the server's tokens.signing_algorithm)")},
	}
}

func (f *clientFlags) patch(set map[string]bool) (admin.ClientPatch, error) {
	p := admin.ClientPatch{Name: f.name.patch(set), RedirectURIs: f.redirects.patch(set), PostLogoutRedirectURIs: f.postLogout.patch(set),
		GrantTypes: f.grants.patch(set), Scopes: f.scopes.patch(set), SkipConsent: f.skipConsent.patch(set), IntrospectAny: f.introspect.patch(set), Disabled: f.disabled.patch(set),
		AccessTokenFormat: f.tokenFormat.patch(set), Audiences: f.audiences.patch(set), RequirePAR: f.requirePAR.patch(set),
		TokenAuthMethod: f.authMethod.patch(set), JWKS: f.jwks.patch(set), JWKSURI: f.jwksURI.patch(set),
		BackchannelLogoutURI: f.logoutURI.patch(set), BackchannelLogoutSessionRequired: f.logoutSession.patch(set),
		IDTokenAlg: f.idTokenAlg.patch(set)}
	if p.JWKS != nil && strings.HasPrefix(*p.JWKS, "@") {
		b, err := os.ReadFile(strings.TrimPrefix(*p.JWKS, "@"))
		if err != nil {
			return p, fmt.Errorf("--jwks: %w", err)
		}
		keys := string(b)
		p.JWKS = &keys
	}
	return p, nil
}

func bindClientCreate(fs *flag.FlagSet) adminRun {
	id := strFlag{"id", fs.String("id", "", "client ID (default: random)")}
	typ := strFlag{"type", fs.String("type", admin.TypeConfidential, "confidential or public")}
	f := bindClientFields(fs)
	return func(ctx context.Context, svc *admin.Service, set map[string]bool) (any, error) {
		p, err := f.patch(set)
		if err != nil {
			return nil, err
		}
		p.ID, p.Type = id.patch(set), typ.patch(set)
		c, secret, err := svc.CreateClient(ctx, admin.Actor{}, p)
		if err != nil {
			return nil, err
		}
		return api.ClientView(c, secret), nil
	}
}

func bindClientUpdate(fs *flag.FlagSet) adminRun {
	id := fs.String("id", "", "client ID")
	f := bindClientFields(fs)
	return func(ctx context.Context, svc *admin.Service, set map[string]bool) (any, error) {
		if err := required(set, "id"); err != nil {
			return nil, err
		}
		p, err := f.patch(set)
		if err != nil {
			return nil, err
		}
		if _, err := svc.UpdateClient(ctx, admin.Actor{}, *id, p); err != nil {
			return nil, err
		}
		c, err := svc.GetClient(ctx, *id)
		if err != nil {
			return nil, err
		}
		return api.ClientView(c, ""), nil
	}
}
