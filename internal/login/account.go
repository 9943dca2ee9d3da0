package login

import (
	"errors"
	"net/http"

	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// account serves GET /account: the signed-in user, or a login to get there.
func (p *Pipeline) account(w http.ResponseWriter, r *http.Request) {
	sess, err := p.Sessions.Current(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if sess == nil {
		p.Start(w, r, session.LoginRequest{})
		return
	}
	u, err := p.Store.GetUser(r.Context(), sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		_, _ = p.Sessions.End(w, r)
		p.Start(w, r, session.LoginRequest{})
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, http.StatusOK, views.AccountPage(u.Username, u.Email, u.Role == store.RoleAdmin, session.LogoutToken(sess.ID)))
}
