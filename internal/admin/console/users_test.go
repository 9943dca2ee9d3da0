package console

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/admintest"
)

func TestAccess(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.GetAs("", "/admin/users")
		if r.Status != http.StatusSeeOther || r.Location != "/login" {
			t.Errorf("no session: %d %q, want 303 to /login", r.Status, r.Location)
		}
		r = e.PostRaw("", "/admin/users", userForm("x", "x@example.com", false, true))
		if r.Status != http.StatusSeeOther || r.Location != "/login" {
			t.Errorf("no session POST: %d %q, want 303 to /login", r.Status, r.Location)
		}

		plain := e.CreateUser("pat", "pat@example.com", store.RoleUser, true)
		r = e.GetAs(e.Session(plain.ID, "pwd", "otp", "mfa"), "/admin/users")
		wantStatus(t, r, http.StatusForbidden)

		r = e.GetAs(e.Session(e.Admin.ID, "pwd"), "/admin/users")
		wantStatus(t, r, http.StatusForbidden)
		if !strings.Contains(r.Body, "one-time code") {
			t.Errorf("admin without otp: page does not explain the one-time code:\n%s", r.Body)
		}
		r = e.PostRaw(e.Session(e.Admin.ID, "pwd"), "/admin/users", userForm("x", "x@example.com", false, true))
		wantStatus(t, r, http.StatusForbidden)

		off := e.CreateUser("off", "off@example.com", store.RoleAdmin, true)
		off.Enabled = false
		if err := e.Store.UpdateUser(context.Background(), off); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, e.GetAs(e.Session(off.ID, "pwd", "otp"), "/admin/users"), http.StatusForbidden)

		r = e.Get("/admin")
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(r.Body, `id="count-users"`) {
			t.Errorf("GET /admin is not the dashboard:\n%s", r.Body)
		}
		r = e.Get("/admin/users")
		wantStatus(t, r, http.StatusOK)
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		if e.CountUsers() != 3 {
			t.Errorf("refused requests created users")
		}
	})
}

func TestAddUser(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.Get("/admin/users/new")
		wantStatus(t, r, http.StatusOK)
		if !checked(t, r.Body, "enabled") || checked(t, r.Body, "otp_required") {
			t.Error("new form: want enabled checked and OTP unchecked")
		}

		r = e.Post("/admin/users", userForm(" alice ", "alice@example.com", true, true))
		wantStatus(t, r, http.StatusSeeOther)
		u := e.UserByName("alice")
		if r.Location != "/admin/users/"+u.ID+"?notice=created" {
			t.Errorf("Location %q", r.Location)
		}
		if u.Email != "alice@example.com" || u.FirstName != "Ada" || u.LastName != "Lovelace" ||
			!u.OTPRequired || !u.Enabled || u.Role != store.RoleUser || u.PasswordHash != "" {
			t.Errorf("stored user %+v", u)
		}

		msgs := e.Mail.Outbox.Messages()
		if len(msgs) != 1 || msgs[0].To != "alice@example.com" || msgs[0].Subject != "Set up your account" {
			t.Fatalf("mails %+v, want one set-up mail to alice", msgs)
		}
		token := linkToken(t, msgs[0])
		at, err := e.Store.GetActionToken(context.Background(), session.TokenID(token))
		if err != nil || at.UserID != u.ID || at.Kind != store.ActionSetup {
			t.Fatalf("action token %+v, %v", at, err)
		}
		if got := at.ExpiresAt.Sub(at.CreatedAt); got != admin.DefaultLinkTTL {
			t.Errorf("link lifetime %v, want %v", got, admin.DefaultLinkTTL)
		}
		// The link opens the pipeline's landing page.
		wantStatus(t, e.GetAs("", "/link/"+token), http.StatusOK)

		types := e.AuditTypes(u.ID)
		for _, want := range []string{"user.created", "otp.enabled", "link.sent"} {
			if !slices.Contains(types, want) {
				t.Errorf("audit %v lacks %s", types, want)
			}
		}

		r = e.Get(r.Location)
		wantStatus(t, r, http.StatusOK)
		if got := text(t, r.Body, "notice"); !strings.Contains(got, "User created") {
			t.Errorf("notice %q", got)
		}
		if got := text(t, r.Body, "otp-state"); got != "Waiting for enrollment" {
			t.Errorf("otp-state %q", got)
		}
		if got := inputValue(t, r.Body, "username"); got != "alice" {
			t.Errorf("username %q", got)
		}
		if got := text(t, r.Body, "last-login"); got != "Never" {
			t.Errorf("last login %q", got)
		}
		if strings.Contains(r.Body, `id="error"`) {
			t.Error("profile shows an error after a successful send")
		}
	})
}

