package mail

import (
	"context"
	"log/slog"
	"slices"
	"sync"
)

// LogSender "delivers" messages by logging them, and keeps the latest in an
// optional Outbox for the /dev/mail page. It stands in when no SMTP server is
// configured, so a fresh install can still complete password setup. The log
// then holds the setup links, which grant access: configure SMTP in production.
type LogSender struct {
	logger *slog.Logger
	outbox *Outbox
}

// NewLogSender returns a LogSender writing to logger and, when outbox is not
// nil, recording each message there.
func NewLogSender(logger *slog.Logger, outbox *Outbox) *LogSender {
	return &LogSender{logger: logger, outbox: outbox}
}

// Send logs m at Info level with its text body (the HTML alternative repeats
// it) and records it in the outbox.
func (s *LogSender) Send(ctx context.Context, m Message) error {
	if err := m.validate(); err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "mail not sent (no SMTP configured)",
		slog.String("to", m.To), slog.String("subject", m.Subject), slog.String("text", m.Text))
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
