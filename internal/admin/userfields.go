package admin

import (
	netmail "net/mail"
	"regexp"
	"strings"
	"sync"

	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/store"
)

// Validation messages of the user fields.
const (
	msgUsernameRequired = "Username is required."
	msgUsernameFormat   = "Username must be 1 to 64 characters long and use only letters, digits and . _ - @."
	msgEmailRequired    = "E-mail is required."
	msgEmailFormat      = "E-mail must be a plain address such as name@example.com."
	msgDuplicate        = "A user with this username or e-mail already exists."
)

// checkLocale accepts a supported language, stored as its base tag, or
// empty for none.
func checkLocale(v string) string {
	if _, ok := i18n.Canonical(v); v != "" && !ok {
		return "Language must be one of: " + strings.Join(i18n.Supported(), ", ") + ", or empty."
	}
	return ""
}

// maxNameLen bounds first and last names, in characters.
const maxNameLen = 100

// maxEmailLen is the longest address SMTP can carry (RFC 5321 path limit).
const maxEmailLen = 254

// usernamePattern keeps usernames ASCII: both backends then agree on what
// "equal ignoring case" means (SQLite's lower() folds ASCII only), and look-alike
// letters from other scripts cannot impersonate a user.
var usernamePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`) })

// applyUserPatch sets p's fields on u, checking every value that changes
// (every value when creating) in the order the form shows them. Every field
// that is wrong is named at once, so an empty form lists all that is
// missing; the error's field is the first of them.
func applyUserPatch(u *store.User, p UserPatch, creating bool) error {
	var firstField string
	var msgs []string
	for _, f := range []struct {
		name  string
		value *string
		dst   *string
		check func(string) string
	}{
		{"username", p.Username, &u.Username, checkUsername},
		{"email", p.Email, &u.Email, checkEmail},
		{"first_name", p.FirstName, &u.FirstName, checkName("First name")},
		{"last_name", p.LastName, &u.LastName, checkName("Last name")},
		{"role", p.Role, &u.Role, checkRole},
		{"locale", p.Locale, &u.Locale, checkLocale},
	} {
		v := *f.dst
		if f.value != nil {
			v = strings.TrimSpace(*f.value)
		}
		if creating || v != *f.dst {
			if msg := f.check(v); msg != "" {
				if firstField == "" {
					firstField = f.name
				}
				msgs = append(msgs, msg)
				continue
			}
		}
		*f.dst = v
	}
	if len(msgs) > 0 {
		return invalid(firstField, strings.Join(msgs, " "))
	}
	if p.OTPRequired != nil {
		u.OTPRequired = *p.OTPRequired
	}
	if p.Enabled != nil {
		u.Enabled = *p.Enabled
	}
	return nil
}

func checkUsername(s string) string {
	switch {
	case s == "":
		return msgUsernameRequired
	case !usernamePattern().MatchString(s):
		return msgUsernameFormat
	}
	return ""
}

func checkEmail(s string) string {
	switch {
	case s == "":
		return msgEmailRequired
	case !validEmail(s):
		return msgEmailFormat
	}
	return ""
}

func checkName(label string) func(string) string {
	return func(s string) string {
		if !validText(s, maxNameLen) {
			return label + " must be at most 100 characters long, without control characters."
		}
		return ""
	}
}

func checkRole(s string) string {
	if s != store.RoleAdmin && s != store.RoleUser {
		return msgRoleFormat
	}
	return ""
}

// validEmail accepts a bare address only: a display name or angle brackets
// would end up in the To header of every mail we send.
func validEmail(s string) bool {
	if len(s) > maxEmailLen {
		return false
	}
	a, err := netmail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}
