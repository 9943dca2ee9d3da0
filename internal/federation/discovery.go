// Package federation signs users in through administrator-configured upstream
// OpenID providers (coreos/go-oidc): the redirect with state, nonce and PKCE,
// the callback and ID token verification, and linking or provisioning the
// local account.
package federation

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// upstreamTimeout bounds every call to an upstream provider, so a slow or dead
// provider costs a user a clear error page, not a hung request.
const upstreamTimeout = 10 * time.Second

// httpClient is used for every upstream call.
var httpClient = &http.Client{Timeout: upstreamTimeout}

// ValidateIssuerURL checks the form of an upstream issuer URL.
func ValidateIssuerURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return fmt.Errorf("%q is not an absolute URL", raw)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%q must use https", raw)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q must not have a query or fragment", raw)
	}
	return nil
}

// ErrDiscovery means the upstream provider's discovery document could not be
// fetched or did not match its issuer URL.
var ErrDiscovery = errors.New("federation: discovery failed")

// Discover fetches and checks the provider's discovery document.
func Discover(ctx context.Context, issuerURL string) (*oidc.Provider, error) {
	if err := ValidateIssuerURL(issuerURL); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDiscovery, err)
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, httpClient), upstreamTimeout)
	defer cancel()
	p, err := oidc.NewProvider(ctx, issuerURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrDiscovery, issuerURL, err)
	}
	return p, nil
}
