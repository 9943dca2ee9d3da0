// Package audit names the events authz writes to its audit log, in one place,
// and records the events of requests.
package audit

import (
	"context"
	"log/slog"
	"slices"

	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/internal/store"
)

// Type is the type of an audit event: what happened, as "object.verb".
type Type string

// The event types authz writes.
const (
	AuthenticatorRemoved Type = "authenticator.removed"
	// BackchannelLogoutFailed: a back-channel logout was given up after
	// its last attempt.
	BackchannelLogoutFailed Type = "backchannel_logout.failed"
	ClientCreated           Type = "client.created"
	ClientDeleted           Type = "client.deleted"
	ClientDisabled          Type = "client.disabled"
	ClientEnabled           Type = "client.enabled"
	ClientSecretRotated     Type = "client.secret_rotated"
	ClientUpdated           Type = "client.updated"
	ConsentDenied           Type = "consent.denied"
	ConsentGranted          Type = "consent.granted"
	FederationFailure       Type = "federation.failure"
	FederationLinked        Type = "federation.linked"
	FederationLogin         Type = "federation.login"
	FederationUnlinked      Type = "federation.unlinked"
	LinkSent                Type = "link.sent"
	LinkUsed                Type = "link.used"
	LoginFailure            Type = "login.failure"
	LoginSuccess            Type = "login.success"
	Logout                  Type = "logout"
	OTPDisabled             Type = "otp.disabled"
	OTPEnabled              Type = "otp.enabled"
	OTPEnrolled             Type = "otp.enrolled"
	OTPLockout              Type = "otp.lockout" // once per lock: the failure that started it
	OTPRefusedLocked        Type = "otp.refused_locked"
	OTPReset                Type = "otp.reset"
	PasswordChanged         Type = "password.changed"
	PasswordLockout         Type = "password.lockout"
	PasswordResetAsked      Type = "password.reset_requested"
	ProviderCreated         Type = "provider.created"
	ProviderDeleted         Type = "provider.deleted"
	ProviderDisabled        Type = "provider.disabled"
	ProviderEnabled         Type = "provider.enabled"
	ProviderUpdated         Type = "provider.updated"
	RecoveryCodeUsed        Type = "recovery_code.used"
	RecoveryCodesIssued     Type = "recovery_codes.issued"
	RecoveryCodesVoided     Type = "recovery_codes.voided"
	SessionEnded            Type = "session.ended"
	UserCreated             Type = "user.created"
	UserDeleted             Type = "user.deleted"
	UserDisabled            Type = "user.disabled"
	UserEnabled             Type = "user.enabled"
	UserRoleChanged         Type = "user.role_changed"
	UserUpdated             Type = "user.updated"
)

var all = []Type{
	AuthenticatorRemoved, BackchannelLogoutFailed, ClientCreated, ClientDeleted, ClientDisabled, ClientEnabled,
	ClientSecretRotated, ClientUpdated, ConsentDenied, ConsentGranted, FederationFailure,
	FederationLinked, FederationLogin, FederationUnlinked, LinkSent, LinkUsed,
	LoginFailure, LoginSuccess, Logout, OTPDisabled, OTPEnabled, OTPEnrolled, OTPLockout, OTPRefusedLocked,
	OTPReset, PasswordChanged, PasswordLockout, PasswordResetAsked, ProviderCreated, ProviderDeleted, ProviderDisabled, ProviderEnabled,
	ProviderUpdated, RecoveryCodeUsed, RecoveryCodesIssued, RecoveryCodesVoided, SessionEnded, UserCreated, UserDeleted, UserDisabled, UserEnabled,
	UserRoleChanged, UserUpdated,
}

// Types returns every event type, sorted: the choices of an audit filter.
func Types() []Type {
	out := slices.Clone(all)
	slices.Sort(out)
	return out
}

// Known reports whether t is an event type authz writes.
func Known(t string) bool { return slices.Contains(all, Type(t)) }

// Record appends e, stamped with the request's client address when it has
// none, and logs rather than returns a failure: an event of a request that
// has already succeeded must not turn it into an error.
func Record(ctx context.Context, st store.Store, log *slog.Logger, e *store.AuditEvent) {
	if e.IP == "" {
		e.IP = clientip.FromContext(ctx)
	}
	if err := st.AppendAudit(ctx, e); err != nil {
		log.ErrorContext(ctx, "audit append failed", "type", e.Type, "err", err)
	}
}
