package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

var userTests = []test{
	{"CreateAndGet", testUserCreateGet},
	{"ZeroFields", testUserZeroFields},
	{"GetMissing", testUserGetMissing},
	{"Update", testUserUpdate},
	{"UpdateMissing", testUserUpdateMissing},
	{"Delete", testUserDelete},
	{"UniqueUsername", testUserUniqueUsername},
	{"UniqueEmail", testUserUniqueEmail},
	{"UpdateConflict", testUserUpdateConflict},
	{"List", testUserList},
	{"ListDefaultLimit", testUserListDefaultLimit},
	{"Count", testUserCount},
	{"CountOTP", testUserCountOTP},
	{"Multibyte", testUserMultibyte},
}

func testUserCreateGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := fullUser("Alice")
	complete(t, u)
	must(t, s.CreateUser(ctx, u))

	same(t, "GetUser", u, get(s.GetUser(ctx, u.ID))(t))
	// Lookups ignore case but the stored spelling is kept.
	same(t, "GetUserByUsername", u, get(s.GetUserByUsername(ctx, "aLICE"))(t))
	same(t, "GetUserByEmail", u, get(s.GetUserByEmail(ctx, "ALICE@Example.COM"))(t))
}

func testUserZeroFields(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := &store.User{ID: store.NewID(), Username: "bare", Role: store.RoleUser, CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateUser(ctx, u))
	got := get(s.GetUser(ctx, u.ID))(t)
	same(t, "GetUser", u, got)
	if !got.LastLoginAt.IsZero() || got.Enabled || got.OTPRequired {
		t.Errorf("zero fields came back set: %+v", got)
	}
}

func testUserGetMissing(t *testing.T, s store.Store) {
	ctx := t.Context()
	// A user without e-mail must not be found by the empty address.
	must(t, s.CreateUser(ctx, &store.User{ID: store.NewID(), Username: "noemail", Role: store.RoleUser}))

	_, err := s.GetUser(ctx, store.NewID())
	wantErr(t, "GetUser", err, store.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, "nobody")
	wantErr(t, "GetUserByUsername", err, store.ErrNotFound)
	_, err = s.GetUserByEmail(ctx, "nobody@example.com")
	wantErr(t, "GetUserByEmail", err, store.ErrNotFound)
	_, err = s.GetUserByEmail(ctx, "")
	wantErr(t, `GetUserByEmail("")`, err, store.ErrNotFound)
	// Keys no backend can store, as a hostile URL may carry them, name nothing.
	for _, key := range hostileKeys {
		_, err = s.GetUser(ctx, key)
		wantErr(t, fmt.Sprintf("GetUser(%q)", key), err, store.ErrNotFound)
		_, err = s.GetUserByUsername(ctx, key)
		wantErr(t, fmt.Sprintf("GetUserByUsername(%q)", key), err, store.ErrNotFound)
	}
}

// hostileKeys are IDs with a NUL byte or invalid UTF-8.
var hostileKeys = []string{"\x00", "a\xffb"}

func testUserUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	upd := &store.User{
		ID: u.ID, Username: "ALICE", Email: "alice@corp.example", FirstName: "Alicia", LastName: "Liddell",
		PasswordHash: "", Enabled: false, OTPRequired: false, Role: store.RoleUser,
		CreatedAt: t0.Add(99 * time.Hour), UpdatedAt: t0.Add(2 * time.Hour), LastLoginAt: time.Time{},
	}
	// Changing only the case of one's own username is not a conflict with oneself.
	must(t, s.UpdateUser(ctx, upd))

	want := clone(upd)
	want.CreatedAt = u.CreatedAt // UpdateUser never writes CreatedAt
	same(t, "GetUser after update", want, get(s.GetUser(ctx, u.ID))(t))
}

func testUserUpdateMissing(t *testing.T, s store.Store) {
	wantErr(t, "UpdateUser", s.UpdateUser(t.Context(), fullUser("ghost")), store.ErrNotFound)
}

func testUserDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	keep := mkUser(t, s, "bob")
	must(t, s.DeleteUser(ctx, u.ID))

	_, err := s.GetUser(ctx, u.ID)
	wantErr(t, "GetUser after delete", err, store.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, "alice")
	wantErr(t, "GetUserByUsername after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteUser twice", s.DeleteUser(ctx, u.ID), store.ErrNotFound)
	get(s.GetUser(ctx, keep.ID))(t)
	// The name and address are free again.
	must(t, s.CreateUser(ctx, fullUser("alice")))
}

func testUserUniqueUsername(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mkUser(t, s, "Alice")
	for _, name := range []string{"Alice", "alice", "ALICE"} {
		u := fullUser(name)
		u.Email = "" // only the username collides
		wantErr(t, "CreateUser "+name, s.CreateUser(ctx, u), store.ErrConflict)
	}
	dupID := fullUser("someone")
	dupID.ID = a.ID
	wantErr(t, "CreateUser same ID", s.CreateUser(ctx, dupID), store.ErrConflict)

	if _, n := get2(s.ListUsers(ctx, store.UserFilter{}))(t); n != 1 {
		t.Errorf("after rejected creates: %d users, want 1", n)
	}
}

func testUserUniqueEmail(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := fullUser("a")
	a.Email = "Alice@Example.com"
	must(t, s.CreateUser(ctx, a))
	b := fullUser("b")
	b.Email = "alice@example.COM"
	wantErr(t, "CreateUser same e-mail", s.CreateUser(ctx, b), store.ErrConflict)

	// Any number of users may have no e-mail.
	for _, name := range []string{"c", "d", "e"} {
		u := fullUser(name)
		u.Email = ""
		must(t, s.CreateUser(ctx, u))
	}
}

func testUserUpdateConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	mkUser(t, s, "alice")
	b := mkUser(t, s, "bob")

	u := clone(b)
	u.Username = "ALICE"
	wantErr(t, "UpdateUser to taken username", s.UpdateUser(ctx, u), store.ErrConflict)
	u = clone(b)
	u.Email = "ALICE@example.com"
	wantErr(t, "UpdateUser to taken e-mail", s.UpdateUser(ctx, u), store.ErrConflict)

	same(t, "user after rejected updates", b, get(s.GetUser(ctx, b.ID))(t))
}

func testUserList(t *testing.T, s store.Store) {
	ctx := t.Context()
	users := map[string]*store.User{}
	for _, row := range [][4]string{
		{"dave", "", "David", "SMITHERS"},
		{"bob", "bob@corp.test", "Bob", "Builder"},
		{"e_ve", "eve@x.test", "Eve", "Ng"},
		{"alice", "alice@example.com", "Alice", "Anders"},
		{"carol", "carol@example.com", "Carol", "Smith"},
	} {
		u := fullUser(row[0])
		u.Email, u.FirstName, u.LastName = row[1], row[2], row[3]
		must(t, s.CreateUser(ctx, u))
		users[u.Username] = u
	}

	all, total := get2(s.ListUsers(ctx, store.UserFilter{}))(t)
	want := []*store.User{users["alice"], users["bob"], users["carol"], users["dave"], users["e_ve"]}
	sameList(t, "ListUsers", want, all)
	if total != 5 {
		t.Errorf("ListUsers total = %d, want 5", total)
	}

	for _, c := range []struct {
		f     store.UserFilter
		want  []string
		total int
	}{
		{store.UserFilter{Limit: 2}, []string{"alice", "bob"}, 5},
		{store.UserFilter{Limit: 2, Offset: 2}, []string{"carol", "dave"}, 5},
		{store.UserFilter{Limit: 2, Offset: 4}, []string{"e_ve"}, 5},
		{store.UserFilter{Offset: 10}, nil, 5},
		{store.UserFilter{Query: "smith"}, []string{"carol", "dave"}, 2},        // last name, any case
		{store.UserFilter{Query: "EXAMPLE.com"}, []string{"alice", "carol"}, 2}, // e-mail
		{store.UserFilter{Query: "avi"}, []string{"dave"}, 1},                   // first name
		{store.UserFilter{Query: "OB"}, []string{"bob"}, 1},                     // username
		{store.UserFilter{Query: "_"}, []string{"e_ve"}, 1},                     // not a wildcard
		{store.UserFilter{Query: "%"}, nil, 0},                                  // not a wildcard
		{store.UserFilter{Query: "zzz"}, nil, 0},
		{store.UserFilter{Query: "smith", Limit: 1, Offset: 1}, []string{"dave"}, 2},
	} {
		got, n := get2(s.ListUsers(ctx, c.f))(t)
		if names := usernames(got); !slices.Equal(names, c.want) || n != c.total {
			t.Errorf("ListUsers(%+v) = %v, %d; want %v, %d", c.f, names, n, c.want, c.total)
		}
	}
}

func testUserListDefaultLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 55 {
		must(t, s.CreateUser(ctx, &store.User{ID: store.NewID(), Username: fmt.Sprintf("u%03d", i), Role: store.RoleUser}))
	}
	page, total := get2(s.ListUsers(ctx, store.UserFilter{}))(t)
	if len(page) != 50 || total != 55 {
		t.Fatalf("ListUsers with zero Limit: %d users, total %d; want 50, 55", len(page), total)
	}
	rest, _ := get2(s.ListUsers(ctx, store.UserFilter{Offset: 50}))(t)
	if names := usernames(rest); !slices.Equal(names, []string{"u050", "u051", "u052", "u053", "u054"}) {
		t.Errorf("second page = %v", names)
	}
}

func testUserCount(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, role := range []string{store.RoleAdmin, store.RoleUser, store.RoleAdmin, store.RoleUser, store.RoleUser} {
		u := fullUser(fmt.Sprintf("user%d", i))
		u.Role = role
		must(t, s.CreateUser(ctx, u))
	}
	for role, want := range map[string]int{store.RoleAdmin: 2, store.RoleUser: 3, "auditor": 0, "": 5} {
		if n := get(s.CountUsers(ctx, role))(t); n != want {
			t.Errorf("CountUsers(%q) = %d, want %d", role, n, want)
		}
	}
}

func testUserCountOTP(t *testing.T, s store.Store) {
	ctx := t.Context()
	check := func(wantRequired, wantEnrolled int) {
		t.Helper()
		required, enrolled, err := s.CountOTP(ctx)
		must(t, err)
		if required != wantRequired || enrolled != wantEnrolled {
			t.Errorf("CountOTP = %d required, %d enrolled; want %d, %d", required, enrolled, wantRequired, wantEnrolled)
		}
	}
	check(0, 0)
	for i, flag := range []bool{true, true, true, false} {
		u := fullUser(fmt.Sprintf("user%d", i))
		u.OTPRequired = flag
		must(t, s.CreateUser(ctx, u))
		if i < 2 || !flag {
			// Two flagged users enrolled, and one unflagged user holding a
			// credential, which counts nowhere.
			must(t, s.CreateOTPCredential(ctx, fullOTP(u.ID)))
		}
	}
	check(3, 2)
}

func usernames(us []*store.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Username)
	}
	return out
}

// testUserMultibyte keeps Japanese (multi-byte, full-width) names, their
// case-insensitive lookup, and the preferred language through a round trip
// and an update.
func testUserMultibyte(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := &store.User{
		ID: store.NewID(), Username: "山田ｔａｒｏ", Email: "太郎@例え.jp", FirstName: "太郎", LastName: "山田",
		Enabled: true, Role: store.RoleUser, Locale: "ja", CreatedAt: t0, UpdatedAt: t0,
	}
	must(t, s.CreateUser(ctx, u))
	same(t, "GetUser", u, get(s.GetUser(ctx, u.ID))(t))
	same(t, "GetUserByUsername", u, get(s.GetUserByUsername(ctx, "山田ｔａｒｏ"))(t))
	same(t, "GetUserByEmail", u, get(s.GetUserByEmail(ctx, "太郎@例え.jp"))(t))
	upd := clone(u)
	upd.Locale, upd.FirstName = "", "花子"
	must(t, s.UpdateUser(ctx, upd))
	same(t, "GetUser after update", upd, get(s.GetUser(ctx, u.ID))(t))
	users, _, err := s.ListUsers(ctx, store.UserFilter{Query: "花子"})
	must(t, err)
	if len(users) != 1 || users[0].ID != u.ID {
		t.Errorf("ListUsers(花子) = %v, want the one user", usernames(users))
	}
}
