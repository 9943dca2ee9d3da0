// Package store defines authz's domain types and the Store interface that every
// storage backend implements. Backends live in sub-packages (sqlite, postgres) and
// must pass the conformance suite in storetest.
//
// All state of a running authz lives behind this interface, so replicas are
// stateless. Secrets the server receives are stored only as hashes; secrets the
// server must read back (TOTP seeds, signing keys, upstream client secrets) are
// stored sealed by the caller: the store never sees them in the clear.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them so callers test with errors.Is. The
// contract of each Store method (see Store) says which of them it returns.
var (
	// ErrNotFound means the addressed row does not exist (or has expired where the
	// method says so).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is an answer about the data, never about timing: a
	// uniqueness rule was broken (the name, ID or link is taken), or a
	// conditional update found the row no longer in the expected state
	// (already used, already rotated, a replayed TOTP step). Running the same
	// change again gives the same answer, so nobody retries it.
	ErrConflict = errors.New("store: conflict")
	// ErrRetry means a transaction lost to a concurrent one (a PostgreSQL
	// serialization failure or deadlock, SQLite's database busy or locked)
	// and was rolled back: nothing it did was kept, and running it again
	// from the start may well succeed. InTx does that; code inside a
	// transaction passes it up unchanged. It says nothing about the data:
	// in particular it never means "already used".
	ErrRetry = errors.New("store: transaction lost to a concurrent one")
	// ErrUnavailable means the backend could not be reached, or could not do
	// the work now: Retry ran out of attempts (the error then matches ErrRetry
	// too), or SQLite's database stayed locked past its busy timeout. Either
	// way the request may succeed later.
	ErrUnavailable = errors.New("store: unavailable")
)

// NewID returns a fresh random identifier: 16 bytes, hex encoded.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("store: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// Role names.
const (
	RoleAdmin = "admin"
	RoleUser  = "user"
)

// User is a local account. A user signs in with a password (and a TOTP code when an
// OTP credential exists), or through a linked upstream provider.
type User struct {
	ID        string // opaque, stable; the OIDC subject
	Username  string // unique, compared case-insensitively
	Email     string // unique when not empty, compared case-insensitively
	FirstName string
	LastName  string
	// PasswordHash is an encoded argon2id hash, or empty when no password is set.
	PasswordHash string
	Enabled      bool
	// OTPRequired is the administrator's "OTP Configured" switch. Enrollment is
	// needed exactly when it is on and no OTPCredential exists.
	OTPRequired bool
	// MustChangePassword makes the next local sign-in choose a new password
	// (after the one-time code): set for the bootstrap administrator, whose
	// printed password must work once only.
	MustChangePassword bool
	// Locale is the user's preferred language as a BCP 47 tag ("ja"), set
	// by an administrator; empty lets the browser choose. E-mails to the
	// user are written in it.
	Locale      string
	Role        string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	LastLoginAt time.Time // zero when never
}

// UserFilter selects users in ListUsers.
type UserFilter struct {
	// Query matches a substring of username, e-mail, first or last name,
	// case-insensitively. Empty matches all.
	Query  string
	Offset int
	Limit  int // 0 means a backend default of 50
}

// OTPCredential is an enrolled TOTP authenticator. It exists only after the user
// proved possession with a valid code.
type OTPCredential struct {
	UserID       string
	SealedSecret []byte
	// LastStep is the last accepted RFC 6238 time step; any step ≤ it is a replay.
	LastStep  int64
	CreatedAt time.Time
}

// Throttle counts consecutive failures for one key (a user's OTP, a client IP).
type Throttle struct {
	Key         string
	Failures    int
	LockedUntil time.Time
	UpdatedAt   time.Time
}

