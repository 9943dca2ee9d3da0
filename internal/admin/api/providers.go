package api

import (
	"net/http"
	"time"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/httpjson"
	"github.com/authz/authz/internal/store"
)

// apiProvider is an upstream provider in the API. The client secret is
// write-only: only whether one is set shows.
type apiProvider struct {
	Alias           string    `json:"alias"`
	DisplayName     string    `json:"display_name"`
	IssuerURL       string    `json:"issuer_url"`
	ClientID        string    `json:"client_id"`
	ClientSecretSet bool      `json:"client_secret_set"`
	Scopes          []string  `json:"scopes"`
	ClaimUsername   string    `json:"claim_username"`
	ClaimEmail      string    `json:"claim_email"`
	ClaimFirstName  string    `json:"claim_first_name"`
	ClaimLastName   string    `json:"claim_last_name"`
	LinkPolicy      string    `json:"link_policy"`
	Enabled         bool      `json:"enabled"`
	RequireOTP      bool      `json:"require_otp"`
	SyncProfile     bool      `json:"sync_profile"`
	RedirectURI     string    `json:"redirect_uri"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// ProviderView is how the API and the CLI show p; redirectURI is the one to
// register at the provider (admin.Service.UpstreamRedirectURI).
func ProviderView(p *store.Provider, redirectURI string) any { return providerJSON(p, redirectURI) }

func providerJSON(p *store.Provider, redirectURI string) apiProvider {
	return apiProvider{Alias: p.Alias, DisplayName: p.DisplayName, IssuerURL: p.IssuerURL, ClientID: p.ClientID,
		ClientSecretSet: len(p.SealedClientSecret) > 0, Scopes: nonNil(p.Scopes), ClaimUsername: p.ClaimUsername,
		ClaimEmail: p.ClaimEmail, ClaimFirstName: p.ClaimFirstName, ClaimLastName: p.ClaimLastName,
		LinkPolicy: p.LinkPolicy, Enabled: p.Enabled, RequireOTP: p.RequireOTP, SyncProfile: p.SyncProfile, RedirectURI: redirectURI, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

// providerTargets maps the JSON fields of a provider body to p.
func providerTargets(p *admin.ProviderPatch) fieldTargets {
	return fieldTargets{
		"alias": &p.Alias, "display_name": &p.DisplayName, "issuer_url": &p.IssuerURL, "client_id": &p.ClientID,
		"client_secret": &p.ClientSecret, "scopes": &p.Scopes, "claim_username": &p.ClaimUsername,
		"claim_email": &p.ClaimEmail, "claim_first_name": &p.ClaimFirstName, "claim_last_name": &p.ClaimLastName,
		"link_policy": &p.LinkPolicy, "enabled": &p.Enabled, "require_otp": &p.RequireOTP, "sync_profile": &p.SyncProfile,
	}
}

func (a *API) providerRoutes() []route {
	return []route{
		{"GET", "/providers", a.listProviders},
		{"POST", "/providers", a.createProvider},
		{"GET", "/providers/{alias}", a.getProvider},
		{"PATCH", "/providers/{alias}", a.updateProvider},
		{"DELETE", "/providers/{alias}", a.deleteProvider},
		{"POST", "/providers/{alias}/test-discovery", a.testDiscovery},
	}
}

func (a *API) listProviders(w http.ResponseWriter, r *http.Request, _ *caller) {
	pg, ok := readPage(w, r, "enabled")
	if !ok {
		return
	}
	enabled, ok := boolFilter(w, r, "enabled")
	if !ok {
		return
	}
	providers, next, err := a.Service.ListProviders(r.Context(), enabled, pg)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	items := make([]apiProvider, 0, len(providers))
	for _, p := range providers {
		items = append(items, providerJSON(p, a.Service.UpstreamRedirectURI(p.Alias)))
	}
	writePage(w, r, items, next, pg)
}

func (a *API) createProvider(w http.ResponseWriter, r *http.Request, who *caller) {
	var p admin.ProviderPatch
	if !decodeBody(w, r, providerTargets(&p)) {
		return
	}
	pr, err := a.Service.CreateProvider(r.Context(), who.actor, p)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	w.Header().Set("Location", Prefix+"/providers/"+pr.Alias)
	httpjson.Write(w, http.StatusCreated, providerJSON(pr, a.Service.UpstreamRedirectURI(pr.Alias)))
}

func (a *API) getProvider(w http.ResponseWriter, r *http.Request, _ *caller) {
	pr, err := a.Service.GetProvider(r.Context(), r.PathValue("alias"))
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, providerJSON(pr, a.Service.UpstreamRedirectURI(pr.Alias)))
}

func (a *API) updateProvider(w http.ResponseWriter, r *http.Request, who *caller) {
	var p admin.ProviderPatch
	if !decodeBody(w, r, providerTargets(&p)) {
		return
	}
	if _, err := a.Service.UpdateProvider(r.Context(), who.actor, r.PathValue("alias"), p); err != nil {
		a.refuse(w, r, err)
		return
	}
	a.getProvider(w, r, who)
}

func (a *API) deleteProvider(w http.ResponseWriter, r *http.Request, who *caller) {
	if err := a.Service.DeleteProvider(r.Context(), who.actor, r.PathValue("alias")); err != nil {
		a.refuse(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) testDiscovery(w http.ResponseWriter, r *http.Request, _ *caller) {
	res, err := a.Service.DiscoverProvider(r.Context(), r.PathValue("alias"))
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, res)
}
