package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

// pageTests hold the keyset lists (ListUsersPage, ListClientsPage,
// ListProvidersPage, ListAuditPage) to the contract of store/page.go.
var pageTests = []test{
	{"UsersInOrder", testUsersPageOrder},
	{"UsersPrefix", testUsersPagePrefix},
	{"UsersStableUnderInserts", testUsersPageInserts},
	{"UsersStableUnderConcurrentInserts", testUsersPageConcurrent},
	{"ClientsInOrder", testClientsPage},
	{"ProvidersFiltered", testProvidersPage},
	{"AuditNewestFirst", testAuditPage},
	{"AuditStableUnderInserts", testAuditPageInserts},
	{"BadCursor", testBadCursor},
	{"SizeClamped", testPageSizeClamped},
	{"Counts", testCounts},
	{"OTPEnrollments", testOTPEnrollments},
}

// walk reads every page of a list, pageSize rows at a time, and returns the
// keys of the rows in order; it fails when a page other than the last is
// short or the walk does not end.
func walk[T any](t *testing.T, pageSize int, list func(store.Page) ([]*T, string, error), key func(*T) string) []string {
	t.Helper()
	var (
		out   []string
		after string
	)
	for range 1000 {
		rows, next, err := list(store.Page{After: after, Limit: pageSize})
		must(t, err)
		for _, r := range rows {
			out = append(out, key(r))
		}
		if next == "" {
			return out
		}
		if len(rows) != pageSize {
			t.Fatalf("a page with a next cursor has %d rows, want %d", len(rows), pageSize)
		}
		after = next
	}
	t.Fatal("the list does not end")
	return nil
}

func userList(s store.Store, f store.UserPageFilter) func(store.Page) ([]*store.User, string, error) {
	return func(p store.Page) ([]*store.User, string, error) {
		return s.ListUsersPage(context.Background(), f, p)
	}
}

func username(u *store.User) string { return u.Username }

func testUsersPageOrder(t *testing.T, s store.Store) {
	names := []string{"mallory", "Alice", "bob", "carol", "Dave", "erin", "frank"}
	for _, n := range names {
		mkUser(t, s, n)
	}
	want := []string{"Alice", "bob", "carol", "Dave", "erin", "frank", "mallory"}
	for _, size := range []int{1, 2, 3, 7, 8} {
		if got := walk(t, size, userList(s, store.UserPageFilter{}), username); !slices.Equal(got, want) {
			t.Errorf("pages of %d: %v, want %v", size, got, want)
		}
	}
	// A full first page ends the list when nothing follows: no empty page.
	_, next, err := s.ListUsersPage(t.Context(), store.UserPageFilter{}, store.Page{Limit: 7})
	must(t, err)
	if next != "" {
		t.Errorf("a page holding the last user has next %q, want none", next)
	}
	// The rows are whole users.
	got, _, err := s.ListUsersPage(t.Context(), store.UserPageFilter{Prefix: "alice"}, store.Page{})
	must(t, err)
	want1 := get(s.GetUserByUsername(t.Context(), "alice"))(t)
	sameList(t, "ListUsersPage", []*store.User{want1}, got)
}

func testUsersPagePrefix(t *testing.T, s store.Store) {
	for _, n := range []string{"anna", "Annabel", "andrew", "bob", "ann_x", "ann%y", "zed"} {
		mkUser(t, s, n)
	}
	u := fullUser("carl")
	u.Email = "Anne.Other@example.com"
	must(t, s.CreateUser(t.Context(), u))
	noMail := fullUser("nomail")
	noMail.Email = ""
	must(t, s.CreateUser(t.Context(), noMail))
	for prefix, want := range map[string][]string{
		"ANN":   {"ann%y", "ann_x", "anna", "Annabel", "carl"}, // carl by e-mail
		"anna":  {"anna", "Annabel"},
		"ann_":  {"ann_x"}, // no LIKE wildcards
		"ann%":  {"ann%y"},
		"an":    {"andrew", "ann%y", "ann_x", "anna", "Annabel", "carl"},
		"b":     {"bob"},
		"bob@e": {"bob"},
		"nomai": {"nomail"},
		"q":     nil,
		"zed1":  nil,
		"é":     nil,
	} {
		got := walk(t, 2, userList(s, store.UserPageFilter{Prefix: prefix}), username)
		if !slices.Equal(got, want) {
			t.Errorf("prefix %q: %v, want %v", prefix, got, want)
		}
	}
}

