package storetest

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

var providerTests = []test{
	{"CreateAndGet", testProviderCreateGet},
	{"Duplicate", testProviderDuplicate},
	{"Update", testProviderUpdate},
	{"Delete", testProviderDelete},
	{"Missing", testProviderMissing},
	{"List", testProviderList},
}

func testProviderCreateGet(t *testing.T, s store.Store) {
	p := fullProvider("corp")
	complete(t, p)
	must(t, s.CreateProvider(t.Context(), p))
	same(t, "GetProvider", p, get(s.GetProvider(t.Context(), p.Alias))(t))
}

func testProviderDuplicate(t *testing.T, s store.Store) {
	must(t, s.CreateProvider(t.Context(), fullProvider("corp")))
	wantErr(t, "CreateProvider same alias", s.CreateProvider(t.Context(), fullProvider("corp")), store.ErrConflict)
}

func testProviderUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := fullProvider("corp")
	must(t, s.CreateProvider(ctx, p))
	upd := &store.Provider{
		Alias: "corp", DisplayName: "Corp (new)", IssuerURL: "https://idp.example.org", ClientID: "authz-2",
		SealedClientSecret: []byte("rotated"), Scopes: []string{"openid"}, ClaimUsername: "sub",
		LinkPolicy: store.LinkExisting, CreatedAt: t0.Add(99 * time.Hour), UpdatedAt: t0.Add(time.Hour),
	}
	must(t, s.UpdateProvider(ctx, upd))
	want := clone(upd)
	want.CreatedAt = p.CreatedAt
	same(t, "GetProvider after update", want, get(s.GetProvider(ctx, "corp"))(t))
}

func testProviderDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateProvider(ctx, fullProvider("corp")))
	must(t, s.CreateProvider(ctx, fullProvider("social")))
	must(t, s.DeleteProvider(ctx, "corp"))
	_, err := s.GetProvider(ctx, "corp")
	wantErr(t, "GetProvider after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteProvider twice", s.DeleteProvider(ctx, "corp"), store.ErrNotFound)
	get(s.GetProvider(ctx, "social"))(t)
}

func testProviderMissing(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetProvider(ctx, "nope")
	wantErr(t, "GetProvider", err, store.ErrNotFound)
	wantErr(t, "UpdateProvider", s.UpdateProvider(ctx, fullProvider("nope")), store.ErrNotFound)
	wantErr(t, "DeleteProvider", s.DeleteProvider(ctx, "nope"), store.ErrNotFound)
	for _, key := range hostileKeys {
		_, err := s.GetProvider(ctx, key)
		wantErr(t, "GetProvider of a hostile key", err, store.ErrNotFound)
	}
}

func testProviderList(t *testing.T, s store.Store) {
	ctx := t.Context()
	if got := get(s.ListProviders(ctx))(t); len(got) != 0 {
		t.Fatalf("ListProviders on empty store: %d providers", len(got))
	}
	var want []*store.Provider
	for _, alias := range []string{"social", "corp", "partner"} {
		p := fullProvider(alias)
		must(t, s.CreateProvider(ctx, p))
		want = append(want, p)
	}
	got := get(s.ListProviders(ctx))(t)
	byAlias := func(a, b *store.Provider) int { return cmp.Compare(a.Alias, b.Alias) }
	slices.SortFunc(want, byAlias)
	slices.SortFunc(got, byAlias)
	sameList(t, "ListProviders", want, got)
}

var federatedTests = []test{
	{"CreateGetList", testFedCreateGetList},
	{"Duplicate", testFedDuplicate},
	{"Delete", testFedDelete},
	{"Missing", testFedMissing},
}

// mkFederation stores the providers "corp" and "social" and a user.
func mkFederation(t *testing.T, s store.Store) *store.User {
	t.Helper()
	must(t, s.CreateProvider(t.Context(), fullProvider("corp")))
	must(t, s.CreateProvider(t.Context(), fullProvider("social")))
	return mkUser(t, s, "alice")
}

func testFedCreateGetList(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkFederation(t, s)
	other := mkUser(t, s, "bob")
	// The same subject at two providers is two different people or links.
	a := &store.FederatedIdentity{ProviderAlias: "corp", Subject: "s-1", UserID: u.ID, CreatedAt: t0}
	b := &store.FederatedIdentity{ProviderAlias: "social", Subject: "s-1", UserID: u.ID, CreatedAt: t0.Add(time.Hour)}
	c := &store.FederatedIdentity{ProviderAlias: "corp", Subject: "s-2", UserID: other.ID, CreatedAt: t0}
	complete(t, a)
	for _, f := range []*store.FederatedIdentity{a, b, c} {
		must(t, s.CreateFederatedIdentity(ctx, f))
	}
	same(t, "GetFederatedIdentity", a, get(s.GetFederatedIdentity(ctx, "corp", "s-1"))(t))

	got := get(s.ListFederatedIdentities(ctx, u.ID))(t)
	slices.SortFunc(got, func(x, y *store.FederatedIdentity) int { return cmp.Compare(x.ProviderAlias, y.ProviderAlias) })
	sameList(t, "ListFederatedIdentities", []*store.FederatedIdentity{a, b}, got)
	if none := get(s.ListFederatedIdentities(ctx, store.NewID()))(t); len(none) != 0 {
		t.Errorf("ListFederatedIdentities of unknown user: %d links", len(none))
	}
}

func testFedDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkFederation(t, s)
	other := mkUser(t, s, "bob")
	must(t, s.CreateFederatedIdentity(ctx, &store.FederatedIdentity{ProviderAlias: "corp", Subject: "s-1", UserID: u.ID, CreatedAt: t0}))
	// One upstream subject can never be linked to two local users.
	dup := &store.FederatedIdentity{ProviderAlias: "corp", Subject: "s-1", UserID: other.ID, CreatedAt: t0}
	wantErr(t, "CreateFederatedIdentity same subject", s.CreateFederatedIdentity(ctx, dup), store.ErrConflict)
	if got := get(s.GetFederatedIdentity(ctx, "corp", "s-1"))(t); got.UserID != u.ID {
		t.Errorf("link now points at %s, want %s", got.UserID, u.ID)
	}
}

func testFedDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkFederation(t, s)
	must(t, s.CreateFederatedIdentity(ctx, &store.FederatedIdentity{ProviderAlias: "corp", Subject: "s-1", UserID: u.ID, CreatedAt: t0}))
	must(t, s.CreateFederatedIdentity(ctx, &store.FederatedIdentity{ProviderAlias: "social", Subject: "s-1", UserID: u.ID, CreatedAt: t0}))
	must(t, s.DeleteFederatedIdentity(ctx, "corp", "s-1"))
	_, err := s.GetFederatedIdentity(ctx, "corp", "s-1")
	wantErr(t, "GetFederatedIdentity after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteFederatedIdentity twice", s.DeleteFederatedIdentity(ctx, "corp", "s-1"), store.ErrNotFound)
	get(s.GetFederatedIdentity(ctx, "social", "s-1"))(t)
}

func testFedMissing(t *testing.T, s store.Store) {
	_, err := s.GetFederatedIdentity(t.Context(), "corp", "nobody")
	wantErr(t, "GetFederatedIdentity", err, store.ErrNotFound)
	wantErr(t, "DeleteFederatedIdentity", s.DeleteFederatedIdentity(t.Context(), "corp", "nobody"), store.ErrNotFound)
}
