package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// updateUser serves POST /admin/users/{id}, the edit form.
func (c *Console) updateUser(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	f := readUserForm(r)
	msg := validateUserForm(f)
	if msg == "" && id == p.user.ID && !f.Enabled {
		// Locking oneself out is never what an administrator meant.
		msg = msgDisableSelf
	}
	if msg != "" {
		c.refuseEdit(w, r, p, id, f, msg, http.StatusBadRequest)
		return
	}
	var changed bool
	err := c.write(r.Context(), func(ctx context.Context) error {
		var err error
		changed, err = c.saveUser(ctx, p.user.ID, id, f)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.notFound(w, r)
	case isDuplicate(err):
		c.refuseEdit(w, r, p, id, f, msgDuplicate, http.StatusConflict)
	case err != nil:
		c.fail(w, r, err)
	case changed:
		http.Redirect(w, r, userPath(id)+"?notice=saved", http.StatusSeeOther)
	default:
		http.Redirect(w, r, userPath(id)+"?notice=unchanged", http.StatusSeeOther)
	}
}

// refuseEdit shows the edit page again with the values as typed and msg.
func (c *Console) refuseEdit(w http.ResponseWriter, r *http.Request, p *principal, id string, f views.AdminUserForm, msg string, status int) {
	u, err := c.Store.GetUser(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		c.notFound(w, r)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.showUserWith(w, r, p, u, f, msg, status)
}

// saveUser writes form f onto user id and reports whether anything changed;
// it runs inside a transaction.
func (c *Console) saveUser(ctx context.Context, actorID, id string, f views.AdminUserForm) (bool, error) {
	u, err := c.Store.GetUser(ctx, id)
	if err != nil {
		return false, fmt.Errorf("admin: load user %s: %w", id, err)
	}
	if formOf(u) == f {
		return false, nil
	}
	old := *u
	apply(u, f)
	if err := c.checkUnique(ctx, u); err != nil {
		return false, err
	}
	u.UpdatedAt = c.bump(old.UpdatedAt)
	if err := c.Store.UpdateUser(ctx, u); err != nil {
		return false, fmt.Errorf("admin: update user %s: %w", id, err)
	}
	return true, c.afterUpdate(ctx, actorID, &old, u)
}

// afterUpdate records the change from old to u and carries out what the
// switches mean beyond the user row.
func (c *Console) afterUpdate(ctx context.Context, actorID string, old, u *store.User) error {
	if err := c.audit(ctx, "user.updated", actorID, u.ID, "changed="+strings.Join(changedFields(old, u), ",")); err != nil {
		return err
	}
	switch {
	case old.OTPRequired && !u.OTPRequired:
		if err := c.disableOTP(ctx, actorID, u.ID); err != nil {
			return err
		}
	case !old.OTPRequired && u.OTPRequired:
		if err := c.audit(ctx, "otp.enabled", actorID, u.ID, ""); err != nil {
			return err
		}
	}
	switch {
	case old.Enabled && !u.Enabled:
		return c.disableUser(ctx, actorID, u.ID)
	case !old.Enabled && u.Enabled:
		return c.audit(ctx, "user.enabled", actorID, u.ID, "")
	}
	return nil
}

func changedFields(old, u *store.User) []string {
	var out []string
	for _, f := range []struct {
		name    string
		changed bool
	}{
		{"username", old.Username != u.Username},
		{"email", old.Email != u.Email},
		{"first_name", old.FirstName != u.FirstName},
		{"last_name", old.LastName != u.LastName},
		{"otp_required", old.OTPRequired != u.OTPRequired},
		{"enabled", old.Enabled != u.Enabled},
	} {
		if f.changed {
			out = append(out, f.name)
		}
	}
	return out
}

// disableOTP removes the authenticator of a user whose OTP flag went off, so
// that turning it on again forces a fresh enrollment.
func (c *Console) disableOTP(ctx context.Context, actorID, userID string) error {
	removed, err := c.removeCredential(ctx, userID)
	if err != nil {
		return err
	}
	if err := c.audit(ctx, "otp.disabled", actorID, userID, ""); err != nil {
		return err
	}
	if removed {
		return c.audit(ctx, "authenticator.removed", actorID, userID, "")
	}
	return nil
}

// disableUser ends the sessions of a user just disabled: a disabled account
// must not stay signed in anywhere.
func (c *Console) disableUser(ctx context.Context, actorID, userID string) error {
	if err := c.Store.DeleteUserSessions(ctx, userID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("admin: end sessions of %s: %w", userID, err)
	}
	return c.audit(ctx, "user.disabled", actorID, userID, "")
}

// removeCredential deletes the user's authenticator and reports whether there
// was one.
func (c *Console) removeCredential(ctx context.Context, userID string) (bool, error) {
	err := c.Store.DeleteOTPCredential(ctx, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("admin: delete authenticator of %s: %w", userID, err)
	}
	return true, nil
}

// resetOTP serves POST /admin/users/{id}/reset-otp: the authenticator goes,
// the flag stays, so the next sign-in enrolls a new device.
func (c *Console) resetOTP(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	var removed bool
	err := c.write(r.Context(), func(ctx context.Context) error {
		var err error
		removed, err = c.resetAuthenticator(ctx, p.user.ID, id)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.notFound(w, r)
	case err != nil:
		c.fail(w, r, err)
	case removed:
		http.Redirect(w, r, userPath(id)+"?notice=otp-reset", http.StatusSeeOther)
	default:
		http.Redirect(w, r, userPath(id)+"?notice=otp-none", http.StatusSeeOther)
	}
}

// resetAuthenticator deletes the credential of user id and reports whether
// there was one; it runs inside a transaction. UpdatedAt moves even when there
// was none, so an enrollment page already open for the user (showing a secret
// the administrator may have meant to revoke) is refused.
func (c *Console) resetAuthenticator(ctx context.Context, actorID, id string) (bool, error) {
	u, err := c.Store.GetUser(ctx, id)
	if err != nil {
		return false, fmt.Errorf("admin: load user %s: %w", id, err)
	}
	removed, err := c.removeCredential(ctx, id)
	if err != nil {
		return false, err
	}
	u.UpdatedAt = c.bump(u.UpdatedAt)
	if err := c.Store.UpdateUser(ctx, u); err != nil {
		return false, fmt.Errorf("admin: update user %s: %w", id, err)
	}
	if err := c.audit(ctx, "otp.reset", actorID, id, ""); err != nil {
		return false, err
	}
	if removed {
		return true, c.audit(ctx, "authenticator.removed", actorID, id, "")
	}
	return false, nil
}
