package console

import (
	"context"
	"errors"
	"net/http"

	"github.com/a-h/templ"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// render answers with page: console pages show personal data and carry CSRF
// tokens, and views.Render keeps them out of every cache.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page templ.Component) {
	views.Render(w, r, status, page, c.logger())
}

// errorPage answers with an error page whose title and text are the catalog
// messages titleID and msgID.
func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, status int, titleID, msgID string) {
	ctx := r.Context()
	c.render(w, r, status, views.ErrorPage(i18n.T(ctx, titleID), i18n.T(ctx, msgID), "/admin", i18n.T(ctx, "admin.back_admin")))
}

// refuse answers an operation's error: the *admin.Error the service gave as
// a page with its message, anything else as an internal error. backLabel is
// the catalog ID of the link to back.
func (c *Console) refuse(w http.ResponseWriter, r *http.Request, err error, back, backLabel string) {
	e := admin.AsError(err)
	if e == nil {
		c.fail(w, r, err)
		return
	}
	ctx := r.Context()
	status, title := kindStatus(e.Kind)
	c.render(w, r, status, views.ErrorPage(i18n.T(ctx, title), e.Text(ctx), back, i18n.T(ctx, backLabel)))
}

// kindStatus is the HTTP status and page title (a catalog ID) of an error
// kind.
func kindStatus(k admin.Kind) (int, string) {
	switch k {
	case admin.KindNotFound:
		return http.StatusNotFound, "admin.refused_not_found"
	case admin.KindConflict:
		return http.StatusConflict, "admin.refused_conflict"
	}
	return http.StatusBadRequest, "admin.refused_invalid"
}

// fail ends a request on an internal error without detail for the client.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		c.logger().WarnContext(r.Context(), "admin: store unavailable", "err", err)
		w.Header().Set("Retry-After", "5")
		c.errorPage(w, r, http.StatusServiceUnavailable, "err.unavailable", "err.unavailable_text")
		return
	}
	c.logger().ErrorContext(r.Context(), "admin: internal error", "path", r.URL.Path, "err", err)
	c.errorPage(w, r, http.StatusInternalServerError, "err.internal", "err.internal_text")
}
