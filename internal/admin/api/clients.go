package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/httpjson"
	"github.com/authz/authz/internal/store"
)

// apiClient is a relying application in the API. ClientSecret appears only
// in the answers that create or rotate it.
type apiClient struct {
	ClientID               string   `json:"client_id"`
	ClientSecret           string   `json:"client_secret,omitempty"`
	Name                   string   `json:"name"`
	Type                   string   `json:"type"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	GrantTypes             []string `json:"grant_types"`
	Scopes                 []string `json:"scopes"`
	SkipConsent            bool     `json:"skip_consent"`
	IntrospectAny          bool     `json:"introspect_any"`
	Disabled               bool     `json:"disabled"`
	// The settings of issue 16.
	AccessTokenFormat                string   `json:"access_token_format"`
	Audiences                        []string `json:"audiences"`
	RequirePAR                       bool     `json:"require_pushed_authorization_requests"`
	TokenEndpointAuthMethod          string   `json:"token_endpoint_auth_method"`
	JWKS                             any      `json:"jwks"`
	JWKSURI                          string   `json:"jwks_uri"`
	BackchannelLogoutURI             string   `json:"backchannel_logout_uri"`
	BackchannelLogoutSessionRequired bool     `json:"backchannel_logout_session_required"`
	// IDTokenAlg is empty for the server's default (tokens.signing_algorithm).
	IDTokenAlg string    `json:"id_token_signed_response_alg"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// ClientView is how the API and the CLI show c, with secret when it was
// just made ("" otherwise).
func ClientView(c *store.Client, secret string) any { return clientJSON(c, secret) }

func clientJSON(c *store.Client, secret string) apiClient {
	v := apiClient{ClientID: c.ID, ClientSecret: secret, Name: c.Name, Type: admin.ClientType(c),
		RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		GrantTypes: nonNil(c.GrantTypes), Scopes: nonNil(c.Scopes), SkipConsent: c.SkipConsent, IntrospectAny: c.IntrospectAny, Disabled: c.Disabled,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		AccessTokenFormat: c.AccessTokenFormat, Audiences: nonNil(c.Audiences), RequirePAR: c.RequirePAR,
		TokenEndpointAuthMethod: admin.AuthMethod(c), JWKSURI: c.JWKSURI,
		BackchannelLogoutURI: c.BackchannelLogoutURI, BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,
		IDTokenAlg: c.IDTokenAlg}
	if v.AccessTokenFormat == "" {
		v.AccessTokenFormat = store.AccessTokenOpaque
	}
	if c.JWKS != "" {
		v.JWKS = json.RawMessage(c.JWKS)
	}
	return v
}

// jwksTarget takes the jwks field as a JSON object (as RFC 7591 has it), or
// as a string holding one; "" removes the keys.
type jwksTarget struct{ dst **string }

func (t *jwksTarget) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) != nil {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		s = string(b)
	}
	*t.dst = &s
	return nil
}

// nonNil shows an empty list as [] rather than null.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// clientTargets maps the JSON fields of a client body to p.
func clientTargets(p *admin.ClientPatch) fieldTargets {
	return fieldTargets{
		"client_id": &p.ID, "name": &p.Name, "type": &p.Type, "redirect_uris": &p.RedirectURIs,
		"post_logout_redirect_uris": &p.PostLogoutRedirectURIs, "grant_types": &p.GrantTypes, "scopes": &p.Scopes,
		"skip_consent": &p.SkipConsent, "introspect_any": &p.IntrospectAny, "disabled": &p.Disabled,
		"access_token_format": &p.AccessTokenFormat, "audiences": &p.Audiences,
		"require_pushed_authorization_requests": &p.RequirePAR, "token_endpoint_auth_method": &p.TokenAuthMethod,
		"jwks": &jwksTarget{dst: &p.JWKS}, "jwks_uri": &p.JWKSURI, "backchannel_logout_uri": &p.BackchannelLogoutURI,
		"backchannel_logout_session_required": &p.BackchannelLogoutSessionRequired,
		"id_token_signed_response_alg":        &p.IDTokenAlg,
	}
}

func (a *API) clientRoutes() []route {
	return []route{
		{"GET", "/clients", a.listClients},
		{"POST", "/clients", a.createClient},
		{"GET", "/clients/{id}", a.getClient},
		{"PATCH", "/clients/{id}", a.updateClient},
		{"DELETE", "/clients/{id}", a.deleteClient},
		{"POST", "/clients/{id}/rotate-secret", a.rotateSecret},
	}
}

func (a *API) listClients(w http.ResponseWriter, r *http.Request, _ *caller) {
	pg, ok := readPage(w, r, "q", "disabled")
	if !ok {
		return
	}
	disabled, ok := boolFilter(w, r, "disabled")
	if !ok {
		return
	}
	clients, next, err := a.Service.ListClients(r.Context(), admin.ClientFilter{Query: r.URL.Query().Get("q"), Disabled: disabled}, pg)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	items := make([]apiClient, 0, len(clients))
	for _, cl := range clients {
		items = append(items, clientJSON(cl, ""))
	}
	writePage(w, r, items, next, pg)
}

func (a *API) createClient(w http.ResponseWriter, r *http.Request, who *caller) {
	var p admin.ClientPatch
	if !decodeBody(w, r, clientTargets(&p)) {
		return
	}
	cl, secret, err := a.Service.CreateClient(r.Context(), who.actor, p)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	w.Header().Set("Location", Prefix+"/clients/"+cl.ID)
	httpjson.Write(w, http.StatusCreated, clientJSON(cl, secret))
}

func (a *API) getClient(w http.ResponseWriter, r *http.Request, _ *caller) {
	cl, err := a.Service.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, clientJSON(cl, ""))
}

func (a *API) updateClient(w http.ResponseWriter, r *http.Request, who *caller) {
	var p admin.ClientPatch
	if !decodeBody(w, r, clientTargets(&p)) {
		return
	}
	if _, err := a.Service.UpdateClient(r.Context(), who.actor, r.PathValue("id"), p); err != nil {
		a.refuse(w, r, err)
		return
	}
	a.getClient(w, r, who)
}

func (a *API) deleteClient(w http.ResponseWriter, r *http.Request, who *caller) {
	if err := a.Service.DeleteClient(r.Context(), who.actor, r.PathValue("id")); err != nil {
		a.refuse(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request, who *caller) {
	id := r.PathValue("id")
	secret, err := a.Service.RotateSecret(r.Context(), who.actor, id)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	cl, err := a.Service.GetClient(r.Context(), id)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, clientJSON(cl, secret))
}
