package login

// The upstream step: a login through an administrator-configured OpenID
// provider, which links or creates the local user and, unless the provider
// requires it, skips the local code step.

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/authz/authz/internal/i18n"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/federation"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// startUpstream serves GET /login/upstream/{alias}: it records the round trip in
// the login transaction and sends the browser to the upstream provider. An
// alias that names no enabled provider stores nothing: anyone can make up
// aliases, and each would otherwise be a login transaction.
func (p *Pipeline) startUpstream(w http.ResponseWriter, r *http.Request) {
	pr, err := p.Store.GetProvider(r.Context(), r.PathValue("alias"))
	if errors.Is(err, store.ErrNotFound) || err == nil && !pr.Enabled {
		p.errorPage(w, r, http.StatusNotFound, "err.signin_failed", "fed.unavailable", "/login", "login.back")
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	lt, err := p.transactionOrNew(w, r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if lt.Purpose != store.PurposeLogin || lt.UserID != "" {
		p.advance(w, r, lt)
		return
	}
	target, err := p.Federation.Begin(r.Context(), lt, r.PathValue("alias"))
	if err != nil {
		p.upstreamFailed(w, r, lt, r.PathValue("alias"), err)
		return
	}
	if err := p.Store.UpdateLoginTransaction(r.Context(), lt); err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// upstreamCallback serves GET /login/upstream/{alias}/callback.
func (p *Pipeline) upstreamCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	alias := r.PathValue("alias")
	lt, err := p.transaction(r)
	if errors.Is(err, errNoTransaction) {
		p.errorPage(w, r, http.StatusBadRequest, "err.signin_failed", "err.upstream_stray", "/account", "login.again")
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	res, err := p.Federation.Complete(ctx, lt, alias, r.URL.Query())
	// The upstream fields are cleared whatever the outcome: a callback works once.
	if uerr := p.Store.UpdateLoginTransaction(ctx, lt); uerr != nil {
		p.fail(w, r, uerr)
		return
	}
	if err != nil {
		p.upstreamFailed(w, r, lt, alias, err)
		return
	}
	if res.Created {
		p.audit(ctx, audit.UserCreated, "", res.User.ID, lt.ClientID, "provider="+alias)
	}
	if res.Linked || res.Created {
		p.audit(ctx, audit.FederationLinked, "", res.User.ID, lt.ClientID, "provider="+alias)
	}
	lt.UserID, lt.UpstreamAlias, lt.AuthTime = res.User.ID, alias, p.now()
	// What the upstream says is kept apart from the local factors: an upstream
	// "otp" must never pass for the local code step or the admin's OTP gate.
	lt.AMR = []string{session.AMRFederated}
	for _, m := range res.AMR {
		if m := session.UpstreamAMR(m); !slices.Contains(lt.AMR, m) {
			lt.AMR = append(lt.AMR, m)
		}
	}
	if err := p.Store.UpdateLoginTransaction(ctx, lt); err != nil {
		p.fail(w, r, err)
		return
	}
	p.audit(ctx, audit.FederationLogin, res.User.ID, res.User.ID, lt.ClientID, "provider="+alias)
	p.advance(w, r, lt)
}

// upstreamFailed ends a failed upstream login; nothing was created or
// linked. A relying application that asked for the login hears why on its
// redirect URI (access_denied when the login was refused, server_error when
// the provider failed), as it would from any other failed login; without one
// the sign-in page shows the reason.
func (p *Pipeline) upstreamFailed(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction, alias string, err error) {
	var fe *federation.Error
	if !errors.As(err, &fe) {
		p.fail(w, r, err)
		return
	}
	p.Log.WarnContext(r.Context(), "upstream login failed", "provider", alias, "err", err)
	p.audit(r.Context(), audit.FederationFailure, "", "", lt.ClientID, "provider="+alias+" reason="+strings.TrimSuffix(fe.Reason, "."))
	if lt.AuthRequest == "" {
		p.showPassword(w, r, &state{lt: lt}, i18n.T(r.Context(), fe.Key, "Provider", fe.Provider), http.StatusBadGateway)
		return
	}
	if !p.useUp(w, r, lt) {
		return
	}
	p.Resume.DenyAuthorization(w, r, lt, &session.UpstreamFailure{Denied: fe.Denied, Reason: fe.Reason})
}

// providerButtons lists the enabled upstream providers for the login page.
// A store that cannot list them cannot sign anyone in either: the error
// fails the page rather than hide the buttons.
func (p *Pipeline) providerButtons(r *http.Request) ([]views.ProviderButton, error) {
	if p.Federation == nil {
		return nil, nil
	}
	list, err := p.Store.ListProviders(r.Context())
	if err != nil {
		return nil, err
	}
	var buttons []views.ProviderButton
	for _, pr := range list {
		if pr.Enabled {
			buttons = append(buttons, views.ProviderButton{ID: "provider-" + pr.Alias, Href: "/login/upstream/" + url.PathEscape(pr.Alias), Name: pr.DisplayName})
		}
	}
	return buttons, nil
}
