package oauth

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/asaskevich/govalidator"
	"github.com/ory/fosite"
	"github.com/ory/x/errorsx"
	"github.com/ory/x/otelx"
	pkgerrors "github.com/pkg/errors"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// The stand-ins in third_party (see the replace directives in go.mod) must
// keep the behaviour fosite relies on. They are separate modules, so
// go test ./... does not reach them: they are tested here.

func TestStandInErrorsx(t *testing.T) {
	if errorsx.WithStack(nil) != nil {
		t.Error("WithStack(nil) must be nil")
	}
	base := errors.New("base")
	wrapped := errorsx.WithStack(base)
	if _, ok := wrapped.(errorsx.StackTracer); !ok || !errors.Is(wrapped, base) {
		t.Fatalf("WithStack must add a stack and keep the error: %#v", wrapped)
	}
	if again := errorsx.WithStack(wrapped); again != wrapped {
		t.Error("an error with a stack must be returned as it is")
	}
	if got := errorsx.Cause(pkgerrors.Wrap(wrapped, "context")); got != base {
		t.Errorf("Cause = %v, want the innermost error", got)
	}
	if errorsx.Cause(nil) != nil || errorsx.Cause(base) != base {
		t.Error("Cause of nil or of an error without a cause")
	}
	// fosite's errors carry no stack of their own: WithStack must wrap them
	// (so they are no longer the *RFC6749Error itself), and Cause must find
	// them again.
	if _, same := errorsx.WithStack(fosite.ErrInvalidClient).(*fosite.RFC6749Error); same {
		t.Error("WithStack must wrap an error that has no stack")
	}
	var rfc *fosite.RFC6749Error
	if !errors.As(errorsx.Cause(errorsx.WithStack(fosite.ErrInvalidClient)), &rfc) {
		t.Error("Cause must reach fosite's RFC6749Error")
	}
}

// recordingSpan is a span that remembers what End did to it.
type recordingSpan struct {
	trace.Span // a no-op span for everything else
	ended      bool
	status     codes.Code
	errors     []error
}

func (s *recordingSpan) End(...trace.SpanEndOption)       { s.ended = true }
func (s *recordingSpan) SetStatus(c codes.Code, _ string) { s.status = c }
func (s *recordingSpan) RecordError(err error, _ ...trace.EventOption) {
	s.errors = append(s.errors, err)
}

func TestStandInOtelxEnd(t *testing.T) {
	noop := trace.SpanFromContext(context.Background())

	ok := &recordingSpan{Span: noop}
	func() {
		var err error
		defer otelx.End(ok, &err)
	}()
	if !ok.ended || ok.status == codes.Error || len(ok.errors) != 0 {
		t.Errorf("without an error: %+v", ok)
	}

	failed := &recordingSpan{Span: noop}
	want := fosite.ErrInvalidRequest.WithDebug("debug")
	func() {
		err := error(want)
		defer otelx.End(failed, &err)
	}()
	if !failed.ended || failed.status != codes.Error || len(failed.errors) != 1 || !errors.Is(failed.errors[0], fosite.ErrInvalidRequest) {
		t.Errorf("with an error: %+v", failed)
	}

	nilPointer := &recordingSpan{Span: noop}
	func() { defer otelx.End(nilPointer, nil) }()
	if !nilPointer.ended || nilPointer.status == codes.Error {
		t.Errorf("with no error pointer: %+v", nilPointer)
	}

	panicked := &recordingSpan{Span: noop}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("End must let a panic through unchanged, got %v", r)
			}
		}()
		var err error
		defer otelx.End(panicked, &err)
		panic("boom")
	}()
	if !panicked.ended || panicked.status != codes.Error {
		t.Errorf("after a panic: %+v", panicked)
	}
}

func TestStandInIsRequestURL(t *testing.T) {
	for in, want := range map[string]bool{
		"https://app.example/cb":  true,
		"http://127.0.0.1:8080/":  true,
		"com.example.app:/oauth2": true,
		"urn:ietf:wg:oauth:2.0":   true,
		"":                        false,
		"/relative/path":          false,
		"//host.example/cb":       false,
		"https://exa mple.com/":   false,
		"http://a/%zz":            false,
	} {
		if got := govalidator.IsRequestURL(in); got != want {
			t.Errorf("IsRequestURL(%q) = %v, want %v", in, got, want)
		}
	}
	// fosite refuses a redirect URI that is not absolute through IsRequestURL.
	u, _ := url.Parse("/relative/cb")
	if fosite.IsValidRedirectURI(u) {
		t.Error("a relative redirect URI must be refused")
	}
}
