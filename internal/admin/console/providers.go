package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

func providerPath(alias string) string { return "/admin/providers/" + url.PathEscape(alias) }

func (c *Console) registerProviders(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/providers", c.guard(c.listProviders))
	mux.HandleFunc("GET /admin/providers/new", c.guard(c.newProvider))
	mux.HandleFunc("POST /admin/providers", c.guardPost(c.createProvider))
	mux.HandleFunc("POST /admin/providers/new/test", c.guardPost(c.testNewProvider))
	mux.HandleFunc("GET /admin/providers/{alias}", c.guard(c.showProvider))
	mux.HandleFunc("POST /admin/providers/{alias}", c.guardPost(c.updateProvider))
	mux.HandleFunc("POST /admin/providers/{alias}/test", c.guardPost(c.testProvider))
	mux.HandleFunc("POST /admin/providers/{alias}/disable", c.guardPost(c.setProviderEnabled(false)))
	mux.HandleFunc("POST /admin/providers/{alias}/enable", c.guardPost(c.setProviderEnabled(true)))
	mux.HandleFunc("POST /admin/providers/{alias}/delete", c.guardPost(c.deleteProvider))
}

// listProviders serves GET /admin/providers?after=.
func (c *Console) listProviders(w http.ResponseWriter, r *http.Request, _ *principal) {
	pg := listPage(r.URL.Query())
	providers, next, err := c.Service.ListProviders(r.Context(), nil, pg)
	if c.badPage(w, r, err) {
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := views.AdminProvidersData{Notice: pageNotice(r.Context(), r.URL.Query(), providerNotices)}
	for _, p := range providers {
		d.Providers = append(d.Providers, views.AdminProviderRow{Href: providerPath(p.Alias), Alias: p.Alias,
			DisplayName: p.DisplayName, IssuerURL: p.IssuerURL, LinkPolicy: p.LinkPolicy, Enabled: p.Enabled, RequireOTP: p.RequireOTP})
	}
	d.FirstHref, d.NextHref = pageLinks("/admin/providers", nil, pg, next)
	c.render(w, r, http.StatusOK, views.AdminProvidersPage(d))
}

// providerNotices are the messages of ?notice=key on the provider pages.
var providerNotices = map[string]string{
	"created":   "admin.notice.provider_created",
	"saved":     "admin.notice.saved",
	"unchanged": "admin.notice.unchanged",
	"disabled":  "admin.notice.provider_disabled",
	"enabled":   "admin.notice.provider_enabled",
	"deleted":   "admin.notice.provider_deleted",
}

// newProvider serves the empty add-provider form.
func (c *Console) newProvider(w http.ResponseWriter, r *http.Request, p *principal) {
	f := views.AdminProviderForm{Scopes: strings.Join(admin.DefaultProviderScopes(), " "), ClaimUsername: "preferred_username",
		ClaimEmail: "email", ClaimFirstName: "given_name", ClaimLastName: "family_name", LinkPolicy: store.LinkExisting, Enabled: true, SyncProfile: true}
	c.render(w, r, http.StatusOK, views.AdminNewProviderPage(views.AdminProviderData{CSRF: p.csrf, Action: "/admin/providers", New: true, Form: f}))
}

// createProvider serves POST /admin/providers.
func (c *Console) createProvider(w http.ResponseWriter, r *http.Request, p *principal) {
	f := readProviderForm(r)
	patch := providerPatchOfForm(r, f)
	patch.Alias = &f.Alias
	pr, err := c.Service.CreateProvider(r.Context(), p.actor(), patch)
	if e := admin.AsError(err); e != nil {
		status, _ := kindStatus(e.Kind)
		c.render(w, r, status, views.AdminNewProviderPage(views.AdminProviderData{CSRF: p.csrf, Action: "/admin/providers", New: true, Form: f, Error: e.Text(r.Context())}))
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, providerPath(pr.Alias)+"?notice=created", http.StatusSeeOther)
}

// testNewProvider serves the add form's "Test discovery": nothing is saved,
// and the form comes back as typed (but for the secret) with the result.
func (c *Console) testNewProvider(w http.ResponseWriter, r *http.Request, p *principal) {
	f := readProviderForm(r)
	d := views.AdminProviderData{CSRF: p.csrf, Action: "/admin/providers", New: true, Form: f,
		SecretDropped: r.PostFormValue("client_secret") != ""}
	status := c.discover(r, &d)
	c.render(w, r, status, views.AdminNewProviderPage(d))
}

// testProvider serves the edit form's "Test discovery" with the issuer URL as
// typed; nothing is saved.
func (c *Console) testProvider(w http.ResponseWriter, r *http.Request, p *principal) {
	pr, err := c.Service.GetProvider(r.Context(), r.PathValue("alias"))
	if err != nil {
		c.refuse(w, r, err, "/admin/providers", "admin.back_providers")
		return
	}
	d := c.providerPage(r.Context(), p, pr)
	d.Form = readProviderForm(r)
	d.Form.Alias = pr.Alias
	d.SecretDropped = r.PostFormValue("client_secret") != ""
	status := c.discover(r, &d)
	c.render(w, r, status, views.AdminProviderPage(d))
}

// discover tests the issuer URL of d's form and puts the result (or why the
// URL is refused) into d.
func (c *Console) discover(r *http.Request, d *views.AdminProviderData) int {
	res, err := c.Service.Discover(r.Context(), d.Form.IssuerURL)
	if e := admin.AsError(err); e != nil {
		d.Error = e.Text(r.Context())
		return http.StatusBadRequest
	}
	if err != nil {
		c.logger().ErrorContext(r.Context(), "admin: discovery test", "err", err)
		d.Error = i18n.T(r.Context(), "admin.provider.discovery_not_run")
		return http.StatusInternalServerError
	}
	d.Discovery = &views.AdminDiscovery{IssuerURL: res.IssuerURL, OK: res.OK, Error: res.Error,
		AuthorizationEndpoint: res.AuthorizationEndpoint, TokenEndpoint: res.TokenEndpoint, UserinfoEndpoint: res.UserinfoEndpoint,
		JWKSURI: res.JWKSURI, Scopes: strings.Join(res.ScopesSupported, " "), Algorithms: strings.Join(res.SigningAlgorithms, " ")}
	return http.StatusOK
}

// showProvider serves the edit-provider page.
func (c *Console) showProvider(w http.ResponseWriter, r *http.Request, p *principal) {
	pr, err := c.Service.GetProvider(r.Context(), r.PathValue("alias"))
	if err != nil {
		c.refuse(w, r, err, "/admin/providers", "admin.back_providers")
		return
	}
	d := c.providerPage(r.Context(), p, pr)
	d.Notice = pageNotice(r.Context(), r.URL.Query(), providerNotices)
	c.render(w, r, http.StatusOK, views.AdminProviderPage(d))
}

func (c *Console) providerPage(ctx context.Context, p *principal, pr *store.Provider) views.AdminProviderData {
	return views.AdminProviderData{CSRF: p.csrf, Action: providerPath(pr.Alias), Form: providerFormOf(pr),
		Enabled: pr.Enabled, HasSecret: len(pr.SealedClientSecret) > 0,
		Created: i18n.FormatTime(ctx, pr.CreatedAt), Updated: i18n.FormatTime(ctx, pr.UpdatedAt),
		RedirectURI: c.Service.UpstreamRedirectURI(pr.Alias)}
}

// updateProvider serves POST /admin/providers/{alias}, the edit form.
func (c *Console) updateProvider(w http.ResponseWriter, r *http.Request, p *principal) {
	alias := r.PathValue("alias")
	f := readProviderForm(r)
	changed, err := c.Service.UpdateProvider(r.Context(), p.actor(), alias, providerPatchOfForm(r, f))
	switch {
	case err != nil:
		c.showProviderWith(w, r, p, alias, &f, err)
	case changed:
		http.Redirect(w, r, providerPath(alias)+"?notice=saved", http.StatusSeeOther)
	default:
		http.Redirect(w, r, providerPath(alias)+"?notice=unchanged", http.StatusSeeOther)
	}
}

// showProviderWith renders the edit page of provider alias with the form as
// typed (nil: as stored) and the refusal err.
func (c *Console) showProviderWith(w http.ResponseWriter, r *http.Request, p *principal, alias string, f *views.AdminProviderForm, err error) {
	e := admin.AsError(err)
	pr, gerr := c.Service.GetProvider(r.Context(), alias)
	if e == nil || gerr != nil {
		c.refuse(w, r, err, "/admin/providers", "admin.back_providers")
		return
	}
	d := c.providerPage(r.Context(), p, pr)
	if f != nil {
		f.Alias = pr.Alias
		d.Form = *f
	}
	d.Error = e.Text(r.Context())
	status, _ := kindStatus(e.Kind)
	c.render(w, r, status, views.AdminProviderPage(d))
}

// setProviderEnabled serves the disable and enable buttons.
func (c *Console) setProviderEnabled(enabled bool) handler {
	notice := "disabled"
	if enabled {
		notice = "enabled"
	}
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		alias := r.PathValue("alias")
		if _, err := c.Service.UpdateProvider(r.Context(), p.actor(), alias, admin.ProviderPatch{Enabled: &enabled}); err != nil {
			c.showProviderWith(w, r, p, alias, nil, err)
			return
		}
		http.Redirect(w, r, providerPath(alias)+"?notice="+notice, http.StatusSeeOther)
	}
}

// deleteProvider serves POST /admin/providers/{alias}/delete, asking first.
func (c *Console) deleteProvider(w http.ResponseWriter, r *http.Request, p *principal) {
	alias := r.PathValue("alias")
	if r.PostFormValue("confirm") != "yes" {
		pr, err := c.Service.GetProvider(r.Context(), alias)
		if err != nil {
			c.refuse(w, r, err, "/admin/providers", "admin.back_providers")
			return
		}
		ctx := r.Context()
		c.render(w, r, http.StatusOK, views.AdminConfirmPage(views.AdminConfirmData{
			Title: i18n.T(ctx, "admin.provider.delete"), CSRF: p.csrf, Action: providerPath(alias) + "/delete", Cancel: providerPath(alias),
			Question: i18n.T(ctx, "admin.confirm.delete_provider", "Name", pr.DisplayName, "Alias", pr.Alias),
		}))
		return
	}
	if err := c.Service.DeleteProvider(r.Context(), p.actor(), alias); err != nil {
		c.refuse(w, r, err, "/admin/providers", "admin.back_providers")
		return
	}
	http.Redirect(w, r, "/admin/providers?notice=deleted", http.StatusSeeOther)
}
