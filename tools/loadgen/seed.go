package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/server"
	"github.com/authz/authz/internal/store"
)

// CallbackURL is the redirect URI of the seeded web client. Nothing listens
// there: the load tool reads the code from the redirect and never follows it.
const CallbackURL = "http://127.0.0.1:9/callback"

// APIScope is the scope the client-credentials client asks for.
const APIScope = "api.read"

// SeedFile is what seed writes and the scenarios read: the clients and users
// that exist in the store of the server under test, with their secrets.
type SeedFile struct {
	// Machine is a confidential client with the client_credentials grant; it
	// also authenticates introspection.
	Machine Client `json:"machine_client"`
	// JWTMachine is like Machine, with JWT access tokens (RFC 9068).
	JWTMachine Client `json:"jwt_machine_client,omitempty"`
	// Web is a confidential client with authorization_code and refresh_token,
	// redirecting to CallbackURL, without a consent page.
	Web   Client `json:"web_client"`
	Users []User `json:"users"`
}

// Client is a seeded client's credentials.
type Client struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

// User is a seeded user with an enrolled authenticator.
type User struct {
	Username  string `json:"username"`
	Password  string `json:"password"`
	OTPSecret string `json:"otp_secret"`
	// LastStep is the time step the enrollment code used: the first login
	// must use a later one.
	LastStep int64 `json:"last_step"`
}

// ReadSeedFile reads a file written by WriteSeedFile.
func ReadSeedFile(path string) (*SeedFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read seed file: %w", err)
	}
	var s SeedFile
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("seed file %s: %w", path, err)
	}
	if s.Machine.ID == "" || s.Web.ID == "" {
		return nil, fmt.Errorf("seed file %s: no clients (was it written by authz-load seed?)", path)
	}
	return &s, nil
}

// WriteSeedFile writes s readable by its owner only: it holds secrets.
func WriteSeedFile(path string, s *SeedFile) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode seed file: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write seed file: %w", err)
	}
	return nil
}

// Seed creates in app's store two clients and n users with enrolled
// authenticators. Names carry a random run ID, so seeding twice never
// collides. Every user gets the same password, hashed once with the server's
// parameters: the server still pays the full argon2id cost at each login, but
// seeding thousands of users takes seconds instead of minutes.
func Seed(ctx context.Context, app *server.App, n int) (*SeedFile, error) {
	run := randomHex(4)
	s := &SeedFile{}
	var err error
	s.Machine, err = createClient(ctx, app, "authz-load-"+run+"-machine", []string{"client_credentials"}, []string{APIScope}, nil)
	if err != nil {
		return nil, err
	}
	s.JWTMachine, err = createClient(ctx, app, "authz-load-"+run+"-jwt-machine", []string{"client_credentials"}, []string{APIScope}, nil)
	if err != nil {
		return nil, err
	}
	if err := useJWTAccessTokens(ctx, app, s.JWTMachine.ID); err != nil {
		return nil, err
	}
	s.Web, err = createClient(ctx, app, "authz-load-"+run+"-web", []string{"authorization_code", "refresh_token"},
		[]string{"openid", "profile", "email", "offline_access"}, []string{CallbackURL})
	if err != nil {
		return nil, err
	}
	pw := randomHex(12)
	hash, err := app.Passwords.Hash(ctx, pw)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	for i := range n {
		u, err := createUser(ctx, app, fmt.Sprintf("load-%s-%05d", run, i), pw, hash)
		if err != nil {
			return nil, err
		}
		s.Users = append(s.Users, *u)
	}
	return s, nil
}

func createClient(ctx context.Context, app *server.App, id string, grants, scopes, redirects []string) (Client, error) {
	secret, hash, err := app.Provider.Hasher().NewClientSecret()
	if err != nil {
		return Client{}, err
	}
	now := time.Now().UTC()
	c := &store.Client{ID: id, Name: id, SecretHash: hash, RedirectURIs: redirects, GrantTypes: grants,
		Scopes: scopes, SkipConsent: true, CreatedAt: now, UpdatedAt: now}
	if err := app.Store.CreateClient(ctx, c); err != nil {
		return Client{}, fmt.Errorf("create client %s: %w", id, err)
	}
	return Client{ID: id, Secret: secret}, nil
}

// useJWTAccessTokens switches client id to JWT access tokens.
func useJWTAccessTokens(ctx context.Context, app *server.App, id string) error {
	c, err := app.Store.GetClient(ctx, id)
	if err != nil {
		return fmt.Errorf("read client %s: %w", id, err)
	}
	c.AccessTokenFormat = store.AccessTokenJWT
	if err := app.Store.UpdateClient(ctx, c); err != nil {
		return fmt.Errorf("update client %s: %w", id, err)
	}
	return nil
}

// createUser stores a user and enrolls an authenticator the way the
// enrollment page does, with a code of the previous time step, so that the
// current step is still free for the first login.
func createUser(ctx context.Context, app *server.App, name, pw, hash string) (*User, error) {
	now := time.Now().UTC()
	u := &store.User{ID: store.NewID(), Username: name, PasswordHash: hash, Enabled: true, OTPRequired: true,
		Role: store.RoleUser, CreatedAt: now, UpdatedAt: now}
	if err := app.Store.CreateUser(ctx, u); err != nil {
		return nil, fmt.Errorf("create user %s: %w", name, err)
	}
	secret, err := mfa.NewSecret()
	if err != nil {
		return nil, err
	}
	prev := now.Add(-mfa.Period)
	code, err := mfa.Code(secret, prev)
	if err != nil {
		return nil, err
	}
	if err := app.OTP.Enroll(ctx, u.ID, secret, code, now); err != nil {
		return nil, fmt.Errorf("enroll authenticator of %s: %w", name, err)
	}
	return &User{Username: name, Password: pw, OTPSecret: secret, LastStep: mfa.Step(prev)}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("loadgen: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}
