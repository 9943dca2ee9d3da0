package api

import (
	"net/http"
	"time"

	"github.com/authz/authz/internal/httpjson"
)

// apiIdentity is a linked upstream identity in the API.
type apiIdentity struct {
	Provider string    `json:"provider"`
	Subject  string    `json:"subject"`
	LinkedAt time.Time `json:"linked_at"`
}

func (a *API) listIdentities(w http.ResponseWriter, r *http.Request, _ *caller) {
	pg, ok := readQuery(w, r)
	if !ok {
		return
	}
	ids, err := a.Service.Identities(r.Context(), r.PathValue("id"))
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	out := list[apiIdentity]{Items: []apiIdentity{}, Total: len(ids), Offset: pg.offset, Limit: pg.limit}
	for _, fi := range window(ids, pg.offset, pg.limit) {
		out.Items = append(out.Items, apiIdentity{Provider: fi.ProviderAlias, Subject: fi.Subject, LinkedAt: fi.CreatedAt})
	}
	httpjson.Write(w, http.StatusOK, out)
}

func (a *API) linkIdentity(w http.ResponseWriter, r *http.Request, who *caller) {
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
	fi, err := a.Service.LinkIdentity(r.Context(), who.actor, id, *provider, *subject)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, apiIdentity{Provider: fi.ProviderAlias, Subject: fi.Subject, LinkedAt: fi.CreatedAt})
}

func (a *API) unlinkIdentity(w http.ResponseWriter, r *http.Request, who *caller) {
	err := a.Service.UnlinkIdentity(r.Context(), who.actor, r.PathValue("id"), r.PathValue("provider"), r.PathValue("subject"))
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
