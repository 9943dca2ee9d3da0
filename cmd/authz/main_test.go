package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authz/authz/internal/testsupport/pgtest"
)

// execMain, set to 1 in its environment, makes the test binary run main
// instead of the tests: TestServeWithNoConfiguration starts it so as a
// process of its own. Every other test calls run in this process.
const execMain = "RUN_AUTHZ_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(execMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// fastHash keeps password hashing cheap in tests.
var fastHash = []string{"AUTHZ_PASSWORD_MEMORY_KIB=1024", "AUTHZ_PASSWORD_ITERATIONS=1"}

// testEnv is the environment of a command started in dir: cheap password
// hashing, the default data directory, which is relative to the working
// directory, under dir, then env (KEY=value). The developer's AUTHZ_*
// variables do not leak in.
func testEnv(dir string, env []string) func(string) (string, bool) {
	vars := map[string]string{"AUTHZ_DATA_DIR": filepath.Join(dir, "data")}
	for _, kv := range append(slices.Clone(fastHash), env...) {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

// runAuthz runs `authz args…` to completion, as if started in dir with env.
func runAuthz(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, testEnv(dir, env), &out, &errb)
	return out.String(), errb.String(), code
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serving is `authz serve` running, in this process or in one of its own.
type serving struct {
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	// stop asks it to shut down: SIGTERM, or cancelling run's context, which
	// is what main does on SIGTERM.
	stop func() error
	// code is the exit status, once done is closed.
	code int
}

// startAuthz runs `authz serve args…` in this process, as if started in dir
// with env, until the test ends.
func startAuthz(t *testing.T, dir string, env []string, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{}),
		stop: func() error { cancel(); return nil }}
	go func() {
		defer close(s.done)
		s.code = run(ctx, append([]string{"serve"}, args...), testEnv(dir, env), s.stdout, s.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

// startProcess runs `authz serve` as a process of its own in dir: this test
// binary, which runs main when execMain is set.
func startProcess(t *testing.T, dir string) *serving {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve")
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), append(fastHash, execMain+"=1")...)
	s := &serving{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{}),
		stop: func() error { return cmd.Process.Signal(syscall.SIGTERM) }}
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		s.code = cmd.ProcessState.ExitCode()
		close(s.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
	})
	return s
}

// cleanEnv is the test's environment without AUTHZ_* variables, so the
// developer's settings do not leak into the process under test.
func cleanEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AUTHZ_") {
			env = append(env, e)
		}
	}
	return env
}

// waitReady polls /readyz until it answers 200 and returns how long it took.
func (s *serving) waitReady(t *testing.T, base string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			t.Fatalf("authz exited early:\n%s\n%s", s.stdout, s.stderr)
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("authz not ready after 15 s:\n%s", s.stderr)
	return 0
}

// shutdown stops it and wants exit status 0 within 20 s.
func (s *serving) shutdown(t *testing.T) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatal("authz did not stop")
	}
	if s.code != 0 {
		t.Fatalf("exit status %d after the stop:\n%s", s.code, s.stderr)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeWithNoConfiguration is `make run` on a fresh machine: no flags, no
// file, an empty directory. It is the one test that starts a process: the
// defaults are relative to the working directory, and SIGTERM reaches main.
func TestServeWithNoConfiguration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startProcess(t, dir)
	took := s.waitReady(t, "http://127.0.0.1:8080")
	t.Logf("ready after %s", took)

	resp, err := http.Get("http://127.0.0.1:8080/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		Issuer string `json:"issuer"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if disc.Issuer != "http://localhost:8080" {
		t.Errorf("issuer %q", disc.Issuer)
	}
	key, err := os.Stat(filepath.Join(dir, "data", "seal.key"))
	if err != nil || key.Mode().Perm() != 0o600 {
		t.Fatalf("seal key: %v %v", err, key)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "authz.db")); err != nil {
		t.Fatalf("embedded database: %v", err)
	}
	if n := strings.Count(s.stdout.String(), "one-time password:"); n != 1 {
		t.Fatalf("the bootstrap password must be printed once, got %d:\n%s", n, s.stdout)
	}
	s.shutdown(t)

	// A second start creates nothing new.
	keyBefore, _ := os.ReadFile(filepath.Join(dir, "data", "seal.key"))
	s = startProcess(t, dir)
	s.waitReady(t, "http://127.0.0.1:8080")
	s.shutdown(t)
	keyAfter, _ := os.ReadFile(filepath.Join(dir, "data", "seal.key"))
	if strings.Contains(s.stdout.String(), "one-time password") || !bytes.Equal(keyBefore, keyAfter) {
		t.Fatalf("second start created something new:\n%s", s.stdout)
	}
}

