package console

import (
	"context"
	"errors"
	"net/http"

	"github.com/a-h/templ"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// render answers with page: console pages show personal data and carry CSRF
// tokens, and views.Render keeps them out of every cache.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page templ.Component) {
	views.Render(w, r, status, page, c.logger())
}

func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	c.render(w, r, status, views.ErrorPage(title, msg, "/admin", "Back to administration"))
}

// refuse answers an operation's error: the *admin.Error the service gave as
// a page with its message, anything else as an internal error.
func (c *Console) refuse(w http.ResponseWriter, r *http.Request, err error, back, backLabel string) {
	e := admin.AsError(err)
	if e == nil {
		c.fail(w, r, err)
		return
	}
	status, title := kindStatus(e.Kind)
	c.render(w, r, status, views.ErrorPage(title, e.Message, back, backLabel))
}

// kindStatus is the HTTP status and page title of an error kind.
func kindStatus(k admin.Kind) (int, string) {
	switch k {
	case admin.KindNotFound:
		return http.StatusNotFound, "Not found"
	case admin.KindConflict:
		return http.StatusConflict, "Not possible"
	}
	return http.StatusBadRequest, "Not accepted"
}

// fail ends a request on an internal error without detail for the client.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		c.logger().WarnContext(r.Context(), "admin: store unavailable", "err", err)
		w.Header().Set("Retry-After", "5")
		c.errorPage(w, r, http.StatusServiceUnavailable, "Temporarily unavailable",
			"authz cannot reach its database right now. Please try again in a moment.")
		return
	}
	c.logger().ErrorContext(r.Context(), "admin: internal error", "path", r.URL.Path, "err", err)
	c.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Your request could not be completed. Please try again.")
}
