package admin

import (
	netmail "net/mail"
	"regexp"
	"strings"
	"sync"

	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/store"
)

// Validation messages of the user fields (catalog IDs).
const (
	msgUsernameRequired = "admin.err.username_required"
	msgUsernameFormat   = "admin.err.username_format"
	msgEmailRequired    = "admin.err.email_required"
	msgEmailFormat      = "admin.err.email_format"
	msgDuplicate        = "admin.err.user_duplicate"
)

// noMsg is a check's answer for a valid value.
var noMsg i18n.Message

// checkLocale accepts a supported language, stored as its base tag, or
// empty for none.
func checkLocale(v string) i18n.Message {
	if _, ok := i18n.Canonical(v); v != "" && !ok {
		return i18n.M("admin.err.locale", "Languages", strings.Join(i18n.Supported(), ", "))
	}
	return noMsg
}

// maxNameLen bounds first and last names, in characters.
const maxNameLen = 100

// maxEmailLen is the longest address SMTP can carry (RFC 5321 path limit).
const maxEmailLen = 254

// usernamePattern allows ASCII letters, digits and . _ - @, and the Japanese
// scripts (kanji, hiragana, katakana and the long-vowel mark), of a
// username in store.CanonicalUsername form. Both backends agree on what
// "equal ignoring case" means for these (SQLite's lower() folds ASCII only;
// the Japanese scripts have no case), and letters of other cased scripts,
// such as Cyrillic look-alikes of Latin ones, cannot impersonate a user.
var usernamePattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9._@\p{Han}\p{Hiragana}\p{Katakana}ー-]{1,64}$`)
})

// applyUserPatch sets p's fields on u, checking every value that changes
// (every value when creating) in the order the form shows them. Every field
// that is wrong is named at once, so an empty form lists all that is
// missing; the error's field is the first of them.
func applyUserPatch(u *store.User, p UserPatch, creating bool) error {
	var firstField string
	var msgs []i18n.Message
	for _, f := range []struct {
		name  string
		value *string
		dst   *string
		check func(string) i18n.Message
	}{
		{"username", p.Username, &u.Username, checkUsername},
		{"email", p.Email, &u.Email, checkEmail},
		{"first_name", p.FirstName, &u.FirstName, checkName("admin.err.first_name")},
		{"last_name", p.LastName, &u.LastName, checkName("admin.err.last_name")},
		{"role", p.Role, &u.Role, checkRole},
		{"locale", p.Locale, &u.Locale, checkLocale},
	} {
		v := *f.dst
		switch {
		case f.value != nil && f.name == "username":
			v = store.CanonicalUsername(*f.value)
		case f.value != nil:
			v = strings.TrimSpace(*f.value)
		}
		if creating || v != *f.dst {
			if msg := f.check(v); msg.ID != "" {
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
		return NewError(KindInvalid, firstField, msgs...)
	}
	if p.OTPRequired != nil {
		u.OTPRequired = *p.OTPRequired
	}
	if p.Enabled != nil {
		u.Enabled = *p.Enabled
	}
	return nil
}

func checkUsername(s string) i18n.Message {
	switch {
	case s == "":
		return i18n.M(msgUsernameRequired)
	case !usernamePattern().MatchString(s):
		return i18n.M(msgUsernameFormat)
	}
	return noMsg
}

func checkEmail(s string) i18n.Message {
	switch {
	case s == "":
		return i18n.M(msgEmailRequired)
	case !validEmail(s):
		return i18n.M(msgEmailFormat)
	}
	return noMsg
}

// checkName checks a first or last name; id is the message of a wrong one.
func checkName(id string) func(string) i18n.Message {
	return func(s string) i18n.Message {
		if !validText(s, maxNameLen) {
			return i18n.M(id, "Max", maxNameLen)
		}
		return noMsg
	}
}

func checkRole(s string) i18n.Message {
	if s != store.RoleAdmin && s != store.RoleUser {
		return i18n.M(msgRoleFormat)
	}
	return noMsg
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
