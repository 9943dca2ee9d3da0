package admin

import (
	"net/http"
	"time"

	"github.com/authz/authz/internal/store"
)

// apiClient is a relying application in the API. ClientSecret appears only
// in the answers that create or rotate it.
type apiClient struct {
	ClientID               string    `json:"client_id"`
	ClientSecret           string    `json:"client_secret,omitempty"`
	Name                   string    `json:"name"`
	Type                   string    `json:"type"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	GrantTypes             []string  `json:"grant_types"`
	Scopes                 []string  `json:"scopes"`
	SkipConsent            bool      `json:"skip_consent"`
	Disabled               bool      `json:"disabled"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`
}

// ClientView is how the API and the CLI show c, with secret when it was
// just made ("" otherwise).
func ClientView(c *store.Client, secret string) any { return clientJSON(c, secret) }

func clientJSON(c *store.Client, secret string) apiClient {
	return apiClient{ClientID: c.ID, ClientSecret: secret, Name: c.Name, Type: ClientType(c),
		RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		GrantTypes: nonNil(c.GrantTypes), Scopes: nonNil(c.Scopes), SkipConsent: c.SkipConsent, Disabled: c.Disabled,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// nonNil shows an empty list as [] rather than null.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// clientTargets maps the JSON fields of a client body to p.
func clientTargets(p *ClientPatch) fieldTargets {
	return fieldTargets{
		"client_id": &p.ID, "name": &p.Name, "type": &p.Type, "redirect_uris": &p.RedirectURIs,
		"post_logout_redirect_uris": &p.PostLogoutRedirectURIs, "grant_types": &p.GrantTypes, "scopes": &p.Scopes,
		"skip_consent": &p.SkipConsent, "disabled": &p.Disabled,
	}
}

func (c *Console) clientRoutes() []apiRoute {
	return []apiRoute{
		{"GET", "/clients", c.apiListClients},
		{"POST", "/clients", c.apiCreateClient},
		{"GET", "/clients/{id}", c.apiGetClient},
		{"PATCH", "/clients/{id}", c.apiUpdateClient},
		{"DELETE", "/clients/{id}", c.apiDeleteClient},
		{"POST", "/clients/{id}/rotate-secret", c.apiRotateSecret},
	}
}

func (c *Console) apiListClients(w http.ResponseWriter, r *http.Request, _ *caller) {
	pg, ok := readQuery(w, r, "q", "disabled")
	if !ok {
		return
	}
	disabled, ok := boolFilter(w, r, "disabled")
	if !ok {
		return
	}
	clients, total, err := c.Service().ListClients(r.Context(), ClientFilter{Query: r.URL.Query().Get("q"), Disabled: disabled}, pg.offset, pg.limit)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	out := list[apiClient]{Items: []apiClient{}, Total: total, Offset: pg.offset, Limit: pg.limit}
	for _, cl := range clients {
		out.Items = append(out.Items, clientJSON(cl, ""))
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *Console) apiCreateClient(w http.ResponseWriter, r *http.Request, who *caller) {
	var p ClientPatch
	if !decodeBody(w, r, clientTargets(&p)) {
		return
	}
	cl, secret, err := c.Service().CreateClient(r.Context(), who.actor, p)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	w.Header().Set("Location", APIPrefix+"/clients/"+cl.ID)
	writeJSON(w, http.StatusCreated, clientJSON(cl, secret))
}

func (c *Console) apiGetClient(w http.ResponseWriter, r *http.Request, _ *caller) {
	cl, err := c.Service().GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, clientJSON(cl, ""))
}

func (c *Console) apiUpdateClient(w http.ResponseWriter, r *http.Request, who *caller) {
	var p ClientPatch
	if !decodeBody(w, r, clientTargets(&p)) {
		return
	}
	if _, err := c.Service().UpdateClient(r.Context(), who.actor, r.PathValue("id"), p); err != nil {
		c.apiError(w, r, err)
		return
	}
	c.apiGetClient(w, r, who)
}

func (c *Console) apiDeleteClient(w http.ResponseWriter, r *http.Request, who *caller) {
	if err := c.Service().DeleteClient(r.Context(), who.actor, r.PathValue("id")); err != nil {
		c.apiError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *Console) apiRotateSecret(w http.ResponseWriter, r *http.Request, who *caller) {
	id := r.PathValue("id")
	secret, err := c.Service().RotateSecret(r.Context(), who.actor, id)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	cl, err := c.Service().GetClient(r.Context(), id)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, clientJSON(cl, secret))
}
