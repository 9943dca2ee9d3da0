package admin

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/authz/authz/internal/login"
	"github.com/authz/authz/internal/mail"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// Mail failure reasons, carried in the redirect after a failed send as
// ?mailerror=…: a fixed vocabulary, so a crafted URL cannot put arbitrary text
// on an administrator's page, and no server detail (or secret) reaches it.
var mailReasons = map[string]string{
	"timeout":     "the mail server did not answer in time",
	"dns":         "the mail server's host name could not be resolved",
	"unreachable": "the mail server could not be reached",
	"tls":         "the secure (TLS) connection to the mail server failed",
	"auth":        "the mail server rejected the SMTP login",
	"refused":     "the mail server refused the message",
	"failed":      "sending failed (the server log has the details)",
}

// sendSetup e-mails a new account set-up link; older ones stop working.
func (c *Console) sendSetup(w http.ResponseWriter, r *http.Request, p *principal) {
	c.sendLink(w, r, p, store.ActionSetup)
}

// sendReset e-mails a password reset link; older ones stop working.
func (c *Console) sendReset(w http.ResponseWriter, r *http.Request, p *principal) {
	c.sendLink(w, r, p, store.ActionReset)
}

func (c *Console) sendLink(w http.ResponseWriter, r *http.Request, p *principal, kind string) {
	ctx := r.Context()
	u, err := c.Store.GetUser(ctx, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		c.notFound(w, r)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if msg := linkRefusal(u); msg != "" {
		c.showUserWith(w, r, p, u, formOf(u), msg, http.StatusConflict)
		return
	}
	now := c.now()
	var token string
	err = c.write(ctx, func(ctx context.Context) error {
		var err error
		token, err = login.IssueLink(ctx, c.Store, u.ID, kind, c.linkTTL(), now)
		if err != nil {
			return fmt.Errorf("admin: issue %s link for %s: %w", kind, u.ID, err)
		}
		return nil
	})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	target := userPath(u.ID) + "?notice=" + kind + "-sent"
	if reason, code := c.mailLink(ctx, p, u, kind, token, now); reason != "" {
		target = userPath(u.ID) + "?" + mailErrorQuery(kind, reason, code)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// linkRefusal says why no link can usefully be sent to u, or "".
func linkRefusal(u *store.User) string {
	switch {
	case u.Email == "":
		return "This user has no e-mail address. Add one and save, then send the link."
	case !u.Enabled:
		return "This account is disabled, and a disabled user cannot use a link. Enable the account first."
	}
	return ""
}

// mailLink e-mails token to u. It returns "" when the mail went out, else a
// key of mailReasons and the SMTP reply code if there was one; the full error
// goes to the log only.
func (c *Console) mailLink(ctx context.Context, p *principal, u *store.User, kind, token string, issued time.Time) (string, int) {
	// The link exists already: a browser that goes away must not cut the
	// delivery short.
	ctx = context.WithoutCancel(ctx)
	m, err := c.linkMessage(ctx, u, kind, token, issued)
	if err == nil {
		err = c.Mail.Send(ctx, m)
	}
	if err != nil {
		reason, code := mailFailure(err)
		c.logger().ErrorContext(ctx, "admin: send link e-mail", "kind", kind, "user", u.ID, "reason", reason, "err", err)
		return reason, code
	}
	if err := c.audit(ctx, "link.sent", p.user.ID, u.ID, "kind="+kind); err != nil {
		c.logger().ErrorContext(ctx, "admin: audit", "err", err)
	}
	return "", 0
}

// linkMessage renders the e-mail carrying token.
func (c *Console) linkMessage(ctx context.Context, u *store.User, kind, token string, issued time.Time) (mail.Message, error) {
	d := views.EmailLinkData{
		Reset:     kind == store.ActionReset,
		FirstName: u.FirstName,
		Username:  u.Username,
		Site:      c.site(),
		Link:      strings.TrimSuffix(c.Issuer, "/") + login.LinkPath(token),
		Expires:   formatTime(issued.Add(c.linkTTL())),
	}
	text, err := renderString(ctx, views.EmailLinkText(d))
	if err != nil {
		return mail.Message{}, err
	}
	html, err := renderString(ctx, views.EmailLinkHTML(d))
	if err != nil {
		return mail.Message{}, err
	}
	subject := "Set up your account"
	if d.Reset {
		subject = "Reset your password"
	}
	return mail.Message{To: u.Email, Subject: subject, Text: text, HTML: html}, nil
}

// site names this server in e-mails: the issuer's host, which users recognise
// from their browser's address bar.
func (c *Console) site() string {
	if u, err := url.Parse(c.Issuer); err == nil && u.Host != "" {
		return u.Host
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

func mailErrorQuery(kind, reason string, code int) string {
	v := url.Values{"mailerror": {reason}, "mail": {kind}}
	if code > 0 {
		v.Set("smtp", strconv.Itoa(code))
	}
	return v.Encode()
}

// mailErrorText turns the query of a redirect after a failed send into the
// message shown on the user page, or "".
func mailErrorText(q url.Values) string {
	key := q.Get("mailerror")
	if key == "" {
		return ""
	}
	reason, ok := mailReasons[key]
	if !ok {
		reason = mailReasons["failed"]
	}
	if code, err := strconv.Atoi(q.Get("smtp")); err == nil && code >= 200 && code <= 599 {
		reason += " (SMTP reply " + strconv.Itoa(code) + ")"
	}
	if q.Get("mail") == store.ActionReset {
		return "The password reset e-mail could not be sent: " + reason + ". Check the SMTP settings, then use Send password reset e-mail."
	}
	return "The set-up e-mail could not be sent: " + reason + ". Check the SMTP settings, then use Resend set-up e-mail."
}
