package mail

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
)

// ErrNotConfigured means no SMTP server is configured, outside dev mode: the
// message was not sent anywhere.
var ErrNotConfigured = errors.New("mail: no SMTP server configured")

// LogSender stands in when no SMTP server is configured. With an Outbox (dev
// mode) it keeps the messages for the /dev/mail page, so a fresh install can
// complete password setup; without one it sends nothing and says so. Either
// way the log names only the recipient and subject: the body holds a link
// that grants access to the account.
type LogSender struct {
	logger *slog.Logger
	outbox *Outbox
}

// NewLogSender returns a LogSender writing to logger and, when outbox is not
// nil, recording each message there.
func NewLogSender(logger *slog.Logger, outbox *Outbox) *LogSender {
	return &LogSender{logger: logger, outbox: outbox}
}

// Send records m in the outbox (dev mode) and logs that it did, or without an
// outbox logs a warning and returns ErrNotConfigured.
func (s *LogSender) Send(ctx context.Context, m Message) error {
	if err := m.validate(); err != nil {
		return err
	}
	if s.outbox == nil {
		s.logger.WarnContext(ctx, "mail not sent: no SMTP server configured", slog.String("to", m.To), slog.String("subject", m.Subject))
		return ErrNotConfigured
	}
	s.logger.InfoContext(ctx, "mail kept for /dev/mail (dev mode, no SMTP configured)", slog.String("to", m.To), slog.String("subject", m.Subject))
	s.outbox.add(m)
	return nil
}

// Outbox keeps the last messages sent through a LogSender in memory. It is safe
// for concurrent use; a nil *Outbox keeps nothing.
type Outbox struct {
	mu   sync.Mutex
	max  int
	msgs []Message // oldest first
}

// NewOutbox returns an Outbox holding at most n messages (at least one).
func NewOutbox(n int) *Outbox {
	return &Outbox{max: max(n, 1)}
}

func (o *Outbox) add(m Message) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.msgs) == o.max {
		o.msgs = slices.Delete(o.msgs, 0, 1)
	}
	o.msgs = append(o.msgs, m)
}

// Messages returns a copy of the kept messages, newest first.
func (o *Outbox) Messages() []Message {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	out := slices.Clone(o.msgs)
	slices.Reverse(out)
	return out
}
