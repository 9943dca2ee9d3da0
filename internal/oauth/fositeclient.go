package oauth

import (
	"github.com/ory/fosite"

	"github.com/authz/authz/internal/store"
)

// Client adapts a store.Client to fosite.Client.
type Client struct{ *store.Client }

var _ fosite.Client = Client{}

// GetID implements fosite.Client.
func (c Client) GetID() string { return c.ID }

// GetHashedSecret implements fosite.Client.
func (c Client) GetHashedSecret() []byte { return c.SecretHash }

// GetRedirectURIs implements fosite.Client.
func (c Client) GetRedirectURIs() []string { return c.RedirectURIs }

// GetGrantTypes implements fosite.Client.
func (c Client) GetGrantTypes() fosite.Arguments { return c.GrantTypes }

// GetResponseTypes implements fosite.Client: authz supports the code flow only.
func (c Client) GetResponseTypes() fosite.Arguments { return fosite.Arguments{"code"} }

// GetScopes implements fosite.Client.
func (c Client) GetScopes() fosite.Arguments { return c.Scopes }

// IsPublic implements fosite.Client.
func (c Client) IsPublic() bool { return c.Public }

// GetAudience implements fosite.Client: tokens are meant for the client
// itself and the resource servers it names.
func (c Client) GetAudience() fosite.Arguments {
	return append(fosite.Arguments{c.ID}, c.Audiences...)
}

// responseModes are the response modes every client may ask for.
var responseModes = []fosite.ResponseModeType{fosite.ResponseModeDefault, fosite.ResponseModeQuery, fosite.ResponseModeFragment, fosite.ResponseModeFormPost}

// GetResponseModes implements fosite.ResponseModeClient. Without it fosite
// refuses any response_mode sent explicitly, even query (which oidc-client-ts
// sends by default).
func (c Client) GetResponseModes() []fosite.ResponseModeType { return responseModes }
