// Package server wires authz together: it opens the store, loads the keys,
// creates the bootstrap administrator, builds the HTTP handler with its
// middleware, and runs the HTTP server with graceful shutdown.
package server

import (
	"context"
	"crypto"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/admin/api"
	"github.com/authz/authz/internal/admin/console"
	"github.com/authz/authz/internal/config"
	"github.com/authz/authz/internal/federation"
	"github.com/authz/authz/internal/login"
	"github.com/authz/authz/internal/mail"
	"github.com/authz/authz/internal/metrics"
	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/notify"
	"github.com/authz/authz/internal/oauth"
	"github.com/authz/authz/internal/passkey"
	"github.com/authz/authz/internal/password"
	"github.com/authz/authz/internal/seal"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/store/postgres"
	"github.com/authz/authz/internal/store/sqlite"
)

// App is one running authz: its store and everything built on it.
type App struct {
	Config    *config.Config
	Log       *slog.Logger
	Store     store.Store
	Sealer    *seal.Sealer
	Keys      *oauth.KeySet
	Passwords *password.Hasher
	OTP       *mfa.Verifier
	Sessions  *session.Manager
	Pipeline  *login.Pipeline
	Provider  *oauth.Provider
	// Admin carries out the administrative operations behind the console,
	// the admin API and the CLI.
	Admin *admin.Service
	// AdminConsole and AdminAPI serve the administration pages and the
	// admin JSON API.
	AdminConsole *console.Console
	AdminAPI     *api.API
	Mail         mail.Sender
	Outbox       *mail.Outbox
	// Notify e-mails users about their own accounts, in the background.
	Notify *notify.Notifier
	// Console receives the one-time bootstrap password.
	Console io.Writer
	// Metrics is served at /metrics.
	Metrics *metrics.Recorder

	// now is the clock of every time check authz makes itself; see WithClock.
	now func() time.Time
	// generateKey makes signing keys; see WithKeyGenerator.
	generateKey func(alg string) (crypto.Signer, error)
	janitorStop context.CancelFunc
	janitorDone chan struct{}
	logoutStop  context.CancelFunc
	logoutDone  chan struct{}
}

// clientCacheTTL is how long a client changed by another process (a replica,
// the CLI) may still be seen as it was; see store.CacheClients.
const clientCacheTTL = time.Second

// migrator is implemented by both store backends.
type migrator interface {
	store.Store
	Migrate(ctx context.Context) error
}

// OpenStore opens the configured backend without migrating it; opts apply
// to a PostgreSQL store.
func OpenStore(ctx context.Context, cfg *config.Config, opts ...postgres.Option) (migrator, error) {
	if cfg.DatabaseURL != "" {
		return postgres.Open(ctx, cfg.DatabaseURL, opts...)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
	}
	return sqlite.Open(ctx, cfg.SQLitePath())
}

// LoadSealKey returns the configured sealing key, or the one kept in the data
// directory (created on first start).
func LoadSealKey(cfg *config.Config) ([]byte, error) {
	if cfg.SealKey != "" {
		k, err := seal.ParseKey(cfg.SealKey)
		if err != nil {
			return nil, &config.Error{Key: "seal_key", Source: "configuration", Reason: err.Error()}
		}
		return k, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
	}
	return seal.LoadOrCreateKeyFile(cfg.SealKeyPath())
}

// deriveKey derives a purpose-bound 32-byte key from the sealing key, so one
// configured secret serves every replica without reusing a key across purposes.
func deriveKey(master []byte, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, master, nil, "authz "+purpose, 32)
	if err != nil {
		panic("server: hkdf: " + err.Error())
	}
	return k
}

// Option adjusts how Open builds an App.
type Option func(*options)

type options struct {
	now         func() time.Time
	generateKey func(alg string) (crypto.Signer, error)
	postgres    []postgres.Option
}

// WithKeyGenerator makes the App's signing keys with generate instead of
// fresh random keys (oauth.KeySet.Generate): tests that start many servers
// share keys this way.
func WithKeyGenerator(generate func(alg string) (crypto.Signer, error)) Option {
	return func(o *options) { o.generateKey = generate }
}

// WithPostgres passes opts to the PostgreSQL store, if that is the one
// configured (tests trace its statements).
func WithPostgres(opts ...postgres.Option) Option {
	return func(o *options) { o.postgres = append(o.postgres, opts...) }
}

