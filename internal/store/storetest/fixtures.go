package storetest

import (
	"time"

	"github.com/authz/authz/internal/store"
)

// The full* constructors set every field to a non-zero value, so a round trip
// of one of them covers every column of its table.

func fullUser(name string) *store.User {
	return &store.User{
		ID:           store.NewID(),
		Username:     name,
		Email:        name + "@example.com",
		FirstName:    "First " + name,
		LastName:     "Last " + name,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g",
		Enabled:      true,
		OTPRequired:  true,
		Role:         store.RoleAdmin,
		// Set in the fixture so that every round trip checks it.
		MustChangePassword: true,
		Locale:             "ja",
		CreatedAt:          t0,
		UpdatedAt:          t0.Add(time.Minute),
		LastLoginAt:        t0.Add(time.Hour),
	}
}

func fullOTP(userID string) *store.OTPCredential {
	return &store.OTPCredential{
		UserID:       userID,
		SealedSecret: []byte{0x00, 0x01, 0xfe, 0xff, 'x'},
		LastStep:     65_000_000,
		CreatedAt:    t0,
	}
}

func fullClient() *store.Client {
	return &store.Client{
		ID:                     "client-" + store.NewID(),
		Name:                   "Wiki",
		Public:                 true,
		SecretHash:             []byte{0xde, 0xad, 0x00, 0xbe, 0xef},
		RedirectURIs:           []string{"https://wiki.example.com/cb", "http://127.0.0.1:8080/cb"},
		PostLogoutRedirectURIs: []string{"https://wiki.example.com/bye"},
		GrantTypes:             []string{"authorization_code", "refresh_token"},
		Scopes:                 []string{"openid", "profile", "email", "offline_access"},
		SkipConsent:            true,
		IntrospectAny:          true,
		Disabled:               true,
		CreatedAt:              t0,
		UpdatedAt:              t0.Add(time.Second),

		AccessTokenFormat:                store.AccessTokenJWT,
		IDTokenAlg:                       "ES256",
		Audiences:                        []string{"https://api.example.com", "resource-server"},
		RequirePAR:                       true,
		TokenAuthMethod:                  store.AuthPrivateKeyJWT,
		JWKS:                             `{"keys":[]}`,
		JWKSURI:                          "https://wiki.example.com/jwks.json",
		BackchannelLogoutURI:             "https://wiki.example.com/backchannel",
		BackchannelLogoutSessionRequired: true,
	}
}

func fullSession(userID string) *store.Session {
	return &store.Session{
		ID:        store.NewID(),
		UserID:    userID,
		AuthTime:  t0,
		AMR:       []string{"pwd", "otp", "mfa"},
		Provider:  "corp",
		CreatedAt: t0.Add(time.Second),
		ExpiresAt: t0.Add(8 * time.Hour),
		// Set so that every round trip checks them.
		UserAgent:  "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0",
		IP:         "2001:db8::7",
		LastSeenAt: t0.Add(time.Minute),
	}
}

func fullLoginTx() *store.LoginTransaction {
	return &store.LoginTransaction{
		ID:               store.NewID(),
		Purpose:          store.PurposeSetup,
		CSRF:             store.NewID(),
		AuthRequest:      "client_id=wiki&response_type=code&scope=openid+profile&state=xyz",
		ClientID:         "wiki",
		RequestedAt:      t0.Add(-time.Second),
		UserID:           store.NewID(),
		AMR:              []string{"pwd", "otp"},
		AuthTime:         t0.Add(time.Minute),
		PendingOTPSecret: []byte{0x10, 0x00, 0x20},
		ActionTokenID:    store.NewID(),
		UpstreamAlias:    "corp",
		UpstreamState:    "state-" + store.NewID(),
		UpstreamNonce:    "nonce-" + store.NewID(),
		UpstreamVerifier: "verifier-" + store.NewID(),
		CreatedAt:        t0,
		ExpiresAt:        t0.Add(30 * time.Minute),
		// Set so that every round trip checks it.
		PendingRecoveryCodes: []byte{0x00, 0x7f, 0xff},
		WebAuthnSession:      []byte(`{"challenge":"c"}`),
	}
}

func newActionToken(userID, kind string, created time.Time) *store.ActionToken {
	return &store.ActionToken{
		ID:        store.NewID(),
		UserID:    userID,
		Kind:      kind,
		CreatedAt: created,
		ExpiresAt: created.Add(24 * time.Hour),
	}
}

func fullSigningKey(created time.Time) *store.SigningKey {
	return &store.SigningKey{
		ID:         "kid-" + store.NewID(),
		Algorithm:  "ES256",
		SealedKey:  []byte{0x30, 0x81, 0x00, 0xff},
		CreatedAt:  created,
		ActivateAt: created.Add(time.Minute),
		RetireAt:   created.Add(48 * time.Hour),
	}
}

func fullProvider(alias string) *store.Provider {
	return &store.Provider{
		Alias:              alias,
		DisplayName:        "Corporate SSO",
		IssuerURL:          "https://sso.example.com/realms/corp",
		ClientID:           "authz",
		SealedClientSecret: []byte{0x01, 0x00, 0x02},
		Scopes:             []string{"openid", "email", "profile"},
		ClaimUsername:      "preferred_username",
		ClaimEmail:         "email",
		ClaimFirstName:     "given_name",
		ClaimLastName:      "family_name",
		LinkPolicy:         store.LinkVerifiedMail,
		Enabled:            true,
		RequireOTP:         true,
		SyncProfile:        true,
		CreatedAt:          t0,
		UpdatedAt:          t0.Add(time.Minute),
	}
}

func fullAudit(typ string, at time.Time) *store.AuditEvent {
	return &store.AuditEvent{
		Time:     at,
		Type:     typ,
		ActorID:  "admin-1",
		UserID:   "user-1",
		ClientID: "wiki",
		IP:       "2001:db8::1",
		Detail:   `{"field":"enabled","to":false}`,
	}
}

func fullToken(kind, signature string) *store.OAuthToken {
	return &store.OAuthToken{
		Kind:            kind,
		Signature:       signature,
		RequestID:       "req-" + store.NewID(),
		RequestedAt:     t0,
		ClientID:        "wiki",
		Subject:         "user-1",
		Scopes:          []string{"openid", "profile", "offline_access"},
		GrantedScopes:   []string{"openid", "profile"},
		Audience:        []string{"https://api.example.com", "wiki"},
		GrantedAudience: []string{"wiki"},
		Form:            "grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fwiki",
		Session:         []byte(`{"id_token_claims":{"sub":"user-1"},"extra":{}}`),
		Active:          true,
		AccessSignature: "access-" + signature,
		ExpiresAt:       t0.Add(time.Hour),
	}
}