func TestBootstrapPasswordFromEnvironment(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	s := startAuthz(t, t.TempDir(), []string{"AUTHZ_BOOTSTRAP_ADMIN_PASSWORD=chosen-by-operator", "AUTHZ_LISTEN=" + addr, "AUTHZ_LOG_FORMAT=json"})
	s.waitReady(t, "http://"+addr)
	s.shutdown(t)
	if strings.Contains(s.stdout.String(), "one-time password") {
		t.Error("a configured bootstrap password must not be printed")
	}
	// --log-format json: every log line is a JSON object.
	sc := bufio.NewScanner(strings.NewReader(s.stderr.String()))
	lines := 0
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		lines++
	}
	if lines == 0 {
		t.Fatal("no log lines")
	}
}

func TestConfigErrorsExitWithStatus2(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown key", nil, []string{"serve", "--config", write("a.yaml", "listn: x\n")}, "listn"},
		{"malformed YAML", nil, []string{"serve", "--config", write("b.yaml", "a: [\n")}, "not valid YAML"},
		{"bad env value", []string{"AUTHZ_SESSION_TTL=soon"}, []string{"serve"}, "session.ttl"},
		{"bad flag value", nil, []string{"serve", "--log-level", "loud"}, "log.level"},
		{"unknown flag", nil, []string{"serve", "--nope"}, "nope"},
		{"unknown command", nil, []string{"fly"}, "unknown command"},
		{"bad migrate argument", nil, []string{"migrate", "sideways"}, "migrate up|status"},
	}
	for _, c := range cases {
		_, stderr, code := runAuthz(t, dir, c.env, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q (want 2 and %q)", c.name, code, stderr, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("a configuration error must create nothing")
	}
}

func TestStartupFaults(t *testing.T) {
	t.Parallel()
	// Port in use.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, stderr, code := runAuthz(t, t.TempDir(), []string{"AUTHZ_LISTEN=" + ln.Addr().String()}, "serve")
	if code == 0 || !strings.Contains(stderr, "listen on") {
		t.Errorf("port in use: exit %d, %q", code, stderr)
	}
	// Unwritable data directory (a file where the directory should be).
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "data"), []byte("x"), 0o600)
	_, stderr, code = runAuthz(t, dir, nil, "serve")
	if code == 0 || !strings.Contains(stderr, "data") {
		t.Errorf("unwritable data dir: exit %d, %q", code, stderr)
	}
	// Unreachable database: a clear line, and nothing created.
	dir = t.TempDir()
	_, stderr, code = runAuthz(t, dir, []string{"AUTHZ_DATABASE_URL=postgres://authz:secret-pw@127.0.0.1:1/authz?connect_timeout=2"}, "serve")
	refusedAtStart(t, "unreachable database", dir, stderr, code, "127.0.0.1", "secret-pw")
}