func TestAddUserWithoutOTP(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		wantStatus(t, e.Post("/admin/users", userForm("bob", "bob@example.com", false, true)), http.StatusSeeOther)
		u := e.UserByName("bob")
		if u.OTPRequired {
			t.Error("OTP flag stored on")
		}
		if types := e.AuditTypes(u.ID); slices.Contains(types, "otp.enabled") {
			t.Errorf("audit %v has otp.enabled", types)
		}
		r := e.Get("/admin/users/" + u.ID)
		if got := text(t, r.Body, "otp-state"); got != "None" {
			t.Errorf("otp-state %q, want None", got)
		}
	})
}

func TestAddUserDuplicate(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		e.CreateUser("alice", "alice@example.com", store.RoleUser, false)
		n := e.CountUsers()
		for _, f := range []url.Values{
			userForm("ALICE", "other@example.com", false, true),
			userForm("alice2", "Alice@Example.COM", false, true),
		} {
			r := e.Post("/admin/users", f)
			wantStatus(t, r, http.StatusConflict)
			if got := text(t, r.Body, "error"); got != msgDuplicate {
				t.Errorf("error %q", got)
			}
			if got := inputValue(t, r.Body, "username"); got != f.Get("username") {
				t.Errorf("username not kept: %q", got)
			}
		}
		if e.CountUsers() != n {
			t.Error("a duplicate was stored")
		}
		if msgs := e.Mail.Outbox.Messages(); len(msgs) != 0 {
			t.Errorf("mails sent: %+v", msgs)
		}
	})
}

