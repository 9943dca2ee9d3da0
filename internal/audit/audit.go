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

	// WebAuthnRegistered is a security key or passkey added (detail: its name).
	WebAuthnRegistered Type = "webauthn.registered"
	// WebAuthnRemoved is one removed by its user, or all of a user's by an
	// administrator's Reset OTP (detail: how many).
	WebAuthnRemoved Type = "webauthn.removed"
	// WebAuthnUsed is a sign-in with one.
	WebAuthnUsed Type = "webauthn.used"
	// WebAuthnRefused is a ceremony response refused: tampered, replayed,
	// another origin or RP ID, another user's credential, an expired
	// challenge (detail: why).
	WebAuthnRefused Type = "webauthn.refused"
	// WebAuthnCounterAnomaly is a signature counter that did not grow: the
	// authenticator may be cloned.
	WebAuthnCounterAnomaly Type = "webauthn.counter_anomaly"
	// BrowserRemembered is a browser whose user chose "don't ask again".
	BrowserRemembered Type = "browser.remembered"
	// RememberedBrowserUsed is a login that a remembered browser spared the code.
	RememberedBrowserUsed Type = "browser.remembered_used"
	// RememberedBrowserRefused is a remembered-browser cookie that did not
	// count: unknown, expired or voided, or another user's.
	RememberedBrowserRefused Type = "browser.remembered_refused"
	// RememberedBrowsersForgotten is every remembered browser of a user
	// voided (detail: why, how many).
	RememberedBrowsersForgotten Type = "browser.remembered_forgotten"
)

var all = []Type{
	AuthenticatorRemoved, BackchannelLogoutFailed, ClientCreated, ClientDeleted, ClientDisabled, ClientEnabled,
	ClientSecretRotated, ClientUpdated, ConsentDenied, ConsentGranted, FederationFailure,
	FederationLinked, FederationLogin, FederationUnlinked, LinkSent, LinkUsed,
	LoginFailure, LoginSuccess, Logout, OTPDisabled, OTPEnabled, OTPEnrolled, OTPLockout, OTPRefusedLocked,
	OTPReset, PasswordChanged, PasswordLockout, PasswordResetAsked, ProviderCreated, ProviderDeleted, ProviderDisabled, ProviderEnabled,
	ProviderUpdated, RecoveryCodeUsed, RecoveryCodesIssued, RecoveryCodesVoided, SessionEnded, UserCreated, UserDeleted, UserDisabled, UserEnabled,
	UserRoleChanged, UserUpdated,
	WebAuthnRegistered, WebAuthnRemoved, WebAuthnUsed, WebAuthnRefused, WebAuthnCounterAnomaly,
	BrowserRemembered, RememberedBrowserUsed, RememberedBrowserRefused, RememberedBrowsersForgotten,
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
