package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
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
	return s.outbox.add(m)
}

// Outbox keeps the last messages sent through a LogSender, for the dev
// mode's /dev/mail page. In memory by default; with a file (NewFileOutbox)
// every process of one data directory shares it, so the set-up e-mail of a
// user created with the CLI shows on the running server's page too. It is
// safe for concurrent use; a nil *Outbox keeps nothing.
type Outbox struct {
	mu   sync.Mutex
	max  int
	msgs []Message // oldest first; unused with a file
	path string
}

// NewOutbox returns an in-memory Outbox holding at most n messages (at
// least one).
func NewOutbox(n int) *Outbox {
	return &Outbox{max: max(n, 1)}
}

// NewFileOutbox returns an Outbox kept in the file at path (created 0600:
// the messages carry set-up links), showing the last n messages.
func NewFileOutbox(path string, n int) *Outbox {
	return &Outbox{max: max(n, 1), path: path}
}

func (o *Outbox) add(m Message) error {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.path != "" {
		return o.appendFile(m)
	}
	if len(o.msgs) == o.max {
		o.msgs = slices.Delete(o.msgs, 0, 1)
	}
	o.msgs = append(o.msgs, m)
	return nil
}

// appendFile adds m as one JSON line; one write call per message keeps the
// lines of two processes apart (O_APPEND).
func (o *Outbox) appendFile(m Message) error {
	line, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("mail: encode message for the outbox: %w", err)
	}
	f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("mail: open outbox: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mail: write outbox: %w", err)
	}
	return nil
}

// Messages returns a copy of the kept messages, newest first.
func (o *Outbox) Messages() []Message {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	out := slices.Clone(o.msgs)
	if o.path != "" {
		out = o.readFile()
	}
	slices.Reverse(out)
	return out
}

// readFile returns the file's last max messages, oldest first; a missing
// file, or a line that is not a message, is nothing to show.
func (o *Outbox) readFile() []Message {
	b, err := os.ReadFile(o.path)
	if err != nil {
		return nil
	}
	var out []Message
	for line := range bytes.Lines(b) {
		var m Message
		if json.Unmarshal(line, &m) == nil {
			out = append(out, m)
		}
	}
	if len(out) > o.max {
		out = out[len(out)-o.max:]
	}
	return out
}
