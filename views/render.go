package views

import (
	"context"
	"net/http"

	"github.com/a-h/templ"
)

// Render answers with page as HTML and status. Every page authz serves
// either carries a CSRF secret, a code or personal data, or is an error
// about one, so none may be cached.
func Render(w http.ResponseWriter, r *http.Request, status int, page templ.Component, log interface {
	ErrorContext(ctx context.Context, msg string, args ...any)
}) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := page.Render(r.Context(), w); err != nil {
		log.ErrorContext(r.Context(), "render page", "err", err)
	}
}
