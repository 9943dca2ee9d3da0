package oauth

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose4 "github.com/go-jose/go-jose/v4"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/store"
)

// relyingParty is a client's back-channel logout endpoint: it records the
// logout tokens it gets and answers with status.
type relyingParty struct {
	srv    *httptest.Server
	mu     sync.Mutex
	tokens []string
	status atomic.Int32
	hang   chan struct{} // when not nil, requests wait on it
}

func newRelyingParty(t *testing.T) *relyingParty {
	rp := &relyingParty{}
	rp.status.Store(http.StatusOK)
	rp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body first lets the server notice a client that gave up.
		_ = r.ParseForm()
		rp.mu.Lock()
		hang := rp.hang
		rp.mu.Unlock()
		if hang != nil {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rp.mu.Lock()
		rp.tokens = append(rp.tokens, r.PostFormValue("logout_token"))
		rp.mu.Unlock()
		w.WriteHeader(int(rp.status.Load()))
	}))
	t.Cleanup(rp.srv.Close)
	return rp
}

func (rp *relyingParty) received() []string {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return append([]string(nil), rp.tokens...)
}

// logoutEnv is a store with a user signed in to a client whose back-channel
// logout endpoint is rp.
type logoutEnv struct {
	st    store.Store
	keys  *KeySet
	rp    *relyingParty
	user  *store.User
	clock *testClock
}

