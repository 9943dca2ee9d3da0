package audit

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/sqlitetest"
)

func TestTypesSortedUniqueAndNamed(t *testing.T) {
	types := Types()
	if !slices.IsSorted(types) {
		t.Error("Types is not sorted")
	}
	if len(slices.Compact(slices.Clone(types))) != len(types) {
		t.Error("Types has duplicates")
	}
	for _, ty := range types {
		if obj, verb, ok := strings.Cut(string(ty), "."); (!ok && ty != Logout) || (ok && (obj == "" || verb == "")) {
			t.Errorf("%q is not object.verb", ty)
		}
		if !Known(string(ty)) {
			t.Errorf("Known(%q) is false", ty)
		}
	}
	if Known("user.exploded") {
		t.Error("Known accepts an unknown type")
	}
}

func TestRecordStampsTheClientAddress(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t)
	ctx = clientip.NewContext(ctx, "192.0.2.9")
	Record(ctx, st, slog.New(slog.NewTextHandler(io.Discard, nil)), &store.AuditEvent{Time: time.Now().UTC(), Type: string(Logout), UserID: "u"})
	got, _, err := st.ListAudit(ctx, store.AuditFilter{Type: string(Logout)})
	if err != nil || len(got) != 1 {
		t.Fatalf("ListAudit = %v, %v", got, err)
	}
	if got[0].IP != "192.0.2.9" || got[0].UserID != "u" {
		t.Errorf("recorded %+v", got[0])
	}
}