// WithClock makes the App read the time from now instead of time.Now wherever
// authz itself decides by the clock: the login pipeline (sessions, login
// transactions, links, lockouts, and the time step a one-time code is checked
// against), the admin operations (link expiry, audit times), the janitor and
// the bootstrap, browser sessions (and max_age), the refresh-token reuse
// grace. Tests move such a clock forward instead of sleeping. fosite still
// reads the real clock (token lifetimes), and the signing keys keep their own
// (KeySet.Now), so a test clock must never run behind real time, and
// a login whose password step is checked by it becomes an auth_time that
// fosite accepts only up to 5 s ahead of real time.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// Open builds an App from cfg: it opens and migrates the store, loads the sealing
// key and the signing keys, and creates the bootstrap administrator on first start.
// The one-time bootstrap password, if one is made, is written to console.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger, console io.Writer, opts ...Option) (*App, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	// The store first: an unreachable database must leave nothing behind.
	st, err := OpenStore(ctx, cfg, o.postgres...)
	if err != nil {
		return nil, err
	}
	a, err := open(ctx, cfg, log, st, console, o)
	if err != nil {
		st.Close()
		return nil, err
	}
	// Start-up ran argon2id (19 MiB a hash) and parsed keys; without a
	// collection now, an idle server would hold that garbage until the forced
	// GC two minutes later.
	debug.FreeOSMemory()
	return a, nil
}

func open(ctx context.Context, cfg *config.Config, log *slog.Logger, st migrator, console io.Writer, o options) (*App, error) {
	master, err := LoadSealKey(cfg)
	if err != nil {
		return nil, err
	}
	sealer, err := seal.New(master)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	a := &App{Config: cfg, Log: log, Store: store.CacheClients(st, clientCacheTTL), Sealer: sealer, Console: console, now: o.now, generateKey: o.generateKey}
	a.Metrics = newRecorder(st)
	if err := a.build(ctx, master); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *App) build(ctx context.Context, master []byte) error {
	cfg := a.Config
	a.Keys = oauth.NewKeySet(a.Store, a.Sealer)
	a.Keys.Generate = a.generateKey
	if err := a.Keys.Ensure(ctx, cfg.SigningAlgorithm); err != nil {
		return err
	}
	a.Passwords = password.NewHasher(password.Params{MemoryKiB: cfg.PasswordMemoryKiB, Iterations: cfg.PasswordIterations, Parallelism: cfg.PasswordParallelism})
	a.OTP = mfa.NewVerifier(a.Store, a.Sealer)
	a.OTP.RecoveryKey = deriveKey(master, "recovery codes")
	if err := a.buildMail(); err != nil {
		return err
	}
	a.Sessions = &session.Manager{Store: a.Store, SecureCookies: cfg.Issuer.Scheme == "https", Now: a.now}
	a.Notify = &notify.Notifier{Mail: a.Mail, Site: cfg.Site(), Log: a.Log, Now: a.now}
	a.Pipeline = &login.Pipeline{
		Store: a.Store, Sessions: a.Sessions, Passwords: a.Passwords, OTP: a.OTP, Log: a.Log,
		SessionTTL: cfg.SessionTTL, TransactionTTL: cfg.LoginTransactionTTL, AnonymousLogins: cfg.AnonymousLoginsPerAddress, OTPIssuer: cfg.OTPIssuer, Now: a.now,
		Notify: a.Notify, Issuer: cfg.Issuer.String(), LinkTTL: linkTTL(cfg), RememberDays: cfg.RememberBrowserDays,
	}
	switch passkeys, err := passkey.New(a.Store, cfg.Issuer, cfg.Site()); {
	case errors.Is(err, passkey.ErrNoDomain):
		a.Log.Warn("security keys and passkeys are off: the issuer's host is an IP address, and WebAuthn needs a domain name (localhost will do)", "issuer", cfg.Issuer.String())
	case err != nil:
		return err
	default:
		passkeys.Now = a.now
		a.Pipeline.Passkeys = passkeys
	}
	a.Provider = oauth.NewProvider(oauth.Config{
		Issuer:            cfg.Issuer.String(),
		AccessTokenTTL:    cfg.AccessTokenTTL,
		RefreshTokenTTL:   cfg.RefreshTokenTTL,
		AuthorizeCodeTTL:  cfg.AuthorizeCodeTTL,
		IDTokenTTL:        cfg.IDTokenTTL,
		HMACSecret:        deriveKey(master, "token hmac"),
		ClientSecretKey:   deriveKey(master, "client secret"),
		RefreshReuseGrace: cfg.RefreshReuseGrace,
		Now:               a.now,
	}, a.Store, a.Keys, a.Sessions, a.Pipeline, a.Log)
	a.Pipeline.Resume = a.Provider
	a.Pipeline.Federation = &federation.Service{Store: a.Store, Sealer: a.Sealer, Issuer: cfg.Issuer.String(), Log: a.Log}
	a.Admin = &admin.Service{Store: a.Store, Mail: a.Mail, Issuer: cfg.Issuer.String(), SiteName: cfg.Site(), LinkTTL: cfg.ActionTokenTTL,
		Sealer: a.Sealer, Secrets: a.Provider.Hasher(), Log: a.Log, Now: a.now, DefaultLocale: cfg.DefaultLocale, Zone: cfg.TimeZone}
	a.AdminConsole = &console.Console{Service: a.Admin, Store: a.Store, Sessions: a.Sessions, Login: a.Pipeline, Log: a.Log}
	a.AdminAPI = &api.API{Service: a.Admin, Store: a.Store, Sessions: a.Sessions, Tokens: a.Provider, Log: a.Log}
	return a.bootstrapAdmin(ctx)
}

