package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"testing"
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
