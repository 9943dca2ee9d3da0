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

// Sentinel errors. Backends wrap them so callers test with errors.Is.
var (
	// ErrNotFound means the addressed row does not exist (or has expired where the
	// method says so).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a uniqueness rule was broken, or a conditional update found
	// the row no longer in the expected state (already used, already rotated, a
	// replayed TOTP step).
	ErrConflict = errors.New("store: conflict")
	// ErrUnavailable means the backend could not be reached.
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
}

// Session is a browser session: proof that a user signed in on this browser.
type Session struct {
	ID        string // hash of the cookie value
	UserID    string
	AuthTime  time.Time
	AMR       []string
	Provider  string // upstream provider alias when federated, else empty
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Login transaction purposes.
const (
	PurposeLogin = "login" // started by an authorization request or the account page
	PurposeSetup = "setup" // started by a password-setup or reset link
)

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

// SigningKey is a private key for ID tokens. The newest key whose NotBefore has
// passed signs; older ones stay published until RetireAt.
type SigningKey struct {
	ID        string // the JWK kid
	Algorithm string // RS256 or ES256
	SealedKey []byte // sealed PKCS#8 DER
	CreatedAt time.Time
	// RetireAt is zero while the key may sign. Once superseded the key only
	// verifies, and is deleted after RetireAt.
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
	CreatedAt          time.Time
	UpdatedAt          time.Time
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

// OAuth token kinds, one table (or partition) each in a backend.
const (
	TokenCode    = "code"
	TokenAccess  = "access"
	TokenRefresh = "refresh"
	TokenOIDC    = "oidc"
	TokenPKCE    = "pkce"
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
}

// Store is everything authz keeps. Methods take a context that may carry a
// transaction started with BeginTx; every method then runs inside it.
type Store interface {
	// Ping reports whether the backend is reachable.
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error

	// BeginTx starts a transaction and returns a context that carries it.
	BeginTx(ctx context.Context) (context.Context, error)
	// Commit commits the transaction carried by ctx.
	Commit(ctx context.Context) error
	// Rollback rolls back the transaction carried by ctx; after Commit it is a no-op.
	Rollback(ctx context.Context) error

	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id string) (*User, error)
	GetUserByUsername(ctx context.Context, username string) (*User, error)
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	// UpdateUser writes every field but ID and CreatedAt.
	UpdateUser(ctx context.Context, u *User) error
	// SetLastLogin sets LastLoginAt alone, so it never writes back over a
	// concurrent change to the user's other fields.
	SetLastLogin(ctx context.Context, id string, at time.Time) error
	DeleteUser(ctx context.Context, id string) error
	// ListUsers returns one page of users ordered by username, and the total count.
	ListUsers(ctx context.Context, f UserFilter) ([]*User, int, error)
	CountUsers(ctx context.Context, role string) (int, error)
	// CountOTP counts the users whose OTP flag is on, and of them those with
	// an authenticator enrolled.
	CountOTP(ctx context.Context) (required, enrolled int, err error)

	// CreateOTPCredential replaces any credential of the user.
	CreateOTPCredential(ctx context.Context, c *OTPCredential) error
	GetOTPCredential(ctx context.Context, userID string) (*OTPCredential, error)
	DeleteOTPCredential(ctx context.Context, userID string) error
	// AcceptOTPStep records step as used; ErrConflict when step ≤ the last one.
	AcceptOTPStep(ctx context.Context, userID string, step int64) error

	// GetThrottle returns the throttle for key, or a zero Throttle with that key.
	GetThrottle(ctx context.Context, key string) (*Throttle, error)
	// AddFailure atomically counts one failure at now and sets LockedUntil to now +
	// lockFor(failures) (no lock when it returns 0). No failure is lost to a
	// concurrent caller, and no reader sees a count without its lock.
	AddFailure(ctx context.Context, key string, now time.Time, lockFor func(failures int) time.Duration) (*Throttle, error)
	ResetThrottle(ctx context.Context, key string) error

	CreateClient(ctx context.Context, c *Client) error
	GetClient(ctx context.Context, id string) (*Client, error)
	UpdateClient(ctx context.Context, c *Client) error
	DeleteClient(ctx context.Context, id string) error
	ListClients(ctx context.Context) ([]*Client, error)

	CreateSession(ctx context.Context, s *Session) error
	// GetSession returns ErrNotFound for a session past its expiry.
	GetSession(ctx context.Context, id string, now time.Time) (*Session, error)
	DeleteSession(ctx context.Context, id string) error
	DeleteUserSessions(ctx context.Context, userID string) error

	CreateLoginTransaction(ctx context.Context, lt *LoginTransaction) error
	// GetLoginTransaction returns ErrNotFound for a transaction past its expiry.
	GetLoginTransaction(ctx context.Context, id string, now time.Time) (*LoginTransaction, error)
	UpdateLoginTransaction(ctx context.Context, lt *LoginTransaction) error
	DeleteLoginTransaction(ctx context.Context, id string) error

	// CreateActionToken stores t and deletes older unused tokens of the same user
	// and kind, so that only the newest link works.
	CreateActionToken(ctx context.Context, t *ActionToken) error
	GetActionToken(ctx context.Context, id string) (*ActionToken, error)
	// UseActionToken marks the token used at now; ErrConflict when already used,
	// ErrNotFound when unknown. Expiry is the caller's to check.
	UseActionToken(ctx context.Context, id string, now time.Time) error

	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// ListSigningKeys returns every key, newest first.
	ListSigningKeys(ctx context.Context) ([]*SigningKey, error)
	// RetireSigningKeys sets RetireAt on every key that has none except keepID.
	RetireSigningKeys(ctx context.Context, keepID string, retireAt time.Time) error

	CreateProvider(ctx context.Context, p *Provider) error
	GetProvider(ctx context.Context, alias string) (*Provider, error)
	UpdateProvider(ctx context.Context, p *Provider) error
	DeleteProvider(ctx context.Context, alias string) error
	ListProviders(ctx context.Context) ([]*Provider, error)

	CreateFederatedIdentity(ctx context.Context, f *FederatedIdentity) error
	GetFederatedIdentity(ctx context.Context, alias, subject string) (*FederatedIdentity, error)
	ListFederatedIdentities(ctx context.Context, userID string) ([]*FederatedIdentity, error)
	DeleteFederatedIdentity(ctx context.Context, alias, subject string) error

	// PutConsent creates or replaces the consent of (UserID, ClientID).
	PutConsent(ctx context.Context, c *Consent) error
	GetConsent(ctx context.Context, userID, clientID string) (*Consent, error)

	// AppendAudit stores e and sets its ID.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// ListAudit returns one page of events newest first, and the total count.
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEvent, int, error)

	CreateToken(ctx context.Context, t *OAuthToken) error
	// GetToken returns the token even when inactive; ErrNotFound when unknown.
	GetToken(ctx context.Context, kind, signature string) (*OAuthToken, error)
	// DeactivateToken sets Active to false; ErrConflict when it already was.
	DeactivateToken(ctx context.Context, kind, signature string) error
	DeleteToken(ctx context.Context, kind, signature string) error
	// DeactivateTokensByRequest deactivates every token of kind issued under requestID.
	DeactivateTokensByRequest(ctx context.Context, kind, requestID string) error
	// DeleteTokensByRequest deletes every token of kind issued under requestID.
	DeleteTokensByRequest(ctx context.Context, kind, requestID string) error

	// DeleteExpired removes rows past expiry (tokens, sessions, login transactions,
	// action tokens, retired signing keys, stale throttles) at most batch rows per
	// table, and returns how many it removed.
	DeleteExpired(ctx context.Context, now time.Time, batch int) (int, error)
}

// InTx runs fn inside a transaction of s, committing when fn returns nil and
// rolling back otherwise. A ctx already carrying a transaction is reused.
func InTx(ctx context.Context, s Store, fn func(ctx context.Context) error) error {
	if inTx(ctx) {
		return fn(ctx)
	}
	txCtx, err := s.BeginTx(ctx)
	if err != nil {
		return err
	}
	if err := fn(txCtx); err != nil {
		_ = s.Rollback(txCtx)
		return err
	}
	return s.Commit(txCtx)
}

type txMarkerKey struct{}

// MarkTx returns ctx marked as carrying a transaction; backends call it in BeginTx
// so InTx can nest.
func MarkTx(ctx context.Context) context.Context {
	return context.WithValue(ctx, txMarkerKey{}, true)
}

func inTx(ctx context.Context) bool {
	v, _ := ctx.Value(txMarkerKey{}).(bool)
	return v
}
