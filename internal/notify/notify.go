// Package notify tells users by e-mail what happened to their own account:
// a changed password, a new authenticator, a security key added or removed,
// a recovery code used, and the
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
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"

	"github.com/authz/authz/internal/i18n"
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
	// SecurityKeyAdded and SecurityKeyRemoved name the key (Name).
	SecurityKeyAdded
	SecurityKeyRemoved
)

// Note is one notice to a user.
type Note struct {
	Kind Kind
	// Left is how many recovery codes remain (RecoveryCodeUsed).
	Left int
	// Link, Expires and TTL describe a reset link (ResetLink).
	Link    string
	Expires time.Time
	TTL     time.Duration
	// Providers name the upstream providers of the account (ResetFederated).
	Providers []string
	// IP is the client address the change came from, when known.
	IP string
	// Name is the security key's (SecurityKeyAdded, SecurityKeyRemoved).
	Name string
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

// message renders n for u, in u's language: the preferred one an
// administrator set, else the one of the request that caused the notice
// (the user's own browser).
func (nt *Notifier) message(ctx context.Context, u *store.User, n Note) (mail.Message, error) {
	lang := u.Locale
	if lang == "" {
		lang = i18n.Language(ctx)
	}
	ctx = i18n.WithLanguage(ctx, lang, nil)
	d := nt.content(ctx, u, n)
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

// content says what n means, in ctx's language.
func (nt *Notifier) content(ctx context.Context, u *store.User, n Note) views.EmailNoticeData {
	d := views.EmailNoticeData{FirstName: u.FirstName}
	t := func(id string, kv ...any) string {
		return i18n.T(ctx, id, append([]any{"Username", u.Username, "Site", nt.Site,
			"When", i18n.FormatTime(ctx, nt.now())}, kv...)...)
	}
	// where is a clause of its own, so that a notice without an address
	// reads whole in every language.
	where := func(id string, kv ...any) string {
		if n.IP != "" {
			return t(id+"_from", append([]any{"IP", n.IP}, kv...)...)
		}
		return t(id, kv...)
	}
	notYou := t("notice.not_you")
	switch n.Kind {
	case PasswordChanged:
		d.Title = t("notice.password_changed_title")
		d.Paragraphs = []string{where("notice.password_changed"), notYou}
	case AuthenticatorSetUp:
		d.Title = t("notice.authenticator_title")
		d.Paragraphs = []string{where("notice.authenticator"), notYou}
	case SecurityKeyAdded:
		d.Title = t("notice.key_added_title")
		d.Paragraphs = []string{where("notice.key_added", "Name", n.Name), notYou}
	case SecurityKeyRemoved:
		d.Title = t("notice.key_removed_title")
		d.Paragraphs = []string{where("notice.key_removed", "Name", n.Name), notYou}
	case RecoveryCodeUsed:
		d.Title = t("notice.code_used_title")
		d.Paragraphs = []string{where("notice.code_used") + " " + codesLeft(ctx, n.Left), notYou}
	case RecoveryCodesRenewed:
		d.Title = t("notice.codes_renewed_title")
		d.Paragraphs = []string{where("notice.codes_renewed"), notYou}
	case SessionEnded:
		d.Title = t("notice.session_ended_title")
		d.Paragraphs = []string{where("notice.session_ended"), notYou}
	case SessionsEnded:
		d.Title = t("notice.sessions_ended_title")
		d.Paragraphs = []string{where("notice.sessions_ended"), notYou}
	case ResetLink:
		d.Title = views.LinkSubject(ctx, true)
		d.Paragraphs = []string{t("notice.reset_intro")}
		d.Link, d.LinkText = n.Link, views.LinkSubject(ctx, true)
		d.After = []string{t("notice.reset_outro", "ExpiresIn", i18n.Duration(ctx, n.TTL), "Expires", i18n.FormatTime(ctx, n.Expires))}
	case ResetFederated:
		d.Title = t("notice.reset_federated_title")
		d.Paragraphs = []string{t("notice.reset_federated", "Providers", strings.Join(n.Providers, t("notice.or"))),
			t("notice.ignore")}
	}
	return d
}

func codesLeft(ctx context.Context, n int) string {
	switch {
	case n == 0:
		return i18n.T(ctx, "notice.codes_none_left")
	case n <= 3:
		return i18n.Plural(ctx, "notice.codes_few_left", n)
	}
	return i18n.Plural(ctx, "notice.codes_left", n)
}

func render(ctx context.Context, c templ.Component) (string, error) {
	var b bytes.Buffer
	if err := c.Render(ctx, &b); err != nil {
		return "", fmt.Errorf("notify: render e-mail: %w", err)
	}
	return b.String(), nil
}
