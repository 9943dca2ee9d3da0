package console

import (
	"errors"
	"net/http"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/admin/adminsession"
	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// principal is the administrator making the request.
type principal struct {
	session *store.Session
	user    *store.User
	csrf    string
}

// actor is the administrator as the service sees them.
func (p *principal) actor() admin.Actor { return admin.Actor{UserID: p.user.ID} }

// handler is a console handler that runs once access is granted.
type handler func(w http.ResponseWriter, r *http.Request, p *principal)

// guard admits enabled administrators whose session passed a one-time code.
func (c *Console) guard(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := c.authorize(w, r)
		if ok {
			h(w, r, p)
		}
	}
}

// guardPost is guard for state-changing forms: it also bounds and parses the
// body and checks the CSRF token before h can change anything.
func (c *Console) guardPost(h handler) http.HandlerFunc {
	return c.guard(func(w http.ResponseWriter, r *http.Request, p *principal) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			c.formError(w, r, err)
			return
		}
		if !adminsession.CheckCSRF(r.PostFormValue("csrf"), p.csrf) {
			c.errorPage(w, r, http.StatusForbidden, "admin.form_expired", "admin.form_expired_text")
			return
		}
		h(w, r, p)
	})
}

func (c *Console) formError(w http.ResponseWriter, r *http.Request, err error) {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		c.errorPage(w, r, http.StatusRequestEntityTooLarge, "admin.form_too_large", "admin.form_too_large_text")
		return
	}
	c.errorPage(w, r, http.StatusBadRequest, "err.bad_request", "err.form_unreadable")
}

// authorize answers the request itself (login redirect or error page) unless
// it comes from an administrator allowed to use the console.
func (c *Console) authorize(w http.ResponseWriter, r *http.Request) (*principal, bool) {
	sess, u, v, err := adminsession.Judge(r, c.Sessions, c.Store)
	switch {
	case err != nil:
		c.fail(w, r, err)
	case v == adminsession.NoSession || v == adminsession.UserGone:
		c.Login.Start(w, r, session.LoginRequest{})
	case v == adminsession.NotAdmin:
		c.denied(w, r, "admin.denied", "admin.denied_text")
	case v == adminsession.WithoutOTP:
		c.denied(w, r, "admin.otp_required", "admin.otp_required_text")
	default:
		return &principal{session: sess, user: u, csrf: adminsession.CSRFToken(sess.ID)}, true
	}
	return nil, false
}

// denied refuses access with the catalog messages titleID and msgID.
func (c *Console) denied(w http.ResponseWriter, r *http.Request, titleID, msgID string) {
	ctx := r.Context()
	c.render(w, r, http.StatusForbidden, views.ErrorPage(i18n.T(ctx, titleID), i18n.T(ctx, msgID), "/account", i18n.T(ctx, "err.go_account")))
}
