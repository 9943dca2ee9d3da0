package oauth

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/ory/fosite"
)

// activeToken is the RFC 7662 answer about an active token: the members
// fosite's WriteIntrospectionResponse sends, which for authz's sessions
// (openid.DefaultSession, which carries no extra claims) are exactly these,
// and what kind of token it is: token_type Bearer for an access token only
// (RFC 7662 §2.2), so that a resource server whose own client introspects
// the application's refresh tokens can tell one from a bearer token, and
// token_use as Ory Hydra names it.
// Encoded from a struct, not fosite's map: encoding/json encodes a struct
// from a cached plan, where a map costs two allocations per member and a
// sort, on the endpoint resource servers call on every request they serve.
type activeToken struct {
	Active   bool     `json:"active"`
	Aud      []string `json:"aud,omitempty"`
	ClientID string   `json:"client_id,omitempty"`
	Exp      int64    `json:"exp,omitempty"`
	Iat      int64    `json:"iat,omitempty"`
	Scope    string   `json:"scope,omitempty"`
	Sub      string   `json:"sub,omitempty"`
	// Members in name order, as fosite's map encodes them.
	TokenType string `json:"token_type,omitempty"`
	TokenUse  string `json:"token_use,omitempty"`
	Username  string `json:"username,omitempty"`
}

// The headers of the introspection and token answers, as fosite sends them,
// shared by every response: Header replaces a slice on Set and Add appends to
// a full one, so nothing writes into them.
var (
	fositeJSON = []string{"application/json;charset=UTF-8"}
	noStore    = []string{"no-store"}
	noCache    = []string{"no-cache"}
)

// writeIntrospection answers an introspection request about the token (of
// type use) of ar, or that it is not active when ar is nil.
func writeIntrospection(w http.ResponseWriter, use fosite.TokenUse, ar fosite.Requester) {
	h := w.Header()
	h["Content-Type"] = fositeJSON
	h["Cache-Control"] = noStore
	h["Pragma"] = noCache
	// The status is sent with the first byte: an encoding error can only be
	// a client gone.
	_ = json.NewEncoder(w).Encode(introspectionOf(use, ar))
}

// introspectionOf tells what may be said about the token (of type use) of
// ar; the zero value says only that it is not active.
func introspectionOf(use fosite.TokenUse, ar fosite.Requester) activeToken {
	if ar == nil {
		return activeToken{}
	}
	s := ar.GetSession()
	t := activeToken{
		Active:   true,
		Aud:      ar.GetGrantedAudience(),
		ClientID: ar.GetClient().GetID(),
		Scope:    strings.Join(ar.GetGrantedScopes(), " "),
		Sub:      s.GetSubject(),
		TokenUse: string(use),
		Username: s.GetUsername(),
	}
	if use == fosite.AccessToken {
		t.TokenType = "Bearer"
	}
	if exp := s.GetExpiresAt(use); !exp.IsZero() {
		t.Exp = exp.Unix()
	}
	if iat := ar.GetRequestedAt(); !iat.IsZero() {
		t.Iat = iat.Unix()
	}
	return t
}