func TestAddUserValidation(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		n := e.CountUsers()
		for _, tc := range []struct{ username, email, want string }{
			{"", "a@example.com", msgUsernameRequired},
			{"al ice", "a@example.com", msgUsernameFormat},
			{strings.Repeat("a", 65), "a@example.com", msgUsernameFormat},
			{"al\x00ice", "a@example.com", msgUsernameFormat},
			{"alice", "", msgEmailRequired},
			{"alice", "not-an-address", msgEmailFormat},
			{"alice", "Alice <alice@example.com>", msgEmailFormat},
			{"alice", "<alice@example.com>", msgEmailFormat},
		} {
			r := e.Post("/admin/users", userForm(tc.username, tc.email, true, true))
			wantStatus(t, r, http.StatusBadRequest)
			if got := text(t, r.Body, "error"); got != tc.want {
				t.Errorf("%q %q: error %q, want %q", tc.username, tc.email, got, tc.want)
			}
			if got := inputValue(t, r.Body, "email"); got != tc.email {
				t.Errorf("e-mail not kept: %q", got)
			}
			if !checked(t, r.Body, "otp_required") {
				t.Error("OTP checkbox not kept")
			}
		}
		// An empty form names every missing required field at once.
		r := e.Post("/admin/users", userForm("", "", false, true))
		if got := text(t, r.Body, "error"); !strings.Contains(got, msgUsernameRequired) || !strings.Contains(got, msgEmailRequired) {
			t.Errorf("empty form: error %q, want both required fields named", got)
		}
		if e.CountUsers() != n {
			t.Error("an invalid user was stored")
		}
		if len(e.Mail.Outbox.Messages()) != 0 {
			t.Error("mail sent for an invalid user")
		}
	})
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		target := e.CreateUser("tom", "tom@example.com", store.RoleUser, true)
		e.AddCredential(target.ID)
		n := e.CountUsers()
		forged := userForm("mallory", "m@example.com", false, true)
		forged.Set("csrf", admintest.CSRF(e.Session(e.Admin.ID, "pwd", "otp"))) // another session's token
		for _, f := range []url.Values{userForm("mallory", "m@example.com", false, true), forged} {
			wantStatus(t, e.PostRaw(e.Cookie, "/admin/users", f), http.StatusForbidden)
			edit := userForm("tom", "tom@example.com", false, false)
			edit.Set("csrf", f.Get("csrf"))
			wantStatus(t, e.PostRaw(e.Cookie, "/admin/users/"+target.ID, edit), http.StatusForbidden)
			for _, action := range []string{"reset-otp", "send-setup", "send-reset"} {
				wantStatus(t, e.PostRaw(e.Cookie, "/admin/users/"+target.ID+"/"+action, url.Values{"csrf": {f.Get("csrf")}}), http.StatusForbidden)
			}
		}
		if e.CountUsers() != n {
			t.Error("user created without a valid token")
		}
		if u := e.User(target.ID); !u.Enabled || !u.OTPRequired || !u.UpdatedAt.Equal(target.UpdatedAt) {
			t.Errorf("user changed without a valid token: %+v", u)
		}
		if !e.HasCredential(target.ID) {
			t.Error("credential removed without a valid token")
		}
		if len(e.Mail.Outbox.Messages()) != 0 {
			t.Error("mail sent without a valid token")
		}
	})
}

func TestOTPFlag(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		u := e.CreateUser("olga", "olga@example.com", store.RoleUser, true)
		e.AddCredential(u.ID)
		r := e.Get("/admin/users/" + u.ID)
		if got := text(t, r.Body, "otp-state"); got != "Enrolled on 4 Mar 2025, 05:06 UTC" {
			t.Errorf("otp-state %q", got)
		}
		if !checked(t, r.Body, "otp_required") {
			t.Error("OTP Configured not checked")
		}

		r = e.Post("/admin/users/"+u.ID, userForm("olga", "olga@example.com", false, true))
		if r.Status != http.StatusSeeOther || r.Location != "/admin/users/"+u.ID+"?notice=saved" {
			t.Fatalf("flag off: %d %q\n%s", r.Status, r.Location, r.Body)
		}
		off := e.User(u.ID)
		if off.OTPRequired || e.HasCredential(u.ID) {
			t.Error("flag off kept the flag or the credential")
		}
		if !off.UpdatedAt.After(u.UpdatedAt) {
			t.Error("UpdatedAt did not move")
		}
		types := e.AuditTypes(u.ID)
		if !slices.Contains(types, "otp.disabled") || !slices.Contains(types, "authenticator.removed") {
			t.Errorf("audit %v", types)
		}
		if got := text(t, e.Get("/admin/users/"+u.ID).Body, "otp-state"); got != "None" {
			t.Errorf("otp-state after off %q", got)
		}

		wantStatus(t, e.Post("/admin/users/"+u.ID, userForm("olga", "olga@example.com", true, true)), http.StatusSeeOther)
		on := e.User(u.ID)
		if !on.OTPRequired || !on.UpdatedAt.After(off.UpdatedAt) {
			t.Errorf("flag on: %+v", on)
		}
		if got := text(t, e.Get("/admin/users/"+u.ID).Body, "otp-state"); got != "Waiting for enrollment" {
			t.Errorf("otp-state after on %q", got)
		}
		if types := e.AuditTypes(u.ID); !slices.Contains(types, "otp.enabled") {
			t.Errorf("audit %v lacks otp.enabled", types)
		}

		// Submitting the same values changes nothing, not even UpdatedAt.
		r = e.Post("/admin/users/"+u.ID, userForm("olga", "olga@example.com", true, true))
		if !strings.HasSuffix(r.Location, "notice=unchanged") || !e.User(u.ID).UpdatedAt.Equal(on.UpdatedAt) {
			t.Errorf("unchanged save: %q", r.Location)
		}
	})
}

