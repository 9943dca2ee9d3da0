package admin

import (
	"net/http"
	"time"

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
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// ProviderView is how the API and the CLI show p.
func ProviderView(p *store.Provider) any { return providerJSON(p) }

func providerJSON(p *store.Provider) apiProvider {
	return apiProvider{Alias: p.Alias, DisplayName: p.DisplayName, IssuerURL: p.IssuerURL, ClientID: p.ClientID,
		ClientSecretSet: len(p.SealedClientSecret) > 0, Scopes: nonNil(p.Scopes), ClaimUsername: p.ClaimUsername,
		ClaimEmail: p.ClaimEmail, ClaimFirstName: p.ClaimFirstName, ClaimLastName: p.ClaimLastName,
		LinkPolicy: p.LinkPolicy, Enabled: p.Enabled, RequireOTP: p.RequireOTP, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

// providerTargets maps the JSON fields of a provider body to p.
func providerTargets(p *ProviderPatch) fieldTargets {
	return fieldTargets{
		"alias": &p.Alias, "display_name": &p.DisplayName, "issuer_url": &p.IssuerURL, "client_id": &p.ClientID,
		"client_secret": &p.ClientSecret, "scopes": &p.Scopes, "claim_username": &p.ClaimUsername,
		"claim_email": &p.ClaimEmail, "claim_first_name": &p.ClaimFirstName, "claim_last_name": &p.ClaimLastName,
		"link_policy": &p.LinkPolicy, "enabled": &p.Enabled, "require_otp": &p.RequireOTP,
	}
}

func (c *Console) providerRoutes() []apiRoute {
	return []apiRoute{
		{"GET", "/providers", c.apiListProviders},
		{"POST", "/providers", c.apiCreateProvider},
		{"GET", "/providers/{alias}", c.apiGetProvider},
		{"PATCH", "/providers/{alias}", c.apiUpdateProvider},
		{"DELETE", "/providers/{alias}", c.apiDeleteProvider},
		{"POST", "/providers/{alias}/test-discovery", c.apiTestDiscovery},
	}
}

func (c *Console) apiListProviders(w http.ResponseWriter, r *http.Request, _ *caller) {
	pg, ok := readQuery(w, r, "enabled")
	if !ok {
		return
	}
	enabled, ok := boolFilter(w, r, "enabled")
	if !ok {
		return
	}
	providers, total, err := c.Service().ListProviders(r.Context(), enabled, pg.offset, pg.limit)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	out := list[apiProvider]{Items: []apiProvider{}, Total: total, Offset: pg.offset, Limit: pg.limit}
	for _, p := range providers {
		out.Items = append(out.Items, providerJSON(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *Console) apiCreateProvider(w http.ResponseWriter, r *http.Request, who *caller) {
	var p ProviderPatch
	if !decodeBody(w, r, providerTargets(&p)) {
		return
	}
	pr, err := c.Service().CreateProvider(r.Context(), who.actor, p)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	w.Header().Set("Location", APIPrefix+"/providers/"+pr.Alias)
	writeJSON(w, http.StatusCreated, providerJSON(pr))
}

func (c *Console) apiGetProvider(w http.ResponseWriter, r *http.Request, _ *caller) {
	pr, err := c.Service().GetProvider(r.Context(), r.PathValue("alias"))
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, providerJSON(pr))
}

func (c *Console) apiUpdateProvider(w http.ResponseWriter, r *http.Request, who *caller) {
	var p ProviderPatch
	if !decodeBody(w, r, providerTargets(&p)) {
		return
	}
	if _, err := c.Service().UpdateProvider(r.Context(), who.actor, r.PathValue("alias"), p); err != nil {
		c.apiError(w, r, err)
		return
	}
	c.apiGetProvider(w, r, who)
}

func (c *Console) apiDeleteProvider(w http.ResponseWriter, r *http.Request, who *caller) {
	if err := c.Service().DeleteProvider(r.Context(), who.actor, r.PathValue("alias")); err != nil {
		c.apiError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *Console) apiTestDiscovery(w http.ResponseWriter, r *http.Request, _ *caller) {
	res, err := c.Service().DiscoverProvider(r.Context(), r.PathValue("alias"))
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
