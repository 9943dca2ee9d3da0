package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

// TestVoidRecoveryCodes: the user page shows the codes left and voids them
// after a confirmation; Reset OTP takes them too.
func TestVoidRecoveryCodes(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		u := e.CreateUser("rita", "rita@example.com", store.RoleUser, true)
		e.AddCredential(u.ID)
		if err := e.Store.ReplaceRecoveryCodes(ctx, u.ID, []string{"h1", "h2", "h3"}, time.Now()); err != nil {
			t.Fatal(err)
		}
		page := e.Get("/admin/users/" + u.ID).Body
		if got := text(t, page, "recovery-codes"); got != "3 left" {
			t.Fatalf("recovery codes on the user page: %q", got)
		}
		ask := e.Post("/admin/users/"+u.ID+"/void-recovery-codes", nil)
		if ask.Status != http.StatusOK || !strings.Contains(ask.Body, `name="confirm" value="yes"`) {
			t.Fatalf("void without confirmation: %d", ask.Status)
		}
		if n, _ := e.Store.CountRecoveryCodes(ctx, u.ID); n != 3 {
			t.Fatalf("an unconfirmed void removed codes: %d left", n)
		}
		r := e.Post("/admin/users/"+u.ID+"/void-recovery-codes", url.Values{"confirm": {"yes"}})
		if r.Status != http.StatusSeeOther || r.Location != "/admin/users/"+u.ID+"?notice=codes-voided" {
			t.Fatalf("void: %d %q", r.Status, r.Location)
		}
		page = e.Get(r.Location).Body
		if got := text(t, page, "recovery-codes"); got != "0 left" {
			t.Errorf("after voiding: %q", got)
		}
		if strings.Contains(page, `id="void-recovery-codes"`) {
			t.Error("the void button stays without codes")
		}
		if types := e.AuditTypes(u.ID); !slices.Contains(types, "recovery_codes.voided") {
			t.Errorf("audit %v", types)
		}
		if r := e.Post("/admin/users/nobody/void-recovery-codes", url.Values{"confirm": {"yes"}}); r.Status != http.StatusNotFound {
			t.Errorf("unknown user: %d", r.Status)
		}
	})
}
