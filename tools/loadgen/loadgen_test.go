package loadgen

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/config"
	"github.com/authz/authz/internal/server"
)

// startApp runs authz on a fresh SQLite store in this process, with cheap
// password hashing, and returns it with its issuer URL.
func startApp(t *testing.T) (*server.App, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	l := config.Register(fs)
	if err := fs.Parse([]string{"--data-dir", t.TempDir(), "--issuer", issuer, "--listen", ln.Addr().String(),
		"--password-memory-kib", "1024", "--password-iterations", "1"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := l.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	app, err := server.Open(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: app.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = app.Close()
	})
	return app, issuer
}

func TestEveryScenarioRunsCleanly(t *testing.T) {
	app, target := startApp(t)
	seed, err := Seed(context.Background(), app, 300)
	if err != nil {
		t.Fatal(err)
	}
	initial := make([]int64, len(seed.Users))
	for i, u := range seed.Users {
		initial[i] = u.LastStep
	}
	for _, s := range Scenarios {
		t.Run(s, func(t *testing.T) {
			r, err := Run(context.Background(), Options{Target: target, Scenario: s, Workers: 2, Duration: time.Second, Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			if r.OK == 0 || r.Errors != 0 {
				t.Fatalf("%s: %d ok, %d errors %v", s, r.OK, r.Errors, r.ErrorKinds)
			}
			if r.P50ms <= 0 || r.P50ms > r.P99ms || r.P99ms > r.MaxMs {
				t.Errorf("percentiles out of order: p50 %.2f p99 %.2f max %.2f", r.P50ms, r.P99ms, r.MaxMs)
			}
			var table, js strings.Builder
			if err := r.WriteTable(&table); err != nil || !strings.Contains(table.String(), s) {
				t.Errorf("table: %v\n%s", err, table.String())
			}
			if err := r.WriteJSON(&js); err != nil || !strings.Contains(js.String(), `"ok_per_second"`) {
				t.Errorf("json: %v\n%s", err, js.String())
			}
		})
	}
	// Every login used a code of a later step than the seed's: the steps were
	// written back into the seed, so another run does not replay them.
	used := 0
	for i, u := range seed.Users {
		if u.LastStep > initial[i] {
			used++
		}
	}
	if used == 0 {
		t.Error("no user's last used step was recorded in the seed")
	}
}

func TestRateLimit(t *testing.T) {
	app, target := startApp(t)
	seed, err := Seed(context.Background(), app, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), Options{Target: target, Scenario: ClientCredentials, Workers: 4, Duration: time.Second, Rate: 50, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	if r.OK < 30 || r.OK > 60 {
		t.Errorf("at 50/s for 1 s: %d requests", r.OK)
	}
}

func TestBadOptions(t *testing.T) {
	seed := &SeedFile{Machine: Client{ID: "m"}, Web: Client{ID: "w"}}
	good := Options{Target: "http://127.0.0.1:8080", Scenario: ClientCredentials, Workers: 1, Duration: time.Second, Seed: seed}
	cases := map[string]func(o *Options){
		"bad target":         func(o *Options) { o.Target = "localhost:8080" },
		"ftp target":         func(o *Options) { o.Target = "ftp://127.0.0.1" },
		"unknown scenario":   func(o *Options) { o.Scenario = "ddos" },
		"zero duration":      func(o *Options) { o.Duration = 0 },
		"endless duration":   func(o *Options) { o.Duration = 48 * time.Hour },
		"no workers":         func(o *Options) { o.Workers = 0 },
		"negative rate":      func(o *Options) { o.Rate = -1 },
		"no seed":            func(o *Options) { o.Seed = nil },
		"login without user": func(o *Options) { o.Scenario = Login },
	}
	for name, mutate := range cases {
		o := good
		mutate(&o)
		var ue *UsageError
		if err := o.Validate(); !errors.As(err, &ue) {
			t.Errorf("%s: Validate = %v, want a UsageError", name, err)
		}
	}
	if err := good.Validate(); err != nil {
		t.Errorf("good options: %v", err)
	}
	// Nothing listens on port 1 of the loopback.
	o := good
	o.Target = "http://127.0.0.1:1"
	_, err := Run(context.Background(), o)
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "not reachable") {
		t.Errorf("unreachable target: %v", err)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	sortDurations(d)
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond} {
		if got := percentile(d, p); got != want {
			t.Errorf("p%.0f = %s, want %s", p, got, want)
		}
	}
	if percentile(nil, 99) != 0 {
		t.Error("percentile of nothing must be 0")
	}
}

// A seed file that is not one written by Seed (hand-edited, truncated,
// another tool's JSON) is refused with an error, never a panic, and what is
// accepted names both clients.
func FuzzReadSeedFile(f *testing.F) {
	f.Add([]byte(`{"machine_client":{"id":"m","secret":"s"},"web_client":{"id":"w","secret":"s"},"users":[{"username":"u"}]}`))
	f.Add([]byte(`{"machine_client":{}}`))
	f.Add([]byte(`[1,2`))
	f.Fuzz(func(t *testing.T, content []byte) {
		path := filepath.Join(t.TempDir(), "seed.json")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := ReadSeedFile(path)
		if err == nil && (s.Machine.ID == "" || s.Web.ID == "") {
			t.Fatalf("accepted a seed file without clients: %q", content)
		}
	})
}

// The JWT client-credentials scenario gets a JWT at every operation.
func TestClientCredentialsJWTScenario(t *testing.T) {
	app, target := startApp(t)
	seed, err := Seed(context.Background(), app, 1)
	if err != nil {
		t.Fatal(err)
	}
	if seed.JWTMachine.ID == "" {
		t.Fatal("the seed has no JWT client")
	}
	r, err := Run(context.Background(), Options{Target: target, Scenario: ClientCredentialsJWT, Workers: 2, Duration: time.Second, Rate: 40, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	if r.OK < 10 || r.Errors != 0 {
		t.Errorf("JWT client credentials: %d ok, %d errors %v", r.OK, r.Errors, r.ErrorKinds)
	}
	// A seed without the JWT client (an old seed file) is refused up front.
	old := *seed
	old.JWTMachine = Client{}
	if _, err := Run(context.Background(), Options{Target: target, Scenario: ClientCredentialsJWT, Workers: 1, Duration: time.Second, Seed: &old}); err == nil {
		t.Error("an old seed file was accepted for the JWT scenario")
	}
}
