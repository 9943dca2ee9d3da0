package login

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// The consent step: the user grants the relying application the scopes it
// asks for, once; a client marked to skip consent never asks.

// requestedScopes returns the scopes of the parked authorization request.
func requestedScopes(lt *store.LoginTransaction) []string {
	form, _ := url.ParseQuery(lt.AuthRequest)
	return strings.Fields(form.Get("scope"))
}

// needsConsent reports whether the parked request must ask the user: its
// client asks consent, and the scopes were not all granted before or the
// request says prompt=consent. A client the administrator marked to skip
// consent never asks, whatever the prompt (as Keycloak's "consent required"
// off).
func (p *Pipeline) needsConsent(ctx context.Context, lt *store.LoginTransaction) (bool, error) {
	if lt.AuthRequest == "" {
		return false, nil
	}
	c, err := p.Store.GetClient(ctx, lt.ClientID)
	if err != nil {
		return false, fmt.Errorf("login: client of transaction: %w", err)
	}
	if c.SkipConsent {
		return false, nil
	}
	if slices.Contains(prompts(lt), "consent") {
		return true, nil
	}
	return session.NeedsConsent(ctx, p.Store, lt.UserID, lt.ClientID, requestedScopes(lt))
}

// prompts returns the prompt values of the parked request.
func prompts(lt *store.LoginTransaction) []string {
	form, _ := url.ParseQuery(lt.AuthRequest)
	return strings.Fields(form.Get("prompt"))
}

// consentAnswered drops prompt=consent from the parked request once the user
// has answered it, so the request goes on instead of asking again.
func consentAnswered(lt *store.LoginTransaction) {
	form, _ := url.ParseQuery(lt.AuthRequest)
	rest := slices.DeleteFunc(strings.Fields(form.Get("prompt")), func(v string) bool { return v == "consent" })
	if len(rest) == 0 {
		form.Del("prompt")
	} else {
		form.Set("prompt", strings.Join(rest, " "))
	}
	lt.AuthRequest = form.Encode()
}

func (p *Pipeline) showConsent(w http.ResponseWriter, r *http.Request, st *state) {
	c, err := p.Store.GetClient(r.Context(), st.lt.ClientID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	name := c.Name
	if name == "" {
		name = c.ID
	}
	p.render(w, r, http.StatusOK, views.ConsentPage(st.lt.CSRF, name, requestedScopes(st.lt)))
}

// postConsent serves POST /login/consent.
func (p *Pipeline) postConsent(w http.ResponseWriter, r *http.Request, lt *store.LoginTransaction) {
	ctx := r.Context()
	st, ok := p.atStep(w, r, lt, stepConsent)
	if !ok {
		return
	}
	if r.PostFormValue("decision") != "allow" {
		p.deny(w, r, st)
		return
	}
	scopes := requestedScopes(lt)
	if old, err := p.Store.GetConsent(ctx, st.user.ID, lt.ClientID); err == nil {
		for _, s := range old.Scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	if err := p.Store.PutConsent(ctx, &store.Consent{UserID: st.user.ID, ClientID: lt.ClientID, Scopes: scopes, GrantedAt: p.now()}); err != nil {
		p.fail(w, r, err)
		return
	}
	p.audit(ctx, audit.ConsentGranted, st.user.ID, st.user.ID, lt.ClientID, strings.Join(scopes, " "))
	if slices.Contains(prompts(lt), "consent") {
		consentAnswered(lt)
		p.passed(w, r, lt)
		return
	}
	p.advance(w, r, lt)
}

// deny answers the parked request with access_denied, once.
func (p *Pipeline) deny(w http.ResponseWriter, r *http.Request, st *state) {
	lt := st.lt
	if !p.useUp(w, r, lt) {
		return
	}
	p.audit(r.Context(), audit.ConsentDenied, st.user.ID, st.user.ID, lt.ClientID, "")
	p.Resume.DenyAuthorization(w, r, lt, session.ErrAccessDenied)
}