func TestResetOTP(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		u := e.CreateUser("rita", "rita@example.com", store.RoleUser, true)
		e.AddCredential(u.ID)
		// Reset OTP asks first, like Delete: without confirm=yes nothing changes.
		ask := e.Post("/admin/users/"+u.ID+"/reset-otp", nil)
		if ask.Status != http.StatusOK || !strings.Contains(ask.Body, `name="confirm" value="yes"`) || !e.HasCredential(u.ID) {
			t.Fatalf("reset without confirmation: %d, credential kept %v", ask.Status, e.HasCredential(u.ID))
		}
		if got := text(t, ask.Body, "question"); !strings.Contains(got, "rita") || !strings.Contains(got, "stops working") {
			t.Errorf("question %q", got)
		}
		r := e.Post("/admin/users/"+u.ID+"/reset-otp", url.Values{"confirm": {"yes"}})
		if r.Status != http.StatusSeeOther || r.Location != "/admin/users/"+u.ID+"?notice=otp-reset" {
			t.Fatalf("reset: %d %q", r.Status, r.Location)
		}
		after := e.User(u.ID)
		if e.HasCredential(u.ID) || !after.OTPRequired || !after.UpdatedAt.After(u.UpdatedAt) {
			t.Errorf("after reset: credential=%v user=%+v", e.HasCredential(u.ID), after)
		}
		page := e.Get(r.Location).Body
		if got := text(t, page, "otp-state"); got != "Waiting for enrollment" {
			t.Errorf("otp-state %q", got)
		}
		if got := text(t, page, "notice"); !strings.Contains(got, "new one at the next sign-in") {
			t.Errorf("notice %q", got)
		}
		if types := e.AuditTypes(u.ID); !slices.Contains(types, "authenticator.removed") {
			t.Errorf("audit %v", types)
		}
		r = e.Post("/admin/users/"+u.ID+"/reset-otp", url.Values{"confirm": {"yes"}})
		if r.Location != "/admin/users/"+u.ID+"?notice=otp-none" {
			t.Errorf("second reset: %q", r.Location)
		}
	})
}

func TestResendLinks(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		wantStatus(t, e.Post("/admin/users", userForm("sam", "sam@example.com", true, true)), http.StatusSeeOther)
		u := e.UserByName("sam")
		old := linkToken(t, e.Mail.Outbox.Messages()[0])

		r := e.Post("/admin/users/"+u.ID+"/send-setup", nil)
		if r.Status != http.StatusSeeOther || r.Location != "/admin/users/"+u.ID+"?notice=setup-sent" {
			t.Fatalf("send-setup: %d %q", r.Status, r.Location)
		}
		msgs := e.Mail.Outbox.Messages()
		if len(msgs) != 2 || msgs[0].Subject != "Set up your account" || msgs[0].To != u.Email {
			t.Fatalf("mails %+v", msgs)
		}
		fresh := linkToken(t, msgs[0])
		if _, err := e.Store.GetActionToken(context.Background(), session.TokenID(old)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old link still stored: %v", err)
		}
		if _, err := e.Store.GetActionToken(context.Background(), session.TokenID(fresh)); err != nil {
			t.Errorf("new link: %v", err)
		}
		if got := text(t, e.Get(r.Location).Body, "notice"); !strings.Contains(got, "sam@example.com") {
			t.Errorf("notice %q", got)
		}

		r = e.Post("/admin/users/"+u.ID+"/send-reset", nil)
		if r.Location != "/admin/users/"+u.ID+"?notice=reset-sent" {
			t.Fatalf("send-reset: %d %q", r.Status, r.Location)
		}
		m := e.Mail.Outbox.Messages()[0]
		if m.Subject != "Reset your password" {
			t.Errorf("subject %q", m.Subject)
		}
		at, err := e.Store.GetActionToken(context.Background(), session.TokenID(linkToken(t, m)))
		if err != nil || at.Kind != store.ActionReset {
			t.Errorf("reset token %+v %v", at, err)
		}
	})
}

