package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

// Issue 16: session clients, back-channel logout deliveries, client
// assertion jti values.
var breadthTests = []test{
	{"SessionClientsRoundTrip", testSessionClientsRoundTrip},
	{"DeleteSessionQueuesLogouts", testDeleteSessionQueuesLogouts},
	{"DeleteUserSessionsQueuesLogouts", testDeleteUserSessionsQueuesLogouts},
	{"TransferSessionClients", testTransferSessionClients},
	{"ClaimLogoutsLease", testClaimLogoutsLease},
	{"ClaimLogoutsConcurrent", testClaimLogoutsConcurrent},
	{"RetryAndCompleteLogout", testRetryCompleteLogout},
	{"UseAssertionJTI", testUseAssertionJTI},
	{"UseAssertionJTIConcurrent", testUseAssertionJTIConcurrent},
	{"ExpireBreadth", testExpireBreadth},
}

// bcClient stores a client with a back-channel logout URI, or without one
// when uri is empty.
func bcClient(t *testing.T, s store.Store, uri string) *store.Client {
	t.Helper()
	c := fullClient()
	c.BackchannelLogoutURI = uri
	must(t, s.CreateClient(t.Context(), c))
	return c
}

// signedIn stores a session of user u in which the given clients got tokens.
func signedIn(t *testing.T, s store.Store, u *store.User, sid string, clients ...*store.Client) *store.Session {
	t.Helper()
	ss := fullSession(u.ID)
	must(t, s.CreateSession(t.Context(), ss))
	for _, c := range clients {
		must(t, s.CreateTokens(t.Context(), nil, &store.SessionClient{SessionID: ss.ID, ClientID: c.ID, UserID: u.ID, SID: sid, CreatedAt: t0, ExpiresAt: ss.ExpiresAt}))
	}
	return ss
}

// due claims every delivery due now and returns them sorted by client.
func due(t *testing.T, s store.Store) []*store.LogoutDelivery {
	t.Helper()
	ds := get(s.ClaimLogouts(t.Context(), time.Now(), time.Now().Add(time.Minute), 100))(t)
	slices.SortFunc(ds, func(a, b *store.LogoutDelivery) int {
		if a.ClientID < b.ClientID {
			return -1
		}
		return 1
	})
	return ds
}

func testSessionClientsRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	ss := fullSession(u.ID)
	must(t, s.CreateSession(ctx, ss))
	sc := &store.SessionClient{SessionID: ss.ID, ClientID: "c1", UserID: u.ID, SID: "sid-1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	complete(t, sc)
	must(t, s.CreateTokens(ctx, nil, sc))
	// Recording again replaces, never duplicates.
	sc2 := clone(sc)
	sc2.ExpiresAt = t0.Add(2 * time.Hour)
	must(t, s.CreateTokens(ctx, nil, sc2))
	sameList(t, "ListSessionClients", []*store.SessionClient{sc2}, get(s.ListSessionClients(ctx, ss.ID))(t))
	if got := get(s.ListSessionClients(ctx, "nobody"))(t); len(got) != 0 {
		t.Errorf("ListSessionClients of an unknown session: %d rows", len(got))
	}
}

func testDeleteSessionQueuesLogouts(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	withURI, without := bcClient(t, s, "https://rp.example.com/bc"), bcClient(t, s, "")
	ss := signedIn(t, s, u, "sid-a", withURI, without)
	other := signedIn(t, s, u, "sid-b", withURI)
	must(t, s.DeleteSession(ctx, ss.ID))
	ds := due(t, s)
	if len(ds) != 1 || ds[0].ClientID != withURI.ID || ds[0].UserID != u.ID || ds[0].SID != "sid-a" || ds[0].Attempts != 0 {
		t.Fatalf("deliveries after DeleteSession = %+v, want one to %s for sid-a", ds, withURI.ID)
	}
	if got := get(s.ListSessionClients(ctx, ss.ID))(t); len(got) != 0 {
		t.Errorf("the ended session still records %d clients", len(got))
	}
	if got := get(s.ListSessionClients(ctx, other.ID))(t); len(got) != 1 {
		t.Errorf("another session of the user lost its clients: %d left", len(got))
	}
	wantErr(t, "DeleteSession again", s.DeleteSession(ctx, ss.ID), store.ErrNotFound)
	if ds := due(t, s); len(ds) != 0 {
		t.Errorf("a second DeleteSession queued %d more deliveries", len(ds))
	}
}

func testDeleteUserSessionsQueuesLogouts(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	c1, c2 := bcClient(t, s, "https://one.example.com/bc"), bcClient(t, s, "https://two.example.com/bc")
	signedIn(t, s, alice, "sid-1", c1)
	signedIn(t, s, alice, "sid-2", c2)
	bobs := signedIn(t, s, bob, "sid-3", c1)
	must(t, s.DeleteUserSessions(ctx, alice.ID))
	ds := due(t, s)
	if len(ds) != 2 {
		t.Fatalf("deliveries = %d, want 2", len(ds))
	}
	for _, d := range ds {
		if d.UserID != alice.ID {
			t.Errorf("delivery for %s, want only alice's", d.UserID)
		}
	}
	get(s.GetSession(ctx, bobs.ID, t0))(t)
	must(t, s.DeleteUserSessions(ctx, "nobody"))
}

