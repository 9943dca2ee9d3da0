package admin

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// List paging.
const (
	pageSize    = 20
	maxQueryLen = 100
	// maxPage keeps the offset far from overflow whatever ?page= says.
	maxPage = 1_000_000
)

func userPath(id string) string { return "/admin/users/" + url.PathEscape(id) }

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") + " UTC" }

// listUsers serves GET /admin/users?q=&page=.
func (c *Console) listUsers(w http.ResponseWriter, r *http.Request, _ *principal) {
	query, page := listParams(r.URL.Query())
	offset := (page - 1) * pageSize
	users, total, err := c.Store.ListUsers(r.Context(), store.UserFilter{Query: query, Offset: offset, Limit: pageSize})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := views.AdminUsersData{Query: query, Total: total}
	if r.URL.Query().Get("notice") == "deleted" {
		d.Notice = "User deleted."
	}
	for _, u := range users {
		d.Users = append(d.Users, views.AdminUserRow{
			Href: userPath(u.ID), Username: u.Username, Email: u.Email, FirstName: u.FirstName,
			LastName: u.LastName, Role: u.Role, Enabled: u.Enabled, OTP: u.OTPRequired,
		})
	}
	d.From, d.To, d.PrevHref, d.NextHref = pageLinks(offset, len(users), total, page, func(p int) string { return listHref(query, p) })
	c.render(w, r, http.StatusOK, views.AdminUsersPage(d))
}

// pageLinks numbers the shown rows (1-based) and links the neighbouring pages
// of a list; href makes the link of a page number.
func pageLinks(offset, shown, total, page int, href func(int) string) (from, to int, prev, next string) {
	if shown > 0 {
		from, to = offset+1, offset+shown
	}
	if page > 1 {
		// Past the end, "previous" leads back to the last page that has rows.
		last := max(1, (total+pageSize-1)/pageSize)
		prev = href(min(page-1, last))
	}
	if offset+shown < total {
		next = href(page + 1)
	}
	return from, to, prev, next
}

// listParams reads the search and page number leniently: a list is never an
// error, whatever the URL says.
func listParams(q url.Values) (string, int) {
	return cleanQuery(q.Get("q")), pageParam(q)
}

func pageParam(q url.Values) int {
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	return min(page, maxPage)
}

// cleanQuery makes a search term safe for both stores: valid UTF-8 without
// control characters, at most maxQueryLen characters.
func cleanQuery(s string) string {
	query := strings.TrimSpace(strings.Map(dropControl, strings.ToValidUTF8(s, "")))
	if r := []rune(query); len(r) > maxQueryLen {
		query = string(r[:maxQueryLen])
	}
	return query
}

// dropControl removes control characters, which no name contains and which
// PostgreSQL refuses (NUL) in text.
func dropControl(r rune) rune {
	if unicode.IsControl(r) {
		return -1
	}
	return r
}

func listHref(query string, page int) string {
	v := url.Values{}
	if query != "" {
		v.Set("q", query)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/admin/users"
	}
	return "/admin/users?" + v.Encode()
}

// newUser serves the empty add-user form.
func (c *Console) newUser(w http.ResponseWriter, r *http.Request, p *principal) {
	f := views.AdminUserForm{Enabled: true, Role: store.RoleUser}
	c.render(w, r, http.StatusOK, views.AdminNewUserPage(views.AdminNewUserData{CSRF: p.csrf, Form: f}))
}

