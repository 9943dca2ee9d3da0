package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

var auditTests = []test{
	{"AppendSetsID", testAuditIDs},
	{"RoundTrip", testAuditRoundTrip},
	{"NewestFirst", testAuditOrder},
	{"Filters", testAuditFilters},
	{"Paging", testAuditPaging},
	{"DefaultLimit", testAuditDefaultLimit},
}

func testAuditIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := fullAudit("login", t0), fullAudit("login", t0)
	must(t, s.AppendAudit(ctx, a))
	must(t, s.AppendAudit(ctx, b))
	if a.ID <= 0 || b.ID <= a.ID {
		t.Errorf("IDs %d then %d: want positive and increasing", a.ID, b.ID)
	}
}

func testAuditRoundTrip(t *testing.T, s store.Store) {
	e := fullAudit("user.update", t0)
	must(t, s.AppendAudit(t.Context(), e))
	complete(t, e)
	got, total := get2(s.ListAudit(t.Context(), store.AuditFilter{}))(t)
	sameList(t, "ListAudit", []*store.AuditEvent{e}, got)
	if total != 1 {
		t.Errorf("total = %d, want 1", total)
	}
}

// appendAt stores one event at t0 plus each of mins minutes, its Detail the
// minute so lists are easy to read back.
func appendAt(t *testing.T, s store.Store, mins []int, typ, user func(min int) string) {
	t.Helper()
	for _, m := range mins {
		e := fullAudit(typ(m), t0.Add(time.Duration(m)*time.Minute))
		e.UserID, e.Detail = user(m), fmt.Sprint(m)
		must(t, s.AppendAudit(t.Context(), e))
	}
}

// minutes maps listed events back to the minute they were stored at.
func minutes(es []*store.AuditEvent) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Detail)
	}
	return out
}

func testAuditOrder(t *testing.T, s store.Store) {
	// Appended out of time order: the list is by event time, not by ID.
	appendAt(t, s, []int{3, 1, 5, 2, 4}, func(int) string { return "x" }, func(int) string { return "u" })
	got, _ := get2(s.ListAudit(t.Context(), store.AuditFilter{}))(t)
	if m := minutes(got); !slices.Equal(m, []string{"5", "4", "3", "2", "1"}) {
		t.Errorf("ListAudit order = %v, want newest first", m)
	}
}

func testAuditFilters(t *testing.T, s store.Store) {
	typ := func(m int) string {
		if m%2 == 1 {
			return "login"
		}
		return "logout"
	}
	user := func(m int) string {
		if m <= 3 {
			return "alice"
		}
		return "bob"
	}
	appendAt(t, s, []int{1, 2, 3, 4, 5, 6}, typ, user)
	at := func(m float64) time.Time { return t0.Add(time.Duration(m * float64(time.Minute))) }

	for _, c := range []struct {
		f    store.AuditFilter
		want []string
	}{
		{store.AuditFilter{Type: "login"}, []string{"5", "3", "1"}},
		{store.AuditFilter{UserID: "alice"}, []string{"3", "2", "1"}},
		{store.AuditFilter{Type: "logout", UserID: "bob"}, []string{"6", "4"}},
		{store.AuditFilter{Since: at(2.5)}, []string{"6", "5", "4", "3"}},
		{store.AuditFilter{Until: at(2.5)}, []string{"2", "1"}},
		{store.AuditFilter{Since: at(1.5), Until: at(4.5), Type: "login"}, []string{"3"}},
		{store.AuditFilter{Since: at(2), Until: at(4)}, []string{"3", "2"}}, // [Since, Until)
		{store.AuditFilter{Type: "none"}, nil},
	} {
		got, total := get2(s.ListAudit(t.Context(), c.f))(t)
		if m := minutes(got); !slices.Equal(m, c.want) || total != len(c.want) {
			t.Errorf("ListAudit(%+v) = %v, total %d; want %v", c.f, m, total, c.want)
		}
	}
}

func testAuditPaging(t *testing.T, s store.Store) {
	appendAt(t, s, []int{1, 2, 3, 4, 5}, func(int) string { return "x" }, func(int) string { return "u" })
	for _, c := range []struct {
		offset, limit int
		want          []string
	}{
		{0, 2, []string{"5", "4"}},
		{2, 2, []string{"3", "2"}},
		{4, 2, []string{"1"}},
		{9, 2, nil},
	} {
		got, total := get2(s.ListAudit(t.Context(), store.AuditFilter{Offset: c.offset, Limit: c.limit}))(t)
		if m := minutes(got); !slices.Equal(m, c.want) || total != 5 {
			t.Errorf("page at %d = %v, total %d; want %v, 5", c.offset, m, total, c.want)
		}
	}
}

func testAuditDefaultLimit(t *testing.T, s store.Store) {
	mins := make([]int, 55)
	for i := range mins {
		mins[i] = i
	}
	appendAt(t, s, mins, func(int) string { return "x" }, func(int) string { return "u" })
	got, total := get2(s.ListAudit(t.Context(), store.AuditFilter{}))(t)
	if len(got) != 50 || total != 55 {
		t.Errorf("ListAudit with zero Limit: %d events, total %d; want 50, 55", len(got), total)
	}
}