func testTransferSessionClients(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	c := bcClient(t, s, "https://rp.example.com/bc")
	old := signedIn(t, s, u, "sid-old", c)
	fresh := fullSession(u.ID)
	must(t, s.CreateSession(ctx, fresh))
	must(t, s.TransferSessionClients(ctx, old.ID, fresh.ID, t0.Add(3*time.Hour)))
	must(t, s.DeleteSession(ctx, old.ID))
	if ds := due(t, s); len(ds) != 0 {
		t.Fatalf("ending the replaced session queued %d logouts, want none", len(ds))
	}
	got := get(s.ListSessionClients(ctx, fresh.ID))(t)
	if len(got) != 1 || got[0].SID != "sid-old" || !sameTime(got[0].ExpiresAt, t0.Add(3*time.Hour)) {
		t.Fatalf("records of the new session = %+v, want the old sid with the new expiry", got)
	}
	must(t, s.DeleteSession(ctx, fresh.ID))
	if ds := due(t, s); len(ds) != 1 || ds[0].SID != "sid-old" {
		t.Errorf("ending the new session queued %+v, want one logout with the old sid", ds)
	}
}

func testClaimLogoutsLease(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	ss := signedIn(t, s, u, "sid", bcClient(t, s, "https://rp.example.com/bc"))
	must(t, s.DeleteSession(ctx, ss.ID))
	now := time.Now()
	first := get(s.ClaimLogouts(ctx, now, now.Add(time.Minute), 10))(t)
	if len(first) != 1 || !sameTime(first[0].NextAttemptAt, now.Add(time.Minute)) {
		t.Fatalf("first claim = %+v, want one leased until now+1m", first)
	}
	if again := get(s.ClaimLogouts(ctx, now.Add(30*time.Second), now.Add(2*time.Minute), 10))(t); len(again) != 0 {
		t.Errorf("a leased delivery was claimed again within its lease")
	}
	if after := get(s.ClaimLogouts(ctx, now.Add(time.Minute), now.Add(2*time.Minute), 10))(t); len(after) != 1 {
		t.Errorf("a delivery whose lease ended was not claimable: %d", len(after))
	}
}

func testClaimLogoutsConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	var clients []*store.Client
	for range 12 {
		clients = append(clients, bcClient(t, s, "https://rp.example.com/bc"))
	}
	ss := signedIn(t, s, u, "sid", clients...)
	must(t, s.DeleteSession(ctx, ss.ID))
	now := time.Now()
	got := make([][]*store.LogoutDelivery, 4)
	errs := race(4, func(i int) error {
		var err error
		got[i], err = s.ClaimLogouts(ctx, now, now.Add(time.Minute), 5)
		return err
	})
	seen := map[int64]bool{}
	for i, err := range errs {
		must(t, err)
		for _, d := range got[i] {
			if seen[d.ID] {
				t.Errorf("delivery %d claimed twice", d.ID)
			}
			seen[d.ID] = true
		}
	}
	if len(seen) != 12 {
		t.Errorf("claimed %d deliveries in all, want 12", len(seen))
	}
}

func testRetryCompleteLogout(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	ss := signedIn(t, s, u, "sid", bcClient(t, s, "https://rp.example.com/bc"))
	must(t, s.DeleteSession(ctx, ss.ID))
	d := due(t, s)[0]
	d.Attempts, d.NextAttemptAt, d.LastError = 1, time.Now().Add(-time.Second), "HTTP 500"
	must(t, s.RetryLogout(ctx, d))
	back := due(t, s)
	if len(back) != 1 || back[0].Attempts != 1 || back[0].LastError != "HTTP 500" {
		t.Fatalf("after RetryLogout: %+v", back)
	}
	must(t, s.CompleteLogout(ctx, d.ID))
	wantErr(t, "CompleteLogout again", s.CompleteLogout(ctx, d.ID), store.ErrNotFound)
	wantErr(t, "RetryLogout of a completed delivery", s.RetryLogout(ctx, d), store.ErrNotFound)
}

func testUseAssertionJTI(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.UseAssertionJTI(ctx, "client\x1fjti-1", t0.Add(time.Minute), t0))
	wantErr(t, "replay", s.UseAssertionJTI(ctx, "client\x1fjti-1", t0.Add(time.Minute), t0.Add(30*time.Second)), store.ErrConflict)
	must(t, s.UseAssertionJTI(ctx, "client\x1fjti-2", t0.Add(time.Minute), t0))
	// Once expired the record no longer counts: the caller keeps it until
	// the assertion itself is refused (its exp plus the clock skew allowed).
	must(t, s.UseAssertionJTI(ctx, "client\x1fjti-1", t0.Add(3*time.Minute), t0.Add(2*time.Minute)))
	wantErr(t, "replay after renewal", s.UseAssertionJTI(ctx, "client\x1fjti-1", t0.Add(3*time.Minute), t0.Add(2*time.Minute)), store.ErrConflict)
}

func testUseAssertionJTIConcurrent(t *testing.T, s store.Store) {
	errs := race(8, func(int) error {
		return s.UseAssertionJTI(t.Context(), "jti-race", t0.Add(time.Minute), t0)
	})
	oneWinner(t, "UseAssertionJTI", errs)
}

func testExpireBreadth(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	ss := signedIn(t, s, u, "sid", bcClient(t, s, "https://rp.example.com/bc"))
	must(t, s.UseAssertionJTI(ctx, "jti", t0.Add(time.Minute), t0))
	end := ss.ExpiresAt.Add(time.Hour)
	get(s.DeleteExpired(ctx, end, 0))(t)
	if got := get(s.ListSessionClients(ctx, ss.ID))(t); len(got) != 0 {
		t.Errorf("DeleteExpired left %d expired session client records", len(got))
	}
	// The expired jti is gone: using it again is no replay.
	must(t, s.UseAssertionJTI(ctx, "jti", end.Add(time.Minute), t0))
}
