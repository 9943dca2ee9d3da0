package oauth

import (
	"github.com/google/uuid"
	"github.com/ory/fosite"
)

// orderRequestID gives ar, a new grant (a code issued, client credentials),
// an ID that grows with time (UUID v7) in place of fosite's random one (v4). The
// token table is indexed by request ID: random IDs put each new token on a
// random page of that index, so every insert touches another page once the
// index is larger than the cache, and inserts slow as the table grows;
// ordered ones land on its last pages. Token requests that continue a grant
// (code exchange, refresh) keep the ID fosite gave them from it, which
// revoking the whole grant relies on.
func orderRequestID(ar fosite.Requester) {
	if id, err := uuid.NewV7(); err == nil {
		ar.SetID(id.String())
	}
}
