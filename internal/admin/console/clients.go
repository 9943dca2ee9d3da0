package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

func clientPath(id string) string { return "/admin/clients/" + url.PathEscape(id) }

func (c *Console) registerClients(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/clients", c.guard(c.listClients))
	mux.HandleFunc("GET /admin/clients/new", c.guard(c.newClient))
	mux.HandleFunc("POST /admin/clients", c.guardPost(c.createClient))
	mux.HandleFunc("GET /admin/clients/{id}", c.guard(c.showClient))
	mux.HandleFunc("POST /admin/clients/{id}", c.guardPost(c.updateClient))
	mux.HandleFunc("POST /admin/clients/{id}/rotate-secret", c.guardPost(c.rotateClientSecret))
	mux.HandleFunc("POST /admin/clients/{id}/disable", c.guardPost(c.setClientDisabled(true)))
	mux.HandleFunc("POST /admin/clients/{id}/enable", c.guardPost(c.setClientDisabled(false)))
	mux.HandleFunc("POST /admin/clients/{id}/delete", c.guardPost(c.deleteClient))
}

// listClients serves GET /admin/clients?q=&after=.
func (c *Console) listClients(w http.ResponseWriter, r *http.Request, _ *principal) {
	query, pg := cleanQuery(r.URL.Query().Get("q")), listPage(r.URL.Query())
	clients, next, err := c.Service.ListClients(r.Context(), admin.ClientFilter{Query: query}, pg)
	if c.badPage(w, r, err) {
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := views.AdminClientsData{Query: query, Notice: pageNotice(r.Context(), r.URL.Query(), clientNotices)}
	for _, cl := range clients {
		d.Clients = append(d.Clients, views.AdminClientRow{Href: clientPath(cl.ID), Name: cl.Name, ID: cl.ID,
			Type: admin.ClientType(cl), Enabled: !cl.Disabled, RedirectURIs: strings.Join(cl.RedirectURIs, " ")})
	}
	d.FirstHref, d.NextHref = pageLinks("/admin/clients", url.Values{"q": {query}}, pg, next)
	c.render(w, r, http.StatusOK, views.AdminClientsPage(d))
}

// newClient serves the empty add-application form, set for a typical web
// application.
func (c *Console) newClient(w http.ResponseWriter, r *http.Request, p *principal) {
	f := views.AdminClientForm{Type: admin.TypeConfidential, Scopes: strings.Join(admin.DefaultClientScopes(), " "),
		GrantAuthorizationCode: true, GrantRefreshToken: true}
	c.render(w, r, http.StatusOK, views.AdminNewClientPage(views.AdminClientData{CSRF: p.csrf, Action: "/admin/clients", New: true, Form: f}))
}

// createClient serves POST /admin/clients. Its answer is the page with the
// secret, not a redirect: the secret must not travel in a URL or be stored
// to show it again.
func (c *Console) createClient(w http.ResponseWriter, r *http.Request, p *principal) {
	f := readClientForm(r)
	patch := clientPatchOfForm(f)
	patch.Type = &f.Type
	cl, secret, err := c.Service.CreateClient(r.Context(), p.actor(), patch)
	if e := admin.AsError(err); e != nil {
		status, _ := kindStatus(e.Kind)
		c.render(w, r, status, views.AdminNewClientPage(views.AdminClientData{CSRF: p.csrf, Action: "/admin/clients", New: true, Form: f, Error: e.Text(r.Context())}))
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusCreated, views.AdminClientSecretPage(views.AdminClientSecretData{
		Title: i18n.T(r.Context(), "admin.client.created"), Name: cl.Name, ID: cl.ID, Secret: secret, Href: clientPath(cl.ID)}))
}

// showClient serves the edit-application page.
func (c *Console) showClient(w http.ResponseWriter, r *http.Request, p *principal) {
	cl, err := c.Service.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		c.refuse(w, r, err, "/admin/clients", "admin.back_clients")
		return
	}
	d := clientPage(r.Context(), p, cl)
	d.Notice = pageNotice(r.Context(), r.URL.Query(), clientNotices)
	c.render(w, r, http.StatusOK, views.AdminClientPage(d))
}

func clientPage(ctx context.Context, p *principal, cl *store.Client) views.AdminClientData {
	return views.AdminClientData{CSRF: p.csrf, Action: clientPath(cl.ID), ID: cl.ID, Form: clientFormOf(cl),
		Disabled: cl.Disabled, Created: i18n.FormatTime(ctx, cl.CreatedAt), Updated: i18n.FormatTime(ctx, cl.UpdatedAt)}
}

