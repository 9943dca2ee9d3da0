package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/gcfloor"
	"github.com/authz/authz/internal/store"
)

// floodCSRF finds the login form's CSRF field.
var floodCSRF = regexp.MustCompile(`name="csrf" value="([A-Za-z0-9_-]+)"`)

// floodAnswer is what one flooding browser got for its password.
type floodAnswer struct {
	status     int
	retryAfter string
	body       string
	err        error
}

// floodLogin opens the sign-in page in a fresh browser and posts the
// password, as the many clients of a login flood do at once: it calls loaded
// once the page is open (or failed to), then waits for start, which holds
// every post back until all pages are open.
func floodLogin(in *instance, username, password string, loaded func(), start <-chan struct{}) floodAnswer {
	var once sync.Once
	defer once.Do(loaded)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(in.URL + "/login")
	if err != nil {
		return floodAnswer{err: err}
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := floodCSRF.FindSubmatch(page)
	if m == nil {
		return floodAnswer{status: resp.StatusCode, body: "no CSRF field"}
	}
	once.Do(loaded)
	<-start
	form := url.Values{"csrf": {string(m[1])}, "username": {username}, "password": {password}}
	resp, err = c.PostForm(in.URL+"/login/password", form)
	if err != nil {
		return floodAnswer{err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return floodAnswer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(body)}
}

// heapPeak samples the live heap until stop is closed and returns the peak.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// TestLoginFloodIsBoundedAnd503 floods the password step with far more
// concurrent logins than there are hashing slots. Password hashing must run
// at most GOMAXPROCS at a time, so memory stays bounded; requests that wait
// longer than the hasher's bound get 503 with Retry-After and the form again;
// and the server keeps serving. It is the one test here that does not run in
// parallel: it measures the whole process's heap and goroutines, so it runs
// alone, before the parallel tests start.
func TestLoginFloodIsBoundedAnd503(t *testing.T) {
	const memKiB = 16 * 1024 // argon2id memory per hash in this test
	// Enough concurrent logins that unbounded hashing (n × 16 MiB) would pass
	// the bound below on any number of cores. They come from one address,
	// whose limit on logins started is raised past n: this flood is of
	// hashing, by as many users as a large machine serves.
	n := max(64, 16*runtime.GOMAXPROCS(0))
	in := startServer(t, "sqlite", "--password-memory-kib", "16384", "--password-iterations", "2",
		"--login-anonymous-per-address", strconv.Itoa(max(300, 2*n)))
	// One user per browser: concurrent attempts on one account are the
	// account lockout's business, not the flood's.
	users := floodUsers(t, in, n)
	in.App.Passwords.Wait = 50 * time.Millisecond // so that the flood overflows quickly
	// As authz serve runs: the heap floor must not let the flood's heap
	// grow past the bound.
	defer gcfloor.Start(gcfloor.DefaultFloor)()
	runtime.GC()
	goroutines := runtime.NumGoroutine()
	stopSampling := make(chan struct{})
	peakC := heapPeak(stopSampling)
	var baseline uint64
	{
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(s)
		baseline = s[0].Value.Uint64()
	}
	start := make(chan struct{})
	answers := make([]floodAnswer, n)
	var wg, loaded sync.WaitGroup
	loaded.Add(n)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = floodLogin(in, users[i].Username, floodPassword, loaded.Done, start)
		}()
	}
	loaded.Wait() // every browser has its form
	close(start)
	wg.Wait()
	close(stopSampling)
	peak := <-peakC

	counts := map[int]int{}
	for _, a := range answers {
		if a.err != nil {
			t.Fatalf("a flooding request failed outright (server crash?): %v", a.err)
		}
		counts[a.status]++
		switch a.status {
		case http.StatusSeeOther:
		case http.StatusServiceUnavailable:
			if a.retryAfter == "" {
				t.Error("503 without Retry-After")
			}
			if !strings.Contains(a.body, "Too many sign-ins at once") || !strings.Contains(a.body, `action="/login/password"`) {
				t.Errorf("503 must show the sign-in form again with the reason:\n%s", a.body)
			}
		default:
			t.Errorf("unexpected status %d:\n%.300s", a.status, a.body)
		}
	}
	t.Logf("%d concurrent password checks: statuses %v; live heap %d MiB before, peak %d MiB", n, counts, baseline>>20, peak>>20)
	if counts[http.StatusServiceUnavailable] == 0 {
		t.Error("no request was turned away: the flood did not overflow the hashing slots")
	}
	if counts[http.StatusSeeOther] == 0 {
		t.Error("no login got through during the flood")
	}
	// Unbounded hashing would hold n × 16 MiB at once; bounded, at most
	// GOMAXPROCS hashes are live, plus the collector's headroom.
	bound := baseline + uint64(4*runtime.GOMAXPROCS(0)*memKiB*1024)
	if peak > bound {
		t.Errorf("live heap peaked at %d MiB, more than %d MiB: hashing is not bounded", peak>>20, bound>>20)
	}
	// The server is alive and lets the user in once the flood is over.
	in.App.Passwords.Wait = 5 * time.Second
	if a := floodLogin(in, users[0].Username, floodPassword, func() {}, closedChan()); a.status != http.StatusSeeOther {
		t.Fatalf("login after the flood: %d %v", a.status, a.err)
	}
	resp, err := http.Get(in.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after the flood: %v %v", resp, err)
	}
	resp.Body.Close()
	noLeak(t, goroutines, baseline)
}

// noLeak checks that once the flood's connections are closed, the goroutines
// and the live heap go back to what they were before it: nothing a turned
// away or finished login held is kept.
func noLeak(t *testing.T, goroutines int, heap uint64) {
	t.Helper()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	const slack = 8 // the runtime's and net/http's own helpers come and go
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutines+slack && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines+slack {
		t.Errorf("%d goroutines after the flood, %d before: requests left goroutines behind", n, goroutines)
	}
	runtime.GC()
	runtime.GC() // a second cycle empties sync.Pool's victim caches
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	// Less than one argon2id buffer may remain: caches warmed by the flood.
	if after := s[0].Value.Uint64(); after > heap+8<<20 {
		t.Errorf("live heap %d MiB after the flood, %d MiB before: memory was kept", after>>20, heap>>20)
	}
}

const floodPassword = "flood-password-1"

// floodUsers stores n users sharing one password hash, which spares hashing
// n times before the flood.
func floodUsers(t *testing.T, in *instance, n int) []*store.User {
	t.Helper()
	ctx := context.Background()
	hash, err := in.App.Passwords.Hash(ctx, floodPassword)
	if err != nil {
		t.Fatal(err)
	}
	users := make([]*store.User, n)
	for i := range users {
		now := time.Now().UTC()
		users[i] = &store.User{ID: store.NewID(), Username: fmt.Sprintf("flood-%03d", i), PasswordHash: hash, Enabled: true,
			Role: store.RoleUser, CreatedAt: now, UpdatedAt: now}
		if err := in.App.Store.CreateUser(ctx, users[i]); err != nil {
			t.Fatal(err)
		}
	}
	return users
}

func closedChan() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
