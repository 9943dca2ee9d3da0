package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, args []string, env map[string]string) (*Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	l := Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse flags: %v", err)
	}
	return l.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "authz.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.Issuer.String() != "http://localhost:8080" || c.DataDir != "./data" {
		t.Errorf("defaults: listen %q issuer %q data %q", c.Listen, c.Issuer, c.DataDir)
	}
	if c.DatabaseURL != "" || c.SQLitePath() != filepath.Join("data", "authz.db") {
		t.Errorf("default store: %q %q", c.DatabaseURL, c.SQLitePath())
	}
	if c.PasswordMemoryKiB != 19456 || c.PasswordIterations != 2 || c.PasswordParallelism != 1 {
		t.Errorf("argon2id defaults: %d %d %d", c.PasswordMemoryKiB, c.PasswordIterations, c.PasswordParallelism)
	}
	if c.ActionTokenTTL != 12*time.Hour || c.SigningAlgorithm != "RS256" {
		t.Errorf("links.ttl %v alg %s", c.ActionTokenTTL, c.SigningAlgorithm)
	}
	if c.RefreshReuseGrace != 10*time.Second {
		t.Errorf("tokens.refresh_reuse_grace %v, want 10s", c.RefreshReuseGrace)
	}
}

// The refresh reuse grace may be switched off (0s) but not stretched past
// 5 minutes, nor made negative.
func TestRefreshReuseGraceBounds(t *testing.T) {
	for v, want := range map[string]time.Duration{"0s": 0, "2s": 2 * time.Second, "5m": 5 * time.Minute} {
		c, err := load(t, []string{"--tokens-refresh-reuse-grace", v}, nil)
		if err != nil {
			t.Errorf("%s: %v", v, err)
		} else if c.RefreshReuseGrace != want {
			t.Errorf("%s: %v, want %v", v, c.RefreshReuseGrace, want)
		}
	}
	for _, v := range []string{"-1s", "5m1s"} {
		_, err := load(t, nil, map[string]string{"AUTHZ_TOKENS_REFRESH_REUSE_GRACE": v})
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != "tokens.refresh_reuse_grace" || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("%s: %v, want out of range for tokens.refresh_reuse_grace", v, err)
		}
	}
}

func TestPrecedenceFileEnvFlag(t *testing.T) {
	file := writeFile(t, "listen: 127.0.0.1:1000\nissuer: https://file.example\nsmtp:\n  host: file-smtp\n  port: 25\nlog:\n  format: json\n")
	c, err := load(t, []string{"--config", file, "--listen", "127.0.0.1:3000"}, map[string]string{
		"AUTHZ_LISTEN": "127.0.0.1:2000",
		"AUTHZ_ISSUER": "https://env.example/",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:3000" {
		t.Errorf("flag must win: %q", c.Listen)
	}
	if c.Issuer.String() != "https://env.example" {
		t.Errorf("env must beat file, trailing slash trimmed: %q", c.Issuer)
	}
	if c.SMTPHost != "file-smtp" || c.SMTPPort != 25 || c.LogFormat != "json" {
		t.Errorf("file values: %q %d %q", c.SMTPHost, c.SMTPPort, c.LogFormat)
	}
}

func TestBareBoolFlagAndProxies(t *testing.T) {
	c, err := load(t, []string{"--dev", "--trusted-proxies", "10.0.0.0/8, 192.0.2.7"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Dev || len(c.TrustedProxies) != 2 || c.TrustedProxies[1].Bits() != 32 {
		t.Errorf("dev %v proxies %v", c.Dev, c.TrustedProxies)
	}
}

func TestBadValuesNameTheKey(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		file    string
		wantKey string
		want    string
	}{
		{name: "unknown file key", file: "lisen: x\n", wantKey: "lisen", want: "unknown key"},
		{name: "unknown nested key", file: "smtp:\n  hots: x\n", wantKey: "smtp.hots", want: "unknown key"},
		{name: "bad duration", env: map[string]string{"AUTHZ_TOKENS_ACCESS_TTL": "forever"}, wantKey: "tokens.access_ttl", want: "not a duration"},
		{name: "duration out of range", args: []string{"--tokens-access-ttl", "1s"}, wantKey: "tokens.access_ttl", want: "out of range"},
		{name: "bad enum", args: []string{"--log-format", "xml"}, wantKey: "log.format", want: "text, json"},
		{name: "bad issuer", env: map[string]string{"AUTHZ_ISSUER": "localhost:8080"}, wantKey: "issuer", want: "absolute"},
		{name: "issuer with a path", args: []string{"--issuer", "https://id.example.com/realms/main"}, wantKey: "issuer", want: "no path"},
		{name: "bad port", args: []string{"--listen", "127.0.0.1:99999"}, wantKey: "listen", want: "0-65535"},
		{name: "request timeout past the write timeout", args: []string{"--request-timeout", "1m"}, wantKey: "request_timeout", want: "out of range"},
		{name: "bad metrics address", env: map[string]string{"AUTHZ_METRICS_LISTEN": "9090"}, wantKey: "metrics.listen", want: "host:port"},
		{name: "metrics on the main address", args: []string{"--listen", "127.0.0.1:8080", "--metrics-listen", "127.0.0.1:8080"}, wantKey: "metrics.listen", want: "differ"},
		{name: "bad database", args: []string{"--database-url", "mysql://x"}, wantKey: "database.url", want: "postgres://"},
		{name: "bad proxy", args: []string{"--trusted-proxies", "nope"}, wantKey: "trusted_proxies", want: "CIDR"},
		{name: "bad int", file: "password:\n  iterations: lots\n", wantKey: "password.iterations", want: "not an integer"},
		{name: "tls half", args: []string{"--tls-cert-file", "x.pem"}, wantKey: "tls.cert_file", want: "together"},
		{name: "bad bool", env: map[string]string{"AUTHZ_DEV": "maybe"}, wantKey: "dev", want: "boolean"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, tc.file)}, args...)
			}
			_, err := load(t, args, tc.env)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *config.Error, got %v", err)
			}
			if ce.Key != tc.wantKey || !strings.Contains(ce.Error(), tc.want) {
				t.Errorf("got %q (key %q), want key %q and %q", ce.Error(), ce.Key, tc.wantKey, tc.want)
			}
		})
	}
}

