package oauth

import (
	"context"
	"errors"
	"testing"

	"github.com/ory/fosite"
)

// grantHandler is a token endpoint handler for one grant type that counts
// the responses it is asked to populate.
type grantHandler struct {
	grant     string
	populated int
}

func (h *grantHandler) PopulateTokenEndpointResponse(context.Context, fosite.AccessRequester, fosite.AccessResponder) error {
	h.populated++
	return nil
}
func (h *grantHandler) HandleTokenEndpointRequest(context.Context, fosite.AccessRequester) error {
	return nil
}
func (h *grantHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }
func (h *grantHandler) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne(h.grant)
}

func TestGrantFilterAsksOnlyTheGrantsHandler(t *testing.T) {
	cc, code := &grantHandler{grant: "client_credentials"}, &grantHandler{grant: "authorization_code"}
	hs := filterGrants(fosite.TokenEndpointHandlers{cc, code})
	req := fosite.NewAccessRequest(nil)
	req.GrantTypes = fosite.Arguments{"client_credentials"}
	for _, h := range hs {
		err := h.PopulateTokenEndpointResponse(t.Context(), req, fosite.NewAccessResponse())
		if err != nil && !errors.Is(err, fosite.ErrUnknownRequest) {
			t.Fatalf("PopulateTokenEndpointResponse: %v", err)
		}
	}
	if cc.populated != 1 || code.populated != 0 {
		t.Errorf("populated by the client-credentials handler %d times, by the code handler %d; want 1 and 0", cc.populated, code.populated)
	}
}

// TestProviderFiltersEveryGrant: every token endpoint handler the provider
// composes is filtered, so that fosite captures no stack per handler that
// does not handle the request.
func TestProviderFiltersEveryGrant(t *testing.T) {
	p := newEndpointEnv(t).p
	hs := p.fosite.(*fosite.Fosite).Config.GetTokenEndpointHandlers(t.Context())
	if len(hs) == 0 {
		t.Fatal("no token endpoint handlers")
	}
	for i, h := range hs {
		if _, ok := h.(grantFilter); !ok {
			t.Errorf("token endpoint handler %d is %T, not filtered", i, h)
		}
	}
}
