// Package passkey is the WebAuthn second factor (security keys and
// passkeys) with github.com/go-webauthn/webauthn: it begins and finishes the
// registration and sign-in ceremonies, keeps each ceremony's challenge as an
// opaque blob for the caller to store (the login transaction), and checks
// signature counters in the store, so a cloned authenticator or a replayed
// assertion is refused on every replica.
//
// The relying party is the issuer: its host is the RP ID and its origin the
// only origin accepted. User verification is preferred, attestation none.
package passkey

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/authz/authz/internal/store"
)

// Errors of a ceremony. Each is the browser's or the authenticator's doing,
// never a fault of the server; callers tell the user and audit it.
var (
	// ErrNoCeremony means no ceremony of this kind was begun, or its
	// challenge was answered already (a replayed response).
	ErrNoCeremony = errors.New("passkey: no ceremony in progress")
	// ErrExpired means the challenge is older than ChallengeTTL.
	ErrExpired = errors.New("passkey: challenge expired")
	// ErrInvalid means the response did not verify: malformed, tampered,
	// for another origin or RP ID, another challenge, or a credential the
	// user does not own.
	ErrInvalid = errors.New("passkey: response did not verify")
	// ErrCounter means the signature counter did not grow: the
	// authenticator may be cloned, or the assertion was used already.
	ErrCounter = errors.New("passkey: signature counter did not grow")
	// ErrNoCredentials means the user has no security key or passkey.
	ErrNoCredentials = errors.New("passkey: no credentials")
	// ErrTaken means the authenticator is registered already.
	ErrTaken = errors.New("passkey: credential registered already")
	// ErrNoDomain means the issuer's host is an IP address, which cannot
	// be a WebAuthn relying party ID: security keys are not available.
	ErrNoDomain = errors.New("passkey: the issuer's host is an IP address, not a domain")
)

// MaxResponseBytes bounds a ceremony response the browser posts.
const MaxResponseBytes = 8 << 10

// Service runs WebAuthn ceremonies for the issuer's users.
type Service struct {
	Store store.Store
	// ChallengeTTL bounds the time between the challenge and its answer.
	ChallengeTTL time.Duration
	// Now is the clock; tests replace it.
	Now func() time.Time

	wa *webauthn.WebAuthn
}

// New makes the service of the relying party issuer (its host is the RP ID,
// its origin the one origin accepted), shown to users as displayName.
func New(st store.Store, issuer *url.URL, displayName string) (*Service, error) {
	if net.ParseIP(issuer.Hostname()) != nil {
		return nil, ErrNoDomain
	}
	origin := (&url.URL{Scheme: issuer.Scheme, Host: issuer.Host}).String()
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  issuer.Hostname(),
		RPDisplayName:         displayName,
		RPOrigins:             []string{origin},
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementDiscouraged,
			UserVerification: protocol.VerificationPreferred,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: relying party %s: %w", origin, err)
	}
	return &Service{Store: st, ChallengeTTL: 5 * time.Minute, wa: wa}, nil
}

// RPID is the relying party ID: the issuer's host.
func (s *Service) RPID() string { return s.wa.Config.RPID }

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Ceremony kinds, kept in the stored challenge so that a sign-in response
// never finishes a registration or the reverse.
const (
	kindRegister = "register"
	kindLogin    = "login"
)

// ceremony is what the caller stores between Begin and Finish.
type ceremony struct {
	Kind    string               `json:"kind"`
	Session webauthn.SessionData `json:"session"`
	Issued  time.Time            `json:"issued"`
	// Name is the user's name for a credential being registered.
	Name string `json:"name,omitempty"`
}

// user adapts a store user and their credentials to the library.
type user struct {
	u     *store.User
	creds []*store.WebAuthnCredential
}

// WebAuthnID is the user handle: the user's opaque, random ID, never a name.
func (w *user) WebAuthnID() []byte { return []byte(w.u.ID) }

// WebAuthnName is the account name the authenticator shows.
func (w *user) WebAuthnName() string { return w.u.Username }

// WebAuthnDisplayName is the person's name, or the account name.
func (w *user) WebAuthnDisplayName() string {
	if n := w.u.FirstName + " " + w.u.LastName; n != " " {
		return n
	}
	return w.u.Username
}

// WebAuthnCredentials are the user's registered credentials.
func (w *user) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(w.creds))
	for _, c := range w.creds {
		out = append(out, decode(c))
	}
	return out
}

// decode rebuilds the library's record: the stored columns win over the blob.
func decode(c *store.WebAuthnCredential) webauthn.Credential {
	var wc webauthn.Credential
	_ = json.Unmarshal(c.Record, &wc) // a damaged blob leaves flags unset: verification then fails, safely
	wc.ID, wc.PublicKey, wc.Authenticator.SignCount = c.ID, c.PublicKey, c.SignCount
	return wc
}

func (s *Service) load(ctx context.Context, u *store.User) (*user, error) {
	creds, err := s.Store.ListWebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return &user{u: u, creds: creds}, nil
}

// seal encodes a ceremony for the caller to keep; the library's own expiry is
// cleared so that only ChallengeTTL, on the injectable clock, decides.
func (s *Service) seal(kind, name string, sd *webauthn.SessionData) ([]byte, error) {
	sd.Expires = time.Time{}
	return json.Marshal(ceremony{Kind: kind, Session: *sd, Issued: s.now(), Name: name})
}

// open decodes a kept ceremony of kind and checks its age.
func (s *Service) open(kind string, kept []byte) (*ceremony, error) {
	if len(kept) == 0 {
		return nil, ErrNoCeremony
	}
	var c ceremony
	if err := json.Unmarshal(kept, &c); err != nil || c.Kind != kind {
		return nil, ErrNoCeremony
	}
	if s.now().After(c.Issued.Add(s.ChallengeTTL)) {
		return nil, ErrExpired
	}
	return &c, nil
}

