package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/randtoken"
	"github.com/authz/authz/internal/store"
)

// BootstrapUsername is the administrator created at first start.
const BootstrapUsername = "admin"

// bootstrapAdmin creates the first administrator when the store has none. Its
// OTP flag is on, so it enrolls an authenticator at first login. The password
// comes from configuration or is random and printed once.
func (a *App) bootstrapAdmin(ctx context.Context) error {
	n, err := a.Store.CountUsers(ctx, store.RoleAdmin)
	if err != nil {
		return fmt.Errorf("bootstrap: count admins: %w", err)
	}
	if n > 0 {
		return nil
	}
	pw, printed := a.Config.BootstrapAdminPassword, false
	if pw == "" {
		pw, printed = randtoken.New(15), true
	}
	hash, err := a.Passwords.Hash(ctx, pw)
	if err != nil {
		return fmt.Errorf("bootstrap: hash password: %w", err)
	}
	now := a.Now()
	// A printed password has been on a screen and in a terminal's scrollback:
	// it works for one sign-in, which replaces it.
	u := &store.User{ID: store.NewID(), Username: BootstrapUsername, PasswordHash: hash, Enabled: true, OTPRequired: true,
		MustChangePassword: printed, Role: store.RoleAdmin, CreatedAt: now, UpdatedAt: now}
	if err := a.Store.CreateUser(ctx, u); err != nil {
		// Another replica won the race to bootstrap.
		if errors.Is(err, store.ErrConflict) {
			return nil
		}
		return fmt.Errorf("bootstrap: create admin: %w", err)
	}
	_ = a.Store.AppendAudit(ctx, &store.AuditEvent{Time: now, Type: string(audit.UserCreated), UserID: u.ID, Detail: "bootstrap administrator"})
	a.Log.Info("created bootstrap administrator", "username", BootstrapUsername)
	if printed {
		fmt.Fprintf(a.Console, "\n  Bootstrap administrator created.\n  username: %s\n  one-time password: %s\n  Sign in at %s/account to enroll an authenticator and choose your own password. This password works once.\n\n",
			BootstrapUsername, pw, a.Config.Issuer)
	}
	return nil
}
