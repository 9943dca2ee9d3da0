package admin

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/mail"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// Mail failure reasons, carried in the redirect after a failed send as
// ?mailerror=…: a fixed vocabulary, so a crafted URL cannot put arbitrary text
// on an administrator's page, and no server detail (or secret) reaches it.
// Each names its catalog message.
var mailReasons = map[string]string{
	"timeout":      "admin.mail.timeout",
	"dns":          "admin.mail.dns",
	"unreachable":  "admin.mail.unreachable",
	"tls":          "admin.mail.tls",
	"auth":         "admin.mail.auth",
	"refused":      "admin.mail.refused",
	"unconfigured": "admin.mail.unconfigured",
	"failed":       "admin.mail.failed",
}

// mailLink e-mails token to u and tells whether it went out; the full error
// of a failure goes to the log only.
func (s *Service) mailLink(ctx context.Context, a Actor, u *store.User, kind, token string, issued time.Time) MailResult {
	// The link exists already: a browser that goes away must not cut the
	// delivery short.
	ctx = context.WithoutCancel(ctx)
	m, err := s.linkMessage(ctx, u, kind, token, issued)
	if err == nil {
		err = s.Mail.Send(ctx, m)
	}
	if err != nil {
		reason, code := mailFailure(err)
		s.logger().ErrorContext(ctx, "admin: send link e-mail", "kind", kind, "user", u.ID, "reason", reason, "err", err)
		return MailResult{Kind: kind, Reason: reason, Code: code}
	}
	if err := s.record(ctx, a, event{typ: audit.LinkSent, userID: u.ID, detail: "kind=" + kind}); err != nil {
		s.logger().ErrorContext(ctx, "admin: audit", "err", err)
	}
	return MailResult{Kind: kind}
}

// linkMessage renders the e-mail carrying token.
func (s *Service) linkMessage(ctx context.Context, u *store.User, kind, token string, issued time.Time) (mail.Message, error) {
	// The recipient's language, not the administrator's.
	lang := u.Locale
	if lang == "" {
		lang = s.DefaultLocale
	}
	ctx = i18n.WithLanguage(ctx, lang, s.Zone)
	d := views.EmailLinkData{
		Reset:     kind == store.ActionReset,
		FirstName: u.FirstName,
		Username:  u.Username,
		Site:      s.site(),
		Link:      strings.TrimSuffix(s.Issuer, "/") + session.LinkPath(token),
		Expires:   issued.Add(s.linkTTL()),
		TTL:       s.linkTTL(),
	}
	text, err := renderString(ctx, views.EmailLinkText(d))
	if err != nil {
		return mail.Message{}, err
	}
	html, err := renderString(ctx, views.EmailLinkHTML(d))
	if err != nil {
		return mail.Message{}, err
	}
	return mail.Message{To: u.Email, Subject: views.LinkSubject(ctx, d.Reset), Text: text, HTML: html}, nil
}

// site names this server in e-mails: SiteName, or the issuer's host, which
// users recognise from their browser's address bar.
func (s *Service) site() string {
	if s.SiteName != "" {
		return s.SiteName
	}
	if u, err := url.Parse(s.Issuer); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "authz"
}

func renderString(ctx context.Context, comp templ.Component) (string, error) {
	var b bytes.Buffer
	if err := comp.Render(ctx, &b); err != nil {
		return "", fmt.Errorf("admin: render e-mail: %w", err)
	}
	return b.String(), nil
}

// mailFailure sorts a delivery error into a key of mailReasons, with the
// SMTP reply code when the server gave one.
func mailFailure(err error) (string, int) {
	var netErr net.Error
	switch {
	case errors.Is(err, mail.ErrNotConfigured):
		return "unconfigured", 0
	case isA[*net.DNSError](err):
		return "dns", 0
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout", 0
	case isTLSError(err):
		return "tls", 0
	}
	if code := smtpCode(err); code > 0 {
		// 530: authentication required, 534/535: credentials refused.
		if code == 530 || code == 534 || code == 535 {
			return "auth", code
		}
		return "refused", code
	}
	if isA[*net.OpError](err) {
		return "unreachable", 0
	}
	return "failed", 0
}

func isA[E error](err error) bool {
	_, ok := errors.AsType[E](err)
	return ok
}

func isTLSError(err error) bool {
	return isA[tls.RecordHeaderError](err) || isA[tls.AlertError](err) ||
		isA[*tls.CertificateVerificationError](err) || isA[x509.UnknownAuthorityError](err) ||
		isA[x509.HostnameError](err) || isA[x509.CertificateInvalidError](err)
}

// smtpCode finds the SMTP reply code in err, or 0. go-mail reports replies
// as *textproto.Error or as a SendError with ErrorCode; the interface keeps
// this package independent of the mail library.
func smtpCode(err error) int {
	if e, ok := errors.AsType[*textproto.Error](err); ok {
		return e.Code
	}
	var coded interface{ ErrorCode() int }
	if errors.As(err, &coded) {
		return coded.ErrorCode()
	}
	return 0
}

// mailErrorMessage explains a failed send of a kind link. Unknown reasons
// read as a plain failure, so a crafted URL cannot put text on the page.
func mailErrorMessage(kind, key string, code int) i18n.Message {
	id, ok := mailReasons[key]
	if !ok {
		id = mailReasons["failed"]
	}
	reason := i18n.M(id)
	if code >= 200 && code <= 599 {
		reason = i18n.M("admin.mail.with_code", "Reason", reason, "Code", strconv.Itoa(code))
	}
	if kind == store.ActionReset {
		return i18n.M("admin.mail.reset_failed", "Reason", reason)
	}
	return i18n.M("admin.mail.setup_failed", "Reason", reason)
}
