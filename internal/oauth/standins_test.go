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
	// fosite's own errors unwrap to the RFC 6749 error through Cause.
	var rfc *fosite.RFC6749Error
	if !errors.As(errorsx.Cause(errorsx.WithStack(fosite.ErrInvalidClient)), &rfc) {
		t.Error("Cause must reach fosite's RFC6749Error")
	}
}

func TestStandInOtelxEnd(t *testing.T) {
	span := trace.SpanFromContext(context.Background())
	func() {
		err := error(fosite.ErrInvalidRequest.WithDebug("debug"))
		defer otelx.End(span, &err)
	}()
	func() {
		defer otelx.End(span, nil)
	}()
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("End must let a panic through unchanged, got %v", r)
		}
	}()
	func() {
		var err error
		defer otelx.End(span, &err)
		panic("boom")
	}()
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
	u, _ := url.Parse("https://app.example/cb#frag")
	if fosite.IsValidRedirectURI(u) {
		t.Error("a redirect URI with a fragment must be refused")
	}
}
