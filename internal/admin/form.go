package admin

import (
	"net/http"
	netmail "net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// Validation messages shown above the user form.
const (
	msgUsernameRequired = "Username is required."
	msgUsernameFormat   = "Username must be 1 to 64 characters long and use only letters, digits and . _ - @."
	msgEmailRequired    = "E-mail is required."
	msgEmailFormat      = "E-mail must be a plain address such as name@example.com."
	msgDuplicate        = "A user with this username or e-mail already exists."
	msgDisableSelf      = "You cannot disable your own account."
)

// maxNameLen bounds first and last names, in characters.
const maxNameLen = 100

// maxEmailLen is the longest address SMTP can carry (RFC 5321 path limit).
const maxEmailLen = 254

// usernamePattern keeps usernames ASCII: both backends then agree on what
// "equal ignoring case" means (SQLite's lower() folds ASCII only), and look-alike
// letters from other scripts cannot impersonate a user.
var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// readUserForm takes the user fields from a parsed POST form. Unchecked
// checkboxes are absent from the form, so absence means off.
func readUserForm(r *http.Request) views.AdminUserForm {
	f := r.PostForm
	return views.AdminUserForm{
		Username:    strings.TrimSpace(f.Get("username")),
		Email:       strings.TrimSpace(f.Get("email")),
		FirstName:   strings.TrimSpace(f.Get("first_name")),
		LastName:    strings.TrimSpace(f.Get("last_name")),
		OTPRequired: f.Get("otp_required") != "",
		Enabled:     f.Get("enabled") != "",
	}
}

// validateUserForm returns the first problem of f as a message for the
// administrator, or "" when f is acceptable.
func validateUserForm(f views.AdminUserForm) string {
	switch {
	case f.Username == "":
		return msgUsernameRequired
	case !usernamePattern.MatchString(f.Username):
		return msgUsernameFormat
	case f.Email == "":
		return msgEmailRequired
	case !validEmail(f.Email):
		return msgEmailFormat
	case !validName(f.FirstName):
		return "First name must be at most 100 characters long, without control characters."
	case !validName(f.LastName):
		return "Last name must be at most 100 characters long, without control characters."
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

func validName(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxNameLen {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

// formOf is the form showing u as stored.
func formOf(u *store.User) views.AdminUserForm {
	return views.AdminUserForm{
		Username: u.Username, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		OTPRequired: u.OTPRequired, Enabled: u.Enabled,
	}
}

// apply copies the form's fields onto u.
func apply(u *store.User, f views.AdminUserForm) {
	u.Username, u.Email, u.FirstName, u.LastName = f.Username, f.Email, f.FirstName, f.LastName
	u.OTPRequired, u.Enabled = f.OTPRequired, f.Enabled
}
