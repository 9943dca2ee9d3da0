package login

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/password"
	"github.com/authz/authz/views"
)

// TestPasswordPageStatesThePolicy: the page that asks for a new password
// states the lengths password.Check enforces, in every language, and its
// fields ask for no less.
func TestPasswordPageStatesThePolicy(t *testing.T) {
	for _, lang := range i18n.Supported() {
		t.Run(lang, func(t *testing.T) {
			var b strings.Builder
			ctx := i18n.WithLanguage(context.Background(), lang, time.UTC)
			if err := views.SetPasswordPage("csrf", "alice", "").Render(ctx, &b); err != nil {
				t.Fatal(err)
			}
			m := regexp.MustCompile(`<p id="password-rules">([^<]*)</p>`).FindStringSubmatch(b.String())
			if m == nil {
				t.Fatalf("no password rules on the page:\n%s", b.String())
			}
			for _, n := range []int{password.MinLength, password.MaxLength} {
				if !strings.Contains(m[1], strconv.Itoa(n)) {
					t.Errorf("the rules %q do not state %d", m[1], n)
				}
			}
			if strings.Count(b.String(), `minlength="`+strconv.Itoa(password.MinLength)+`"`) != 2 {
				t.Errorf("the password fields do not both ask for %d characters", password.MinLength)
			}
		})
	}
	short := strings.Repeat("x", password.MinLength-1)
	if err := password.Check(short, short, "alice"); err != password.ErrTooShort {
		t.Errorf("%d characters: %v, want too short", len(short), err)
	}
	long := strings.Repeat("x", password.MaxLength+1)
	if err := password.Check(long, long, "alice"); err != password.ErrTooLong {
		t.Errorf("%d characters: %v, want too long", len(long), err)
	}
}
