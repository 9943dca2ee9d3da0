package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/admin/api"
	"github.com/authz/authz/internal/store"
)

var idpColumns = []string{"alias", "display_name", "issuer_url", "link_policy", "enabled", "require_otp"}

var idpCommands = []adminCommand{
	{"idp", "list", bindIdpList},
	{"idp", "get", bindIdpByAlias(func(ctx context.Context, svc *admin.Service, alias string) (any, error) {
		p, err := svc.GetProvider(ctx, alias)
		if err != nil {
			return nil, err
		}
		return api.ProviderView(p, svc.UpstreamRedirectURI(p.Alias)), nil
	})},
	{"idp", "create", bindIdpCreate},
	{"idp", "update", bindIdpUpdate},
	{"idp", "delete", bindIdpByAlias(func(ctx context.Context, svc *admin.Service, alias string) (any, error) {
		if err := svc.DeleteProvider(ctx, admin.Actor{}, alias); err != nil {
			return nil, err
		}
		return map[string]string{"deleted": alias}, nil
	})},
	{"idp", "test", bindIdpByAlias(func(ctx context.Context, svc *admin.Service, alias string) (any, error) {
		res, err := svc.DiscoverProvider(ctx, alias)
		if err != nil {
			return nil, err
		}
		if !res.OK {
			// A script asking whether the provider works reads the status.
			return nil, fmt.Errorf("discovery of %s failed: %s", res.IssuerURL, res.Error)
		}
		return res, nil
	})},
}

func bindIdpList(fs *flag.FlagSet) adminRun {
	enabled := fs.Bool("enabled", false, "only enabled (true) or disabled (false) providers; all when not given")
	cursor, limit := pagingFlags(fs)
	return func(ctx context.Context, svc *admin.Service, set map[string]bool) (any, error) {
		pg, err := page(*cursor, *limit)
		if err != nil {
			return nil, err
		}
		providers, next, err := svc.ListProviders(ctx, boolFlag{"enabled", enabled}.patch(set), pg)
		if err != nil {
			return nil, err
		}
		out := newList(pg, next, idpColumns)
		for _, p := range providers {
			out.Items = append(out.Items, api.ProviderView(p, svc.UpstreamRedirectURI(p.Alias)))
		}
		return out, nil
	}
}

func bindIdpByAlias(run func(context.Context, *admin.Service, string) (any, error)) func(*flag.FlagSet) adminRun {
	return func(fs *flag.FlagSet) adminRun {
		alias := fs.String("alias", "", "provider alias")
		return func(ctx context.Context, svc *admin.Service, set map[string]bool) (any, error) {
			if err := required(set, "alias"); err != nil {
				return nil, err
			}
			return run(ctx, svc, *alias)
		}
	}
}

// idpFlags binds the provider fields.
type idpFlags struct {
	displayName, issuerURL, clientID, secret, secretFile strFlag
	claimUsername, claimEmail, claimFirst, claimLast     strFlag
	linkPolicy                                           strFlag
	scopes                                               listFlag
	enabled, requireOTP, syncProfile                     boolFlag
}

func bindIdpFields(fs *flag.FlagSet) *idpFlags {
	return &idpFlags{
		displayName:   strFlag{"display-name", fs.String("display-name", "", `name on the login page ("Sign in with …")`)},
		issuerURL:     strFlag{"issuer-url", fs.String("issuer-url", "", "issuer URL (https; http on loopback only)")},
		clientID:      strFlag{"client-id", fs.String("client-id", "", "client ID registered at the provider")},
		secret:        strFlag{"client-secret", fs.String("client-secret", "", "client secret (visible in the process list: prefer --client-secret-file); empty removes it")},
		secretFile:    strFlag{"client-secret-file", fs.String("client-secret-file", "", "read the client secret from this file (- for standard input)")},
		claimUsername: strFlag{"claim-username", fs.String("claim-username", "preferred_username", "claim giving the username")},
		claimEmail:    strFlag{"claim-email", fs.String("claim-email", "email", "claim giving the e-mail address")},
		claimFirst:    strFlag{"claim-first-name", fs.String("claim-first-name", "given_name", "claim giving the first name")},
		claimLast:     strFlag{"claim-last-name", fs.String("claim-last-name", "family_name", "claim giving the last name")},
		linkPolicy:    strFlag{"link-policy", fs.String("link-policy", store.LinkExisting, "create, verified-email or existing")},
		scopes:        listFlag{"scopes", fs.String("scopes", "openid,profile,email", "comma-separated scopes to request")},
		enabled:       boolFlag{"enabled", fs.Bool("enabled", true, "users may sign in through it")},
		requireOTP:    boolFlag{"require-otp", fs.Bool("require-otp", false, "ask enrolled users for their one-time code after this provider")},
		syncProfile:   boolFlag{"sync-profile", fs.Bool("sync-profile", true, "update the user's names and e-mail from the provider at each sign-in")},
	}
}

func (f *idpFlags) patch(set map[string]bool) (admin.ProviderPatch, error) {
	p := admin.ProviderPatch{DisplayName: f.displayName.patch(set), IssuerURL: f.issuerURL.patch(set), ClientID: f.clientID.patch(set),
		ClientSecret: f.secret.patch(set), Scopes: f.scopes.patch(set), ClaimUsername: f.claimUsername.patch(set),
		ClaimEmail: f.claimEmail.patch(set), ClaimFirstName: f.claimFirst.patch(set), ClaimLastName: f.claimLast.patch(set),
		LinkPolicy: f.linkPolicy.patch(set), Enabled: f.enabled.patch(set), RequireOTP: f.requireOTP.patch(set), SyncProfile: f.syncProfile.patch(set)}
	if set["client-secret-file"] {
		if set["client-secret"] {
			return p, usageError("give --client-secret or --client-secret-file, not both")
		}
		secret, err := readSecretFile(*f.secretFile.value)
		if err != nil {
			return p, err
		}
		p.ClientSecret = &secret
	}
	return p, nil
}

func bindIdpCreate(fs *flag.FlagSet) adminRun {
	alias := strFlag{"alias", fs.String("alias", "", "alias (in URLs: lower-case letters, digits, - and _)")}
	f := bindIdpFields(fs)
	return func(ctx context.Context, svc *admin.Service, set map[string]bool) (any, error) {
		p, err := f.patch(set)
		if err != nil {
			return nil, err
		}
		p.Alias = alias.patch(set)
		pr, err := svc.CreateProvider(ctx, admin.Actor{}, p)
		if err != nil {
			return nil, err
		}
		return api.ProviderView(pr, svc.UpstreamRedirectURI(pr.Alias)), nil
	}
}

func bindIdpUpdate(fs *flag.FlagSet) adminRun {
	alias := fs.String("alias", "", "provider alias")
	f := bindIdpFields(fs)
	return func(ctx context.Context, svc *admin.Service, set map[string]bool) (any, error) {
		if err := required(set, "alias"); err != nil {
			return nil, err
		}
		p, err := f.patch(set)
		if err != nil {
			return nil, err
		}
		if _, err := svc.UpdateProvider(ctx, admin.Actor{}, *alias, p); err != nil {
			return nil, err
		}
		pr, err := svc.GetProvider(ctx, *alias)
		if err != nil {
			return nil, err
		}
		return api.ProviderView(pr, svc.UpstreamRedirectURI(pr.Alias)), nil
	}
}
