package mail

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// received is one message as the test SMTP server saw it.
type received struct {
	from string
	to   []string
	data []byte
}

// smtpServer is a real SMTP server (no auth, no TLS) on a random local port.
type smtpServer struct {
	mu   sync.Mutex
	msgs []received
	addr *net.TCPAddr
}

func startSMTPServer(t *testing.T) *smtpServer {
	t.Helper()
	srv := &smtpServer{}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: srv}, nil
	}))
	s.Domain = "localhost"
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.addr = ln.Addr().(*net.TCPAddr)
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return srv
}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

type smtpSession struct {
	srv  *smtpServer
	from string
	to   []string
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = append(s.to, to); return nil }
func (s *smtpSession) Reset()                                      { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error                               { return nil }

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.msgs = append(s.srv.msgs, received{from: s.from, to: s.to, data: b})
	return nil
}

func testConfig(port int) SMTPConfig {
	return SMTPConfig{Host: "127.0.0.1", Port: port, TLS: TLSNone, From: "authz <noreply@authz.test>", Timeout: 5 * time.Second}
}

func TestSMTPSenderDelivers(t *testing.T) {
	srv := startSMTPServer(t)
	sender, err := NewSMTPSender(testConfig(srv.addr.Port))
	if err != nil {
		t.Fatal(err)
	}
	msg := Message{
		To:      "alice@example.com",
		Subject: "Set your password — authz",
		Text:    "Grüße Alice,\nopen https://authz.test/setup?t=abc to set your password.\n",
		HTML:    "<p>Grüße Alice,</p><p><a href=\"https://authz.test/setup?t=abc\">Set your password</a></p>",
	}
	if err := sender.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.messages()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	r := got[0]
	if r.from != "noreply@authz.test" || len(r.to) != 1 || r.to[0] != "alice@example.com" {
		t.Errorf("envelope from %q to %q", r.from, r.to)
	}
	parsed, err := netmail.ReadMessage(strings.NewReader(string(r.data)))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
	if err != nil || subject != msg.Subject {
		t.Errorf("Subject = %q (err %v), want %q", subject, err, msg.Subject)
	}
	if to := parsed.Header.Get("To"); !strings.Contains(to, "alice@example.com") {
		t.Errorf("To header = %q", to)
	}
	bodies := readBodies(t, parsed)
	if strings.TrimRight(bodies["text/plain"], "\r\n") != strings.TrimRight(msg.Text, "\n") {
		t.Errorf("text body = %q, want %q", bodies["text/plain"], msg.Text)
	}
	if strings.TrimRight(bodies["text/html"], "\r\n") != msg.HTML {
		t.Errorf("HTML body = %q, want %q", bodies["text/html"], msg.HTML)
	}
}

func TestSMTPSenderTextOnly(t *testing.T) {
	srv := startSMTPServer(t)
	sender, err := NewSMTPSender(testConfig(srv.addr.Port))
	if err != nil {
		t.Fatal(err)
	}
	if err := sender.Send(context.Background(), Message{To: "bob@example.com", Subject: "Hi", Text: "plain only"}); err != nil {
		t.Fatal(err)
	}
	parsed, err := netmail.ReadMessage(strings.NewReader(string(srv.messages()[0].data)))
	if err != nil {
		t.Fatal(err)
	}
	bodies := readBodies(t, parsed)
	if strings.TrimSpace(bodies["text/plain"]) != "plain only" || bodies["text/html"] != "" {
		t.Errorf("bodies = %q", bodies)
	}
}

// readBodies returns the decoded body of each text part by media type.
func readBodies(t *testing.T, m *netmail.Message) map[string]string {
	t.Helper()
	mediaType, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type: %v", err)
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		return map[string]string{mediaType: decodePart(t, m.Header.Get("Content-Transfer-Encoding"), m.Body)}
	}
	out := map[string]string{}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		// NextPart already undoes quoted-printable and drops its header.
		out[pt] = decodePart(t, p.Header.Get("Content-Transfer-Encoding"), p)
	}
}

