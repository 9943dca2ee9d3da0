package oauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/ory/fosite"
)

// ErrNotClientToken means an access token is active but was not obtained by a
// client for itself through the client_credentials grant.
var ErrNotClientToken = errors.New("oauth: not a client_credentials access token")

// IntrospectAccessToken returns the client and the granted scopes of an
// active access token that a client obtained for itself (client_credentials),
// for the admin API, which authorizes machines in-process rather than through
// /oauth2/introspect. A token issued on a user's behalf is refused with
// ErrNotClientToken: it carries what that user consented to, never the
// client's own authority, even when its scopes look the same.
func (p *Provider) IntrospectAccessToken(ctx context.Context, token string) (clientID string, scopes []string, err error) {
	use, ar, err := p.fosite.IntrospectToken(ctx, token, fosite.AccessToken, NewSession(""))
	if err != nil {
		return "", nil, fmt.Errorf("oauth: introspect access token: %w", err)
	}
	if use != fosite.AccessToken {
		return "", nil, fmt.Errorf("oauth: introspect access token: a %s token is not an access token", use)
	}
	clientID = ar.GetClient().GetID()
	// The token endpoint gives client_credentials tokens the client as subject;
	// a user's token has the user.
	if ar.GetRequestForm().Get("grant_type") != "client_credentials" || ar.GetSession().GetSubject() != clientID {
		return "", nil, ErrNotClientToken
	}
	return clientID, ar.GetGrantedScopes(), nil
}
