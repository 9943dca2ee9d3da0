package api

import (
	"net/http"
	"time"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/httpjson"
	"github.com/authz/authz/internal/store"
)

// apiUser is a user in the API.
type apiUser struct {
	ID            string     `json:"id"`
	Username      string     `json:"username"`
	Email         string     `json:"email"`
	FirstName     string     `json:"first_name"`
	LastName      string     `json:"last_name"`
	Role          string     `json:"role"`
	Enabled       bool       `json:"enabled"`
	OTPRequired   bool       `json:"otp_required"`
	OTPState      string     `json:"otp_state"`
	OTPEnrolledAt *time.Time `json:"otp_enrolled_at"`
	RecoveryCodes int        `json:"recovery_codes_left"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	LastLoginAt   *time.Time `json:"last_login_at"`
	Locale        string     `json:"locale"`
}

// UserView is how the API and the CLI show a user.
func UserView(info *admin.UserInfo) any { return userJSON(info) }

func userJSON(info *admin.UserInfo) apiUser {
	u := info.User
	return apiUser{ID: u.ID, Username: u.Username, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Role: u.Role, Enabled: u.Enabled, OTPRequired: u.OTPRequired, OTPState: info.OTPState,
		OTPEnrolledAt: optTime(info.EnrolledAt), RecoveryCodes: info.RecoveryCodes, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastLoginAt: optTime(u.LastLoginAt), Locale: u.Locale}
}

// optTime is nil for the zero time, which JSON shows as null.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// userTargets maps the JSON fields of a user body to p.
func userTargets(p *admin.UserPatch) fieldTargets {
	return fieldTargets{
		"username": &p.Username, "email": &p.Email, "first_name": &p.FirstName, "last_name": &p.LastName,
		"role": &p.Role, "otp_required": &p.OTPRequired, "enabled": &p.Enabled, "locale": &p.Locale,
	}
}

func (a *API) userRoutes() []route {
	return []route{
		{"GET", "/users", a.listUsers},
		{"POST", "/users", a.createUser},
		{"GET", "/users/{id}", a.getUser},
		{"PATCH", "/users/{id}", a.updateUser},
		{"DELETE", "/users/{id}", a.deleteUser},
		{"POST", "/users/{id}/reset-otp", a.resetOTP},
		{"DELETE", "/users/{id}/recovery-codes", a.voidRecoveryCodes},
		{"POST", "/users/{id}/send-setup", a.sendLink(store.ActionSetup)},
		{"POST", "/users/{id}/send-reset", a.sendLink(store.ActionReset)},
		{"GET", "/users/{id}/identities", a.listIdentities},
		{"POST", "/users/{id}/identities", a.linkIdentity},
		{"DELETE", "/users/{id}/identities/{provider}/{subject}", a.unlinkIdentity},
	}
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, _ *caller) {
	pg, ok := readPage(w, r, "q")
	if !ok {
		return
	}
	users, next, err := a.Service.ListUsers(r.Context(), r.URL.Query().Get("q"), pg)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	items := make([]apiUser, 0, len(users))
	for _, u := range users {
		items = append(items, userJSON(u))
	}
	writePage(w, r, items, next, pg)
}

// apiCreatedUser is the answer of a create: the user, and whether the
// set-up e-mail went out.
type apiCreatedUser struct {
	apiUser
	SetupEmail      string `json:"setup_email"`
	SetupEmailError string `json:"setup_email_error,omitempty"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, who *caller) {
	var p admin.UserPatch
	if !decodeBody(w, r, userTargets(&p)) {
		return
	}
	u, sent, err := a.Service.CreateUser(r.Context(), who.actor, p)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	info, err := a.Service.GetUser(r.Context(), u.ID)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	w.Header().Set("Location", Prefix+"/users/"+u.ID)
	httpjson.Write(w, http.StatusCreated, createdUserJSON(info, sent))
}

// CreatedUserView is how the API and the CLI show a user just created, and
// whether the set-up e-mail went out.
func CreatedUserView(info *admin.UserInfo, sent admin.MailResult) any {
	return createdUserJSON(info, sent)
}

func createdUserJSON(info *admin.UserInfo, sent admin.MailResult) apiCreatedUser {
	out := apiCreatedUser{apiUser: userJSON(info), SetupEmail: "sent"}
	if !sent.Sent() {
		out.SetupEmail, out.SetupEmailError = "failed", sent.Text()
	}
	return out
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, _ *caller) {
	info, err := a.Service.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, userJSON(info))
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request, who *caller) {
	var p admin.UserPatch
	if !decodeBody(w, r, userTargets(&p)) {
		return
	}
	if _, err := a.Service.UpdateUser(r.Context(), who.actor, r.PathValue("id"), p); err != nil {
		a.refuse(w, r, err)
		return
	}
	a.getUser(w, r, who)
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, who *caller) {
	if err := a.Service.DeleteUser(r.Context(), who.actor, r.PathValue("id")); err != nil {
		a.refuse(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) resetOTP(w http.ResponseWriter, r *http.Request, who *caller) {
	id := r.PathValue("id")
	removed, err := a.Service.ResetOTP(r.Context(), who.actor, id)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	a.writeWithUser(w, r, id, "authenticator_removed", removed)
}

// voidRecoveryCodes serves DELETE /users/{id}/recovery-codes.
func (a *API) voidRecoveryCodes(w http.ResponseWriter, r *http.Request, who *caller) {
	id := r.PathValue("id")
	n, err := a.Service.VoidRecoveryCodes(r.Context(), who.actor, id)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	a.writeWithUser(w, r, id, "voided", n)
}

// writeWithUser answers an operation on user id with its outcome, named key,
// and the user as it now is.
func (a *API) writeWithUser(w http.ResponseWriter, r *http.Request, id, key string, outcome any) {
	info, err := a.Service.GetUser(r.Context(), id)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{key: outcome, "user": userJSON(info)})
}

func (a *API) sendLink(kind string) handler {
	return func(w http.ResponseWriter, r *http.Request, who *caller) {
		sent, err := a.Service.SendLink(r.Context(), who.actor, r.PathValue("id"), kind)
		if err != nil {
			a.refuse(w, r, err)
			return
		}
		out := map[string]any{"sent": sent.Sent()}
		if !sent.Sent() {
			out["error"] = sent.Text()
		}
		httpjson.Write(w, http.StatusOK, out)
	}
}

// resolveUser lets {id} name a user by ID or by username, as the CLI's --id
// does: h then sees the user's ID.
func (a *API) resolveUser(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, who *caller) {
		info, err := a.Service.FindUser(r.Context(), r.PathValue("id"))
		if err != nil {
			a.refuse(w, r, err)
			return
		}
		r.SetPathValue("id", info.ID)
		h(w, r, who)
	}
}