// createUser serves POST /admin/users: it stores the user, then e-mails the
// set-up link; a failed e-mail shows on the user's page.
func (c *Console) createUser(w http.ResponseWriter, r *http.Request, p *principal) {
	f := readUserForm(r)
	u, sent, err := c.Service().CreateUser(r.Context(), p.actor(), patchOfForm(f))
	if e := AsError(err); e != nil {
		status, _ := kindStatus(e.Kind)
		c.render(w, r, status, views.AdminNewUserPage(views.AdminNewUserData{CSRF: p.csrf, Form: f, Error: e.Message}))
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	target := userPath(u.ID) + "?notice=created"
	if !sent.Sent() {
		target += "&" + mailErrorQuery(sent)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// showUser serves the edit-user page.
func (c *Console) showUser(w http.ResponseWriter, r *http.Request, p *principal) {
	info, err := c.Service().GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		c.userError(w, r, err)
		return
	}
	q := r.URL.Query()
	d, err := c.userPage(r.Context(), p, info)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Notice, d.Error = noticeText(q, info.User), mailErrorText(q)
	c.render(w, r, http.StatusOK, views.AdminUserPage(d))
}

// userError answers a failed user operation that has no form to show again.
func (c *Console) userError(w http.ResponseWriter, r *http.Request, err error) {
	if e := AsError(err); e != nil && e.Kind == KindNotFound {
		c.notFound(w, r)
		return
	}
	c.refuse(w, r, err, "/admin/users", "Back to users")
}

// showUserWith renders the edit page of user id with the form as typed and
// the refusal err.
func (c *Console) showUserWith(w http.ResponseWriter, r *http.Request, p *principal, id string, f *views.AdminUserForm, err error) {
	e := AsError(err)
	if e == nil || e.Message == msgUserNotFound {
		c.userError(w, r, err)
		return
	}
	info, gerr := c.Service().GetUser(r.Context(), id)
	if gerr != nil {
		c.userError(w, r, gerr)
		return
	}
	d, gerr := c.userPage(r.Context(), p, info)
	if gerr != nil {
		c.fail(w, r, gerr)
		return
	}
	if f != nil {
		d.Form = *f
	}
	d.Error = e.Message
	status, _ := kindStatus(e.Kind)
	c.render(w, r, status, views.AdminUserPage(d))
}

func (c *Console) userPage(ctx context.Context, p *principal, info *UserInfo) (views.AdminUserData, error) {
	u := info.User
	lastLogin := "Never"
	if !u.LastLoginAt.IsZero() {
		lastLogin = formatTime(u.LastLoginAt)
	}
	ids, providers, err := c.identityRows(ctx, u.ID)
	if err != nil {
		return views.AdminUserData{}, err
	}
	return views.AdminUserData{
		CSRF: p.csrf, Action: userPath(u.ID), Form: formOf(u), Self: u.ID == p.user.ID,
		OTPState: otpStateText(info), LastLogin: lastLogin, Created: formatTime(u.CreatedAt),
		Identities: ids, Providers: providers,
	}, nil
}

// otpStateText describes the user's authenticator on the page.
func otpStateText(info *UserInfo) string {
	switch info.OTPState {
	case OTPEnrolled:
		return "Enrolled on " + formatTime(info.EnrolledAt)
	case OTPPending:
		return "Waiting for enrollment"
	}
	return "None"
}

// noticeText is the message for ?notice=key after a redirect, or "". Unknown
// keys show nothing, so a crafted link cannot make the page say anything.
func noticeText(q url.Values, u *store.User) string {
	switch q.Get("notice") {
	case "created":
		if q.Has("mailerror") {
			return "User created."
		}
		return "User created. A set-up e-mail was sent to " + u.Email + "."
	case "saved":
		return "Changes saved."
	case "unchanged":
		return "Nothing was changed."
	case "otp-reset":
		if u.OTPRequired {
			return "Authenticator removed. The user sets up a new one at the next sign-in."
		}
		return "Authenticator removed. OTP is not configured for this user, so the next sign-in asks for the password only."
	case "otp-none":
		return "The user had no authenticator to remove."
	case "linked":
		return "Upstream identity linked."
	case "unlinked":
		return "Upstream identity unlinked. The user can no longer sign in through it."
	case store.ActionSetup + "-sent":
		return "A set-up e-mail was sent to " + u.Email + ". Earlier links no longer work."
	case store.ActionReset + "-sent":
		return "A password reset e-mail was sent to " + u.Email + ". Earlier links no longer work."
	}
	return ""
}
