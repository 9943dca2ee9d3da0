package console

import (
	"net/http"
	"strings"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// readProviderForm takes the provider fields from a parsed POST form; the
// secret stays in the request, never in the form shown back.
func readProviderForm(r *http.Request) views.AdminProviderForm {
	f := r.PostForm
	return views.AdminProviderForm{
		Alias:          strings.TrimSpace(f.Get("alias")),
		DisplayName:    strings.TrimSpace(f.Get("display_name")),
		IssuerURL:      strings.TrimSpace(f.Get("issuer_url")),
		ClientID:       strings.TrimSpace(f.Get("client_id")),
		Scopes:         f.Get("scopes"),
		ClaimUsername:  strings.TrimSpace(f.Get("claim_username")),
		ClaimEmail:     strings.TrimSpace(f.Get("claim_email")),
		ClaimFirstName: strings.TrimSpace(f.Get("claim_first_name")),
		ClaimLastName:  strings.TrimSpace(f.Get("claim_last_name")),
		LinkPolicy:     strings.TrimSpace(f.Get("link_policy")),
		Enabled:        f.Get("enabled") != "",
		RequireOTP:     f.Get("require_otp") != "",
		SyncProfile:    f.Get("sync_profile") != "",
	}
}

// providerPatchOfForm sets every field of the form. An empty secret field
// keeps the stored secret; "Remove the stored secret" removes it.
func providerPatchOfForm(r *http.Request, f views.AdminProviderForm) admin.ProviderPatch {
	scopes := splitScopes(f.Scopes)
	p := admin.ProviderPatch{DisplayName: &f.DisplayName, IssuerURL: &f.IssuerURL, ClientID: &f.ClientID, Scopes: &scopes,
		ClaimUsername: &f.ClaimUsername, ClaimEmail: &f.ClaimEmail, ClaimFirstName: &f.ClaimFirstName,
		ClaimLastName: &f.ClaimLastName, LinkPolicy: &f.LinkPolicy, Enabled: &f.Enabled, RequireOTP: &f.RequireOTP, SyncProfile: &f.SyncProfile}
	switch secret := r.PostFormValue("client_secret"); {
	case secret != "":
		p.ClientSecret = &secret
	case r.PostFormValue("clear_secret") != "":
		p.ClientSecret = &secret
	}
	return p
}

// providerFormOf is the form showing pr as stored.
func providerFormOf(pr *store.Provider) views.AdminProviderForm {
	return views.AdminProviderForm{
		Alias: pr.Alias, DisplayName: pr.DisplayName, IssuerURL: pr.IssuerURL, ClientID: pr.ClientID,
		Scopes: strings.Join(pr.Scopes, " "), ClaimUsername: pr.ClaimUsername, ClaimEmail: pr.ClaimEmail,
		ClaimFirstName: pr.ClaimFirstName, ClaimLastName: pr.ClaimLastName, LinkPolicy: pr.LinkPolicy,
		Enabled: pr.Enabled, RequireOTP: pr.RequireOTP, SyncProfile: pr.SyncProfile,
	}
}