// refusedAtStart checks a start that the database refused: a failure exit,
// one line on stderr naming the cause (want) and not the secret, and nothing
// created in dir.
func refusedAtStart(t *testing.T, what, dir, stderr string, code int, want, secret string) {
	t.Helper()
	if code == 0 || strings.Contains(stderr, secret) || !strings.Contains(stderr, want) {
		t.Errorf("%s: exit %d, %q; want a failure naming %q, not the secret", what, code, stderr, want)
	}
	if lines := strings.Count(strings.TrimSpace(stderr), "\n"); lines > 0 {
		t.Errorf("%s: want one line, got:\n%s", what, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("%s left %d files behind", what, len(entries))
	}
}

// A database that refuses authz's password stops it at start with one line
// that names the cause and not the password, and leaves nothing behind; the
// right password then works, so the refusal was the password's.
func TestWrongDatabasePassword(t *testing.T) {
	t.Parallel()
	c := pgtest.Cluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.RequirePassword(ctx, "right-pw-4d1f"); err != nil {
		t.Fatal(err)
	}
	dbURL := func(pw string) string {
		return fmt.Sprintf("AUTHZ_DATABASE_URL=postgres://postgres:%s@127.0.0.1:%d/postgres?sslmode=disable", pw, c.Port)
	}
	dir := t.TempDir()
	_, stderr, code := runAuthz(t, dir, []string{dbURL("wrong-pw-9c2e")}, "serve")
	refusedAtStart(t, "wrong password", dir, stderr, code, "password authentication failed", "wrong-pw-9c2e")
	if _, stderr, code := runAuthz(t, dir, []string{dbURL("right-pw-4d1f")}, "migrate", "up"); code != 0 {
		t.Errorf("right password: exit %d, %q", code, stderr)
	}
}

func TestMigrateAndVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, _, code := runAuthz(t, dir, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "authz ") {
		t.Fatalf("version: %d %q", code, out)
	}
	out, _, _ = runAuthz(t, dir, nil, "migrate", "status")
	if !strings.Contains(out, "pending") {
		t.Fatalf("status before migrating: %q", out)
	}
	for i := 0; i < 2; i++ {
		if _, stderr, code := runAuthz(t, dir, nil, "migrate", "up"); code != 0 {
			t.Fatalf("migrate up #%d: %s", i+1, stderr)
		}
	}
	out, _, _ = runAuthz(t, dir, nil, "migrate", "status")
	if strings.Contains(out, "pending") || !strings.Contains(out, "1 ") {
		t.Fatalf("status after migrating: %q", out)
	}
}

func TestConcurrentMigrateOnPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	errs := make(chan string, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, stderr, code := runAuthz(t, t.TempDir(), []string{"AUTHZ_DATABASE_URL=" + url}, "migrate", "up")
			if code != 0 {
				errs <- stderr
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent migrate up failed: %s", e)
	}
	out, _, _ := runAuthz(t, t.TempDir(), []string{"AUTHZ_DATABASE_URL=" + url}, "migrate", "status")
	if strings.Contains(out, "pending") {
		t.Fatalf("status: %q", out)
	}
}

func TestClientCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, stderr, code := runAuthz(t, dir, nil, "client", "create", "--name", "Shop", "--redirect-uris", "https://shop.example/cb", "--output", "json")
	if code != 0 {
		t.Fatalf("create: %s", stderr)
	}
	var created struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.ID == "" || len(created.Secret) < 40 {
		t.Fatalf("create output %q: %v", out, err)
	}
	out, _, _ = runAuthz(t, dir, nil, "client", "list", "--output", "json")
	if !strings.Contains(out, created.ID) || strings.Contains(out, created.Secret) {
		t.Fatalf("list must show the client and never its secret: %q", out)
	}
	out, _, code = runAuthz(t, dir, nil, "client", "rotate-secret", "--id", created.ID, "--output", "json")
	if code != 0 || strings.Contains(out, created.Secret) || !strings.Contains(out, "client_secret") {
		t.Fatalf("rotate-secret: %q", out)
	}
	// Bad input: exit 2 and the field named.
	_, stderr, code = runAuthz(t, dir, nil, "client", "create", "--name", "Bad", "--redirect-uris", "http://evil.example/cb")
	if code != 2 || !strings.Contains(stderr, "redirect_uris") {
		t.Fatalf("non-https redirect: %d %q", code, stderr)
	}
	if _, _, code = runAuthz(t, dir, nil, "client", "delete", "--id", created.ID); code != 0 {
		t.Fatal("delete failed")
	}
	if _, stderr, code = runAuthz(t, dir, nil, "client", "delete", "--id", created.ID); code == 0 || !strings.Contains(stderr, "no such application") {
		t.Fatalf("second delete: %d %q", code, stderr)
	}
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	s := startAuthz(t, t.TempDir(), []string{"AUTHZ_LISTEN=" + addr})
	s.waitReady(t, "http://"+addr)
	// A request whose body is still arriving when the stop comes must
	// complete. With Expect: 100-continue, the server answers 100 Continue
	// once the handler reads the body, so the client knows the request is in
	// flight before the stop.
	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://"+addr+"/oauth2/token", pr)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Expect", "100-continue")
	inFlight := make(chan struct{})
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got100Continue: func() { close(inFlight) },
	}))
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	result := make(chan int, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			result <- -1
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	select {
	case <-inFlight:
	case <-time.After(15 * time.Second):
		t.Fatal("the handler never read the request body")
	}
	_, _ = pw.Write([]byte("grant_type=client_credentials"))
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	// The shutdown has begun once the listener refuses new connections.
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("authz still accepts connections after the stop")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, _ = pw.Write([]byte("&client_id=nobody"))
	pw.Close()
	if status := <-result; status != http.StatusUnauthorized {
		t.Fatalf("in-flight request got %d, want the endpoint's own 401", status)
	}
	<-s.done
	if s.code != 0 {
		t.Fatalf("exit %d", s.code)
	}
}

