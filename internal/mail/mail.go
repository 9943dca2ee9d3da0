// Package mail sends authz's outgoing e-mail (password setup and reset links):
// through SMTP when configured, otherwise to the log and an in-memory outbox so
// a development setup works without a mail server.
package mail

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Message is one e-mail to one recipient. Text is the plain-text body, HTML the
// optional alternative; at least one must be set.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// Sender delivers messages. Implementations are safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// validate rejects messages that cannot be delivered sensibly, before any
// network work. Line breaks in headers are refused outright: they are the
// vector of header injection.
func (m Message) validate() error {
	if strings.TrimSpace(m.To) == "" {
		return errors.New("mail: message has no recipient")
	}
	if strings.ContainsAny(m.To, "\r\n") || strings.ContainsAny(m.Subject, "\r\n") {
		return errors.New("mail: line break in recipient or subject")
	}
	if m.Text == "" && m.HTML == "" {
		return fmt.Errorf("mail: message to %s has no body", m.To)
	}
	return nil
}

var (
	_ Sender = (*SMTPSender)(nil)
	_ Sender = (*LogSender)(nil)
)
