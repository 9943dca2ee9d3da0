package oauth

import (
	"net/http"
	"time"

	"github.com/ory/fosite"
)

// Pushed authorization requests (RFC 9126) through fosite's PAR handler. The
// client authenticates as at the token endpoint and pushes the request;
// authz checks it as the authorization endpoint would, keeps it in the store
// and answers with a request_uri that one later authorization request may
// name, within parLifetime, from the same client, once.

const (
	// parURIPrefix starts every request_uri authz hands out (RFC 9126 §2.2).
	parURIPrefix = "urn:ietf:params:oauth:request_uri:"
	// parLifetime is how long a request_uri may be redeemed.
	parLifetime = 60 * time.Second
)

// pushedAuthorize serves POST /oauth2/par.
func (p *Provider) pushedAuthorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// RFC 9126 §2.1: the parameters are the form body. fosite would read the
	// query too, credentials included (RFC 6749 §2.3.1 forbids them there).
	if r.URL.RawQuery != "" {
		p.pushError(w, r, nil, fosite.ErrInvalidRequest.WithHint("Send the pushed authorization request's parameters in the form body, not in the URL."))
		return
	}
	if name := repeatedParam(r.PostForm); name != "" {
		p.pushError(w, r, nil, errRepeated(name))
		return
	}
	// As at the authorization endpoint, checkPushed decides about state, not
	// fosite (see newAuthorizeRequest); the stand-in is not stored.
	if r.Form.Get("state") == "" {
		r.Form.Set("state", noState)
	}
	ar, err := p.fosite.NewPushedAuthorizeRequest(ctx, r)
	if a, ok := ar.(*fosite.AuthorizeRequest); ok && a.State == noState {
		a.State = ""
		a.Form.Del("state")
	}
	if err == nil {
		err = checkPushed(ar)
	}
	if err != nil {
		p.pushError(w, r, ar, err)
		return
	}
	resp, err := p.fosite.NewPushedAuthorizeResponse(ctx, ar, NewSession(""))
	if err != nil {
		p.pushError(w, r, ar, err)
		return
	}
	p.fosite.WritePushedAuthorizeResponse(ctx, w, ar, resp)
}

// checkPushed applies the authorization endpoint's own rules to a pushed
// request, so that nothing refused there can be pushed instead.
func checkPushed(ar fosite.AuthorizeRequester) error {
	form := ar.GetRequestForm()
	if form.Get("request") != "" {
		return fosite.ErrRequestNotSupported.WithHint("Request objects are not supported.")
	}
	c, ok := ar.GetClient().(Client)
	if !ok || !redirectRegistered(c.RedirectURIs, form.Get("redirect_uri")) {
		return fosite.ErrInvalidRequest.WithHint("The redirect_uri is missing or not registered for this client exactly.")
	}
	if err := checkPKCE(ar); err != nil {
		return err
	}
	if err := checkState(ar); err != nil {
		return err
	}
	return checkPromptAndMaxAge(form)
}

func (p *Provider) pushError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	if storeDown(err) {
		p.unavailable(w, r, err)
		return
	}
	p.logFailure(r, "pushed authorization request failed", err)
	p.fosite.WritePushedAuthorizeError(r.Context(), w, ar, err)
}
