package admin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/store"
)

// Login methods the dashboard counts, read from the amr of
// audit.LoginSuccess events.
const (
	MethodOTP      = "otp" // password and one-time code
	MethodWebAuthn = "hwk" // password and a security key or passkey
	// MethodRemembered is a password in a remembered browser, no code.
	MethodRemembered = "remembered"
	MethodPassword   = "pwd"   // password only
	MethodFederated  = "fed"   // an upstream provider
	MethodOther      = "other" // anything else
)

// statsScanLimit bounds the dashboard's scan of today's logins: the store
// has no aggregate for them (audit events), so the dashboard reads them in
// pages, at most this many.
const statsScanLimit = 20_000

// Stats are the dashboard's counts. Logins and lockouts count since Since,
// the start of the current UTC day.
type Stats struct {
	Users       int `json:"users"`
	OTPEnrolled int `json:"otp_enrolled"`
	OTPWaiting  int `json:"otp_waiting"`
	// TOTPOnly, WebAuthnOnly and BothFactors count users by the second
	// factors they hold: an authenticator app, security keys or passkeys,
	// or both.
	TOTPOnly     int            `json:"second_factor_totp_only"`
	WebAuthnOnly int            `json:"second_factor_webauthn_only"`
	BothFactors  int            `json:"second_factor_both"`
	Clients      int            `json:"clients"`
	Providers    int            `json:"providers"`
	Logins       map[string]int `json:"logins_today"`
	Lockouts     int            `json:"lockouts_today"`
	Since        time.Time      `json:"since"`
	// Partial means a count stopped at statsScanLimit rows and is a lower
	// bound: the store has no aggregate for it.
	Partial bool `json:"partial"`
}

// Dashboard counts what an administrator looks at first.
func (s *Service) Dashboard(ctx context.Context) (*Stats, error) {
	now := s.now()
	st := &Stats{Since: time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC), Logins: map[string]int{}}
	var err error
	if st.Users, err = s.Store.CountUsers(ctx, ""); err != nil {
		return nil, fmt.Errorf("admin: count users: %w", err)
	}
	for _, step := range []func(context.Context, *Stats) error{s.countOTP, s.countObjects, s.countLogins, s.countLockouts} {
		if err := step(ctx, st); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// countOTP: enrolled means a credential exists, waiting means the flag is
// on without one.
func (s *Service) countOTP(ctx context.Context, st *Stats) error {
	required, enrolled, err := s.Store.CountOTP(ctx)
	if err != nil {
		return fmt.Errorf("admin: count OTP users: %w", err)
	}
	st.OTPEnrolled, st.OTPWaiting = enrolled, required-enrolled
	if st.TOTPOnly, st.WebAuthnOnly, st.BothFactors, err = s.Store.CountSecondFactors(ctx); err != nil {
		return fmt.Errorf("admin: count second factors: %w", err)
	}
	return nil
}

func (s *Service) countObjects(ctx context.Context, st *Stats) error {
	var err error
	if st.Clients, err = s.Store.CountClients(ctx); err != nil {
		return fmt.Errorf("admin: count clients: %w", err)
	}
	if st.Providers, err = s.Store.CountProviders(ctx); err != nil {
		return fmt.Errorf("admin: count providers: %w", err)
	}
	return nil
}

// countLogins sorts today's successful logins by the methods their amr lists.
func (s *Service) countLogins(ctx context.Context, st *Stats) error {
	pg := store.Page{Limit: store.MaxPageSize}
	for read := 0; ; {
		if read >= statsScanLimit {
			st.Partial = true
			return nil
		}
		events, next, err := s.Store.ListAuditPage(ctx, store.AuditPageFilter{Type: string(audit.LoginSuccess), Since: st.Since}, pg)
		if err != nil {
			return fmt.Errorf("admin: list logins: %w", err)
		}
		for _, e := range events {
			st.Logins[loginMethod(e.Detail)]++
		}
		if next == "" {
			return nil
		}
		read, pg.After = read+len(events), next
	}
}

// loginMethod reads "amr=pwd,otp,mfa" (among other key=value pairs) from the
// detail of a login event.
func loginMethod(detail string) string {
	for _, kv := range strings.Fields(detail) {
		amr, ok := strings.CutPrefix(kv, "amr=")
		if !ok {
			continue
		}
		methods := strings.Split(amr, ",")
		for _, m := range []string{MethodFederated, MethodWebAuthn, MethodOTP, MethodRemembered, MethodPassword} {
			for _, got := range methods {
				if got == m {
					return m
				}
			}
		}
	}
	return MethodOther
}

func (s *Service) countLockouts(ctx context.Context, st *Stats) error {
	_, n, err := s.Store.ListAudit(ctx, store.AuditFilter{Type: string(audit.OTPLockout), Since: st.Since, Limit: 1})
	if err != nil {
		return fmt.Errorf("admin: count lockouts: %w", err)
	}
	st.Lockouts = n
	return nil
}
