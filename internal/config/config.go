// Package config loads and validates authz's configuration from, in rising order of
// precedence, built-in defaults, a YAML file, AUTHZ_* environment variables and
// command-line flags.
//
// Every key is declared once in the keys table below, with its default, its parser
// and its documentation; the README's reference is generated from the same table
// (see Reference), so the two cannot drift apart.
package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	// The time zone database is embedded, so that time_zone works on
	// machines without one (static builds in scratch containers).
	_ "time/tzdata"

	"github.com/authz/authz/internal/i18n"
)

// Config is the validated configuration of one authz process.
type Config struct {
	Listen string
	// MetricsListen, when set, moves /metrics off Listen to a listener of
	// its own (with /healthz and /readyz), for a network the public cannot
	// reach.
	MetricsListen string
	Issuer        *url.URL
	DataDir       string
	Dev           bool
	LogLevel      string
	// LogFormat is "text" or "json".
	LogFormat string

	DatabaseURL string // empty selects the embedded SQLite store in DataDir
	// RequestTimeout is the deadline of one request; past it the request
	// answers 503 with Retry-After.
	RequestTimeout time.Duration

	TLSCertFile string
	TLSKeyFile  string
	// TrustedProxies are the networks whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix

	SealKey                string // base64; empty: generated in DataDir
	BootstrapAdminPassword string

	PasswordMemoryKiB   uint32
	PasswordIterations  uint32
	PasswordParallelism uint8

	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// RefreshReuseGrace is how long after its rotation a refresh token still
	// buys new tokens instead of counting as reuse; 0 disables it.
	RefreshReuseGrace   time.Duration
	AuthorizeCodeTTL    time.Duration
	IDTokenTTL          time.Duration
	SessionTTL          time.Duration
	LoginTransactionTTL time.Duration
	// AnonymousLoginsPerAddress is how many login transactions one client
	// address may start while nobody is signed in before it is slowed
	// (throttle.Logins).
	AnonymousLoginsPerAddress int
	// JanitorInterval is how often expired rows are deleted (in batches of
	// 500, until none is left).
	JanitorInterval  time.Duration
	ActionTokenTTL   time.Duration
	SigningAlgorithm string

	OTPIssuer string
	// RememberBrowserDays is how long "don't ask again on this browser"
	// spares a user the code step; 0 (the default) does not offer it.
	RememberBrowserDays int

	SMTPHost     string
	SMTPPort     int
	SMTPTLS      string
	SMTPUsername string
	SMTPPassword string
	SMTPFrom     string
	// SiteName names the service in e-mails; empty means the issuer's host.
	SiteName string

	// DefaultLocale is the language of pages when neither the browser's
	// choice, ui_locales nor Accept-Language names a supported one, and of
	// e-mails to users without a preferred language.
	DefaultLocale string
	// TimeZone is the zone dates and times are shown in, on pages and in
	// e-mails.
	TimeZone *time.Location
}

// SQLitePath is the embedded database file used when no DatabaseURL is set.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "authz.db") }

// Site names the service to people: site_name, or the issuer's host, which
// users recognise from their browser's address bar.
func (c *Config) Site() string {
	if c.SiteName != "" {
		return c.SiteName
	}
	if c.Issuer != nil && c.Issuer.Hostname() != "" {
		return c.Issuer.Hostname()
	}
	return "authz"
}

// MailFrom is the sender of outgoing mail: smtp.from, or noreply at the
// issuer's host under the site's name, so that recipients see where it
// comes from (and mail servers that check the sender's domain accept it).
func (c *Config) MailFrom() string {
	if c.SMTPFrom != "" {
		return c.SMTPFrom
	}
	host := "localhost"
	if c.Issuer != nil && c.Issuer.Hostname() != "" {
		host = c.Issuer.Hostname()
	}
	return (&mail.Address{Name: c.Site(), Address: "noreply@" + host}).String()
}

// SealKeyPath is where the generated sealing key lives when SealKey is empty.
func (c *Config) SealKeyPath() string { return filepath.Join(c.DataDir, "seal.key") }

// TLS reports whether the server itself terminates TLS.
func (c *Config) TLS() bool { return c.TLSCertFile != "" }

// Error is a configuration error naming the key at fault. Commands exit with
// status 2 on it.
type Error struct {
	Key    string
	Source string // "file", "env AUTHZ_X", "flag --x"
	Reason string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return "config: " + e.Reason
	}
	return fmt.Sprintf("config: %s (from %s): %s", e.Key, e.Source, e.Reason)
}

