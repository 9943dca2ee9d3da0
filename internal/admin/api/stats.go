package api

import (
	"net/http"

	"github.com/authz/authz/internal/httpjson"
)

// stats serves the dashboard's counts.
func (a *API) stats(w http.ResponseWriter, r *http.Request, _ *caller) {
	st, err := a.Service.Dashboard(r.Context())
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, st)
}
