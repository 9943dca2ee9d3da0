package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

func TestMailFailureReasons(t *testing.T) {
	for _, tc := range []struct {
		err    error
		reason string
		code   int
	}{
		{&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "smtp"}}, "dns", 0},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "timeout", 0},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, "unreachable", 0},
		{&textproto.Error{Code: 550, Msg: "no"}, "refused", 550},
		{&textproto.Error{Code: 535, Msg: "no"}, "auth", 535},
		{errors.New("strange"), "failed", 0},
	} {
		reason, code := mailFailure(tc.err)
		if reason != tc.reason || code != tc.code {
			t.Errorf("%v: %s %d, want %s %d", tc.err, reason, code, tc.reason, tc.code)
		}
	}
}

// TestLinkMessageNamesTheServiceAndTheExpiry: the set-up e-mail says which
// service sent it and when its link expires, in words and as a date.
func TestLinkMessageNamesTheServiceAndTheExpiry(t *testing.T) {
	issued := time.Date(2030, 5, 6, 7, 8, 0, 0, time.UTC)
	u := &store.User{Username: "ann", Email: "ann@example.com", FirstName: "Ann"}
	for _, s := range []*Service{
		{Issuer: "https://login.example.com:8443/base"},
		{Issuer: "https://login.example.com", SiteName: "Example Login"},
	} {
		m, err := s.linkMessage(context.Background(), u, store.ActionSetup, "tok", issued)
		if err != nil {
			t.Fatal(err)
		}
		site := s.SiteName
		if site == "" {
			site = "login.example.com"
		}
		for _, want := range []string{"administrator of " + site + " created", "expires in 12 hours, on 6 May 2030, 19:08 UTC", "/link/tok"} {
			if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
				t.Errorf("site %q: the e-mail lacks %q:\n%s", site, want, m.Text)
			}
		}
	}
}
