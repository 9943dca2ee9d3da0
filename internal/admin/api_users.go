package admin

import (
	"net/http"
	"time"

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
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	LastLoginAt   *time.Time `json:"last_login_at"`
}

// UserView is how the API and the CLI show a user.
func UserView(info *UserInfo) any { return userJSON(info) }

func userJSON(info *UserInfo) apiUser {
	u := info.User
	return apiUser{ID: u.ID, Username: u.Username, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Role: u.Role, Enabled: u.Enabled, OTPRequired: u.OTPRequired, OTPState: info.OTPState,
		OTPEnrolledAt: optTime(info.EnrolledAt), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastLoginAt: optTime(u.LastLoginAt)}
}

// optTime is nil for the zero time, which JSON shows as null.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// userTargets maps the JSON fields of a user body to p.
func userTargets(p *UserPatch) fieldTargets {
	return fieldTargets{
		"username": &p.Username, "email": &p.Email, "first_name": &p.FirstName, "last_name": &p.LastName,
		"role": &p.Role, "otp_required": &p.OTPRequired, "enabled": &p.Enabled,
	}
}

func (c *Console) userRoutes() []apiRoute {
	return []apiRoute{
		{"GET", "/users", c.apiListUsers},
		{"POST", "/users", c.apiCreateUser},
		{"GET", "/users/{id}", c.apiGetUser},
		{"PATCH", "/users/{id}", c.apiUpdateUser},
		{"DELETE", "/users/{id}", c.apiDeleteUser},
		{"POST", "/users/{id}/reset-otp", c.apiResetOTP},
		{"POST", "/users/{id}/send-setup", c.apiSendLink(store.ActionSetup)},
		{"POST", "/users/{id}/send-reset", c.apiSendLink(store.ActionReset)},
		{"GET", "/users/{id}/identities", c.apiListIdentities},
		{"POST", "/users/{id}/identities", c.apiLinkIdentity},
		{"DELETE", "/users/{id}/identities/{provider}/{subject}", c.apiUnlinkIdentity},
	}
}

func (c *Console) apiListUsers(w http.ResponseWriter, r *http.Request, _ *caller) {
	pg, ok := readQuery(w, r, "q")
	if !ok {
		return
	}
	q := r.URL.Query().Get("q")
	if !validText(q, maxQueryLen) {
		writeProblem(w, http.StatusBadRequest, "invalid-field", "Invalid value", "q must be at most 100 characters long, without control characters.", "q")
		return
	}
	users, total, err := c.Service().ListUsers(r.Context(), q, pg.offset, pg.limit)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	out := list[apiUser]{Items: []apiUser{}, Total: total, Offset: pg.offset, Limit: pg.limit}
	for _, u := range users {
		out.Items = append(out.Items, userJSON(u))
	}
	writeJSON(w, http.StatusOK, out)
}

// apiCreatedUser is the answer of a create: the user, and whether the
// set-up e-mail went out.
type apiCreatedUser struct {
	apiUser
	SetupEmail      string `json:"setup_email"`
	SetupEmailError string `json:"setup_email_error,omitempty"`
}

func (c *Console) apiCreateUser(w http.ResponseWriter, r *http.Request, who *caller) {
	var p UserPatch
	if !decodeBody(w, r, userTargets(&p)) {
		return
	}
	u, sent, err := c.Service().CreateUser(r.Context(), who.actor, p)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	info, err := c.Service().GetUser(r.Context(), u.ID)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	w.Header().Set("Location", APIPrefix+"/users/"+u.ID)
	writeJSON(w, http.StatusCreated, createdUserJSON(info, sent))
}

// CreatedUserView is how the API and the CLI show a user just created, and
// whether the set-up e-mail went out.
func CreatedUserView(info *UserInfo, sent MailResult) any { return createdUserJSON(info, sent) }

func createdUserJSON(info *UserInfo, sent MailResult) apiCreatedUser {
	out := apiCreatedUser{apiUser: userJSON(info), SetupEmail: "sent"}
	if !sent.Sent() {
		out.SetupEmail, out.SetupEmailError = "failed", sent.Text()
	}
	return out
}

func (c *Console) apiGetUser(w http.ResponseWriter, r *http.Request, _ *caller) {
	info, err := c.Service().GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userJSON(info))
}

func (c *Console) apiUpdateUser(w http.ResponseWriter, r *http.Request, who *caller) {
	var p UserPatch
	if !decodeBody(w, r, userTargets(&p)) {
		return
	}
	if _, err := c.Service().UpdateUser(r.Context(), who.actor, r.PathValue("id"), p); err != nil {
		c.apiError(w, r, err)
		return
	}
	c.apiGetUser(w, r, who)
}

func (c *Console) apiDeleteUser(w http.ResponseWriter, r *http.Request, who *caller) {
	if err := c.Service().DeleteUser(r.Context(), who.actor, r.PathValue("id")); err != nil {
		c.apiError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *Console) apiResetOTP(w http.ResponseWriter, r *http.Request, who *caller) {
	id := r.PathValue("id")
	removed, err := c.Service().ResetOTP(r.Context(), who.actor, id)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	info, err := c.Service().GetUser(r.Context(), id)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"authenticator_removed": removed, "user": userJSON(info)})
}

func (c *Console) apiSendLink(kind string) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, who *caller) {
		sent, err := c.Service().SendLink(r.Context(), who.actor, r.PathValue("id"), kind)
		if err != nil {
			c.apiError(w, r, err)
			return
		}
		out := map[string]any{"sent": sent.Sent()}
		if !sent.Sent() {
			out["error"] = sent.Text()
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// apiIdentity is a linked upstream identity in the API.
type apiIdentity struct {
	Provider string    `json:"provider"`
	Subject  string    `json:"subject"`
	LinkedAt time.Time `json:"linked_at"`
}

func (c *Console) apiListIdentities(w http.ResponseWriter, r *http.Request, _ *caller) {
	pg, ok := readQuery(w, r)
	if !ok {
		return
	}
	ids, err := c.Service().Identities(r.Context(), r.PathValue("id"))
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	out := list[apiIdentity]{Items: []apiIdentity{}, Total: len(ids), Offset: pg.offset, Limit: pg.limit}
	for _, fi := range pageOf(ids, pg.offset, pg.limit) {
		out.Items = append(out.Items, apiIdentity{Provider: fi.ProviderAlias, Subject: fi.Subject, LinkedAt: fi.CreatedAt})
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *Console) apiLinkIdentity(w http.ResponseWriter, r *http.Request, who *caller) {
	var provider, subject *string
	if !decodeBody(w, r, fieldTargets{"provider": &provider, "subject": &subject}) {
		return
	}
	if provider == nil {
		writeProblem(w, http.StatusBadRequest, "invalid-field", "Invalid value", "provider is required.", "provider")
		return
	}
	if subject == nil {
		writeProblem(w, http.StatusBadRequest, "invalid-field", "Invalid value", "subject is required.", "subject")
		return
	}
	id := r.PathValue("id")
	fi, err := c.Service().LinkIdentity(r.Context(), who.actor, id, *provider, *subject)
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, apiIdentity{Provider: fi.ProviderAlias, Subject: fi.Subject, LinkedAt: fi.CreatedAt})
}

func (c *Console) apiUnlinkIdentity(w http.ResponseWriter, r *http.Request, who *caller) {
	err := c.Service().UnlinkIdentity(r.Context(), who.actor, r.PathValue("id"), r.PathValue("provider"), r.PathValue("subject"))
	if err != nil {
		c.apiError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
