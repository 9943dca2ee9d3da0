package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/pgtest"
)

// answer is one request of the load run.
type answer struct {
	status     int
	retryAfter string
	body       string
	token      string // the access token of a 200
	err        error
}

// loadRun is a running machineLoad.
type loadRun struct {
	mu       sync.Mutex
	all      []answer
	ok, fail int // answers so far: 200s, and everything else
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// machineLoad asks for client_credentials tokens on workers goroutines until
// finish, or the end of the test.
func machineLoad(t *testing.T, in *instance, clientID, secret string, workers int) *loadRun {
	l := &loadRun{stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(l.halt)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				a := requestToken(client, in, clientID, secret)
				l.mu.Lock()
				l.all = append(l.all, a)
				if a.err == nil && a.status == http.StatusOK {
					l.ok++
				} else {
					l.fail++
				}
				l.mu.Unlock()
				if a.err != nil || a.status != http.StatusOK {
					time.Sleep(20 * time.Millisecond) // a client backing off
				}
			}
		}()
	}
	go func() { wg.Wait(); close(l.done) }()
	return l
}

// counts returns the answers so far: successes and the others.
func (l *loadRun) counts() (ok, fail int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok, l.fail
}

// waitFor waits until the load has seen n more successes (or, with fail, n
// more other answers) than it had when called.
func (l *loadRun) waitFor(t *testing.T, n int, fail bool, within time.Duration) {
	t.Helper()
	count := func() int {
		ok, failed := l.counts()
		if fail {
			return failed
		}
		return ok
	}
	want := count() + n
	deadline := time.Now().Add(within)
	for count() < want {
		if time.Now().After(deadline) {
			ok, failed := l.counts()
			t.Fatalf("the load did not reach %d more answers of its kind (fail=%v) within %s: %d ok, %d others", n, fail, within, ok, failed)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// halt stops the load and waits for its workers.
func (l *loadRun) halt() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
}

// finish stops the load and returns every answer.
func (l *loadRun) finish() []answer {
	l.halt()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all
}

func requestToken(c *http.Client, in *instance, clientID, secret string) answer {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}}
	req, _ := http.NewRequest(http.MethodPost, in.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	resp, err := c.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(body)}
	if resp.StatusCode == http.StatusOK {
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal(body, &tok)
		a.token = tok.AccessToken
	}
	return a
}