// key declares one configuration key.
type key struct {
	name    string // dotted YAML path, e.g. "smtp.host"
	def     string
	doc     string
	secret  bool
	set     func(c *Config, v string) error
	boolean bool
}

// EnvName is the environment variable of a key: AUTHZ_ and the name upper-cased
// with dots as underscores.
func (k key) EnvName() string {
	return "AUTHZ_" + strings.ToUpper(strings.ReplaceAll(k.name, ".", "_"))
}

// FlagName is the command-line flag of a key: the name with dots and underscores
// as dashes.
func (k key) FlagName() string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(k.name)
}

func oneOf(dst *string, allowed ...string) func(*Config, string) error {
	return func(_ *Config, v string) error {
		for _, a := range allowed {
			if v == a {
				*dst = v
				return nil
			}
		}
		return fmt.Errorf("%q is not allowed; use one of: %s", v, strings.Join(allowed, ", "))
	}
}

func durationIn(get func(*Config) *time.Duration, min, max time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration; use e.g. 30s, 15m, 12h", v)
		}
		if d < min || d > max {
			return fmt.Errorf("%s is out of range; allowed %s to %s", d, min, max)
		}
		*get(c) = d
		return nil
	}
}

func intIn(min, max int, set func(*Config, int)) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		if n < min || n > max {
			return fmt.Errorf("%d is out of range; allowed %d to %d", n, min, max)
		}
		set(c, n)
		return nil
	}
}

func parseBool(dst func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not a boolean; use true or false", v)
		}
		*dst(c) = b
		return nil
	}
}

func setString(dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *dst(c) = v; return nil }
}

func setDefaultLocale(c *Config, v string) error {
	tag, ok := i18n.Canonical(v)
	if !ok {
		return fmt.Errorf("%q is not a supported language; use one of: %s", v, strings.Join(i18n.Supported(), ", "))
	}
	c.DefaultLocale = tag
	return nil
}

func setTimeZone(c *Config, v string) error {
	loc, err := time.LoadLocation(v)
	if err != nil || v == "" || v == "Local" {
		return fmt.Errorf("%q is not an IANA time zone name", v)
	}
	c.TimeZone = loc
	return nil
}

func setIssuer(c *Config, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", v)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not have a query or fragment", v)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if u.Path != "" || u.User != nil {
		// Every route is served at the root: an issuer with a path would
		// publish discovery where nobody looks for it (OIDC Discovery §4).
		return fmt.Errorf("%q must be a scheme and host only, with no path or user", v)
	}
	c.Issuer = u
	return nil
}

func setListen(c *Config, v string) error {
	if err := checkHostPort(v); err != nil {
		return err
	}
	c.Listen = v
	return nil
}

func setMetricsListen(c *Config, v string) error {
	if v != "" {
		if err := checkHostPort(v); err != nil {
			return err
		}
	}
	c.MetricsListen = v
	return nil
}

func checkHostPort(v string) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%q is not host:port", v)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not 0-65535", port)
	}
	return nil
}

func setProxies(c *Config, v string) error {
	c.TrustedProxies = nil
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return fmt.Errorf("%q is not an IP address or CIDR", s)
			}
			c.TrustedProxies = append(c.TrustedProxies, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("%q is not an IP address or CIDR", s)
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	return nil
}

func setDatabaseURL(c *Config, v string) error {
	if v != "" && !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") {
		return fmt.Errorf("must be empty (embedded SQLite) or a postgres:// URL")
	}
	c.DatabaseURL = v
	return nil
}

