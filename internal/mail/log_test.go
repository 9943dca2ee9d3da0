package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestLogSenderLogsAndKeeps(t *testing.T) {
	var buf bytes.Buffer
	outbox := NewOutbox(2)
	s := NewLogSender(slog.New(slog.NewJSONHandler(&buf, nil)), outbox)
	m := Message{To: "alice@example.com", Subject: "Set your password", Text: "open https://authz.test/setup?t=abc", HTML: "<p>x</p>"}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	if rec["to"] != m.To || rec["subject"] != m.Subject {
		t.Errorf("log record %v lacks the recipient or subject", rec)
	}
	if bytes.Contains(buf.Bytes(), []byte("setup?t=abc")) {
		t.Errorf("the log holds the link: %s", buf.String())
	}
	if got := outbox.Messages(); len(got) != 1 || got[0] != m {
		t.Errorf("outbox = %+v, want [%+v]", got, m)
	}
}

func TestLogSenderRejectsBadMessage(t *testing.T) {
	outbox := NewOutbox(5)
	s := NewLogSender(slog.New(slog.DiscardHandler), outbox)
	if err := s.Send(context.Background(), Message{To: "a@example.com", Subject: "no body"}); err == nil {
		t.Fatal("accepted a message without body")
	}
	if len(outbox.Messages()) != 0 {
		t.Fatal("rejected message was kept")
	}
}

// TestLogSenderWithoutOutbox: outside dev mode, without SMTP, nothing is
// sent: the log warns, names the recipient, and never holds the link.
func TestLogSenderWithoutOutbox(t *testing.T) {
	var buf bytes.Buffer
	s := NewLogSender(slog.New(slog.NewJSONHandler(&buf, nil)), nil)
	err := s.Send(context.Background(), Message{To: "a@example.com", Subject: "Set up", Text: "open https://authz.test/link/SECRET"})
	if !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("Send = %v, want ErrNotConfigured", err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	if rec["level"] != "WARN" || rec["to"] != "a@example.com" || bytes.Contains(buf.Bytes(), []byte("SECRET")) {
		t.Errorf("log: %s", buf.String())
	}
	var nilBox *Outbox
	if nilBox.Messages() != nil {
		t.Fatal("nil outbox returned messages")
	}
}

func TestOutboxKeepsNewestFirst(t *testing.T) {
	o := NewOutbox(3)
	s := NewLogSender(slog.New(slog.DiscardHandler), o)
	for i := range 5 {
		if err := s.Send(context.Background(), Message{To: "a@example.com", Subject: fmt.Sprint(i), Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	got := o.Messages()
	if len(got) != 3 || got[0].Subject != "4" || got[1].Subject != "3" || got[2].Subject != "2" {
		t.Fatalf("outbox subjects = %v, want 4 3 2", subjects(got))
	}
	got[0].Subject = "changed"
	if o.Messages()[0].Subject != "4" {
		t.Fatal("Messages returned the outbox's own slice")
	}
}

func TestOutboxConcurrent(t *testing.T) {
	o := NewOutbox(10)
	s := NewLogSender(slog.New(slog.DiscardHandler), o)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				_ = s.Send(context.Background(), Message{To: "a@example.com", Subject: fmt.Sprint(i, j), Text: "x"})
				_ = o.Messages()
			}
		})
	}
	wg.Wait()
	if n := len(o.Messages()); n != 10 {
		t.Fatalf("outbox holds %d messages, want 10", n)
	}
}

func subjects(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Subject)
	}
	return out
}

// TestFileOutboxIsShared: two processes' outboxes on one file (the server's
// and the CLI's) see each other's messages, newest first, the last n only,
// and the file is private.
func TestFileOutboxIsShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev-mail.jsonl")
	server, cli := NewFileOutbox(path, 2), NewFileOutbox(path, 2)
	for i, o := range []*Outbox{server, cli, cli} {
		if err := NewLogSender(slog.New(slog.DiscardHandler), o).Send(context.Background(), Message{To: "a@example.com", Subject: fmt.Sprint(i), Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	got := server.Messages()
	if len(got) != 2 || got[0].Subject != "2" || got[1].Subject != "1" {
		t.Fatalf("server sees %v, want 2 1", subjects(got))
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("outbox file mode: %v %v", fi.Mode(), err)
	}
	if msgs := NewFileOutbox(filepath.Join(t.TempDir(), "none"), 5).Messages(); len(msgs) != 0 {
		t.Errorf("a missing file shows %v", msgs)
	}
}
