// Package admin carries out the administration of authz: the operations on
// users, clients, upstream providers, linked identities and the audit log,
// with every rule they obey. The HTML console (admin/console), the JSON API
// (admin/api) and the CLI (cmd/authz) all go through its Service, so a rule
// holds whichever way a change comes.
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/clientip"
	"github.com/authz/authz/internal/mail"
	"github.com/authz/authz/internal/seal"
	"github.com/authz/authz/internal/store"
)

// DefaultLinkTTL is how long an e-mailed action link works when
// Service.LinkTTL is zero.
const DefaultLinkTTL = 12 * time.Hour

// Service carries out the administrative operations. The console pages, the
// JSON API and the CLI all go through it, so a rule (a valid redirect URI, the
// last administrator) is written once and holds whichever way a change comes.
type Service struct {
	Store store.Store
	Mail  mail.Sender
	// Issuer is the public base URL that e-mailed links start with.
	Issuer string
	// SiteName names the service in e-mails; empty means the issuer's host.
	SiteName string
	// LinkTTL is the lifetime of e-mailed action links; zero means DefaultLinkTTL.
	LinkTTL time.Duration
	// Sealer seals upstream providers' client secrets at rest.
	Sealer *seal.Sealer
	// Secrets makes the secrets of confidential clients.
	Secrets SecretGenerator
	Log     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// DefaultLocale is the language of e-mails to users who have no
	// preferred one; empty means i18n.Fallback.
	DefaultLocale string
	// Zone is the time zone e-mails show times in; nil keeps the
	// request's (configured) zone.
	Zone *time.Location
}

// SecretGenerator makes a client secret and the hash the store keeps;
// oauth.SecretHasher is one.
type SecretGenerator interface {
	NewClientSecret() (secret string, hash []byte, err error)
}

// Actor is who asks for an operation: an administrator (console, or API with
// a browser session), a client holding an admin token, or nobody in
// particular (the CLI, run by whoever operates the server).
type Actor struct {
	UserID   string
	ClientID string
}

// auditID is the actor as the audit log records it.
func (a Actor) auditID() string {
	if a.ClientID != "" {
		return "client:" + a.ClientID
	}
	return a.UserID
}

// now is the clock, to the microsecond that both stores keep, so that what
// an operation returns equals what a later read finds.
func (s *Service) now() time.Time {
	t := time.Now()
	if s.Now != nil {
		t = s.Now()
	}
	return t.UTC().Truncate(time.Microsecond)
}

func (s *Service) linkTTL() time.Duration {
	if s.LinkTTL > 0 {
		return s.LinkTTL
	}
	return DefaultLinkTTL
}

func (s *Service) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// bump returns the new UpdatedAt of a row last updated at prev: now, but
// always later than prev. The login pipeline compares a user's UpdatedAt to
// refuse an enrollment form shown before an administrator's change, so a
// change must never leave it equal.
func (s *Service) bump(prev time.Time) time.Time {
	now := s.now()
	if !now.After(prev) {
		now = prev.Add(time.Microsecond)
	}
	return now
}

// write runs fn in one transaction. store.InTx runs it again when it loses
// to a concurrent one, so fn must be safe to run again; store.ErrConflict
// from it is a real conflict (a taken name), which the caller reports.
func (s *Service) write(ctx context.Context, fn func(ctx context.Context) error) error {
	return store.InTx(ctx, s.Store, fn)
}

// event is one audit entry about to be written.
type event struct {
	typ      audit.Type
	userID   string
	clientID string
	detail   string
}

// record appends e as done by a. Inside a transaction its error aborts the
// change: an administrator's action must not go unrecorded.
func (s *Service) record(ctx context.Context, a Actor, e event) error {
	ev := &store.AuditEvent{Time: s.now(), Type: string(e.typ), ActorID: a.auditID(), UserID: e.userID,
		ClientID: e.clientID, IP: clientip.FromContext(ctx), Detail: e.detail}
	if err := s.Store.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("admin: audit %s: %w", e.typ, err)
	}
	return nil
}

// missing turns the store's not-found into the caller's, with the message msg
// (a catalog ID).
func missing(err error, msg string) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(msg)
	}
	return err
}
