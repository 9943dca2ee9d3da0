package admin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
)

// Messages of the user rules, shown on the pages and in API problems
// (catalog IDs).
const (
	msgDisableSelf    = "admin.err.disable_self"
	msgDemoteSelf     = "admin.err.demote_self"
	msgOTPOffSelf     = "admin.err.otp_off_self"
	msgDeleteSelf     = "admin.err.delete_self"
	msgLastAdmin      = "admin.err.last_admin"
	msgRoleFormat     = "admin.err.role"
	msgUserNotFound   = "admin.err.user_not_found"
	msgNoIdentity     = "admin.err.no_identity"
	msgIdentityTaken  = "admin.err.identity_taken"
	msgSubjectInvalid = "admin.err.subject"
)

// OTP states of a user, derived like the login pipeline's enrollment step.
const (
	OTPNone     = "none"     // the OTP flag is off
	OTPPending  = "pending"  // the flag is on and no authenticator is enrolled yet
	OTPEnrolled = "enrolled" // an authenticator is enrolled
)

// UserInfo is a user with the state of their authenticator.
type UserInfo struct {
	*store.User
	OTPState   string
	EnrolledAt time.Time // zero unless OTPState is OTPEnrolled
	// RecoveryCodes counts the user's unused recovery codes.
	RecoveryCodes int
	// SecurityKeys are the user's WebAuthn credentials (security keys and
	// passkeys); Remembered the browsers that skip the code step. Both are
	// filled by GetUser and FindUser, not by ListUsers.
	SecurityKeys []*store.WebAuthnCredential
	Remembered   []*store.RememberedBrowser
}

// UserPatch holds the user fields to set; nil leaves a field as it is.
type UserPatch struct {
	Username    *string
	Email       *string
	FirstName   *string
	LastName    *string
	Role        *string
	OTPRequired *bool
	Enabled     *bool
	// Locale is the user's preferred language: a supported tag, or empty to
	// let the browser choose. E-mails to the user are written in it.
	Locale *string
}

// MailResult tells whether an e-mailed link went out. Reason is "" when it
// did, else a key of mailReasons; Code is the SMTP reply code if any.
type MailResult struct {
	Kind   string
	Reason string
	Code   int
}

// Sent reports whether the mail went out.
func (m MailResult) Sent() bool { return m.Reason == "" }

// Text explains a failed send to an administrator in English, for the API
// and the command line; "" when the mail went out.
func (m MailResult) Text() string {
	if m.Sent() {
		return ""
	}
	return mailErrorMessage(m.Kind, m.Reason, m.Code).English()
}

// Localized is Text in ctx's language, for the console.
func (m MailResult) Localized(ctx context.Context) string {
	if m.Sent() {
		return ""
	}
	return mailErrorMessage(m.Kind, m.Reason, m.Code).Text(ctx)
}