// testUsersPageInserts inserts users before and after the cursor between two
// pages: every user there from the start is listed exactly once, in order,
// and the later pages show the users inserted after the cursor.
func testUsersPageInserts(t *testing.T, s store.Store) {
	for _, n := range []string{"b1", "b2", "b3", "b4", "b5", "b6"} {
		mkUser(t, s, n)
	}
	first, next, err := s.ListUsersPage(t.Context(), store.UserPageFilter{}, store.Page{Limit: 3})
	must(t, err)
	if next == "" || len(first) != 3 {
		t.Fatalf("first page: %d users, next %q", len(first), next)
	}
	// Before the cursor (a0, b0, b2a) and after it (b3a, c).
	for _, n := range []string{"a0", "b0", "b2a", "b3a", "c"} {
		mkUser(t, s, n)
	}
	must(t, s.DeleteUser(t.Context(), first[0].ID)) // the cursor's rows may go
	rest, next, err := s.ListUsersPage(t.Context(), store.UserPageFilter{}, store.Page{After: next, Limit: 10})
	must(t, err)
	got := append(usernames(first), usernames(rest)...)
	want := []string{"b1", "b2", "b3", "b3a", "b4", "b5", "b6", "c"}
	if !slices.Equal(got, want) || next != "" {
		t.Errorf("pages across inserts: %v (next %q), want %v and no next", got, next, want)
	}
}

// testUsersPageConcurrent pages through the users while other goroutines
// insert users all over the order: every user that existed before the walk
// is listed once, the list stays in order, and nothing is listed twice.
func testUsersPageConcurrent(t *testing.T, s store.Store) {
	var before []string
	for i := range 40 {
		n := fmt.Sprintf("u%03d", i*10)
		mkUser(t, s, n)
		before = append(before, n)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				select {
				case <-stop:
					return
				default:
				}
				// Names between the existing ones: u0001, u0011, ... (w
				// keeps the writers' names apart).
				n := fmt.Sprintf("u%03d%d%d", (i%40)*10, w, i)
				if err := s.CreateUser(context.Background(), fullUser(n)); err != nil {
					t.Errorf("concurrent insert: %v", err)
					return
				}
			}
		}()
	}
	got := walk(t, 3, userList(s, store.UserPageFilter{}), username)
	close(stop)
	wg.Wait()
	if !slices.IsSorted(got) {
		t.Errorf("listed out of order: %v", got)
	}
	seen := map[string]int{}
	for _, n := range got {
		seen[n]++
		if seen[n] > 1 {
			t.Errorf("%s listed twice", n)
		}
	}
	for _, n := range before {
		if seen[n] != 1 {
			t.Errorf("%s, there before the walk, listed %d times", n, seen[n])
		}
	}
}