func TestLinkRefusedWithoutEmailOrWhenDisabled(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		u := e.CreateUser("nomail", "", store.RoleUser, false)
		r := e.Post("/admin/users/"+u.ID+"/send-setup", nil)
		wantStatus(t, r, http.StatusConflict)
		if got := text(t, r.Body, "error"); !strings.Contains(got, "no e-mail address") {
			t.Errorf("error %q", got)
		}
		if len(e.Mail.Outbox.Messages()) != 0 {
			t.Error("mail sent")
		}
	})
}

func TestMailFailure(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		e.Mail.Fail(fmt.Errorf("mail: send to x via smtp.example:587 (password=hunter2): %w",
			&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}))
		r := e.Post("/admin/users", userForm("mia", "mia@example.com", true, true))
		wantStatus(t, r, http.StatusSeeOther)
		u := e.UserByName("mia")
		if !strings.Contains(r.Location, "mailerror=") {
			t.Fatalf("Location %q lacks the mail error", r.Location)
		}
		page := e.Get(r.Location).Body
		want := "The set-up e-mail could not be sent: the mail server could not be reached. Check the SMTP settings, then use Resend set-up e-mail."
		if got := text(t, page, "error"); got != want {
			t.Errorf("error %q, want %q", got, want)
		}
		if strings.Contains(page, "hunter2") || strings.Contains(page, "smtp.example") {
			t.Error("page shows error details")
		}
		if types := e.AuditTypes(u.ID); slices.Contains(types, "link.sent") {
			t.Errorf("audit %v claims the link was sent", types)
		}

		e.Mail.Fail(fmt.Errorf("mail: %w", &textproto.Error{Code: 535, Msg: "bad credentials"}))
		r = e.Post("/admin/users/"+u.ID+"/send-reset", nil)
		got := text(t, e.Get(r.Location).Body, "error")
		if !strings.HasPrefix(got, "The password reset e-mail could not be sent: the mail server rejected the SMTP login (SMTP reply 535)") {
			t.Errorf("reset failure %q", got)
		}

		e.Mail.Fail(nil)
		wantStatus(t, e.Post("/admin/users/"+u.ID+"/send-setup", nil), http.StatusSeeOther)
		if len(e.Mail.Outbox.Messages()) != 1 {
			t.Error("resend after repair did not send")
		}
	})
}

// A failed send's reason travels in the redirect's query; a reason the
// service does not know reads as a plain failure, never as the query's text.
func TestMailErrorText(t *testing.T) {
	if got := mailErrorText(context.Background(), url.Values{"mailerror": {"<script>"}}); strings.Contains(got, "script") || !strings.Contains(got, "sending failed") {
		t.Errorf("unknown reason: %q", got)
	}
	got := mailErrorText(context.Background(), url.Values{"mailerror": {"auth"}, "mail": {"reset"}, "smtp": {"535"}})
	if !strings.HasPrefix(got, "The password reset e-mail could not be sent: the mail server rejected the SMTP login (SMTP reply 535)") {
		t.Errorf("auth failure: %q", got)
	}
	if got := mailErrorText(context.Background(), url.Values{}); got != "" {
		t.Errorf("no failure: %q", got)
	}
}