func newLogoutEnv(t *testing.T, st store.Store) *logoutEnv {
	t.Helper()
	ctx := context.Background()
	keys := newTestKeySet(st, testSealer(t))
	if err := keys.Ensure(ctx, "ES256"); err != nil {
		t.Fatal(err)
	}
	e := &logoutEnv{st: st, keys: keys, rp: newRelyingParty(t), clock: &testClock{now: time.Now().UTC()}}
	now := time.Now().UTC()
	e.user = &store.User{ID: store.NewID(), Username: "alice-" + store.NewID()[:6], Enabled: true, Role: "user", CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, e.user); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateClient(ctx, &store.Client{ID: "rp", Name: "RP", GrantTypes: []string{"authorization_code"},
		RedirectURIs: []string{"https://rp.test/cb"}, BackchannelLogoutURI: e.rp.srv.URL + "/bc", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *logoutEnv) backchannel() *Backchannel {
	return &Backchannel{Store: e.st, Keys: e.keys, Issuer: "http://authz.test", Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: e.clock.Now}
}

// endSession signs the user in to the client with sid and ends the session.
func (e *logoutEnv) endSession(t *testing.T, sid string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	sess := &store.Session{ID: store.NewID(), UserID: e.user.ID, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.st.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateTokens(ctx, nil, &store.SessionClient{SessionID: sess.ID, ClientID: "rp", UserID: e.user.ID, SID: sid, CreatedAt: now, ExpiresAt: sess.ExpiresAt}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.DeleteSession(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
}

func sqliteStore(t *testing.T) store.Store { return replicaStores(t, "sqlite", 1)[0] }

func TestBackchannelLogoutToken(t *testing.T) {
	e := newLogoutEnv(t, sqliteStore(t))
	e.endSession(t, "sid-1")
	b := e.backchannel()
	if n := b.DeliverDue(t.Context()); n != 1 {
		t.Fatalf("claimed %d deliveries, want 1", n)
	}
	got := e.rp.received()
	if len(got) != 1 {
		t.Fatalf("the relying party got %d logout tokens, want 1", len(got))
	}
	typ, c := verifyJWT(t, e.keys, got[0])
	if typ != "logout+jwt" {
		t.Errorf("typ = %q", typ)
	}
	events, _ := c["events"].(map[string]any)
	if _, ok := events[logoutEvent]; !ok || c["iss"] != "http://authz.test" || c["aud"] != "rp" || c["sub"] != e.user.ID || c["sid"] != "sid-1" {
		t.Errorf("claims = %v", c)
	}
	if _, ok := c["nonce"]; ok {
		t.Error("a logout token must not carry a nonce")
	}
	if jti, _ := c["jti"].(string); jti == "" {
		t.Error("no jti")
	}
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	if exp <= iat {
		t.Errorf("exp %v not after iat %v", exp, iat)
	}
	if n := b.DeliverDue(t.Context()); n != 0 {
		t.Errorf("a delivered logout was claimed again: %d", n)
	}
}

// A relying party that fails is retried with back-off, a bounded number of
// times; then the logout is given up and audited.
func TestBackchannelLogoutRetries(t *testing.T) {
	e := newLogoutEnv(t, sqliteStore(t))
	e.rp.status.Store(http.StatusInternalServerError)
	e.endSession(t, "sid-1")
	b := e.backchannel()
	for attempt := 1; attempt <= logoutAttempts; attempt++ {
		if n := b.DeliverDue(t.Context()); n != 1 {
			t.Fatalf("attempt %d: claimed %d", attempt, n)
		}
		if n := b.DeliverDue(t.Context()); n != 0 {
			t.Fatalf("attempt %d: retried before its back-off", attempt)
		}
		e.clock.advance(logoutBackoff(attempt))
	}
	if got := len(e.rp.received()); got != logoutAttempts {
		t.Errorf("%d attempts reached the relying party, want %d", got, logoutAttempts)
	}
	if n := b.DeliverDue(t.Context()); n != 0 {
		t.Errorf("a given-up logout was tried again")
	}
	evs, _, err := e.st.ListAudit(t.Context(), store.AuditFilter{Type: string(audit.BackchannelLogoutFailed)})
	if err != nil || len(evs) != 1 || evs[0].ClientID != "rp" || evs[0].UserID != e.user.ID {
		t.Errorf("audit of the failure: %v %+v", err, evs)
	}
}

// A relying party that hangs or is down costs a bounded attempt, and the
// delivery is tried again later.
func TestBackchannelLogoutSlowOrDown(t *testing.T) {
	e := newLogoutEnv(t, sqliteStore(t))
	hang := make(chan struct{})
	defer close(hang)
	e.rp.mu.Lock()
	e.rp.hang = hang
	e.rp.mu.Unlock()
	e.endSession(t, "sid-1")
	b := e.backchannel()
	b.Client = &http.Client{Timeout: 50 * time.Millisecond}
	if n := b.DeliverDue(t.Context()); n != 1 {
		t.Fatalf("claimed %d", n)
	}
	e.rp.srv.Close() // now down
	e.clock.advance(logoutBackoff(1))
	if n := b.DeliverDue(t.Context()); n != 1 {
		t.Fatalf("the timed-out delivery was not retried: %d", n)
	}
	e.clock.advance(logoutBackoff(2))
	ds, err := e.st.ClaimLogouts(t.Context(), e.clock.Now(), e.clock.Now(), 10)
	if err != nil || len(ds) != 1 || ds[0].Attempts != 2 || ds[0].LastError == "" {
		t.Errorf("after a timeout and a refused connection: %v %+v", err, ds)
	}
}

// Two replicas working one queue send each logout once.
func TestBackchannelLogoutReplicas(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			stores := replicaStores(t, backend, 2)
			e := newLogoutEnv(t, stores[0])
			for i := range 10 {
				e.endSession(t, "sid-"+string(rune('a'+i)))
			}
			other := e.backchannel()
			other.Store = stores[1]
			var wg sync.WaitGroup
			for _, b := range []*Backchannel{e.backchannel(), other} {
				wg.Go(func() {
					for b.DeliverDue(t.Context()) > 0 {
					}
				})
			}
			wg.Wait()
			got := e.rp.received()
			sids := map[string]int{}
			for _, tok := range got {
				jws, err := jose4.ParseSignedCompact(tok, []jose4.SignatureAlgorithm{jose4.ES256})
				if err != nil {
					t.Fatal(err)
				}
				var c logoutClaims
				_ = json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c)
				sids[c.SID]++
			}
			if len(got) != 10 || len(sids) != 10 {
				t.Errorf("the relying party got %d tokens for %d sessions, want 10 for 10", len(got), len(sids))
			}
		})
	}
}

// A client deleted or without a URI by the time of delivery gets nothing.
func TestBackchannelLogoutDropped(t *testing.T) {
	e := newLogoutEnv(t, sqliteStore(t))
	e.endSession(t, "sid-1")
	c, _ := e.st.GetClient(t.Context(), "rp")
	c.BackchannelLogoutURI = ""
	if err := e.st.UpdateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	b := e.backchannel()
	if n := b.DeliverDue(t.Context()); n != 1 || len(e.rp.received()) != 0 {
		t.Fatalf("claimed %d, sent %d", n, len(e.rp.received()))
	}
	if n := b.DeliverDue(t.Context()); n != 0 {
		t.Error("a dropped delivery stays queued")
	}
}
