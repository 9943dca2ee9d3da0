package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/authz/authz/internal/oauth"
	"github.com/authz/authz/internal/server"
	"github.com/authz/authz/internal/store"
)

func runClient(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 {
		return usageError("usage: authz [config flags] client create|list|delete|rotate-secret [flags]")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("authz client "+sub, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	output := fs.String("output", "text", "output format: text or json")
	var run func(context.Context, *server.App) (any, error)
	switch sub {
	case "create":
		run = clientCreate(fs)
	case "list":
		run = func(ctx context.Context, app *server.App) (any, error) { return app.Store.ListClients(ctx) }
	case "delete", "rotate-secret":
		id := fs.String("id", "", "client id")
		run = func(ctx context.Context, app *server.App) (any, error) {
			if *id == "" {
				return nil, usageError("--id is required")
			}
			if sub == "delete" {
				return map[string]string{"deleted": *id}, app.Store.DeleteClient(ctx, *id)
			}
			return rotateSecret(ctx, app, *id)
		}
	default:
		return usageError(fmt.Sprintf("unknown client command %q", sub))
	}
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if *output != "text" && *output != "json" {
		return usageError("--output must be text or json")
	}
	app, err := server.Open(ctx, env.cfg, env.log, env.stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	result, err := run(ctx, app)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no such client")
	}
	if err != nil {
		return err
	}
	if *output == "json" {
		return printJSON(env, result)
	}
	return printClients(env, result)
}

// clientView is what the CLI prints of a client; the secret appears once.
type clientView struct {
	ID                     string   `json:"client_id"`
	Secret                 string   `json:"client_secret,omitempty"`
	Name                   string   `json:"name"`
	Public                 bool     `json:"public"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	GrantTypes             []string `json:"grant_types"`
	Scopes                 []string `json:"scopes"`
	SkipConsent            bool     `json:"skip_consent"`
}

func viewOf(c *store.Client, secret string) clientView {
	return clientView{c.ID, secret, c.Name, c.Public, c.RedirectURIs, c.PostLogoutRedirectURIs, c.GrantTypes, c.Scopes, c.SkipConsent}
}

func clientCreate(fs *flag.FlagSet) func(context.Context, *server.App) (any, error) {
	id := fs.String("id", "", "client id (default: random)")
	name := fs.String("name", "", "display name")
	typ := fs.String("type", "confidential", "confidential or public")
	redirects := fs.String("redirect-uris", "", "comma-separated redirect URIs")
	postLogout := fs.String("post-logout-redirect-uris", "", "comma-separated post-logout redirect URIs")
	grants := fs.String("grant-types", "authorization_code,refresh_token", "comma-separated grant types")
	scopes := fs.String("scopes", "openid,profile,email,offline_access", "comma-separated scopes")
	skip := fs.Bool("skip-consent", false, "do not ask users for consent")
	return func(ctx context.Context, app *server.App) (any, error) {
		if *typ != "confidential" && *typ != "public" {
			return nil, usageError("--type must be confidential or public")
		}
		c := &store.Client{ID: *id, Name: *name, Public: *typ == "public", RedirectURIs: splitList(*redirects),
			PostLogoutRedirectURIs: splitList(*postLogout), GrantTypes: splitList(*grants), Scopes: splitList(*scopes), SkipConsent: *skip}
		if c.ID == "" {
			c.ID = store.NewID()
		}
		if err := oauth.ValidateClientFields(c.Name, c.Public, c.RedirectURIs, c.PostLogoutRedirectURIs, c.GrantTypes, c.Scopes); err != nil {
			return nil, usageError(err.Error())
		}
		secret := ""
		if !c.Public {
			var err error
			if secret, c.SecretHash, err = app.Provider.Hasher().NewClientSecret(); err != nil {
				return nil, err
			}
		}
		c.CreatedAt = time.Now().UTC()
		c.UpdatedAt = c.CreatedAt
		if err := app.Store.CreateClient(ctx, c); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return nil, usageError("a client with id " + c.ID + " already exists")
			}
			return nil, err
		}
		return viewOf(c, secret), nil
	}
}

func rotateSecret(ctx context.Context, app *server.App, id string) (any, error) {
	c, err := app.Store.GetClient(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Public {
		return nil, usageError("public clients have no secret")
	}
	secret, hash, err := app.Provider.Hasher().NewClientSecret()
	if err != nil {
		return nil, err
	}
	c.SecretHash, c.UpdatedAt = hash, time.Now().UTC()
	if err := app.Store.UpdateClient(ctx, c); err != nil {
		return nil, err
	}
	return viewOf(c, secret), nil
}

func printClients(env *environment, result any) error {
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	switch v := result.(type) {
	case []*store.Client:
		fmt.Fprintln(tw, "ID\tNAME\tTYPE\tREDIRECT URIS")
		for _, c := range v {
			typ := "confidential"
			if c.Public {
				typ = "public"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\n", c.ID, c.Name, typ, c.RedirectURIs)
		}
	case clientView:
		fmt.Fprintf(tw, "client_id:\t%s\n", v.ID)
		if v.Secret != "" {
			fmt.Fprintf(tw, "client_secret:\t%s\t(shown once: store it now)\n", v.Secret)
		}
	case map[string]string:
		fmt.Fprintf(tw, "deleted:\t%s\n", v["deleted"])
	}
	return nil
}
