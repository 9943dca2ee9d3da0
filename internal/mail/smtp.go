package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS modes of SMTPConfig.
const (
	// TLSNone sends in the clear: only for a relay on localhost or a test server.
	TLSNone = "none"
	// TLSStartTLS upgrades with STARTTLS and fails if the server does not offer
	// it, rather than silently falling back to plain text.
	TLSStartTLS = "starttls"
	// TLSImplicit connects with TLS from the first byte (SMTPS).
	TLSImplicit = "tls"
)

// DefaultTimeout bounds one delivery (connect, greeting, authentication and
// transfer), so a stuck mail server cannot hold a request for long.
const DefaultTimeout = 15 * time.Second

// SMTPConfig is how to reach the outgoing mail server.
type SMTPConfig struct {
	Host string
	// Port defaults by TLS mode: 25 for none, 587 for starttls, 465 for tls.
	Port int
	// TLS is TLSNone, TLSStartTLS or TLSImplicit; empty means TLSStartTLS.
	TLS string
	// Username and Password enable SMTP AUTH when Username is set; the
	// mechanism is negotiated, and none that sends the password in the clear is
	// used on an unencrypted connection.
	Username string
	Password string
	// From is the sender address, for example "authz <noreply@example.com>".
	From string
	// Timeout bounds one delivery; zero means DefaultTimeout.
	Timeout time.Duration
}

// SMTPSender delivers messages through an SMTP server, one connection per
// message: authz sends few mails, and this keeps no idle connection to break.
type SMTPSender struct {
	cfg  SMTPConfig
	opts []gomail.Option
}

// NewSMTPSender checks cfg and returns a sender for it. It does not connect, so
// a mail server that is down does not stop authz from starting.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	if cfg.Host == "" {
		return nil, errors.New("mail: SMTP host is empty")
	}
	if _, err := netmail.ParseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("mail: SMTP from address %q: %w", cfg.From, err)
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	opts, err := clientOptions(&cfg)
	if err != nil {
		return nil, err
	}
	return &SMTPSender{cfg: cfg, opts: opts}, nil
}

// clientOptions translates cfg for go-mail, filling in the default port.
func clientOptions(cfg *SMTPConfig) ([]gomail.Option, error) {
	var opts []gomail.Option
	defaultPort := 0
	switch cfg.TLS {
	case TLSNone:
		opts, defaultPort = append(opts, gomail.WithTLSPolicy(gomail.NoTLS)), 25
	case TLSStartTLS:
		opts, defaultPort = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory)), 587
	case TLSImplicit:
		opts, defaultPort = append(opts, gomail.WithSSL()), 465
	default:
		return nil, fmt.Errorf("mail: SMTP TLS mode %q: want %s, %s or %s", cfg.TLS, TLSNone, TLSStartTLS, TLSImplicit)
	}
	if cfg.Port == 0 {
		cfg.Port = defaultPort
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("mail: SMTP port %d out of range", cfg.Port)
	}
	opts = append(opts, gomail.WithPort(cfg.Port), gomail.WithTimeout(cfg.Timeout))
	if cfg.Username != "" {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username),
			gomail.WithPassword(cfg.Password))
	}
	return opts, nil
}

// Addr returns host:port of the configured server, for logs and errors.
func (s *SMTPSender) Addr() string {
	return s.cfg.Host + ":" + strconv.Itoa(s.cfg.Port)
}

// Send delivers m, giving up after the configured timeout or when ctx ends.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	if err := m.validate(); err != nil {
		return err
	}
	msg, err := s.build(m)
	if err != nil {
		return err
	}
	// A client per message: go-mail's Client keeps per-connection state
	// (negotiated auth) that concurrent sends must not share.
	client, err := gomail.NewClient(s.cfg.Host, s.opts...)
	if err != nil {
		return fmt.Errorf("mail: SMTP client for %s: %w", s.Addr(), err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: send to %s via %s: %w", m.To, s.Addr(), err)
	}
	return nil
}

// build turns m into a go-mail message: plain text first and HTML as the
// alternative, so clients without HTML still show a usable mail.
func (s *SMTPSender) build(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return nil, fmt.Errorf("mail: from %q: %w", s.cfg.From, err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("mail: recipient %q: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	switch {
	case m.Text != "" && m.HTML != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	case m.HTML != "":
		msg.SetBodyString(gomail.TypeTextHTML, m.HTML)
	default:
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	}
	return msg, nil
}
