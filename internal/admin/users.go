package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/authz/authz/internal/login"
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
		c.fail(w, r, fmt.Errorf("admin: list users: %w", err))
		return
	}
	d := views.AdminUsersData{Query: query, Total: total}
	for _, u := range users {
		d.Users = append(d.Users, views.AdminUserRow{
			Href: userPath(u.ID), Username: u.Username, Email: u.Email,
			FirstName: u.FirstName, LastName: u.LastName, Enabled: u.Enabled, OTP: u.OTPRequired,
		})
	}
	if len(users) > 0 {
		d.From, d.To = offset+1, offset+len(users)
	}
	if page > 1 {
		// Past the end, "previous" leads back to the last page that has users.
		last := max(1, (total+pageSize-1)/pageSize)
		d.PrevHref = listHref(query, min(page-1, last))
	}
	if offset+len(users) < total {
		d.NextHref = listHref(query, page+1)
	}
	c.render(w, r, http.StatusOK, views.AdminUsersPage(d))
}

// listParams reads the search and page number leniently: a list is never an
// error, whatever the URL says.
func listParams(q url.Values) (string, int) {
	query := strings.TrimSpace(strings.Map(dropControl, strings.ToValidUTF8(q.Get("q"), "")))
	if r := []rune(query); len(r) > maxQueryLen {
		query = string(r[:maxQueryLen])
	}
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	return query, min(page, maxPage)
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
	c.render(w, r, http.StatusOK, views.AdminNewUserPage(views.AdminNewUserData{CSRF: p.csrf, Form: views.AdminUserForm{Enabled: true}}))
}

// createUser serves POST /admin/users: it stores the user, then e-mails the
// set-up link. A failed e-mail does not undo the user: the administrator sees
// the failure and can resend once the mail server works.
func (c *Console) createUser(w http.ResponseWriter, r *http.Request, p *principal) {
	f := readUserForm(r)
	if msg := validateUserForm(f); msg != "" {
		c.render(w, r, http.StatusBadRequest, views.AdminNewUserPage(views.AdminNewUserData{CSRF: p.csrf, Form: f, Error: msg}))
		return
	}
	ctx := r.Context()
	now := c.now()
	var (
		u     *store.User
		token string
	)
	err := c.write(ctx, func(ctx context.Context) error {
		var err error
		u, token, err = c.insertUser(ctx, p, f, now)
		return err
	})
	if isDuplicate(err) {
		c.render(w, r, http.StatusConflict, views.AdminNewUserPage(views.AdminNewUserData{CSRF: p.csrf, Form: f, Error: msgDuplicate}))
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	target := userPath(u.ID) + "?notice=created"
	if reason, code := c.mailLink(ctx, p, u, store.ActionSetup, token, now); reason != "" {
		target += "&" + mailErrorQuery(store.ActionSetup, reason, code)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// insertUser creates the user of form f with its audit events and set-up
// link; it runs inside a transaction.
func (c *Console) insertUser(ctx context.Context, p *principal, f views.AdminUserForm, now time.Time) (*store.User, string, error) {
	// No password: the user sets one through the e-mailed link.
	u := &store.User{ID: store.NewID(), Role: store.RoleUser, CreatedAt: now, UpdatedAt: now}
	apply(u, f)
	if err := c.checkUnique(ctx, u); err != nil {
		return nil, "", err
	}
	if err := c.Store.CreateUser(ctx, u); err != nil {
		return nil, "", fmt.Errorf("admin: create user %q: %w", u.Username, err)
	}
	if err := c.audit(ctx, "user.created", p.user.ID, u.ID, "username="+u.Username); err != nil {
		return nil, "", err
	}
	if u.OTPRequired {
		if err := c.audit(ctx, "otp.enabled", p.user.ID, u.ID, ""); err != nil {
			return nil, "", err
		}
	}
	token, err := login.IssueLink(ctx, c.Store, u.ID, store.ActionSetup, c.linkTTL(), now)
	if err != nil {
		return nil, "", fmt.Errorf("admin: issue set-up link: %w", err)
	}
	return u, token, nil
}

// showUser serves the edit-user page.
func (c *Console) showUser(w http.ResponseWriter, r *http.Request, p *principal) {
	u, err := c.Store.GetUser(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		c.notFound(w, r)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	d, err := c.userPage(r.Context(), p, u)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Notice, d.Error = noticeText(q, u), mailErrorText(q)
	c.render(w, r, http.StatusOK, views.AdminUserPage(d))
}

// showUserWith renders the edit page of u with the form as typed and msg.
func (c *Console) showUserWith(w http.ResponseWriter, r *http.Request, p *principal, u *store.User, f views.AdminUserForm, msg string, status int) {
	d, err := c.userPage(r.Context(), p, u)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Form, d.Error = f, msg
	c.render(w, r, status, views.AdminUserPage(d))
}

func (c *Console) userPage(ctx context.Context, p *principal, u *store.User) (views.AdminUserData, error) {
	state, err := c.otpState(ctx, u)
	if err != nil {
		return views.AdminUserData{}, err
	}
	lastLogin := "Never"
	if !u.LastLoginAt.IsZero() {
		lastLogin = formatTime(u.LastLoginAt)
	}
	return views.AdminUserData{
		CSRF: p.csrf, Action: userPath(u.ID), Form: formOf(u),
		OTPState: state, LastLogin: lastLogin, Created: formatTime(u.CreatedAt),
	}, nil
}

// otpState describes u's authenticator, derived like the login pipeline's
// enrollment step: the flag on and no credential means enrollment is pending.
func (c *Console) otpState(ctx context.Context, u *store.User) (string, error) {
	cred, err := c.Store.GetOTPCredential(ctx, u.ID)
	switch {
	case err == nil:
		return "Enrolled on " + formatTime(cred.CreatedAt), nil
	case !errors.Is(err, store.ErrNotFound):
		return "", fmt.Errorf("admin: load authenticator of %s: %w", u.ID, err)
	case u.OTPRequired:
		return "Waiting for enrollment", nil
	}
	return "None", nil
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
	case store.ActionSetup + "-sent":
		return "A set-up e-mail was sent to " + u.Email + ". Earlier links no longer work."
	case store.ActionReset + "-sent":
		return "A password reset e-mail was sent to " + u.Email + ". Earlier links no longer work."
	}
	return ""
}