// Client is a relying application registered with authz.
type Client struct {
	ID     string
	Name   string
	Public bool // public clients have no secret and must use PKCE
	// SecretHash is a keyed hash of the server-generated secret; empty for public clients.
	SecretHash             []byte
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	Scopes                 []string
	SkipConsent            bool
	// IntrospectAny lets a confidential client (a resource server) introspect
	// tokens issued to other clients; without it introspection answers
	// active only for the client's own tokens and those naming it as audience.
	IntrospectAny bool
	Disabled      bool
	CreatedAt     time.Time
	UpdatedAt     time.Time

	// AccessTokenFormat is AccessTokenOpaque (also when empty) or
	// AccessTokenJWT (RFC 9068).
	AccessTokenFormat string
	// Audiences are the resource servers the client's access tokens are
	// for: the aud of its JWT access tokens (the client's own ID when
	// empty), and clients that may introspect its tokens.
	Audiences []string
	// RequirePAR refuses authorization requests not pushed first (RFC 9126).
	RequirePAR bool
	// IDTokenAlg is the algorithm of the client's ID tokens and logout
	// tokens (id_token_signed_response_alg): RS256, ES256, or empty for the
	// server's default (tokens.signing_algorithm).
	IDTokenAlg string
	// TokenAuthMethod is how a confidential client authenticates: empty for
	// its secret (client_secret_basic or client_secret_post), or
	// AuthPrivateKeyJWT (RFC 7523) with JWKS or JWKSURI.
	TokenAuthMethod string
	// JWKS is the client's public keys as a JSON Web Key Set, or empty.
	JWKS string
	// JWKSURI is where the client publishes its JWKS, or empty.
	JWKSURI string
	// BackchannelLogoutURI receives logout tokens when a session in which
	// the client got tokens ends (OIDC Back-Channel Logout 1.0), or empty.
	BackchannelLogoutURI string
	// BackchannelLogoutSessionRequired says the client wants sid in logout
	// tokens; authz always sends it.
	BackchannelLogoutSessionRequired bool
}

// Access token formats of a Client.
const (
	AccessTokenOpaque = "opaque"
	AccessTokenJWT    = "jwt"
)

// AuthPrivateKeyJWT is the TokenAuthMethod of clients that authenticate
// with a JWT signed by their own key.
const AuthPrivateKeyJWT = "private_key_jwt"

// Session is a browser session: proof that a user signed in on this browser.
type Session struct {
	ID        string // hash of the cookie value
	UserID    string
	AuthTime  time.Time
	AMR       []string
	Provider  string // upstream provider alias when federated, else empty
	CreatedAt time.Time
	ExpiresAt time.Time
	// UserAgent and IP describe the browser that signed in, for the user's
	// list of sessions; LastSeenAt is when it was last used, to a few minutes.
	UserAgent  string
	IP         string
	LastSeenAt time.Time
}