func TestListSearchAndPaging(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		for i := 1; i <= 25; i++ {
			e.CreateUser(fmt.Sprintf("user%02d", i), fmt.Sprintf("u%02d@example.com", i), store.RoleUser, false)
		}
		rowPattern := regexp.MustCompile(`<td><a href="/admin/users/[0-9a-f]+">([^<]+)</a>`)
		rows := func(body string) []string {
			var out []string
			for _, m := range rowPattern.FindAllStringSubmatch(body, -1) {
				out = append(out, m[1])
			}
			return out
		}

		r := e.Get("/admin/users")
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(r.Body, `id="users"`) || !strings.Contains(r.Body, `id="search"`) || !strings.Contains(r.Body, `id="add-user"`) {
			t.Error("list lacks the table, the search or the add link")
		}
		first := rows(r.Body)
		if len(first) != 20 || first[0] != "root" {
			t.Fatalf("page 1 rows %v", first)
		}
		next := linkHref(r.Body, "next")
		if strings.Contains(r.Body, `id="first"`) || !strings.HasPrefix(next, "/admin/users?after=") {
			t.Fatalf("page 1 paging links wrong: next %q", next)
		}
		if got := text(t, r.Body, "user-count"); got != "Showing 20 users" {
			t.Errorf("count %q", got)
		}
		// A user added before the cursor does not shift the next page.
		e.CreateUser("aaa", "aaa@example.com", store.RoleUser, false)
		r = e.Get(next)
		second := rows(r.Body)
		if len(second) != 6 || slices.ContainsFunc(second, func(s string) bool { return slices.Contains(first, s) }) {
			t.Errorf("page 2 rows %v", second)
		}
		if linkHref(r.Body, "first") != "/admin/users" || strings.Contains(r.Body, `id="next"`) {
			t.Errorf("page 2 paging links wrong")
		}
		// The search is kept in the next link; its cursor is only good for it.
		r = e.Get("/admin/users?q=user")
		searchNext := linkHref(r.Body, "next")
		if !strings.Contains(searchNext, "q=user") {
			t.Errorf("next link of a search %q", searchNext)
		}
		if got := rows(e.Get(searchNext).Body); len(got) != 5 || got[0] != "user21" {
			t.Errorf("second page of the search: %v", got)
		}
		after := strings.TrimPrefix(next, "/admin/users?after=")
		for _, q := range []string{"?after=garbage", "?after=e30", "?q=user&after=" + after, "?after=" + strings.Repeat("A", 5000)} {
			r = e.Get("/admin/users" + q)
			wantStatus(t, r, http.StatusBadRequest)
			if !strings.Contains(r.Body, "Invalid page link") {
				t.Errorf("%s: no explanation", q)
			}
		}
		wantStatus(t, e.Get("/admin/clients?after="+after), http.StatusBadRequest)
		wantStatus(t, e.Get("/admin/providers?after="+after), http.StatusBadRequest)

		r = e.Get("/admin/users?q=USER1")
		if got := rows(r.Body); len(got) != 10 || got[0] != "user10" {
			t.Errorf("search USER1: %v", got)
		}
		if got := inputValue(t, r.Body, "search"); got != "USER1" {
			t.Errorf("search box %q", got)
		}
		r = e.Get("/admin/users?q=u07%40example")
		if got := rows(r.Body); len(got) != 1 || got[0] != "user07" {
			t.Errorf("search by e-mail: %v", got)
		}
		for _, q := range []string{"?page=abc", "?q=%00%ff", "?q=" + strings.Repeat("x", 5000), "?after="} {
			wantStatus(t, e.Get("/admin/users"+q), http.StatusOK)
		}
		if got := e.Get("/admin/users?q=zzz").Body; !strings.Contains(got, `id="no-users"`) {
			t.Error("empty search shows no 'no users' message")
		}
	})
}