// keys is the single declaration of every configuration key.
var keys = []key{
	{name: "listen", def: "127.0.0.1:8080", doc: "Address the HTTP(S) server listens on.", set: setListen},
	{name: "metrics.listen", def: "", doc: "Address of a separate plain-HTTP listener for /metrics (with /healthz and /readyz), e.g. an internal interface; /metrics then leaves the main listener. Empty: /metrics on the main listener.", set: setMetricsListen},
	{name: "issuer", def: "http://localhost:8080", doc: "Public issuer URL, a scheme and host without a path; decides the scheme and host in every URL authz hands out (set it when behind a reverse proxy). With https, cookies are Secure and named with the __Host- prefix.", set: setIssuer},
	{name: "site_name", def: "", doc: "Name of this service in e-mails and pages. Empty: the issuer's host.", set: setString(func(c *Config) *string { return &c.SiteName })},
	{name: "default_locale", def: "en", doc: "Language of pages when the browser asks for none that authz has (the selector's cookie, ui_locales and Accept-Language come first), and of e-mails to users without a preferred language: en or ja.", set: setDefaultLocale},
	{name: "time_zone", def: "UTC", doc: "Time zone (IANA name, e.g. Asia/Tokyo) of the dates and times on pages and in e-mails.", set: setTimeZone},
	{name: "data_dir", def: "./data", doc: "Directory for the embedded database and the generated sealing key.", set: setString(func(c *Config) *string { return &c.DataDir })},
	{name: "dev", def: "false", doc: "Development mode: without smtp.host, e-mails are kept and listed at /dev/mail (never for production: the page shows set-up links to anyone).", boolean: true, set: parseBool(func(c *Config) *bool { return &c.Dev })},
	{name: "log.level", def: "info", doc: "Log level: debug, info, warn, error.", set: func(c *Config, v string) error { return oneOf(&c.LogLevel, "debug", "info", "warn", "error")(c, v) }},
	{name: "log.format", def: "text", doc: "Log format: text or json.", set: func(c *Config, v string) error { return oneOf(&c.LogFormat, "text", "json")(c, v) }},
	{name: "database.url", def: "", doc: "PostgreSQL URL (postgres://user:pass@host/db). Empty: embedded SQLite at <data_dir>/authz.db.", secret: true, set: setDatabaseURL},
	{name: "request_timeout", def: "20s", doc: "Deadline of a whole request (its waits on the database, an upstream provider or a password-hashing slot); past it the answer is 503 with Retry-After instead of a hang. 1s to 25s: the server cuts a response off after 30 s.", set: durationIn(func(c *Config) *time.Duration { return &c.RequestTimeout }, time.Second, 25*time.Second)},
	{name: "tls.cert_file", def: "", doc: "PEM certificate; with tls.key_file, authz serves HTTPS itself.", set: setString(func(c *Config) *string { return &c.TLSCertFile })},
	{name: "tls.key_file", def: "", doc: "PEM private key for tls.cert_file.", set: setString(func(c *Config) *string { return &c.TLSKeyFile })},
	{name: "trusted_proxies", def: "", doc: "Comma-separated IPs/CIDRs whose X-Forwarded-For header is believed.", set: setProxies},
	{name: "seal_key", def: "", doc: "Base64 32-byte key sealing secrets at rest. Empty: generated once in <data_dir>/seal.key. Every replica on one database needs the same key.", secret: true, set: setString(func(c *Config) *string { return &c.SealKey })},
	{name: "bootstrap_admin_password", def: "", doc: "Password of the bootstrap administrator created at first start. Empty: a random one-time password is printed once.", secret: true, set: setString(func(c *Config) *string { return &c.BootstrapAdminPassword })},
	{name: "password.memory_kib", def: "19456", doc: "argon2id memory in KiB (OWASP: 19456).", set: intIn(1024, 4<<20, func(c *Config, n int) { c.PasswordMemoryKiB = uint32(n) })},
	{name: "password.iterations", def: "2", doc: "argon2id iterations.", set: intIn(1, 100, func(c *Config, n int) { c.PasswordIterations = uint32(n) })},
	{name: "password.parallelism", def: "1", doc: "argon2id parallelism.", set: intIn(1, 64, func(c *Config, n int) { c.PasswordParallelism = uint8(n) })},
	{name: "tokens.access_ttl", def: "1h", doc: "Access token lifetime.", set: durationIn(func(c *Config) *time.Duration { return &c.AccessTokenTTL }, time.Minute, 24*time.Hour)},
	{name: "tokens.refresh_ttl", def: "720h", doc: "Refresh token lifetime.", set: durationIn(func(c *Config) *time.Duration { return &c.RefreshTokenTTL }, time.Minute, 8760*time.Hour)},
	{name: "tokens.refresh_reuse_grace", def: "10s", doc: "How long a rotated refresh token may still be used (two tabs refreshing at once, a retry after a timeout): each such use gets a new token pair of the same grant. A use after it counts as theft and revokes the grant. 0s to 5m; 0s: any use of a rotated token revokes.", set: durationIn(func(c *Config) *time.Duration { return &c.RefreshReuseGrace }, 0, 5*time.Minute)},
	{name: "tokens.code_ttl", def: "10m", doc: "Authorization code lifetime.", set: durationIn(func(c *Config) *time.Duration { return &c.AuthorizeCodeTTL }, time.Second, time.Hour)},
	{name: "tokens.id_token_ttl", def: "1h", doc: "ID token lifetime.", set: durationIn(func(c *Config) *time.Duration { return &c.IDTokenTTL }, time.Minute, 24*time.Hour)},
	{name: "tokens.signing_algorithm", def: "RS256", doc: "The default signing algorithm of ID, logout and JWT access tokens: RS256 or ES256. A key of each is kept and published, for the clients registered for the other (id_token_signed_response_alg).", set: func(c *Config, v string) error { return oneOf(&c.SigningAlgorithm, "RS256", "ES256")(c, v) }},
	{name: "session.ttl", def: "12h", doc: "Browser session lifetime.", set: durationIn(func(c *Config) *time.Duration { return &c.SessionTTL }, time.Minute, 720*time.Hour)},
	{name: "login.ttl", def: "30m", doc: "Lifetime of a login transaction (one walk through the login pages).", set: durationIn(func(c *Config) *time.Duration { return &c.LoginTransactionTTL }, time.Minute, 24*time.Hour)},
	{name: "login.anonymous_per_address", def: "300", doc: "Logins one client address may start while nobody is signed in (an authorization request, an upstream sign-in, a posted sign-in form; each is stored until login.ttl) before it is slowed: past this number one a minute, the wait doubling up to 10 min; the count starts again after 10 min without one. Others get 429 with Retry-After. It bounds what a flood can store; raise it for many users behind one address. 10 to 1000000.", set: intIn(10, 1000000, func(c *Config, n int) { c.AnonymousLoginsPerAddress = n })},
	{name: "janitor.interval", def: "1m", doc: "How often expired tokens, sessions and links are deleted, in batches of 500 rows until none is left.", set: durationIn(func(c *Config) *time.Duration { return &c.JanitorInterval }, time.Second, 24*time.Hour)},
	{name: "links.ttl", def: "12h", doc: "Lifetime of e-mailed password-setup and reset links.", set: durationIn(func(c *Config) *time.Duration { return &c.ActionTokenTTL }, 5*time.Minute, 720*time.Hour)},
	{name: "login.remember_browser_days", def: "0", doc: "Offer \"Don't ask again on this browser for N days\" at the one-time-code step: such a browser then skips the code after the password (amr says \"remembered\", never \"otp\"). 0: never (a code at every login). Administrators are always asked.", set: intIn(0, 365, func(c *Config, n int) { c.RememberBrowserDays = n })},
	{name: "otp.issuer", def: "authz", doc: "Issuer name shown in authenticator apps.", set: setString(func(c *Config) *string { return &c.OTPIssuer })},
	{name: "smtp.host", def: "", doc: "SMTP server host. Empty: no e-mail is sent; authz warns once at start, and each unsent message is logged by recipient and subject, never its link (in dev mode it is kept for /dev/mail instead).", set: setString(func(c *Config) *string { return &c.SMTPHost })},
	{name: "smtp.port", def: "587", doc: "SMTP server port.", set: intIn(1, 65535, func(c *Config, n int) { c.SMTPPort = n })},
	{name: "smtp.tls", def: "starttls", doc: "SMTP TLS mode: none, starttls, tls.", set: func(c *Config, v string) error { return oneOf(&c.SMTPTLS, "none", "starttls", "tls")(c, v) }},
	{name: "smtp.username", def: "", doc: "SMTP user name (empty: no authentication).", set: setString(func(c *Config) *string { return &c.SMTPUsername })},
	{name: "smtp.password", def: "", doc: "SMTP password.", secret: true, set: setString(func(c *Config) *string { return &c.SMTPPassword })},
	{name: "smtp.from", def: "", doc: "Sender address of outgoing mail. Empty: <site_name> <noreply@ISSUER-HOST>.", set: setString(func(c *Config) *string { return &c.SMTPFrom })},
}

// Reference returns the configuration reference as a Markdown table.
func Reference() string {
	var b strings.Builder
	b.WriteString("| key | env | flag | default | meaning |\n|---|---|---|---|---|\n")
	for _, k := range keys {
		def := k.def
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | `--%s` | `%s` | %s |\n", k.name, k.EnvName(), k.FlagName(), def, k.doc)
	}
	return b.String()
}

func (c *Config) validate() error {
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return &Error{Key: "tls.cert_file", Source: "configuration", Reason: "tls.cert_file and tls.key_file must be set together"}
	}
	if c.DataDir == "" {
		return &Error{Key: "data_dir", Source: "configuration", Reason: "must not be empty"}
	}
	if c.MetricsListen != "" && c.MetricsListen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
		return &Error{Key: "metrics.listen", Source: "configuration", Reason: "must differ from listen"}
	}
	return nil
}