func (a *App) buildMail() error {
	cfg := a.Config
	if cfg.SMTPHost == "" {
		if cfg.Dev {
			// In the data directory, so that the CLI's mail shows here too.
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
			}
			a.Outbox = mail.NewFileOutbox(filepath.Join(cfg.DataDir, "dev-mail.jsonl"), 50)
		}
		if !cfg.Dev {
			a.Log.Warn("e-mail is not configured (smtp.host): set-up and reset links cannot be sent")
		}
		a.Mail = mail.NewLogSender(a.Log, a.Outbox)
		return nil
	}
	s, err := mail.NewSMTPSender(mail.SMTPConfig{Host: cfg.SMTPHost, Port: cfg.SMTPPort, TLS: cfg.SMTPTLS, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword, From: cfg.MailFrom()})
	if err != nil {
		return &config.Error{Key: "smtp.host", Source: "configuration", Reason: err.Error()}
	}
	a.Mail = s
	return nil
}

// linkTTL is the lifetime of e-mailed links, the administrator's and the
// user's own alike.
func linkTTL(cfg *config.Config) time.Duration {
	if cfg.ActionTokenTTL > 0 {
		return cfg.ActionTokenTTL
	}
	return admin.DefaultLinkTTL
}

// Now is the App's clock (see WithClock), in UTC.
func (a *App) Now() time.Time { return a.now().UTC() }

// RetireAfter is how long a rotated-out signing key stays published: long
// enough for every token it signed to expire.
func (a *App) RetireAfter() time.Duration {
	return max(a.Config.IDTokenTTL, a.Config.AccessTokenTTL)
}

// Close stops background work and closes the store.
func (a *App) Close() error {
	if a.janitorStop != nil {
		a.janitorStop()
		<-a.janitorDone
	}
	if a.Notify != nil {
		// Messages on their way still need the store (a reset link).
		a.Notify.Wait()
	}
	if a.logoutStop != nil {
		a.logoutStop()
		<-a.logoutDone
	}
	return a.Store.Close()
}

// StartBackchannel delivers back-channel logouts in the background until
// Close: those this replica queued at once, others' within a poll.
func (a *App) StartBackchannel() {
	ctx, cancel := context.WithCancel(context.Background())
	a.logoutStop, a.logoutDone = cancel, make(chan struct{})
	bc := a.Provider.Backchannel()
	bc.Counter = a.Metrics
	go func() {
		defer close(a.logoutDone)
		bc.Run(ctx)
	}()
}

// StartJanitor deletes expired rows in the background, in small batches so it
// never holds the store for long.
func (a *App) StartJanitor(every time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	a.janitorStop, a.janitorDone = cancel, make(chan struct{})
	go func() {
		defer close(a.janitorDone)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				a.sweep(ctx)
			}
		}
	}()
}

// janitorBatch is how many rows of each table one DeleteExpired call removes.
const janitorBatch = 250

func (a *App) sweep(ctx context.Context) {
	for {
		start := time.Now()
		n, err := a.Store.DeleteExpired(ctx, a.Now(), janitorBatch)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				a.Log.Warn("janitor: delete expired rows", "err", err)
			}
			return
		}
		if n == 0 {
			return
		}
		a.Log.Debug("janitor: deleted expired rows", "count", n)
		// Then leave the store alone as long as the batch held it: with a
		// million rows to delete, back-to-back batches kept SQLite's one
		// writer busy and token requests queued behind them for most of a
		// second; this way a request waits at most one batch, and the
		// cleanup takes at most half of the store's time.
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Since(start)):
		}
	}
}