// SessionClient records that a client received tokens in a browser session,
// so that it is told (back-channel logout) when the session ends.
type SessionClient struct {
	SessionID string
	ClientID  string
	UserID    string
	// SID is the session's sid claim, as the client saw it in ID tokens.
	SID       string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// LogoutDelivery is a back-channel logout still to deliver to a client.
type LogoutDelivery struct {
	ID            int64
	ClientID      string
	UserID        string
	SID           string
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
}

// Login transaction purposes.
const (
	PurposeLogin = "login" // started by an authorization request or the account page
	PurposeSetup = "setup" // started by a password-setup or reset link
	// PurposeReplaceOTP is started from the account page after a current
	// code: it enrolls a new authenticator, which replaces the old one only
	// once confirmed.
	PurposeReplaceOTP = "replace-otp"
	// PurposeAddSecurityKey is started from the account page after a
	// current code: it registers a WebAuthn security key or passkey.
	PurposeAddSecurityKey = "add-security-key"
)

// LoginState is a login transaction with its user's sign-in records, read
// together (Store.GetLoginState).
type LoginState struct {
	Transaction *LoginTransaction
	// User is the transaction's user; nil before the password step, or when
	// the user was deleted.
	User *User
	// OTP is the user's authenticator app; nil when there is none.
	OTP *OTPCredential
	// SecurityKeys are the user's security keys and passkeys.
	SecurityKeys []*WebAuthnCredential
	// Throttle is the throttle of the key asked for (a zero one with that
	// key when none is stored); nil when none was asked for.
	Throttle *Throttle
}

// LoginTransaction is the state of one walk through the login pipeline. It lives in
// the store so any replica can continue it.
type LoginTransaction struct {
	ID      string // hash of the cookie value
	Purpose string
	CSRF    string // per-transaction secret echoed in every pipeline form
	// AuthRequest is the encoded form of the parked authorization request, or empty.
	AuthRequest string
	ClientID    string
	RequestedAt time.Time
	UserID      string   // set once the user is identified
	AMR         []string // methods passed so far: "pwd", "otp", "fed"
	AuthTime    time.Time
	// PendingOTPSecret is the sealed secret shown during enrollment, until confirmed.
	PendingOTPSecret []byte
	ActionTokenID    string // the setup link that started this transaction, if any
	// PendingRecoveryCodes holds, sealed, the recovery codes just made at
	// enrollment until the user confirms having saved them.
	PendingRecoveryCodes []byte
	// WebAuthnSession holds the challenge of a WebAuthn ceremony begun in
	// this transaction (registration or sign-in), until it is answered.
	WebAuthnSession []byte
	// Upstream holds the state of a round trip to an upstream provider, if any.
	UpstreamAlias    string
	UpstreamState    string
	UpstreamNonce    string
	UpstreamVerifier string
	CreatedAt        time.Time
	ExpiresAt        time.Time
}

// Action token kinds.
const (
	ActionSetup = "setup" // first password (and OTP enrollment) for a new user
	ActionReset = "reset" // password reset
)

// ActionToken is a single-use, expiring e-mailed link.
type ActionToken struct {
	ID        string // hash of the token in the link
	UserID    string
	Kind      string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until used
}

// SigningKey is a private key for ID tokens. Every key is published from the
// moment it is stored; the newest key whose ActivateAt has passed signs, and
// older ones stay published until RetireAt.
type SigningKey struct {
	ID        string // the JWK kid
	Algorithm string // RS256 or ES256
	SealedKey []byte // sealed PKCS#8 DER
	CreatedAt time.Time
	// ActivateAt is when the key begins to sign; zero means at once (a first
	// key, which no replica can be signing before). A rotated-in key waits,
	// so that every replica publishes it before any signs with it.
	ActivateAt time.Time
	// RetireAt is zero while the key is the newest. Once superseded the key
	// signs until its successor activates, then only verifies, and is deleted
	// after RetireAt.
	RetireAt time.Time
}

// Linking policies for upstream providers.
const (
	LinkCreate       = "create"         // create the user at first login
	LinkVerifiedMail = "verified-email" // link to an existing user by verified e-mail
	LinkExisting     = "existing"       // only identities an administrator linked
)

// Provider is an administrator-configured upstream OpenID provider.
type Provider struct {
	Alias              string
	DisplayName        string
	IssuerURL          string
	ClientID           string
	SealedClientSecret []byte
	Scopes             []string
	ClaimUsername      string
	ClaimEmail         string
	ClaimFirstName     string
	ClaimLastName      string
	LinkPolicy         string
	Enabled            bool
	RequireOTP         bool
	// SyncProfile updates a linked user's names and e-mail from the
	// provider's claims at each login.
	SyncProfile bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// FederatedIdentity links an upstream subject to a local user.
type FederatedIdentity struct {
	ProviderAlias string
	Subject       string
	UserID        string
	CreatedAt     time.Time
}

// Consent remembers which scopes a user granted a client.
type Consent struct {
	UserID    string
	ClientID  string
	Scopes    []string
	GrantedAt time.Time
}

// AuditEvent is one entry of the audit log.
type AuditEvent struct {
	ID       int64
	Time     time.Time
	Type     string
	ActorID  string // who did it (an admin, the user, empty for the system)
	UserID   string // whom it concerns
	ClientID string
	IP       string
	Detail   string
}

// AuditFilter selects audit events, newest first.
type AuditFilter struct {
	Type   string
	UserID string
	Since  time.Time
	Until  time.Time
	Offset int
	Limit  int
}

// TokenKey names one stored token: its kind and signature.
type TokenKey struct {
	Kind, Signature string
}

// OAuth token kinds, one table (or partition) each in a backend.
const (
	TokenCode    = "code"
	TokenAccess  = "access"
	TokenRefresh = "refresh"
	TokenOIDC    = "oidc"
	TokenPKCE    = "pkce"
	// TokenPAR is a pushed authorization request (RFC 9126), keyed by a
	// hash of its request_uri.
	TokenPAR = "par"
)

// OAuthToken is a persisted fosite request, keyed by kind and signature.
type OAuthToken struct {
	Kind            string
	Signature       string
	RequestID       string
	RequestedAt     time.Time
	ClientID        string
	Subject         string
	Scopes          []string
	GrantedScopes   []string
	Audience        []string
	GrantedAudience []string
	Form            string // url-encoded
	Session         []byte // JSON
	Active          bool
	AccessSignature string // refresh tokens: the access token issued with it
	ExpiresAt       time.Time
	// RotatedAt is when RotateToken retired the token; zero while it is
	// active, when it was deactivated otherwise, and once
	// DeactivateTokensByRequest revoked its grant.
	RotatedAt time.Time
}

// Store is everything authz keeps. Methods take a context that may carry a
// transaction started with BeginTx; every method then runs inside it.
//
// Errors. Each method's comment names the sentinels it returns for reasons a
// caller acts on; the suite in storetest holds every backend to them.
// Besides those, any method may fail with ctx's error, with ErrUnavailable,
// or with an error that is a fault to report rather than handle. ErrRetry
// is the one error that depends on where the method runs:
//   - Inside a transaction, any method may return ErrRetry: the transaction
//     lost to a concurrent one and must be run again from the start. The
//     caller returns it up to the InTx that began the transaction, which does
//     that. Under SERIALIZABLE a conditional update (UseActionToken,
//     DeactivateToken, RotateToken, AcceptOTPStep) that loses the row to a concurrent
//     transaction says ErrRetry; the next attempt reads the row as the winner
//     left it and gets the method's ErrConflict.
//   - Outside a transaction, a method is a transaction of its own, which the
//     backend runs again itself when it loses (PostgreSQL through Retry,
//     SQLite by waiting out the lock for its busy timeout). It never returns
//     ErrRetry unless that too ran out, and then the error matches
//     ErrUnavailable as well.
//
// ErrConflict therefore always means what the method says (taken, already
// used), never "busy": a caller may show it to the user as such.
type Store interface {
	// Ping reports whether the backend is reachable; ErrUnavailable when not.
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error

	// BeginTx starts a transaction and returns a context that carries it.
	// Prefer InTx, which also runs the transaction again on ErrRetry.
	BeginTx(ctx context.Context) (context.Context, error)
	// Commit commits the transaction carried by ctx. ErrRetry means it lost
	// to a concurrent one at the last moment and nothing was committed.
	Commit(ctx context.Context) error
	// Rollback rolls back the transaction carried by ctx; after Commit it is a no-op.
	Rollback(ctx context.Context) error

	// CreateUser stores u; ErrConflict when its ID, username or e-mail is
	// taken (names and e-mails compared case-insensitively).
	CreateUser(ctx context.Context, u *User) error
	// GetUser returns the user; ErrNotFound when unknown.
	GetUser(ctx context.Context, id string) (*User, error)
	// GetUserByUsername finds a user by username, case-insensitively;
	// ErrNotFound when none has it.
	GetUserByUsername(ctx context.Context, username string) (*User, error)
	// GetUserByEmail finds a user by e-mail, case-insensitively; ErrNotFound
	// when none has it, and always for "".
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	// UpdateUser writes every field but ID and CreatedAt; ErrNotFound when the
	// user is gone, ErrConflict when the new username or e-mail is taken.
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser deletes the user and everything that belongs to them;
	// ErrNotFound when unknown.
	DeleteUser(ctx context.Context, id string) error
	// ListUsers returns one page of users ordered by username, and the total count.
	ListUsers(ctx context.Context, f UserFilter) ([]*User, int, error)
	// CountUsers counts the users of role, or all users for "".
	CountUsers(ctx context.Context, role string) (int, error)
	// CountOTP counts the users whose OTP flag is on, and of them those with
	// an authenticator enrolled.
	CountOTP(ctx context.Context) (required, enrolled int, err error)

	// CreateOTPCredential replaces any credential of the user.
	CreateOTPCredential(ctx context.Context, c *OTPCredential) error
	// GetOTPCredential returns the user's credential; ErrNotFound when none.
	GetOTPCredential(ctx context.Context, userID string) (*OTPCredential, error)
	// DeleteOTPCredential deletes the user's credential; ErrNotFound when none.
	DeleteOTPCredential(ctx context.Context, userID string) error
	// AcceptOTPStep records step as used and, only then and when
	// throttleKey is not empty, forgets that key's failures as ResetThrottle
	// would: both or neither, in one round trip where the backend has round
	// trips. ErrConflict when step ≤ the last one (a replay, or a concurrent
	// use of the same code that won), ErrNotFound when the user has no
	// credential; the throttle stays as it was in both cases.
	AcceptOTPStep(ctx context.Context, userID string, step int64, throttleKey string) error

	// GetThrottle returns the throttle for key, or a zero Throttle with that
	// key; never ErrNotFound.
	GetThrottle(ctx context.Context, key string) (*Throttle, error)
	// AddFailure atomically counts one failure at now and sets LockedUntil to now +
	// lockFor(failures) (no lock when it returns 0). No failure is lost to a
	// concurrent caller, and no reader sees a count without its lock.
	AddFailure(ctx context.Context, key string, now time.Time, lockFor func(failures int) time.Duration) (*Throttle, error)
	// CountFreeFailure is AddFailure in one write for the common case: when
	// key is not locked at now and has fewer than free failures, it counts
	// one (starting again from one when the count was last written before
	// restart), leaves it unlocked and returns it with true. Otherwise it
	// changes nothing and returns (nil, false, nil): the caller reads the
	// throttle and counts with AddFailure. free < 1 never counts.
	CountFreeFailure(ctx context.Context, key string, now time.Time, free int, restart time.Time) (*Throttle, bool, error)
	// ResetThrottle forgets the failures of every key; an unknown key is no
	// error.
	ResetThrottle(ctx context.Context, keys ...string) error

	// CreateClient stores c; ErrConflict when its ID is taken.
	CreateClient(ctx context.Context, c *Client) error
	// GetClient returns the client; ErrNotFound when unknown.
	GetClient(ctx context.Context, id string) (*Client, error)
	// UpdateClient writes every field but ID and CreatedAt; ErrNotFound when
	// the client is gone.
	UpdateClient(ctx context.Context, c *Client) error
	// DeleteClient deletes the client; ErrNotFound when unknown.
	DeleteClient(ctx context.Context, id string) error
	// ListClients returns every client.
	ListClients(ctx context.Context) ([]*Client, error)

	// CreateSession stores s; ErrConflict when its ID is taken.
	CreateSession(ctx context.Context, s *Session) error
	// SignIn ends the login transaction loginID (deletes it) unless loginID
	// is empty, stores the new session s, sets its user's LastLoginAt
	// (alone, so a concurrent change to the user's other fields stays) to
	// s.CreatedAt and appends e, setting its ID: the writes of a completed
	// sign-in, all or none of them, in one round trip where the backend
	// can. ErrNotFound when the login transaction is gone (of concurrent
	// sign-ins ending one, exactly one succeeds), ErrConflict when s's ID is
	// taken.
	SignIn(ctx context.Context, loginID string, s *Session, e *AuditEvent) error
	// GetSession returns the session; ErrNotFound when unknown or past its
	// expiry at now.
	GetSession(ctx context.Context, id string, now time.Time) (*Session, error)
	// DeleteSession deletes the session and, in the same transaction, queues
	// a LogoutDelivery for every client recorded in it that has a
	// BackchannelLogoutURI; ErrNotFound when unknown.
	DeleteSession(ctx context.Context, id string) error
	// DeleteUserSessions deletes every session of the user, if any, queuing
	// logouts as DeleteSession does.
	DeleteUserSessions(ctx context.Context, userID string) error

	// CreateLoginTransaction stores lt; ErrConflict when its ID is taken.
	CreateLoginTransaction(ctx context.Context, lt *LoginTransaction) error
	// GetLoginTransaction returns the transaction; ErrNotFound when unknown
	// or past its expiry at now.
	GetLoginTransaction(ctx context.Context, id string, now time.Time) (*LoginTransaction, error)
	// GetLoginState returns the transaction with what each step of the login
	// pipeline reads beside it, as GetLoginTransaction, GetUser,
	// GetOTPCredential, ListWebAuthnCredentials and, when throttleKey is not
	// empty, GetThrottle would, in one round trip where the backend has round
	// trips; ErrNotFound as GetLoginTransaction. Outside a transaction all of
	// it is read from one snapshot, so the records are always those of the
	// transaction's user, even while a concurrent request changes that user;
	// inside one it reads what the transaction sees.
	GetLoginState(ctx context.Context, id, throttleKey string, now time.Time) (*LoginState, error)
	// UpdateLoginTransaction writes every field but ID and CreatedAt;
	// ErrNotFound when the transaction is gone.
	UpdateLoginTransaction(ctx context.Context, lt *LoginTransaction) error
	// DeleteLoginTransaction deletes the transaction; ErrNotFound when unknown.
	DeleteLoginTransaction(ctx context.Context, id string) error
	// DeleteUserLoginTransactions deletes every login transaction of the
	// user but the one with ID keepID (none when ""), if any.
	DeleteUserLoginTransactions(ctx context.Context, userID, keepID string) error

	// CreateActionToken stores t and deletes older unused tokens of the same user
	// and kind, so that only the newest link works; ErrConflict when its ID
	// is taken.
	CreateActionToken(ctx context.Context, t *ActionToken) error
	// GetActionToken returns the token, used or not; ErrNotFound when unknown.
	GetActionToken(ctx context.Context, id string) (*ActionToken, error)
	// UseActionToken marks the token used at now; ErrConflict when already
	// used (of concurrent uses exactly one succeeds), ErrNotFound when
	// unknown. Expiry is the caller's to check.
	UseActionToken(ctx context.Context, id string, now time.Time) error
	// DeleteUnusedActionTokens deletes every unused token of the user, of
	// any kind, if any: a new password voids the other links that would set
	// one. Used tokens stay.
	DeleteUnusedActionTokens(ctx context.Context, userID string) error

	// CreateSigningKey stores k; ErrConflict when its kid is taken.
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// ListSigningKeys returns every key, newest first.
	ListSigningKeys(ctx context.Context) ([]*SigningKey, error)
	// RetireSigningKeys sets RetireAt on every key of keepID's algorithm that
	// has none, except keepID: each algorithm has a current key of its own.
	RetireSigningKeys(ctx context.Context, keepID string, retireAt time.Time) error
	// LockSigningKeys takes the signing keys lock for the transaction ctx
	// carries (an error without one) and holds it until that transaction
	// ends, so that replicas adding keys at the same moment take turns: each
	// then reads what the one before it committed, provided its transaction
	// is READ COMMITTED (see ReadCommitted). Under SERIALIZABLE the snapshot
	// may predate the lock, and the loser fails with ErrRetry instead.
	LockSigningKeys(ctx context.Context) error

	// CreateProvider stores p; ErrConflict when its alias is taken.
	CreateProvider(ctx context.Context, p *Provider) error
	// GetProvider returns the provider; ErrNotFound when unknown.
	GetProvider(ctx context.Context, alias string) (*Provider, error)
	// UpdateProvider writes every field but Alias and CreatedAt; ErrNotFound
	// when the provider is gone.
	UpdateProvider(ctx context.Context, p *Provider) error
	// DeleteProvider deletes the provider; ErrNotFound when unknown.
	DeleteProvider(ctx context.Context, alias string) error
	// ListProviders returns every provider.
	ListProviders(ctx context.Context) ([]*Provider, error)

	// CreateFederatedIdentity stores f; ErrConflict when the upstream subject
	// is linked already.
	CreateFederatedIdentity(ctx context.Context, f *FederatedIdentity) error
	// GetFederatedIdentity returns the link of an upstream subject;
	// ErrNotFound when there is none.
	GetFederatedIdentity(ctx context.Context, alias, subject string) (*FederatedIdentity, error)
	// ListFederatedIdentities returns the user's links.
	ListFederatedIdentities(ctx context.Context, userID string) ([]*FederatedIdentity, error)
	// DeleteFederatedIdentity deletes the link; ErrNotFound when there is none.
	DeleteFederatedIdentity(ctx context.Context, alias, subject string) error

	// PutConsent creates or replaces the consent of (UserID, ClientID).
	PutConsent(ctx context.Context, c *Consent) error
	// GetConsent returns the consent; ErrNotFound when none was given.
	GetConsent(ctx context.Context, userID, clientID string) (*Consent, error)

	// AppendAudit stores e and sets its ID.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// ListAudit returns one page of events newest first, and the total count.
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEvent, int, error)

	// CreateToken stores t; ErrConflict when (Kind, Signature) is taken.
	CreateToken(ctx context.Context, t *OAuthToken) error
	// CreateTokens stores ts and, when sc is not nil, records that
	// sc.ClientID received tokens in the browser session sc.SessionID
	// (creating or replacing the record of the pair): all or none, in one
	// round trip on PostgreSQL. ErrConflict when the key of a token is taken.
	CreateTokens(ctx context.Context, ts []*OAuthToken, sc *SessionClient) error
	// GetToken returns the token even when inactive; ErrNotFound when unknown.
	GetToken(ctx context.Context, kind, signature string) (*OAuthToken, error)
	// GetTokens is GetToken for several keys at once (one round trip on
	// PostgreSQL): their tokens in the keys' order, nil where none is stored.
	GetTokens(ctx context.Context, keys []TokenKey) ([]*OAuthToken, error)
	// DeactivateToken sets Active to false; ErrConflict when it already was
	// (of concurrent calls exactly one succeeds), ErrNotFound when unknown.
	DeactivateToken(ctx context.Context, kind, signature string) error
	// RotateToken retires an active refresh token: Active false, RotatedAt now; of
	// concurrent calls exactly one does, and gets graced false. With it goes
	// the access token it was issued with, in the same statement: the one
	// whose signature is its AccessSignature or, when that is empty, every
	// access token of its request. A token that
	// RotateToken retired after graceSince (strictly), and whose grant has not
	// been revoked since, is left as it is and graced is true; a zero
	// graceSince grants no grace. Any other inactive token is ErrConflict;
	// ErrNotFound when unknown. A rotation that retires nothing deletes
	// nothing.
	RotateToken(ctx context.Context, kind, signature string, now, graceSince time.Time) (graced bool, err error)
	// DeleteToken deletes the token; ErrNotFound when unknown.
	DeleteToken(ctx context.Context, kind, signature string) error
	// DeactivateTokensByRequest revokes every token of kind issued under
	// requestID, if any: Active false and RotatedAt zero, so that no token
	// of the grant is within a rotation grace any more.
	DeactivateTokensByRequest(ctx context.Context, kind, requestID string) error
	// DeleteTokensByRequest deletes every token of kind issued under
	// requestID, if any.
	DeleteTokensByRequest(ctx context.Context, kind, requestID string) error
	// DeleteSubjectTokens deletes every token issued to subject (a user, by
	// any client), if any: a disabled user's grants end. It scans the
	// tokens (no index on subject, which would slow every token written);
	// it is for rare administrative actions only.
	DeleteSubjectTokens(ctx context.Context, subject string) error

	// Sessions ended through DeleteSession and DeleteUserSessions queue a
	// back-channel logout (see the OpenID provider breadth block below) for
	// every client CreateTokens recorded in them.

	// --- OpenID provider breadth (issue 16): back-channel logout, client
	// assertions. ---

	// ListSessionClients returns the clients recorded in a session, by client ID.
	ListSessionClients(ctx context.Context, sessionID string) ([]*SessionClient, error)
	// TransferSessionClients moves the clients recorded in session fromID to
	// toID, keeping their sid, and sets their expiry: a new login of the
	// same user replaces the session without signing its clients out.
	TransferSessionClients(ctx context.Context, fromID, toID string, expiresAt time.Time) error
	// ClaimLogouts returns up to limit deliveries due at now, oldest first,
	// and moves their NextAttemptAt to leaseUntil, so that no other caller
	// claims them until the lease ends; of concurrent callers each gets
	// different ones.
	ClaimLogouts(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*LogoutDelivery, error)
	// CompleteLogout deletes a delivery (sent, or given up); ErrNotFound when
	// it is gone.
	CompleteLogout(ctx context.Context, id int64) error
	// RetryLogout records a failed attempt: Attempts, NextAttemptAt and
	// LastError of d; ErrNotFound when it is gone.
	RetryLogout(ctx context.Context, d *LogoutDelivery) error
	// UseAssertionJTI records a client assertion's jti until expiresAt;
	// ErrConflict when it is recorded and not expired at now (a replay; of
	// concurrent uses exactly one succeeds).
	UseAssertionJTI(ctx context.Context, jti string, expiresAt, now time.Time) error

	// --- end of the issue 16 block ---

	// DeleteExpired removes rows past expiry (tokens, sessions, login transactions,
	// action tokens, retired signing keys, stale throttles) at most batch rows per
	// table, and returns how many it removed.
	DeleteExpired(ctx context.Context, now time.Time, batch int) (int, error)

	// ---- Self-service account (recovery codes, the user's sessions) ----

	// ReplaceRecoveryCodes deletes the user's recovery codes and stores
	// hashes as the new set, made at now.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, now time.Time) error
	// UseRecoveryCode deletes the user's code with hash and returns how many
	// codes the user has left; ErrNotFound when the user has no such code
	// (never had it, or it was used: of concurrent uses exactly one succeeds).
	UseRecoveryCode(ctx context.Context, userID, hash string) (left int, err error)
	// CountRecoveryCodes counts the user's unused recovery codes.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
	// DeleteRecoveryCodes deletes every recovery code of the user and
	// returns how many there were.
	DeleteRecoveryCodes(ctx context.Context, userID string) (int, error)
	// ListUserSessions returns the user's sessions unexpired at now, newest
	// first.
	ListUserSessions(ctx context.Context, userID string, now time.Time) ([]*Session, error)
	// TouchSession sets the session's LastSeenAt; ErrNotFound when the
	// session is gone.
	TouchSession(ctx context.Context, id string, at time.Time) error

	// Keyset-paginated administrative lists (page.go). Each returns at most
	// p.Size() rows after the cursor p.After and the cursor of the next page,
	// "" on the last one. A cursor that is malformed or was made by another
	// list or for another filter is ErrBadCursor. No method counts or reads
	// more rows than the page needs.

	// ListUsersPage lists users by lowercased username.
	ListUsersPage(ctx context.Context, f UserPageFilter, p Page) (users []*User, next string, err error)
	// ListClientsPage lists clients by lowercased name, then ID.
	ListClientsPage(ctx context.Context, f ClientPageFilter, p Page) (clients []*Client, next string, err error)
	// ListProvidersPage lists upstream providers by alias.
	ListProvidersPage(ctx context.Context, f ProviderPageFilter, p Page) (providers []*Provider, next string, err error)
	// ListAuditPage lists audit events newest first (by time, then ID).
	ListAuditPage(ctx context.Context, f AuditPageFilter, p Page) (events []*AuditEvent, next string, err error)
	// CountClients counts the clients.
	CountClients(ctx context.Context) (int, error)
	// CountProviders counts the upstream providers.
	CountProviders(ctx context.Context) (int, error)
	// OTPEnrollments returns, for those of the users (at most MaxPageSize)
	// who have an authenticator, when it was enrolled and how many recovery
	// codes they have left: one query for a list page instead of two per user.
	OTPEnrollments(ctx context.Context, userIDs []string) (map[string]OTPEnrollment, error)

	// ---- Security keys and passkeys (WebAuthn), remembered browsers ----

	// CreateWebAuthnCredential stores c; ErrConflict when a credential with
	// its ID is registered already (to this user or any other).
	CreateWebAuthnCredential(ctx context.Context, c *WebAuthnCredential) error
	// ListWebAuthnCredentials returns the user's credentials, oldest first.
	ListWebAuthnCredentials(ctx context.Context, userID string) ([]*WebAuthnCredential, error)
	// UseWebAuthnCredential records a verified assertion of the user's
	// credential id at signCount: LastUsedAt becomes at and SignCount
	// signCount, provided the counter went forwards (or the authenticator
	// keeps none: both are 0). ErrConflict when it did not (a cloned
	// authenticator, or a concurrent use of the same assertion that won),
	// ErrNotFound when the user has no such credential.
	UseWebAuthnCredential(ctx context.Context, userID string, id []byte, signCount uint32, at time.Time) error
	// DeleteWebAuthnCredential deletes the user's credential id;
	// ErrNotFound when the user has none with that ID.
	DeleteWebAuthnCredential(ctx context.Context, userID string, id []byte) error
	// DeleteWebAuthnCredentials deletes every credential of the user and
	// returns how many there were.
	DeleteWebAuthnCredentials(ctx context.Context, userID string) (int, error)
	// CountSecondFactors counts the users with an authenticator app only,
	// with WebAuthn credentials only, and with both.
	CountSecondFactors(ctx context.Context) (totpOnly, webauthnOnly, both int, err error)

	// CreateRememberedBrowser stores b; ErrConflict when its ID is taken.
	CreateRememberedBrowser(ctx context.Context, b *RememberedBrowser) error
	// GetRememberedBrowser returns the browser; ErrNotFound when unknown or
	// past its expiry at now.
	GetRememberedBrowser(ctx context.Context, id string, now time.Time) (*RememberedBrowser, error)
	// TouchRememberedBrowser sets LastUsedAt; ErrNotFound when it is gone.
	TouchRememberedBrowser(ctx context.Context, id string, at time.Time) error
	// ListRememberedBrowsers returns the user's browsers unexpired at now,
	// newest first.
	ListRememberedBrowsers(ctx context.Context, userID string, now time.Time) ([]*RememberedBrowser, error)
	// DeleteRememberedBrowsers forgets every browser of the user and
	// returns how many there were.
	DeleteRememberedBrowsers(ctx context.Context, userID string) (int, error)
}

// OTPEnrollment is what a list of users shows of one user's authenticator.
type OTPEnrollment struct {
	At            time.Time // when the authenticator was enrolled
	RecoveryCodes int       // unused recovery codes
}

// WebAuthnCredential is a registered security key or passkey: a second
// factor beside the authenticator app.
type WebAuthnCredential struct {
	ID     []byte // the credential ID the authenticator chose; unique
	UserID string
	// Name is the user's name for it ("YubiKey", "Laptop").
	Name      string
	PublicKey []byte // COSE-encoded
	// Record is the rest of the credential record (flags, transports,
	// AAGUID, attestation format) as the WebAuthn package encodes it; the
	// store keeps it opaque.
	Record []byte
	// SignCount is the last signature counter seen; it must grow.
	SignCount  uint32
	CreatedAt  time.Time
	LastUsedAt time.Time // zero when never used to sign in
}

// RememberedBrowser is a browser whose user chose "don't ask again": its
// logins skip the one-time-code step until ExpiresAt.
type RememberedBrowser struct {
	ID         string // hash of the cookie's token
	UserID     string
	UserAgent  string
	IP         string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time
}