func testClientsPage(t *testing.T, s store.Store) {
	ctx := t.Context()
	mk := func(id, name string, disabled bool) {
		c := fullClient()
		c.ID, c.Name, c.Disabled = id, name, disabled
		must(t, s.CreateClient(ctx, c))
	}
	mk("z-wiki", "Wiki", false)
	mk("a-wiki", "wiki", true) // same lowercased name: the ID breaks the tie
	mk("shop", "Shop", false)
	mk("api", "API gateway", false)
	mk("crm", "crm", true)
	list := func(f store.ClientPageFilter) func(store.Page) ([]*store.Client, string, error) {
		return func(p store.Page) ([]*store.Client, string, error) { return s.ListClientsPage(ctx, f, p) }
	}
	id := func(c *store.Client) string { return c.ID }
	yes, no := true, false
	for _, tc := range []struct {
		f    store.ClientPageFilter
		want []string
	}{
		{store.ClientPageFilter{}, []string{"api", "crm", "shop", "a-wiki", "z-wiki"}},
		{store.ClientPageFilter{Query: "WIKI"}, []string{"a-wiki", "z-wiki"}},
		{store.ClientPageFilter{Query: "rm"}, []string{"crm"}},
		{store.ClientPageFilter{Query: "%"}, nil},
		{store.ClientPageFilter{Disabled: &yes}, []string{"crm", "a-wiki"}},
		{store.ClientPageFilter{Disabled: &no, Query: "i"}, []string{"api", "z-wiki"}},
	} {
		for _, size := range []int{1, 2, 10} {
			if got := walk(t, size, list(tc.f), id); !slices.Equal(got, tc.want) {
				t.Errorf("%+v, pages of %d: %v, want %v", tc.f, size, got, tc.want)
			}
		}
	}
	got, _, err := s.ListClientsPage(ctx, store.ClientPageFilter{Query: "shop"}, store.Page{})
	must(t, err)
	want := get(s.GetClient(ctx, "shop"))(t)
	sameList(t, "ListClientsPage", []*store.Client{want}, got)
}

func testProvidersPage(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, a := range []string{"okta", "azure", "google", "corp"} {
		p := fullProvider(a)
		p.Enabled = a != "google"
		must(t, s.CreateProvider(ctx, p))
	}
	list := func(f store.ProviderPageFilter) func(store.Page) ([]*store.Provider, string, error) {
		return func(p store.Page) ([]*store.Provider, string, error) { return s.ListProvidersPage(ctx, f, p) }
	}
	alias := func(p *store.Provider) string { return p.Alias }
	yes, no := true, false
	if got := walk(t, 1, list(store.ProviderPageFilter{}), alias); !slices.Equal(got, []string{"azure", "corp", "google", "okta"}) {
		t.Errorf("all: %v", got)
	}
	if got := walk(t, 2, list(store.ProviderPageFilter{Enabled: &yes}), alias); !slices.Equal(got, []string{"azure", "corp", "okta"}) {
		t.Errorf("enabled: %v", got)
	}
	if got := walk(t, 2, list(store.ProviderPageFilter{Enabled: &no}), alias); !slices.Equal(got, []string{"google"}) {
		t.Errorf("disabled: %v", got)
	}
	got, _, err := s.ListProvidersPage(ctx, store.ProviderPageFilter{Enabled: &no}, store.Page{})
	must(t, err)
	want := get(s.GetProvider(ctx, "google"))(t)
	sameList(t, "ListProvidersPage", []*store.Provider{want}, got)
}

func auditList(s store.Store, f store.AuditPageFilter) func(store.Page) ([]*store.AuditEvent, string, error) {
	return func(p store.Page) ([]*store.AuditEvent, string, error) {
		return s.ListAuditPage(context.Background(), f, p)
	}
}

func detail(e *store.AuditEvent) string { return e.Detail }

