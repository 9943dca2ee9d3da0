package console

import (
	"context"
	"net/url"
	"strconv"

	"github.com/authz/authz/internal/admin"
)

// mailErrorQuery carries a failed send across the redirect to the user page:
// the reason key, the link's kind and the SMTP reply code, never the error
// itself.
func mailErrorQuery(m admin.MailResult) string {
	v := url.Values{"mailerror": {m.Reason}, "mail": {m.Kind}}
	if m.Code > 0 {
		v.Set("smtp", strconv.Itoa(m.Code))
	}
	return v.Encode()
}

// mailErrorText turns the query of a redirect after a failed send into the
// message shown on the user page, or "". The service words it, and reads an
// unknown reason as a plain failure, so a crafted URL cannot put text on the
// page.
func mailErrorText(ctx context.Context, q url.Values) string {
	key := q.Get("mailerror")
	if key == "" {
		return ""
	}
	code, _ := strconv.Atoi(q.Get("smtp"))
	return admin.MailResult{Kind: q.Get("mail"), Reason: key, Code: code}.Localized(ctx)
}