// BeginRegistration starts registering a credential named name for u. It
// returns the options for navigator.credentials.create (JSON) and the
// ceremony to keep until FinishRegistration. The user's credentials are
// excluded, so one authenticator is not registered twice.
func (s *Service) BeginRegistration(ctx context.Context, u *store.User, name string) (options, kept []byte, err error) {
	wu, err := s.load(ctx, u)
	if err != nil {
		return nil, nil, err
	}
	creation, sd, err := s.wa.BeginRegistration(wu,
		webauthn.WithExclusions(webauthn.Credentials(wu.WebAuthnCredentials()).CredentialDescriptors()))
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: begin registration: %w", err)
	}
	if options, err = json.Marshal(creation); err != nil {
		return nil, nil, err
	}
	kept, err = s.seal(kindRegister, name, sd)
	return options, kept, err
}

// FinishRegistration verifies the browser's response to the kept ceremony
// and stores the new credential under the name given at the start.
func (s *Service) FinishRegistration(ctx context.Context, u *store.User, kept, response []byte) (*store.WebAuthnCredential, error) {
	c, err := s.open(kindRegister, kept)
	if err != nil {
		return nil, err
	}
	parsed, err := parse(response, protocol.ParseCredentialCreationResponseBytes)
	if err != nil {
		return nil, err
	}
	wu, err := s.load(ctx, u)
	if err != nil {
		return nil, err
	}
	wc, err := s.wa.CreateCredential(wu, c.Session, parsed)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	record, err := json.Marshal(wc)
	if err != nil {
		return nil, err
	}
	now := s.now()
	cred := &store.WebAuthnCredential{ID: wc.ID, UserID: u.ID, Name: c.Name, PublicKey: wc.PublicKey,
		Record: record, SignCount: wc.Authenticator.SignCount, CreatedAt: now}
	err = s.Store.CreateWebAuthnCredential(ctx, cred)
	if errors.Is(err, store.ErrConflict) {
		return nil, ErrTaken
	}
	return cred, err
}

// BeginLogin starts a sign-in with one of u's credentials: the options for
// navigator.credentials.get (JSON) and the ceremony to keep.
// ErrNoCredentials when u has none.
func (s *Service) BeginLogin(ctx context.Context, u *store.User) (options, kept []byte, err error) {
	wu, err := s.load(ctx, u)
	if err != nil {
		return nil, nil, err
	}
	if len(wu.creds) == 0 {
		return nil, nil, ErrNoCredentials
	}
	assertion, sd, err := s.wa.BeginLogin(wu)
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: begin login: %w", err)
	}
	if options, err = json.Marshal(assertion); err != nil {
		return nil, nil, err
	}
	kept, err = s.seal(kindLogin, "", sd)
	return options, kept, err
}

// FinishLogin verifies an assertion against the kept ceremony and records
// the credential's use; it returns the credential used. A counter that did
// not grow is ErrCounter and the credential is left as it was.
func (s *Service) FinishLogin(ctx context.Context, u *store.User, kept, response []byte) (*store.WebAuthnCredential, error) {
	c, err := s.open(kindLogin, kept)
	if err != nil {
		return nil, err
	}
	parsed, err := parse(response, protocol.ParseCredentialRequestResponseBytes)
	if err != nil {
		return nil, err
	}
	wu, err := s.load(ctx, u)
	if err != nil {
		return nil, err
	}
	wc, err := s.wa.ValidateLogin(wu, c.Session, parsed)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var used *store.WebAuthnCredential
	for _, cr := range wu.creds {
		if bytes.Equal(cr.ID, wc.ID) {
			used = cr
		}
	}
	if used == nil {
		return nil, ErrInvalid
	}
	if wc.Authenticator.CloneWarning {
		return used, fmt.Errorf("%w: %d after %d", ErrCounter, parsed.Response.AuthenticatorData.Counter, used.SignCount)
	}
	err = s.Store.UseWebAuthnCredential(ctx, u.ID, used.ID, wc.Authenticator.SignCount, s.now())
	switch {
	case errors.Is(err, store.ErrConflict):
		return used, ErrCounter
	case errors.Is(err, store.ErrNotFound):
		// Removed between the read and now.
		return nil, ErrInvalid
	case err != nil:
		return nil, err
	}
	used.SignCount, used.LastUsedAt = wc.Authenticator.SignCount, s.now()
	return used, nil
}

// parse bounds and parses a browser's response; anything unreadable is
// ErrInvalid.
func parse[T any](response []byte, f func([]byte) (T, error)) (T, error) {
	var zero T
	if len(response) == 0 || len(response) > MaxResponseBytes {
		return zero, ErrInvalid
	}
	v, err := f(response)
	if err != nil {
		return zero, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return v, nil
}

// kindAnswered is a ceremony whose challenge was spent: it finishes nothing,
// and keeps only a registration's name for the next attempt.
const kindAnswered = "answered"

// Answered returns what to keep once kept's challenge has been answered:
// the name of a registration, or nil.
func Answered(kept []byte) []byte {
	name := CeremonyName(kept)
	if name == "" {
		return nil
	}
	b, _ := json.Marshal(ceremony{Kind: kindAnswered, Name: name})
	return b
}

// CeremonyName is the name a kept registration ceremony (answered or not)
// gives the new credential, or "".
func CeremonyName(kept []byte) string {
	var c ceremony
	if len(kept) == 0 || json.Unmarshal(kept, &c) != nil {
		return ""
	}
	return c.Name
}