func testAuditPage(t *testing.T, s store.Store) {
	// Minutes 0..9, users by parity, types by thirds; minute 5 twice (the
	// later ID first), and one event at the zero time, the oldest.
	appendAt(t, s, []int{3, 0, 5, 9, 1, 7, 2, 5, 8, 4, 6},
		func(m int) string { return []string{"login", "logout", "user.update"}[m%3] },
		func(m int) string { return fmt.Sprintf("user-%d", m%2) })
	zero := fullAudit("login", time.Time{})
	zero.Detail = "zero"
	must(t, s.AppendAudit(t.Context(), zero))
	all := walk(t, 4, auditList(s, store.AuditPageFilter{}), detail)
	if want := []string{"9", "8", "7", "6", "5", "5", "4", "3", "2", "1", "0", "zero"}; !slices.Equal(all, want) {
		t.Errorf("all: %v, want %v", all, want)
	}
	events, _, err := s.ListAuditPage(t.Context(), store.AuditPageFilter{}, store.Page{Limit: 100})
	must(t, err)
	if events[4].ID <= events[5].ID {
		t.Errorf("events of one time: IDs %d then %d, want the newer first", events[4].ID, events[5].ID)
	}
	if !events[len(events)-1].Time.IsZero() {
		t.Errorf("zero time read back as %v", events[len(events)-1].Time)
	}
	for _, tc := range []struct {
		f    store.AuditPageFilter
		want []string
	}{
		{store.AuditPageFilter{UserID: "user-1"}, []string{"9", "7", "5", "5", "3", "1", "zero"}}, // zero is fullAudit's user-1
		{store.AuditPageFilter{Type: "login"}, []string{"9", "6", "3", "0", "zero"}},
		{store.AuditPageFilter{Type: "logout", UserID: "user-1"}, []string{"7", "1"}},
		{store.AuditPageFilter{Since: t0.Add(5 * time.Minute), Until: t0.Add(8 * time.Minute)}, []string{"7", "6", "5", "5"}},
		{store.AuditPageFilter{Type: "nothing"}, nil},
	} {
		for _, size := range []int{1, 3} {
			if got := walk(t, size, auditList(s, tc.f), detail); !slices.Equal(got, tc.want) {
				t.Errorf("%+v, pages of %d: %v, want %v", tc.f, size, got, tc.want)
			}
		}
	}
}

// testAuditPageInserts appends events while an administrator pages back:
// newer events do not push old ones onto the next page twice.
func testAuditPageInserts(t *testing.T, s store.Store) {
	appendAt(t, s, []int{0, 1, 2, 3, 4, 5}, func(int) string { return "login" }, func(int) string { return "u" })
	first, next, err := s.ListAuditPage(t.Context(), store.AuditPageFilter{}, store.Page{Limit: 3})
	must(t, err)
	appendAt(t, s, []int{10, 11, 5}, func(int) string { return "login" }, func(int) string { return "u" })
	rest, next, err := s.ListAuditPage(t.Context(), store.AuditPageFilter{}, store.Page{After: next, Limit: 10})
	must(t, err)
	got := append(minutes(first), minutes(rest)...)
	// The new events are all newer than the cursor: on pages already read.
	if want := []string{"5", "4", "3", "2", "1", "0"}; !slices.Equal(got, want) || next != "" {
		t.Errorf("pages across inserts: %v (next %q), want %v", got, next, want)
	}
}

func testBadCursor(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, n := range []string{"a", "b", "c"} {
		mkUser(t, s, n)
	}
	for _, a := range []string{"p1", "p2"} {
		must(t, s.CreateProvider(ctx, fullProvider(a)))
	}
	appendAt(t, s, []int{1, 2}, func(int) string { return "login" }, func(int) string { return "u" })
	_, userNext, err := s.ListUsersPage(ctx, store.UserPageFilter{}, store.Page{Limit: 1})
	must(t, err)
	_, provNext, err := s.ListProvidersPage(ctx, store.ProviderPageFilter{}, store.Page{Limit: 1})
	must(t, err)
	_, auditNext, err := s.ListAuditPage(ctx, store.AuditPageFilter{}, store.Page{Limit: 1})
	must(t, err)
	yes := true
	malformed := []string{"%%%", "not a cursor", "e30", "W10", strings.Repeat("A", 5000),
		store.EncodeCursor(store.AuditPageFilter{}.Scope(), "x", "1"),    // the right list, a key that is no time
		store.EncodeCursor(store.UserPageFilter{}.Scope(), "a", "extra"), // too many keys
	}
	lists := map[string]func(after string) error{
		"users": func(after string) error {
			_, _, err := s.ListUsersPage(ctx, store.UserPageFilter{}, store.Page{After: after})
			return err
		},
		"users filtered": func(after string) error {
			_, _, err := s.ListUsersPage(ctx, store.UserPageFilter{Prefix: "b"}, store.Page{After: after})
			return err
		},
		"clients": func(after string) error {
			_, _, err := s.ListClientsPage(ctx, store.ClientPageFilter{}, store.Page{After: after})
			return err
		},
		"providers": func(after string) error {
			_, _, err := s.ListProvidersPage(ctx, store.ProviderPageFilter{Enabled: &yes}, store.Page{After: after})
			return err
		},
		"audit": func(after string) error {
			_, _, err := s.ListAuditPage(ctx, store.AuditPageFilter{Type: "login"}, store.Page{After: after})
			return err
		},
	}
	// Each list refuses the others' cursors, its own for another filter,
	// and anything malformed.
	for name, list := range lists {
		for _, c := range append(slices.Clone(malformed), userNext, provNext, auditNext) {
			if name == "users" && c == userNext {
				must(t, list(c))
				continue
			}
			wantErr(t, fmt.Sprintf("%s after %.40q", name, c), list(c), store.ErrBadCursor)
		}
	}
}