func decodePart(t *testing.T, encoding string, r io.Reader) string {
	t.Helper()
	if strings.EqualFold(encoding, "base64") {
		r = base64.NewDecoder(base64.StdEncoding, r)
	} else if strings.EqualFold(encoding, "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read part: %v", err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

func TestSMTPSenderConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	sender, err := NewSMTPSender(testConfig(port))
	if err != nil {
		t.Fatal(err)
	}
	err = sender.Send(context.Background(), Message{To: "alice@example.com", Subject: "x", Text: "x"})
	if err == nil {
		t.Fatal("Send to a closed port succeeded")
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(port)) || !strings.Contains(err.Error(), "alice@example.com") {
		t.Errorf("error %q lacks the server address or recipient", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("error %q does not wrap the network error", err)
	}
}

func TestSMTPSenderTimesOut(t *testing.T) {
	// A server that accepts the connection but never greets.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	cfg := testConfig(ln.Addr().(*net.TCPAddr).Port)
	cfg.Timeout = 300 * time.Millisecond
	sender, err := NewSMTPSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = sender.Send(context.Background(), Message{To: "alice@example.com", Subject: "x", Text: "x"})
	if err == nil {
		t.Fatal("Send to a silent server succeeded")
	}
	t.Logf("error: %v", err)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %v despite a %v timeout", d, cfg.Timeout)
	}
}

func TestSMTPSenderStartTLSRequired(t *testing.T) {
	srv := startSMTPServer(t) // offers no STARTTLS
	cfg := testConfig(srv.addr.Port)
	cfg.TLS = TLSStartTLS
	sender, err := NewSMTPSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = sender.Send(context.Background(), Message{To: "alice@example.com", Subject: "x", Text: "x"})
	if err == nil {
		t.Fatal("starttls mode sent in the clear to a server without STARTTLS")
	}
	t.Logf("error: %v", err)
	if n := len(srv.messages()); n != 0 {
		t.Fatalf("server received %d messages", n)
	}
}

func TestNewSMTPSenderValidates(t *testing.T) {
	good := SMTPConfig{Host: "mail.example.com", From: "noreply@example.com"}
	for name, mutate := range map[string]func(*SMTPConfig){
		"no host":     func(c *SMTPConfig) { c.Host = "" },
		"bad from":    func(c *SMTPConfig) { c.From = "not an address" },
		"no from":     func(c *SMTPConfig) { c.From = "" },
		"bad tls":     func(c *SMTPConfig) { c.TLS = "ssl" },
		"bad port":    func(c *SMTPConfig) { c.Port = 70000 },
		"negative pt": func(c *SMTPConfig) { c.Port = -1 },
	} {
		cfg := good
		mutate(&cfg)
		if _, err := NewSMTPSender(cfg); err == nil {
			t.Errorf("%s: NewSMTPSender accepted %+v", name, cfg)
		}
	}
	for mode, port := range map[string]int{"": 587, TLSNone: 25, TLSStartTLS: 587, TLSImplicit: 465} {
		cfg := good
		cfg.TLS = mode
		s, err := NewSMTPSender(cfg)
		if err != nil {
			t.Fatalf("mode %q: %v", mode, err)
		}
		if want := "mail.example.com:" + strconv.Itoa(port); s.Addr() != want {
			t.Errorf("mode %q: Addr = %s, want %s", mode, s.Addr(), want)
		}
	}
}

func TestSendRejectsBadMessages(t *testing.T) {
	s, err := NewSMTPSender(SMTPConfig{Host: "127.0.0.1", Port: 1, TLS: TLSNone, From: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]Message{
		"no recipient":       {Subject: "x", Text: "x"},
		"no body":            {To: "a@example.com", Subject: "x"},
		"header injection":   {To: "a@example.com", Subject: "x\r\nBcc: evil@example.com", Text: "x"},
		"invalid recipient":  {To: "not an address", Subject: "x", Text: "x"},
		"injected recipient": {To: "a@example.com\nBcc: evil@example.com", Subject: "x", Text: "x"},
	} {
		if err := s.Send(context.Background(), m); err == nil {
			t.Errorf("%s: Send accepted %+v", name, m)
		}
	}
}