func TestEditUser(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		u := e.CreateUser("eve", "eve@example.com", store.RoleUser, false)
		e.CreateUser("frank", "frank@example.com", store.RoleUser, false)

		r := e.Post("/admin/users/"+u.ID, userForm("eve", "FRANK@example.com", false, true))
		wantStatus(t, r, http.StatusConflict)
		if got := text(t, r.Body, "error"); got != msgDuplicate {
			t.Errorf("error %q", got)
		}
		if got := e.User(u.ID); got.Email != "eve@example.com" || !got.UpdatedAt.Equal(u.UpdatedAt) {
			t.Errorf("duplicate e-mail changed the user: %+v", got)
		}
		r = e.Post("/admin/users/"+u.ID, userForm("eve", "bad", false, true))
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.Body, "error"); got != msgEmailFormat {
			t.Errorf("error %q", got)
		}

		f := userForm("Eve.N", "eve.n@example.com", false, true)
		f.Set("first_name", "Évelyne")
		wantStatus(t, e.Post("/admin/users/"+u.ID, f), http.StatusSeeOther)
		got := e.User(u.ID)
		if got.Username != "Eve.N" || got.Email != "eve.n@example.com" || got.FirstName != "Évelyne" {
			t.Errorf("edit not stored: %+v", got)
		}
		if types := e.AuditTypes(u.ID); !slices.Contains(types, "user.updated") {
			t.Errorf("audit %v", types)
		}

		// Disabling a user ends their sessions.
		cookie := e.Session(u.ID, "pwd")
		wantStatus(t, e.Post("/admin/users/"+u.ID, userForm("Eve.N", "eve.n@example.com", false, false)), http.StatusSeeOther)
		if e.User(u.ID).Enabled {
			t.Error("user still enabled")
		}
		if _, err := e.Store.GetSession(context.Background(), session.TokenID(cookie), time.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("disabled user's session survived: %v", err)
		}
	})
}

func TestAdminCannotDisableSelf(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.Post("/admin/users/"+e.Admin.ID, userForm("root", "root@example.com", true, false))
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.Body, "error"); got != msgDisableSelf {
			t.Errorf("error %q", got)
		}
		if !e.User(e.Admin.ID).Enabled {
			t.Error("admin disabled themselves")
		}
	})
}

func TestUnknownUser(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		wantStatus(t, e.Get("/admin/users/nosuchuser"), http.StatusNotFound)
		wantStatus(t, e.Post("/admin/users/nosuchuser", userForm("x", "x@example.com", false, true)), http.StatusNotFound)
		for _, action := range []string{"reset-otp", "send-setup", "send-reset"} {
			wantStatus(t, e.Post("/admin/users/nosuchuser/"+action, nil), http.StatusNotFound)
		}
	})
}

func TestBadBodies(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		n := e.CountUsers()
		big := userForm("big", "big@example.com", false, true)
		big.Set("csrf", admintest.CSRF(e.Cookie))
		big.Set("first_name", strings.Repeat("x", 100<<10))
		r := e.PostRaw(e.Cookie, "/admin/users", big)
		if r.Status < 400 || r.Status >= 500 {
			t.Errorf("oversized body: status %d", r.Status)
		}
		req, _ := http.NewRequest(http.MethodPost, e.Server.URL+"/admin/users", strings.NewReader("csrf=%zz&username=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		wantStatus(t, e.Do(req, e.Cookie), http.StatusBadRequest)

		long := userForm("long", "long@example.com", false, true)
		long.Set("last_name", strings.Repeat("y", 101))
		wantStatus(t, e.Post("/admin/users", long), http.StatusBadRequest)
		if e.CountUsers() != n {
			t.Error("a bad body created a user")
		}
	})
}

