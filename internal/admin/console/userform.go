package console

import (
	"net/http"
	"strings"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// readUserForm takes the user fields from a parsed POST form. Unchecked
// checkboxes are absent from the form, so absence means off.
func readUserForm(r *http.Request) views.AdminUserForm {
	f := r.PostForm
	return views.AdminUserForm{
		Username:    strings.TrimSpace(f.Get("username")),
		Email:       strings.TrimSpace(f.Get("email")),
		FirstName:   strings.TrimSpace(f.Get("first_name")),
		LastName:    strings.TrimSpace(f.Get("last_name")),
		Role:        strings.TrimSpace(f.Get("role")),
		OTPRequired: f.Get("otp_required") != "",
		Enabled:     f.Get("enabled") != "",
		Locale:      strings.TrimSpace(f.Get("locale")),
	}
}

// userPatchOfForm sets every field of the form. A form without a role (only a
// hand-made request lacks the select) leaves the role as it is.
func userPatchOfForm(f views.AdminUserForm) admin.UserPatch {
	p := admin.UserPatch{Username: &f.Username, Email: &f.Email, FirstName: &f.FirstName, LastName: &f.LastName,
		OTPRequired: &f.OTPRequired, Enabled: &f.Enabled, Locale: &f.Locale}
	if f.Role != "" {
		p.Role = &f.Role
	}
	return p
}

// userFormOf is the form showing u as stored.
func userFormOf(u *store.User) views.AdminUserForm {
	return views.AdminUserForm{
		Username: u.Username, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Role: u.Role, OTPRequired: u.OTPRequired, Enabled: u.Enabled, Locale: u.Locale,
	}
}
