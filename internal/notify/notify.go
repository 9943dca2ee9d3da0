// Package notify tells users by e-mail what happened to their own account:
// a changed password, a new authenticator, a recovery code used, and the
// password-reset links they ask for themselves. Messages go out in the
// background, so that a request answers in the same time whether or not a
// message is sent (a reset request must not tell by its timing whether the
// account exists), and a slow mail server slows nobody's sign-in.
package notify

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"

	"github.com/authz/authz/internal/mail"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// Kind is what a notice is about.
type Kind int

// The notices authz sends.
const (
	PasswordChanged Kind = iota + 1
	AuthenticatorSetUp
	RecoveryCodeUsed
	RecoveryCodesRenewed
	SessionEnded
	SessionsEnded
	// ResetLink carries a password-reset link the user asked for.
	ResetLink
	// ResetFederated answers a reset request for an account that has no
	// password here: it signs in through an upstream provider.
	ResetFederated
)

// Note is one notice to a user.
type Note struct {
	Kind Kind
	// Left is how many recovery codes remain (RecoveryCodeUsed).
	Left int
	// Link, Expires and ExpiresIn describe a reset link (ResetLink).
	Link      string
	Expires   time.Time
	ExpiresIn string
	// Providers name the upstream providers of the account (ResetFederated).
	Providers []string
	// IP is the client address the change came from, when known.
	IP string
}

// Notifier renders and sends notices.
type Notifier struct {
	Mail mail.Sender
	// Site names the server in messages.
	Site string
	Log  *slog.Logger
	// Now is the clock of the times messages show; nil means time.Now.
	Now func() time.Time

	wg sync.WaitGroup
}

// Send e-mails n to u in the background; a user without an e-mail address
// gets nothing. A failure is logged: the change it reports has happened
// either way.
func (nt *Notifier) Send(ctx context.Context, u *store.User, n Note) {
	if nt == nil || nt.Mail == nil || u.Email == "" {
		return
	}
	// The request that caused the notice may end before the message is out.
	ctx = context.WithoutCancel(ctx)
	msg, err := nt.message(ctx, u, n)
	if err != nil {
		nt.Log.ErrorContext(ctx, "notify: render", "kind", int(n.Kind), "user", u.ID, "err", err)
		return
	}
	nt.wg.Go(func() {
		sendCtx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := nt.Mail.Send(sendCtx, msg); err != nil {
			nt.Log.ErrorContext(ctx, "notify: send", "kind", int(n.Kind), "user", u.ID, "err", err)
		}
	})
}

// Later runs fn in the background, with a context that outlives the request,
// and Wait waits for it as for a message: work a request must not be timed
// by (a reset link for an account that may not exist) goes here.
func (nt *Notifier) Later(ctx context.Context, fn func(ctx context.Context)) {
	ctx = context.WithoutCancel(ctx)
	nt.wg.Go(func() { fn(ctx) })
}

// Wait returns once every message Send started has gone out or failed.
func (nt *Notifier) Wait() { nt.wg.Wait() }

func (nt *Notifier) now() time.Time {
	if nt.Now != nil {
		return nt.Now().UTC()
	}
	return time.Now().UTC()
}

// message renders n for u.
func (nt *Notifier) message(ctx context.Context, u *store.User, n Note) (mail.Message, error) {
	d := nt.content(u, n)
	text, err := render(ctx, views.EmailNoticeText(d))
	if err != nil {
		return mail.Message{}, err
	}
	html, err := render(ctx, views.EmailNoticeHTML(d))
	if err != nil {
		return mail.Message{}, err
	}
	return mail.Message{To: u.Email, Subject: d.Title, Text: text, HTML: html}, nil
}

const notYou = "If this was not you, contact your administrator at once."

// content says what n means, in words.
func (nt *Notifier) content(u *store.User, n Note) views.EmailNoticeData {
	d := views.EmailNoticeData{FirstName: u.FirstName}
	when := nt.now().Format("2006-01-02 15:04") + " UTC"
	from := ""
	if n.IP != "" {
		from = " from the address " + n.IP
	}
	account := "your account (username: " + u.Username + ") on " + nt.Site
	switch n.Kind {
	case PasswordChanged:
		d.Title = "Your password was changed"
		d.Paragraphs = []string{"The password of " + account + " was changed on " + when + from + ".", notYou}
	case AuthenticatorSetUp:
		d.Title = "A new authenticator was set up"
		d.Paragraphs = []string{"A new authenticator app was set up for " + account + " on " + when + from +
			". Codes from any earlier authenticator no longer work, and new recovery codes were made.", notYou}
	case RecoveryCodeUsed:
		d.Title = "A recovery code was used"
		d.Paragraphs = []string{"A recovery code was used to sign in to " + account + " on " + when + from + ". " +
			codesLeft(n.Left), notYou}
	case RecoveryCodesRenewed:
		d.Title = "New recovery codes were made"
		d.Paragraphs = []string{"New recovery codes were made for " + account + " on " + when + from +
			". The earlier codes no longer work.", notYou}
	case SessionEnded:
		d.Title = "A session was signed out"
		d.Paragraphs = []string{"A browser signed in to " + account + " was signed out from your account page on " + when + from + ".", notYou}
	case SessionsEnded:
		d.Title = "Your other sessions were signed out"
		d.Paragraphs = []string{"Every other browser signed in to " + account + " was signed out on " + when + from + ".", notYou}
	case ResetLink:
		d.Title = "Reset your password"
		d.Paragraphs = []string{"Someone, hopefully you, asked to reset the password of " + account + ". Open this link to choose a new password:"}
		d.Link, d.LinkText = n.Link, "Reset your password"
		d.After = []string{"The link works once and expires in " + n.ExpiresIn + ", on " + n.Expires.UTC().Format("2006-01-02 15:04") +
			" UTC. If you did not ask for it, ignore this e-mail: your password stays as it is."}
	case ResetFederated:
		d.Title = "About your password reset"
		d.Paragraphs = []string{"Someone, hopefully you, asked to reset the password of " + account +
			". This account has no password here: sign in with " + strings.Join(n.Providers, " or ") +
			" on the sign-in page instead.", "If you did not ask for it, ignore this e-mail."}
	}
	return d
}

func codesLeft(n int) string {
	switch n {
	case 0:
		return "No recovery codes are left: make new ones on your account page."
	case 1:
		return "1 recovery code is left."
	}
	s := strconv.Itoa(n) + " recovery codes are left."
	if n <= 3 {
		s += " Consider making new ones on your account page."
	}
	return s
}

func render(ctx context.Context, c templ.Component) (string, error) {
	var b bytes.Buffer
	if err := c.Render(ctx, &b); err != nil {
		return "", fmt.Errorf("notify: render e-mail: %w", err)
	}
	return b.String(), nil
}

// HumanDuration says d the way a person would: "12 hours", "30 minutes",
// "2 days", "1 hour 30 minutes".
func HumanDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	unit := func(n int, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.Itoa(n) + " " + one + "s"
	}
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	var parts []string
	if days > 0 {
		parts = append(parts, unit(days, "day"))
	}
	if hours > 0 {
		parts = append(parts, unit(hours, "hour"))
	}
	if mins > 0 || len(parts) == 0 {
		parts = append(parts, unit(mins, "minute"))
	}
	return strings.Join(parts, " ")
}