func TestUserPageRolesAndIdentities(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		u := e.CreateUser("jo", "jo@example.com", store.RoleUser, false)
		alias, display, issuerURL, clientID := "corp", "Corp", "https://login.example", "authz-at-corp"
		if _, err := e.Service.CreateProvider(context.Background(), admin.Actor{UserID: e.Admin.ID},
			admin.ProviderPatch{Alias: &alias, DisplayName: &display, IssuerURL: &issuerURL, ClientID: &clientID}); err != nil {
			t.Fatalf("CreateProvider: %v", err)
		}

		// Link, list, unlink.
		r := e.Post("/admin/users/"+u.ID+"/link", url.Values{"provider": {"corp"}, "subject": {"up-42"}})
		wantStatus(t, r, http.StatusSeeOther)
		page := e.Get("/admin/users/" + u.ID).Body
		if !strings.Contains(page, `id="identities"`) || !strings.Contains(page, "up-42") || !strings.Contains(page, `id="unlink-0"`) {
			t.Fatalf("the profile does not list the link:\n%s", page)
		}
		r = e.Post("/admin/users/"+u.ID+"/unlink", url.Values{"provider": {"corp"}, "subject": {"nope"}})
		wantStatus(t, r, http.StatusNotFound)
		r = e.Post("/admin/users/"+u.ID+"/unlink", url.Values{"provider": {"corp"}, "subject": {"up-42"}})
		if r.Status != http.StatusSeeOther || !strings.HasSuffix(r.Location, "notice=unlinked") {
			t.Fatalf("unlink: %d %q", r.Status, r.Location)
		}
		if ids, _ := e.Store.ListFederatedIdentities(context.Background(), u.ID); len(ids) != 0 {
			t.Error("still linked")
		}
		if types := e.AuditTypes(u.ID); !strings.Contains(strings.Join(types, " "), "federation.unlinked") {
			t.Errorf("audit %v", types)
		}
		// Unlinking needs the CSRF token.
		wantStatus(t, e.PostRaw(e.Cookie, "/admin/users/"+u.ID+"/unlink", url.Values{"provider": {"corp"}}), http.StatusForbidden)

		// Role: promote through the form; the last administrator stays.
		f := userForm("jo", "jo@example.com", false, true)
		f.Set("role", store.RoleAdmin)
		wantStatus(t, e.Post("/admin/users/"+u.ID, f), http.StatusSeeOther)
		if e.User(u.ID).Role != store.RoleAdmin {
			t.Fatal("not promoted")
		}
		if !strings.Contains(e.Get("/admin/users/"+u.ID).Body, `<option value="admin" selected>`) {
			t.Error("the role select does not show admin")
		}
		self := userForm("root", "root@example.com", true, true)
		self.Set("role", store.RoleUser)
		r = e.Post("/admin/users/"+e.Admin.ID, self)
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.Body, "error"); got != msgDemoteSelf {
			t.Errorf("error %q", got)
		}
		f.Set("role", store.RoleUser)
		wantStatus(t, e.Post("/admin/users/"+u.ID, f), http.StatusSeeOther)

		// Delete, asking first; never oneself.
		r = e.Post("/admin/users/"+u.ID+"/delete", nil)
		if !strings.Contains(r.Body, `id="question"`) {
			t.Fatal("delete did not ask first")
		}
		r = e.Post("/admin/users/"+u.ID+"/delete", url.Values{"confirm": {"yes"}})
		if r.Status != http.StatusSeeOther || r.Location != "/admin/users?notice=deleted" {
			t.Fatalf("delete: %d %q", r.Status, r.Location)
		}
		if got := text(t, e.Get(r.Location).Body, "notice"); got != "User deleted." {
			t.Errorf("notice %q", got)
		}
		r = e.Post("/admin/users/"+e.Admin.ID+"/delete", url.Values{"confirm": {"yes"}})
		wantStatus(t, r, http.StatusBadRequest)
		if strings.Contains(e.Get("/admin/users/"+e.Admin.ID).Body, `id="delete-user"`) {
			t.Error("the own page offers delete")
		}
	})
}

// linkHref is the href of the link with id in body, unescaped; "" when
// there is none.
func linkHref(body, id string) string {
	m := regexp.MustCompile(`href="([^"]*)" id="` + id + `"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}
