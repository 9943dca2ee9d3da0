// Package console serves the administration pages of authz under /admin.
// Every route needs the browser session of an enabled administrator who
// signed in with a one-time code (adminsession), and every form carries a
// CSRF token bound to that session. What a page changes, the admin Service
// changes, under the same rules as the API and the CLI.
package console

import (
	"log/slog"
	"net/http"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
)

// maxFormBytes bounds every console form body.
const maxFormBytes = 64 << 10

// Console serves the administration pages.
type Console struct {
	// Service carries out what the pages ask for.
	Service *admin.Service
	// Store is read for what the pages show beside the service's answers:
	// list rows, the names in audit events, the session's user.
	Store store.Store
	// Sessions reads the browser sessions of administrators.
	Sessions *session.Manager
	// Login signs a browser in when the console needs an administrator.
	Login Login
	Log   *slog.Logger
}

// Login is the login pipeline; internal/login implements it.
type Login interface {
	// Start signs the browser's user in, then shows the account page.
	Start(w http.ResponseWriter, r *http.Request, req session.LoginRequest)
}

// Register adds the console's routes to mux.
func (c *Console) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin", c.guard(c.dashboard))
	mux.HandleFunc("GET /admin/{$}", c.guard(c.dashboard))
	c.registerUsers(mux)
	c.registerClients(mux)
	c.registerProviders(mux)
	mux.HandleFunc("GET /admin/audit", c.guard(c.auditLog))
}

func (c *Console) logger() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}