func TestMalformedYAML(t *testing.T) {
	_, err := load(t, []string{"--config", writeFile(t, "listen: [unclosed\n")}, nil)
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "not valid YAML") {
		t.Fatalf("want YAML error, got %v", err)
	}
}

func TestMissingFile(t *testing.T) {
	_, err := load(t, []string{"--config", filepath.Join(t.TempDir(), "nope.yaml")}, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot read config file") {
		t.Fatalf("want read error, got %v", err)
	}
}

func TestReferenceListsEveryKey(t *testing.T) {
	ref := Reference()
	for _, k := range keys {
		if !strings.Contains(ref, "`"+k.name+"`") || !strings.Contains(ref, k.EnvName()) {
			t.Errorf("reference lacks %s", k.name)
		}
	}
}

func FuzzParseYAML(f *testing.F) {
	f.Add([]byte("listen: 127.0.0.1:1\nsmtp:\n  host: x\n"))
	f.Add([]byte("a: [1, {b: c}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		values, err := parseYAML(data, "fuzz")
		if err == nil {
			_ = apply(&Config{}, values, "fuzz")
		}
	})
}

// TestREADMEDocumentsEveryKey keeps the README's reference identical to the
// keys table.
func TestREADMEDocumentsEveryKey(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), Reference()) {
		t.Fatalf("README.md's configuration reference is stale; replace it with:\n%s", Reference())
	}
}

// TestSiteAndSender: without settings, the service is named by the issuer's
// host and mails as noreply there, never noreply@localhost; site_name and
// smtp.from override.
func TestSiteAndSender(t *testing.T) {
	c, err := load(t, []string{"--issuer", "https://login.example.com:8443"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Site() != "login.example.com" || c.MailFrom() != `"login.example.com" <noreply@login.example.com>` {
		t.Errorf("defaults: site %q, from %q", c.Site(), c.MailFrom())
	}
	c, err = load(t, []string{"--issuer", "https://login.example.com", "--site-name", "Example, Inc. Login"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Site() != "Example, Inc. Login" || c.MailFrom() != `"Example, Inc. Login" <noreply@login.example.com>` {
		t.Errorf("site_name: site %q, from %q", c.Site(), c.MailFrom())
	}
	c, err = load(t, []string{"--smtp-from", "IT <it@example.com>"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.MailFrom() != "IT <it@example.com>" {
		t.Errorf("smtp.from: %q", c.MailFrom())
	}
}