// waitReady polls /readyz until it answers want.
func waitReady(t *testing.T, in *instance, want int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c := &http.Client{Timeout: 3 * time.Second}
	for {
		if resp, err := c.Get(in.URL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return time.Since(start)
			}
		}
		if time.Since(start) > within {
			t.Fatalf("/readyz did not answer %d within %s", want, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leaksDetail reports whether an error body shows internals a client must
// never see.
func leaksDetail(body string) bool {
	for _, s := range []string{"dial", "connect", "postgres", "pgx", "SQLSTATE", "127.0.0.1", "goroutine", ".go:"} {
		if strings.Contains(body, s) {
			return true
		}
	}
	return false
}

// TestDatabaseRestartUnderLoad crashes and restarts PostgreSQL in the middle
// of a load run: authz keeps running, /readyz goes 503 and back, requests
// during the outage fail cleanly, and nothing committed before is lost.
func TestDatabaseRestartUnderLoad(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("restarts a PostgreSQL cluster under load; skipped with -short")
	}
	c := pgtest.Cluster(t)
	in := startServerArgs(t, t.TempDir(), "127.0.0.1", "--database-url", c.URL("postgres")+"&connect_timeout=2")
	id, secret := in.createClient(clientSpec{Grants: []string{"client_credentials"}, Scopes: []string{"api.read"}})
	ctx := context.Background()
	before := in.createUser("before", true)

	load := machineLoad(t, in, id, secret, 4)
	load.waitFor(t, 20, false, 30*time.Second) // tokens issued before the crash

	if err := c.Stop(ctx, "immediate"); err != nil { // as a crash: recovery replays the WAL
		t.Fatal(err)
	}
	t.Logf("database down; /readyz 503 after %s", waitReady(t, in, http.StatusServiceUnavailable, 15*time.Second))
	load.waitFor(t, 10, true, 30*time.Second) // requests keep arriving during the outage
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("database up; /readyz 200 after %s", waitReady(t, in, http.StatusOK, 30*time.Second))
	load.waitFor(t, 20, false, 30*time.Second) // and are served again after it
	answers := load.finish()

	checkCleanFailures(t, answers)
	checkNothingLost(t, in, id, secret, answers)
	if u, err := in.App.Store.GetUser(ctx, before.ID); err != nil || u.Username != "before" {
		t.Errorf("user created before the restart: %v", err)
	}
	if _, err := in.App.Store.GetOTPCredential(ctx, before.ID); err != nil {
		t.Errorf("authenticator enrolled before the restart: %v", err)
	}
	if a := requestToken(http.DefaultClient, in, id, secret); a.status != http.StatusOK {
		t.Errorf("token after recovery: %d %s", a.status, a.body)
	}
}

// checkCleanFailures: every answer is a success or a clean failure, never a
// server error with internals in it.
func checkCleanFailures(t *testing.T, answers []answer) {
	t.Helper()
	counts := map[int]int{}
	for _, a := range answers {
		if a.err != nil {
			t.Errorf("a request got no answer (authz down?): %v", a.err)
			continue
		}
		counts[a.status]++
		if a.status != http.StatusOK && leaksDetail(a.body) {
			t.Errorf("%d answer shows internals: %s", a.status, a.body)
		}
		// A client did nothing wrong: it must hear "try again", not an error
		// about itself (401) or a bare server error.
		if a.status != http.StatusOK && a.status != http.StatusServiceUnavailable {
			t.Errorf("unexpected status %d during the outage: %s", a.status, a.body)
		}
		if a.status == http.StatusServiceUnavailable && a.retryAfter == "" {
			t.Errorf("503 without Retry-After: %s", a.body)
		}
	}
	t.Logf("%d token requests across the restart, by status: %v", len(answers), counts)
	if counts[http.StatusOK] == 0 || len(counts) < 2 {
		t.Errorf("the load run must see both successes and failures, got %v", counts)
	}
}

// checkNothingLost: every token the server issued (its 200 came after the
// commit) is still active after the restart.
func checkNothingLost(t *testing.T, in *instance, clientID, secret string, answers []answer) {
	t.Helper()
	var issued []string
	for _, a := range answers {
		if a.token != "" {
			issued = append(issued, a.token)
		}
	}
	for _, token := range issued {
		// The store keys an opaque token by its signature, after the dot.
		sig := token[strings.LastIndexByte(token, '.')+1:]
		tok, err := in.App.Store.GetToken(context.Background(), store.TokenAccess, sig)
		if err != nil || !tok.Active {
			t.Errorf("a token issued before or during the restart is lost: %v", err)
		}
	}
	t.Logf("%d issued tokens all survived the restart", len(issued))
	if len(issued) > 0 && !introspect(t, in, clientID, secret, issued[0]) {
		t.Error("the first token issued is not active per introspection")
	}
}

// A database that stalls (here a table another session holds locked) keeps
// no request longer than request_timeout: the token endpoint answers 503
// temporarily_unavailable with Retry-After instead of hanging as long as its
// client waits, and serves again once the stall ends.
func TestStalledDatabaseAnswers503(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	in := startServerArgs(t, t.TempDir(), "127.0.0.1", "--database-url", dbURL, "--request-timeout", "1s")
	id, secret := in.createClient(clientSpec{Grants: []string{"client_credentials"}})
	form := url.Values{"grant_type": {"client_credentials"}}
	if status := in.postAsClient("/oauth2/token", id, secret, form); status != http.StatusOK {
		t.Fatalf("token before the stall: %d", status)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE oauth_tokens IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, in.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	start := time.Now()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("token during the stall: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	waited := time.Since(start)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "temporarily_unavailable") {
		t.Errorf("token during the stall: %d, Retry-After %q, %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if waited > 10*time.Second {
		t.Errorf("the answer took %v with a 1 s request timeout", waited)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if status := in.postAsClient("/oauth2/token", id, secret, form); status != http.StatusOK {
		t.Fatalf("token after the stall: %d", status)
	}
}
