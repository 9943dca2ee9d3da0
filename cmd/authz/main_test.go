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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authz/authz/internal/testsupport/pgtest"
)

// binary is the authz binary built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "authz-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "authz")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build authz:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fastHash keeps password hashing cheap in tests.
var fastHash = []string{"AUTHZ_PASSWORD_MEMORY_KIB=1024", "AUTHZ_PASSWORD_ITERATIONS=1"}

// runAuthz runs the binary to completion in dir.
func runAuthz(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), append(fastHash, env...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("run authz %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// cleanEnv is the test's environment without AUTHZ_* variables, so the
// developer's settings do not leak into the binary under test.
func cleanEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AUTHZ_") {
			env = append(env, e)
		}
	}
	return env
}

// process is a running authz.
type process struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
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

func startAuthz(t *testing.T, dir string, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), append(fastHash, env...)...)
	s := &process{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
	})
	return s
}

// waitReady polls /readyz until it answers 200 and returns how long it took.
func (s *process) waitReady(t *testing.T, base string) time.Duration {
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

func (s *process) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatal("authz did not stop on SIGTERM")
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit status %d after SIGTERM:\n%s", code, s.stderr)
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
// file, an empty directory.
func TestServeWithNoConfiguration(t *testing.T) {
	dir := t.TempDir()
	s := startAuthz(t, dir, nil)
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
	s.stop(t)

	// A second start creates nothing new.
	keyBefore, _ := os.ReadFile(filepath.Join(dir, "data", "seal.key"))
	s = startAuthz(t, dir, nil)
	s.waitReady(t, "http://127.0.0.1:8080")
	s.stop(t)
	keyAfter, _ := os.ReadFile(filepath.Join(dir, "data", "seal.key"))
	if strings.Contains(s.stdout.String(), "one-time password") || !bytes.Equal(keyBefore, keyAfter) {
		t.Fatalf("second start created something new:\n%s", s.stdout)
	}
}

func TestBootstrapPasswordFromEnvironment(t *testing.T) {
	addr := freeAddr(t)
	s := startAuthz(t, t.TempDir(), []string{"AUTHZ_BOOTSTRAP_ADMIN_PASSWORD=chosen-by-operator", "AUTHZ_LISTEN=" + addr, "AUTHZ_LOG_FORMAT=json"})
	s.waitReady(t, "http://"+addr)
	s.stop(t)
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
	addr := freeAddr(t)
	s := startAuthz(t, t.TempDir(), []string{"AUTHZ_LISTEN=" + addr})
	s.waitReady(t, "http://"+addr)
	// A request whose body is still arriving when SIGTERM comes must complete.
	pr, pw := ioPipe()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://"+addr+"/oauth2/token", pr)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	result := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			result <- -1
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	_, _ = pw.Write([]byte("grant_type=client_credentials"))
	time.Sleep(200 * time.Millisecond)
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	_, _ = pw.Write([]byte("&client_id=nobody"))
	pw.Close()
	if status := <-result; status != http.StatusUnauthorized {
		t.Fatalf("in-flight request got %d, want the endpoint's own 401", status)
	}
	<-s.done
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func ioPipe() (*io.PipeReader, *io.PipeWriter) { return io.Pipe() }

func TestKeysRotate(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, code := runAuthz(t, dir, nil, "migrate", "up"); code != 0 {
		t.Fatal(stderr)
	}
	out, stderr, code := runAuthz(t, dir, nil, "keys", "rotate")
	if code != 0 || !strings.Contains(out, "new signing key") || !strings.Contains(out, "signs from") {
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
	if len(jwks.Keys) != 2 {
		t.Fatalf("after a rotation both keys must be published, got %d", len(jwks.Keys))
	}
	s.stop(t)
}

// With metrics.listen, /metrics leaves the public listener for a listener of
// its own, which serves the health checks too and nothing else; both stop on
// SIGTERM. A metrics address in use stops authz at start.
func TestMetricsListener(t *testing.T) {
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
	s.stop(t) // SIGTERM stops both listeners, exit status 0

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