// clientNotices are the messages of ?notice=key on the application pages.
var clientNotices = map[string]string{
	"saved":     "admin.notice.saved",
	"unchanged": "admin.notice.unchanged",
	"disabled":  "admin.notice.client_disabled",
	"enabled":   "admin.notice.client_enabled",
	"deleted":   "admin.notice.client_deleted",
}

// pageNotice is the message of ids for ?notice=key after a redirect, or "".
// Unknown keys say nothing: the query is the visitor's to change.
func pageNotice(ctx context.Context, q url.Values, ids map[string]string) string {
	if id := ids[q.Get("notice")]; id != "" {
		return i18n.T(ctx, id)
	}
	return ""
}

// updateClient serves POST /admin/clients/{id}, the edit form.
func (c *Console) updateClient(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	f := readClientForm(r)
	changed, err := c.Service.UpdateClient(r.Context(), p.actor(), id, clientPatchOfForm(f))
	switch {
	case err != nil:
		c.showClientWith(w, r, p, id, &f, err)
	case changed:
		http.Redirect(w, r, clientPath(id)+"?notice=saved", http.StatusSeeOther)
	default:
		http.Redirect(w, r, clientPath(id)+"?notice=unchanged", http.StatusSeeOther)
	}
}

// showClientWith renders the edit page of client id with the form as typed
// (nil: as stored) and the refusal err.
func (c *Console) showClientWith(w http.ResponseWriter, r *http.Request, p *principal, id string, f *views.AdminClientForm, err error) {
	e := admin.AsError(err)
	cl, gerr := c.Service.GetClient(r.Context(), id)
	if e == nil || gerr != nil {
		c.refuse(w, r, err, "/admin/clients", "admin.back_clients")
		return
	}
	d := clientPage(r.Context(), p, cl)
	if f != nil {
		f.Type = d.Form.Type
		d.Form = *f
	}
	d.Error = e.Text(r.Context())
	status, _ := kindStatus(e.Kind)
	c.render(w, r, status, views.AdminClientPage(d))
}

// rotateClientSecret serves POST /admin/clients/{id}/rotate-secret and shows
// the new secret once.
func (c *Console) rotateClientSecret(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	secret, err := c.Service.RotateSecret(r.Context(), p.actor(), id)
	if err != nil {
		c.showClientWith(w, r, p, id, nil, err)
		return
	}
	cl, err := c.Service.GetClient(r.Context(), id)
	if err != nil {
		c.refuse(w, r, err, "/admin/clients", "admin.back_clients")
		return
	}
	c.render(w, r, http.StatusOK, views.AdminClientSecretPage(views.AdminClientSecretData{
		Title: i18n.T(r.Context(), "admin.client.rotated"), Name: cl.Name, ID: cl.ID, Secret: secret, Href: clientPath(cl.ID)}))
}

// setClientDisabled serves the disable and enable buttons.
func (c *Console) setClientDisabled(disabled bool) handler {
	notice := "enabled"
	if disabled {
		notice = "disabled"
	}
	return func(w http.ResponseWriter, r *http.Request, p *principal) {
		id := r.PathValue("id")
		if _, err := c.Service.UpdateClient(r.Context(), p.actor(), id, admin.ClientPatch{Disabled: &disabled}); err != nil {
			c.showClientWith(w, r, p, id, nil, err)
			return
		}
		http.Redirect(w, r, clientPath(id)+"?notice="+notice, http.StatusSeeOther)
	}
}

// deleteClient serves POST /admin/clients/{id}/delete, asking first.
func (c *Console) deleteClient(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	if r.PostFormValue("confirm") != "yes" {
		cl, err := c.Service.GetClient(r.Context(), id)
		if err != nil {
			c.refuse(w, r, err, "/admin/clients", "admin.back_clients")
			return
		}
		ctx := r.Context()
		c.render(w, r, http.StatusOK, views.AdminConfirmPage(views.AdminConfirmData{
			Title: i18n.T(ctx, "admin.client.delete"), CSRF: p.csrf, Action: clientPath(id) + "/delete", Cancel: clientPath(id),
			Question: i18n.T(ctx, "admin.confirm.delete_client", "Name", cl.Name),
		}))
		return
	}
	if err := c.Service.DeleteClient(r.Context(), p.actor(), id); err != nil {
		c.refuse(w, r, err, "/admin/clients", "admin.back_clients")
		return
	}
	http.Redirect(w, r, "/admin/clients?notice=deleted", http.StatusSeeOther)
}