// ListUsers returns one page of the users whose username or e-mail starts
// with prefix (case-insensitively), ordered by username, and the cursor of
// the next page ("" on the last).
func (s *Service) ListUsers(ctx context.Context, prefix string, pg store.Page) ([]*UserInfo, string, error) {
	if !validText(prefix, maxQueryLen) {
		return nil, "", invalid("q", msgQuery, "Max", maxQueryLen)
	}
	users, next, err := s.Store.ListUsersPage(ctx, store.UserPageFilter{Prefix: prefix}, pg)
	if err != nil {
		return nil, "", pageError(err, "users")
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	enrolled, err := s.Store.OTPEnrollments(ctx, ids)
	if err != nil {
		return nil, "", fmt.Errorf("admin: list users' authenticators: %w", err)
	}
	out := make([]*UserInfo, 0, len(users))
	for _, u := range users {
		e, ok := enrolled[u.ID]
		info := otpInfo(u, ok, e.At)
		info.RecoveryCodes = e.RecoveryCodes
		out = append(out, info)
	}
	return out, next, nil
}

// otpInfo is u with the state of its authenticator: enrolled (at at) or not.
func otpInfo(u *store.User, enrolled bool, at time.Time) *UserInfo {
	switch {
	case enrolled:
		return &UserInfo{User: u, OTPState: OTPEnrolled, EnrolledAt: at}
	case u.OTPRequired:
		return &UserInfo{User: u, OTPState: OTPPending}
	}
	return &UserInfo{User: u, OTPState: OTPNone}
}

// GetUser returns the user with id.
func (s *Service) GetUser(ctx context.Context, id string) (*UserInfo, error) {
	u, err := s.Store.GetUser(ctx, id)
	if err != nil {
		return nil, missing(err, msgUserNotFound)
	}
	return s.userDetail(ctx, u)
}

// FindUser returns the user whose ID or username is key, for the CLI and the
// audit filter, where people type names.
func (s *Service) FindUser(ctx context.Context, key string) (*UserInfo, error) {
	u, err := s.Store.GetUser(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		u, err = s.Store.GetUserByUsername(ctx, store.CanonicalUsername(key))
	}
	if err != nil {
		return nil, missing(err, msgUserNotFound)
	}
	return s.userDetail(ctx, u)
}

// userDetail is userInfo with the user's security keys and remembered
// browsers, for the pages about one user.
func (s *Service) userDetail(ctx context.Context, u *store.User) (*UserInfo, error) {
	info, err := s.userInfo(ctx, u)
	if err != nil {
		return nil, err
	}
	if info.SecurityKeys, err = s.Store.ListWebAuthnCredentials(ctx, u.ID); err != nil {
		return nil, fmt.Errorf("admin: list security keys of %s: %w", u.ID, err)
	}
	if info.Remembered, err = s.Store.ListRememberedBrowsers(ctx, u.ID, s.now()); err != nil {
		return nil, fmt.Errorf("admin: list remembered browsers of %s: %w", u.ID, err)
	}
	return info, nil
}

func (s *Service) userInfo(ctx context.Context, u *store.User) (*UserInfo, error) {
	cred, err := s.Store.GetOTPCredential(ctx, u.ID)
	switch {
	case err == nil:
		info := otpInfo(u, true, cred.CreatedAt)
		if info.RecoveryCodes, err = s.Store.CountRecoveryCodes(ctx, u.ID); err != nil {
			return nil, fmt.Errorf("admin: count recovery codes of %s: %w", u.ID, err)
		}
		return info, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("admin: load authenticator of %s: %w", u.ID, err)
	}
	return otpInfo(u, false, time.Time{}), nil
}

// CreateUser stores a new user, then e-mails the set-up link. A failed e-mail
// does not undo the user: the result says so, and the link can be resent once
// the mail server works. Unset fields default to an enabled user without OTP.
func (s *Service) CreateUser(ctx context.Context, a Actor, p UserPatch) (*store.User, MailResult, error) {
	now := s.now()
	u := &store.User{Role: store.RoleUser, Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := applyUserPatch(u, p, true); err != nil {
		return nil, MailResult{}, err
	}
	var token string
	err := s.write(ctx, func(ctx context.Context) error {
		// No password: the user sets one through the e-mailed link.
		u.ID = store.NewID()
		var err error
		token, err = s.insertUser(ctx, a, u, now)
		return err
	})
	if err != nil {
		return nil, MailResult{}, duplicate(err)
	}
	return u, s.mailLink(ctx, a, u, store.ActionSetup, token, now), nil
}

// insertUser stores u with its audit events and set-up link; it runs inside
// a transaction.
func (s *Service) insertUser(ctx context.Context, a Actor, u *store.User, now time.Time) (string, error) {
	if err := s.checkUnique(ctx, u); err != nil {
		return "", err
	}
	if err := s.Store.CreateUser(ctx, u); err != nil {
		return "", fmt.Errorf("admin: create user %q: %w", u.Username, err)
	}
	if err := s.record(ctx, a, event{typ: audit.UserCreated, userID: u.ID, detail: "username=" + u.Username + " role=" + u.Role}); err != nil {
		return "", err
	}
	if u.OTPRequired {
		if err := s.record(ctx, a, event{typ: audit.OTPEnabled, userID: u.ID}); err != nil {
			return "", err
		}
	}
	token, err := session.IssueLink(ctx, s.Store, u.ID, store.ActionSetup, s.linkTTL(), now)
	if err != nil {
		return "", fmt.Errorf("admin: issue set-up link: %w", err)
	}
	return token, nil
}

// UpdateUser applies p to user id and reports whether anything changed. Only
// the fields p changes are checked, so a user made by an upstream login
// without an e-mail can still be disabled.
func (s *Service) UpdateUser(ctx context.Context, a Actor, id string, p UserPatch) (bool, error) {
	var changed bool
	err := s.write(ctx, func(ctx context.Context) error {
		var err error
		changed, err = s.saveUser(ctx, a, id, p)
		return err
	})
	return changed, duplicate(err)
}

func (s *Service) saveUser(ctx context.Context, a Actor, id string, p UserPatch) (bool, error) {
	u, err := s.Store.GetUser(ctx, id)
	if err != nil {
		return false, missing(err, msgUserNotFound)
	}
	old := *u
	if err := applyUserPatch(u, p, false); err != nil {
		return false, err
	}
	fields := changedFields(&old, u)
	if len(fields) == 0 {
		return false, nil
	}
	if err := s.checkRoleRules(ctx, a, &old, u); err != nil {
		return false, err
	}
	if err := s.checkUnique(ctx, u); err != nil {
		return false, err
	}
	u.UpdatedAt = s.bump(old.UpdatedAt)
	if err := s.Store.UpdateUser(ctx, u); err != nil {
		return false, fmt.Errorf("admin: update user %s: %w", id, err)
	}
	if err := s.record(ctx, a, event{typ: audit.UserUpdated, userID: id, detail: "changed=" + strings.Join(fields, ",")}); err != nil {
		return false, err
	}
	return true, s.afterUpdate(ctx, a, &old, u)
}

// checkRoleRules refuses a change by which an administrator would lock
// themselves out, or that would leave no enabled administrator.
func (s *Service) checkRoleRules(ctx context.Context, a Actor, old, u *store.User) error {
	if a.UserID == u.ID {
		switch {
		case old.Enabled && !u.Enabled:
			return invalid("enabled", msgDisableSelf)
		case old.Role == store.RoleAdmin && u.Role != store.RoleAdmin:
			return invalid("role", msgDemoteSelf)
		case old.OTPRequired && !u.OTPRequired:
			return invalid("otp_required", msgOTPOffSelf)
		}
	}
	if !activeAdmin(old) || activeAdmin(u) {
		return nil
	}
	field := "enabled"
	if u.Role != store.RoleAdmin {
		field = "role"
	}
	return s.checkNotLastAdmin(ctx, u.ID, field)
}

func activeAdmin(u *store.User) bool { return u.Role == store.RoleAdmin && u.Enabled }

// checkNotLastAdmin refuses when no enabled administrator but id would remain.
func (s *Service) checkNotLastAdmin(ctx context.Context, id, field string) error {
	other, err := s.otherActiveAdmin(ctx, id)
	if err != nil {
		return err
	}
	if !other {
		return conflict(field, msgLastAdmin)
	}
	return nil
}

// otherActiveAdmin reports whether an enabled administrator other than id
// exists. The store counts administrators but not enabled ones, so beyond the
// count it reads users page by page; inside the caller's transaction that
// read also makes two administrators demoting each other at once conflict.
func (s *Service) otherActiveAdmin(ctx context.Context, id string) (bool, error) {
	n, err := s.Store.CountUsers(ctx, store.RoleAdmin)
	if err != nil {
		return false, fmt.Errorf("admin: count administrators: %w", err)
	}
	if n < 2 {
		return false, nil
	}
	pg := store.Page{Limit: store.MaxPageSize}
	for {
		users, next, err := s.Store.ListUsersPage(ctx, store.UserPageFilter{}, pg)
		if err != nil {
			return false, fmt.Errorf("admin: list users: %w", err)
		}
		for _, u := range users {
			if u.ID != id && activeAdmin(u) {
				return true, nil
			}
		}
		if next == "" {
			return false, nil
		}
		pg.After = next
	}
}

// afterUpdate carries out what the switches mean beyond the user row.
func (s *Service) afterUpdate(ctx context.Context, a Actor, old, u *store.User) error {
	switch {
	case old.OTPRequired && !u.OTPRequired:
		if err := s.disableOTP(ctx, a, u.ID); err != nil {
			return err
		}
	case !old.OTPRequired && u.OTPRequired:
		// A session opened with the password alone must not outlive the new
		// requirement: the next sign-in enrolls the authenticator.
		if err := s.deleteSessions(ctx, u.ID); err != nil {
			return err
		}
		if err := s.record(ctx, a, event{typ: audit.OTPEnabled, userID: u.ID}); err != nil {
			return err
		}
	}
	if !strings.EqualFold(old.Email, u.Email) {
		// A set-up or reset link e-mailed to the old address must not
		// outlive it: whoever reads that mailbox now is not the user.
		if err := s.Store.DeleteUnusedActionTokens(ctx, u.ID); err != nil {
			return fmt.Errorf("admin: void links of %s: %w", u.ID, err)
		}
	}
	if old.Role != u.Role {
		if err := s.record(ctx, a, event{typ: audit.UserRoleChanged, userID: u.ID, detail: "role=" + u.Role}); err != nil {
			return err
		}
	}
	switch {
	case old.Enabled && !u.Enabled:
		// A disabled user's grants end too, not only its browser sessions:
		// refresh tokens are revoked, as Keycloak does.
		if err := s.Store.DeleteSubjectTokens(ctx, u.ID); err != nil {
			return fmt.Errorf("admin: revoke tokens of %s: %w", u.ID, err)
		}
		return s.endSessions(ctx, a, u.ID)
	case !old.Enabled && u.Enabled:
		return s.record(ctx, a, event{typ: audit.UserEnabled, userID: u.ID})
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
		{"role", old.Role != u.Role},
		{"otp_required", old.OTPRequired != u.OTPRequired},
		{"enabled", old.Enabled != u.Enabled},
		{"locale", old.Locale != u.Locale},
	} {
		if f.changed {
			out = append(out, f.name)
		}
	}
	return out
}

// disableOTP removes the authenticator of a user whose OTP flag went off, so
// that turning it on again forces a fresh enrollment.
func (s *Service) disableOTP(ctx context.Context, a Actor, userID string) error {
	removed, err := s.removeCredential(ctx, userID)
	if err != nil {
		return err
	}
	if err := s.voidCodes(ctx, a, userID); err != nil {
		return err
	}
	if err := s.voidKeysAndBrowsers(ctx, a, userID, "otp-off"); err != nil {
		return err
	}
	if err := s.record(ctx, a, event{typ: audit.OTPDisabled, userID: userID}); err != nil {
		return err
	}
	if removed {
		return s.record(ctx, a, event{typ: audit.AuthenticatorRemoved, userID: userID})
	}
	return nil
}

// endSessions ends the sessions of a user just disabled: a disabled account
// must not stay signed in anywhere.
func (s *Service) endSessions(ctx context.Context, a Actor, userID string) error {
	if err := s.deleteSessions(ctx, userID); err != nil {
		return err
	}
	if err := s.forgetBrowsers(ctx, a, userID, "disabled"); err != nil {
		return err
	}
	return s.record(ctx, a, event{typ: audit.UserDisabled, userID: userID})
}

// deleteSessions signs userID out of every browser.
func (s *Service) deleteSessions(ctx context.Context, userID string) error {
	if err := s.Store.DeleteUserSessions(ctx, userID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("admin: end sessions of %s: %w", userID, err)
	}
	return nil
}

// removeCredential deletes the user's authenticator and reports whether there
// was one.
func (s *Service) removeCredential(ctx context.Context, userID string) (bool, error) {
	err := s.Store.DeleteOTPCredential(ctx, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("admin: delete authenticator of %s: %w", userID, err)
	}
	return true, nil
}

// DeleteUser deletes user id with everything that hangs on it (sessions,
// authenticator, links, consents).
func (s *Service) DeleteUser(ctx context.Context, a Actor, id string) error {
	return s.write(ctx, func(ctx context.Context) error {
		u, err := s.Store.GetUser(ctx, id)
		if err != nil {
			return missing(err, msgUserNotFound)
		}
		if a.UserID == id {
			return invalid("id", msgDeleteSelf)
		}
		if activeAdmin(u) {
			if err := s.checkNotLastAdmin(ctx, id, "id"); err != nil {
				return err
			}
		}
		// Ended first, so that the user's relying parties hear of it
		// (back-channel logout) before the rows go.
		if err := s.deleteSessions(ctx, id); err != nil {
			return err
		}
		if err := s.Store.DeleteUser(ctx, id); err != nil {
			return fmt.Errorf("admin: delete user %s: %w", id, err)
		}
		return s.record(ctx, a, event{typ: audit.UserDeleted, userID: id, detail: "username=" + u.Username})
	})
}

// ResetOTP deletes the authenticator of user id, ends the user's sessions,
// revokes the user's OAuth tokens, and reports whether there was an
// authenticator. The flag stays, so the next sign-in enrolls a new device.
// UpdatedAt moves even when there was none, so an enrollment page already
// open for the user (showing a secret the administrator may have meant to
// revoke) is refused.
func (s *Service) ResetOTP(ctx context.Context, a Actor, id string) (bool, error) {
	var removed bool
	err := s.write(ctx, func(ctx context.Context) error {
		u, err := s.Store.GetUser(ctx, id)
		if err != nil {
			return missing(err, msgUserNotFound)
		}
		if removed, err = s.removeCredential(ctx, id); err != nil {
			return err
		}
		// The codes belong to the authenticator: a reset voids them too,
		// and the security keys and the browsers remembered on the word of
		// a device that may be lost.
		if err := s.voidCodes(ctx, a, id); err != nil {
			return err
		}
		if err := s.voidKeysAndBrowsers(ctx, a, id, "otp-reset"); err != nil {
			return err
		}
		// The lost device's sessions end with it, and the user's OAuth
		// grants: a lost phone holds the refresh tokens of its apps.
		if err := s.deleteSessions(ctx, id); err != nil {
			return err
		}
		if err := s.Store.DeleteSubjectTokens(ctx, id); err != nil {
			return fmt.Errorf("admin: revoke tokens of %s: %w", id, err)
		}
		u.UpdatedAt = s.bump(u.UpdatedAt)
		if err := s.Store.UpdateUser(ctx, u); err != nil {
			return fmt.Errorf("admin: update user %s: %w", id, err)
		}
		if err := s.record(ctx, a, event{typ: audit.OTPReset, userID: id}); err != nil {
			return err
		}
		if removed {
			return s.record(ctx, a, event{typ: audit.AuthenticatorRemoved, userID: id})
		}
		return nil
	})
	return removed, err
}

// VoidRecoveryCodes deletes every recovery code of user id and returns how
// many there were; the user can make new ones from the account page.
func (s *Service) VoidRecoveryCodes(ctx context.Context, a Actor, id string) (int, error) {
	var n int
	err := s.write(ctx, func(ctx context.Context) error {
		if _, err := s.Store.GetUser(ctx, id); err != nil {
			return missing(err, msgUserNotFound)
		}
		var err error
		if n, err = s.Store.DeleteRecoveryCodes(ctx, id); err != nil {
			return fmt.Errorf("admin: void recovery codes of %s: %w", id, err)
		}
		return s.record(ctx, a, event{typ: audit.RecoveryCodesVoided, userID: id, detail: "count=" + strconv.Itoa(n)})
	})
	return n, err
}

// voidCodes deletes the user's recovery codes inside the caller's
// transaction, and records it when there were any.
func (s *Service) voidCodes(ctx context.Context, a Actor, userID string) error {
	n, err := s.Store.DeleteRecoveryCodes(ctx, userID)
	if err != nil {
		return fmt.Errorf("admin: void recovery codes of %s: %w", userID, err)
	}
	if n == 0 {
		return nil
	}
	return s.record(ctx, a, event{typ: audit.RecoveryCodesVoided, userID: userID, detail: "count=" + strconv.Itoa(n)})
}

// voidKeysAndBrowsers deletes the user's security keys and remembered
// browsers inside the caller's transaction, recording what there was.
func (s *Service) voidKeysAndBrowsers(ctx context.Context, a Actor, userID, reason string) error {
	n, err := s.Store.DeleteWebAuthnCredentials(ctx, userID)
	if err != nil {
		return fmt.Errorf("admin: remove security keys of %s: %w", userID, err)
	}
	if n > 0 {
		if err := s.record(ctx, a, event{typ: audit.WebAuthnRemoved, userID: userID, detail: "count=" + strconv.Itoa(n) + " reason=" + reason}); err != nil {
			return err
		}
	}
	return s.forgetBrowsers(ctx, a, userID, reason)
}

// forgetBrowsers voids the user's remembered browsers inside the caller's
// transaction, recording it when there were any.
func (s *Service) forgetBrowsers(ctx context.Context, a Actor, userID, reason string) error {
	n, err := s.Store.DeleteRememberedBrowsers(ctx, userID)
	if err != nil {
		return fmt.Errorf("admin: forget remembered browsers of %s: %w", userID, err)
	}
	if n == 0 {
		return nil
	}
	return s.record(ctx, a, event{typ: audit.RememberedBrowsersForgotten, userID: userID, detail: "count=" + strconv.Itoa(n) + " reason=" + reason})
}

// SendLink e-mails user id a new link of kind (store.ActionSetup or
// store.ActionReset); older ones stop working.
func (s *Service) SendLink(ctx context.Context, a Actor, id, kind string) (MailResult, error) {
	u, err := s.Store.GetUser(ctx, id)
	if err != nil {
		return MailResult{}, missing(err, msgUserNotFound)
	}
	if err := linkRefusal(u); err != nil {
		return MailResult{}, err
	}
	now := s.now()
	var token string
	err = s.write(ctx, func(ctx context.Context) error {
		var err error
		token, err = session.IssueLink(ctx, s.Store, u.ID, kind, s.linkTTL(), now)
		if err != nil {
			return fmt.Errorf("admin: issue %s link for %s: %w", kind, u.ID, err)
		}
		return nil
	})
	if err != nil {
		return MailResult{}, err
	}
	return s.mailLink(ctx, a, u, kind, token, now), nil
}

// linkRefusal says why no link can usefully be sent to u, or nil.
func linkRefusal(u *store.User) error {
	switch {
	case u.Email == "":
		return conflict("email", "admin.err.link_no_email")
	case !u.Enabled:
		return conflict("enabled", "admin.err.link_disabled")
	}
	return nil
}

// duplicate reports a store conflict as a taken name: the check before the
// write saw no other user, so a concurrent request took the name between
// check and write. (Contention is store.ErrRetry, which write runs again.)
func duplicate(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return conflict("username", msgDuplicate)
	}
	return err
}

// checkUnique refuses u when another user has its username or e-mail.
// Checking first, rather than reading the unique index's error, names the
// field.
func (s *Service) checkUnique(ctx context.Context, u *store.User) error {
	lookups := []struct {
		field string
		get   func(context.Context, string) (*store.User, error)
		key   string
	}{
		{"username", s.Store.GetUserByUsername, u.Username},
		{"email", s.Store.GetUserByEmail, u.Email},
	}
	for _, l := range lookups {
		if l.key == "" {
			continue
		}
		other, err := l.get(ctx, l.key)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return fmt.Errorf("admin: look up %s: %w", l.field, err)
		case other.ID != u.ID:
			return conflict(l.field, msgDuplicate)
		}
	}
	return nil
}