func TestKeysRotate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, stderr, code := runAuthz(t, dir, nil, "migrate", "up"); code != 0 {
		t.Fatal(stderr)
	}
	out, stderr, code := runAuthz(t, dir, nil, "keys", "rotate")
	if code != 0 || strings.Count(out, "new signing key") != 2 || !strings.Contains(out, "(RS256)") || !strings.Contains(out, "(ES256)") || !strings.Contains(out, "signs from") {
		t.Fatalf("keys rotate: %d %q %q", code, out, stderr)
	}
	addr := freeAddr(t)
	s := startAuthz(t, dir, []string{"AUTHZ_LISTEN=" + addr})
	s.waitReady(t, "http://"+addr)
	resp, err := http.Get("http://" + addr + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var jwks struct {
		Keys []json.RawMessage `json:"keys"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&jwks)
	resp.Body.Close()
	// Each algorithm's first key and its successor.
	if len(jwks.Keys) != 4 {
		t.Fatalf("after a rotation every key must be published, got %d", len(jwks.Keys))
	}
	s.shutdown(t)
}

// With metrics.listen, /metrics leaves the public listener for a listener of
// its own, which serves the health checks too and nothing else; both stop on
// SIGTERM. A metrics address in use stops authz at start.
func TestMetricsListener(t *testing.T) {
	t.Parallel()
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	s := startAuthz(t, t.TempDir(), []string{"AUTHZ_LISTEN=" + addr, "AUTHZ_METRICS_LISTEN=" + metricsAddr})
	s.waitReady(t, "http://"+addr)
	status := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := status("http://" + addr + "/metrics"); code != http.StatusNotFound {
		t.Errorf("public /metrics: %d, want 404", code)
	}
	if code, body := status("http://" + metricsAddr + "/metrics"); code != http.StatusOK || !strings.Contains(body, "authz_http_request_duration_seconds") {
		t.Errorf("metrics listener /metrics: %d\n%.300s", code, body)
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/oauth2/token": 404, "/login": 404, "/admin": 404} {
		if code, _ := status("http://" + metricsAddr + path); code != want {
			t.Errorf("metrics listener %s: %d, want %d", path, code, want)
		}
	}
	s.shutdown(t) // SIGTERM stops both listeners, exit status 0

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, stderr, code := runAuthz(t, t.TempDir(), []string{"AUTHZ_LISTEN=" + freeAddr(t), "AUTHZ_METRICS_LISTEN=" + ln.Addr().String()}, "serve")
	if code == 0 || !strings.Contains(stderr, "metrics.listen") {
		t.Errorf("metrics address in use: exit %d, %q", code, stderr)
	}
}

// TestHelp: asking for help is no error: the usage goes to stdout, exit 0;
// an unknown command still fails with the usage on stderr.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--help", "-h", "help"} {
		stdout, stderr, code := runAuthz(t, t.TempDir(), nil, arg)
		if code != 0 || !strings.Contains(stdout, "usage: authz <command>") || !strings.Contains(stdout, "serve") || stderr != "" {
			t.Errorf("authz %s: exit %d, stdout %q, stderr %q", arg, code, stdout, stderr)
		}
	}
	if _, stderr, code := runAuthz(t, t.TempDir(), nil, "frobnicate"); code == 0 || !strings.Contains(stderr, "unknown command") {
		t.Errorf("unknown command: exit %d, stderr %q", code, stderr)
	}
}
