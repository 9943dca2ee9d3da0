package oauth

import (
	"context"

	"github.com/ory/fosite"
)

// grantFilter keeps fosite from asking a token endpoint handler to populate
// the response of a grant it does not handle. fosite's NewAccessResponse asks
// every handler, and each one that does not handle the grant answers with
// ErrUnknownRequest wrapped with a stack trace: four captured stacks per
// token request, about a tenth of a client-credentials request's CPU
// (docs/performance.md, "Server CPU per operation"). Every handler authz
// composes answers ErrUnknownRequest, or nothing, exactly when
// CanHandleTokenEndpointRequest is false, so asking that first changes no
// outcome.
type grantFilter struct {
	fosite.TokenEndpointHandler
}

// PopulateTokenEndpointResponse implements fosite.TokenEndpointHandler.
func (g grantFilter) PopulateTokenEndpointResponse(ctx context.Context, req fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !g.CanHandleTokenEndpointRequest(ctx, req) {
		return fosite.ErrUnknownRequest
	}
	return g.TokenEndpointHandler.PopulateTokenEndpointResponse(ctx, req, resp)
}

// filterGrants wraps every handler in hs with grantFilter.
func filterGrants(hs fosite.TokenEndpointHandlers) fosite.TokenEndpointHandlers {
	out := make(fosite.TokenEndpointHandlers, len(hs))
	for i, h := range hs {
		out[i] = grantFilter{h}
	}
	return out
}