func testPageSizeClamped(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range store.MaxPageSize + 5 {
		must(t, s.CreateProvider(ctx, fullProvider(fmt.Sprintf("p%03d", i))))
	}
	for limit, want := range map[int]int{0: store.DefaultPageSize, -1: store.DefaultPageSize, 1_000_000: store.MaxPageSize, 7: 7} {
		ps, next, err := s.ListProvidersPage(ctx, store.ProviderPageFilter{}, store.Page{Limit: limit})
		must(t, err)
		if len(ps) != want || next == "" {
			t.Errorf("limit %d: %d rows (next %q), want %d and a next page", limit, len(ps), next, want)
		}
	}
}

func testCounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	if n := get(s.CountClients(ctx))(t); n != 0 {
		t.Errorf("CountClients of none = %d", n)
	}
	mkClient(t, s)
	mkClient(t, s)
	must(t, s.CreateProvider(ctx, fullProvider("corp")))
	if n := get(s.CountClients(ctx))(t); n != 2 {
		t.Errorf("CountClients = %d, want 2", n)
	}
	if n := get(s.CountProviders(ctx))(t); n != 1 {
		t.Errorf("CountProviders = %d, want 1", n)
	}
}

func testOTPEnrollments(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b, c := mkUser(t, s, "a"), mkUser(t, s, "b"), mkUser(t, s, "c")
	must(t, s.CreateOTPCredential(ctx, fullOTP(a.ID)))
	credC := fullOTP(c.ID)
	credC.CreatedAt = t0.Add(time.Hour)
	must(t, s.CreateOTPCredential(ctx, credC))
	must(t, s.ReplaceRecoveryCodes(ctx, c.ID, []string{"h1", "h2", "h3"}, t0))
	got := get(s.OTPEnrollments(ctx, []string{a.ID, b.ID, c.ID, "nobody", "\x00"}))(t)
	if len(got) != 2 || !sameTime(got[a.ID].At, t0) || !sameTime(got[c.ID].At, t0.Add(time.Hour)) || got[a.ID].At.Location() != time.UTC {
		t.Errorf("OTPEnrollments = %v", got)
	}
	if got[a.ID].RecoveryCodes != 0 || got[c.ID].RecoveryCodes != 3 {
		t.Errorf("recovery codes left: a %d, c %d; want 0 and 3", got[a.ID].RecoveryCodes, got[c.ID].RecoveryCodes)
	}
	if got := get(s.OTPEnrollments(ctx, nil))(t); len(got) != 0 {
		t.Errorf("OTPEnrollments(none) = %v", got)
	}
	many := make([]string, store.MaxPageSize+1)
	if _, err := s.OTPEnrollments(ctx, many); err == nil {
		t.Error("OTPEnrollments of more than a page: no error")
	}
}
