package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// auditTypes are the event types offered in the filter.
func auditTypes() []string {
	var out []string
	for _, t := range audit.Types() {
		out = append(out, string(t))
	}
	return out
}

// Layouts of the audit filter's times: what datetime-local inputs send,
// with or without seconds.
var filterTimeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05"}

// auditLog serves GET /admin/audit?user=&type=&since=&until=&after=.
func (c *Console) auditLog(w http.ResponseWriter, r *http.Request, _ *principal) {
	q := r.URL.Query()
	d := views.AdminAuditData{User: cleanQuery(q.Get("user")), Type: cleanQuery(q.Get("type")),
		Since: cleanQuery(q.Get("since")), Until: cleanQuery(q.Get("until")), Types: auditTypes()}
	query, err := c.auditQuery(r.Context(), d)
	if err == nil {
		err = c.fillAudit(r.Context(), &d, query, listPage(q))
	}
	if c.badPage(w, r, err) {
		return
	}
	if e := admin.AsError(err); e != nil {
		d.Error = e.Text(r.Context())
		status, _ := kindStatus(e.Kind)
		c.render(w, r, status, views.AdminAuditPage(d))
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, views.AdminAuditPage(d))
}

// auditQuery reads the filter. A user is found by ID or username; a key that
// names nobody is taken as the ID of a deleted user, whose events remain.
// Times are in the configured time zone, as the page shows them.
func (c *Console) auditQuery(ctx context.Context, d views.AdminAuditData) (admin.AuditQuery, error) {
	q := admin.AuditQuery{Type: d.Type, UserID: d.User}
	if d.User != "" {
		u, err := c.Service.FindUser(ctx, d.User)
		switch e := admin.AsError(err); {
		case err == nil:
			q.UserID = u.ID
		case e == nil || e.Kind != admin.KindNotFound:
			return q, err
		}
	}
	var err error
	if q.Since, err = filterTime(ctx, "since", "admin.audit.from", d.Since); err != nil {
		return q, err
	}
	q.Until, err = filterTime(ctx, "until", "admin.audit.until", d.Until)
	return q, err
}

// filterTime reads the time v of the filter's field, in ctx's time zone;
// label is the catalog ID of the field's name.
func filterTime(ctx context.Context, field, label, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range filterTimeLayouts {
		if t, err := time.ParseInLocation(layout, v, i18n.Zone(ctx)); err == nil {
			return t, nil
		}
	}
	return time.Time{}, admin.NewError(admin.KindInvalid, field, i18n.M("admin.audit.bad_time", "Label", i18n.M(label)))
}

// fillAudit puts page pg of the events matching query into d, with names for
// the IDs in them.
func (c *Console) fillAudit(ctx context.Context, d *views.AdminAuditData, query admin.AuditQuery, pg store.Page) error {
	events, next, err := c.Service.ListAudit(ctx, query, pg)
	if err != nil {
		return err
	}
	names := auditNames{st: c.Store, users: map[string]string{}, clients: map[string]string{}}
	for _, e := range events {
		row := views.AdminAuditRow{Time: i18n.FormatTimeSeconds(ctx, e.Time), Type: e.Type, IP: e.IP, Detail: e.Detail}
		if row.Actor, err = names.actor(ctx, e.ActorID); err != nil {
			return err
		}
		if row.User, err = names.user(ctx, e.UserID); err != nil {
			return err
		}
		if row.Client, err = names.client(ctx, e.ClientID); err != nil {
			return err
		}
		d.Events = append(d.Events, row)
	}
	filter := url.Values{"user": {d.User}, "type": {d.Type}, "since": {d.Since}, "until": {d.Until}}
	d.FirstHref, d.NextHref = pageLinks("/admin/audit", filter, pg, next)
	return nil
}

// auditNames shows the IDs in audit events as usernames and application
// names, reading each user and client once a page.
type auditNames struct {
	st      store.Store
	users   map[string]string
	clients map[string]string
}

func (n auditNames) user(ctx context.Context, id string) (string, error) {
	return lookupName(ctx, n.users, id, func(ctx context.Context) (string, error) {
		u, err := n.st.GetUser(ctx, id)
		if err != nil {
			return "", err
		}
		return u.Username, nil
	})
}

func (n auditNames) client(ctx context.Context, id string) (string, error) {
	return lookupName(ctx, n.clients, id, func(ctx context.Context) (string, error) {
		c, err := n.st.GetClient(ctx, id)
		if err != nil {
			return "", err
		}
		return c.Name, nil
	})
}

// lookupName is the cached name of id, or the ID marked deleted when the
// object is gone; audit events outlive what they are about.
func lookupName(ctx context.Context, cache map[string]string, id string, get func(context.Context) (string, error)) (string, error) {
	if id == "" {
		return "", nil
	}
	if name, ok := cache[id]; ok {
		return name, nil
	}
	name, err := get(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		name = i18n.T(ctx, "admin.audit.deleted", "ID", id)
	case err != nil:
		return "", err
	}
	cache[id] = name
	return name, nil
}

// actor names who did something: a user, a client with an admin token, or
// the system (the CLI, a background job, a login before anyone is known).
func (n auditNames) actor(ctx context.Context, id string) (string, error) {
	if client, ok := strings.CutPrefix(id, "client:"); ok {
		return i18n.T(ctx, "admin.audit.actor_client", "Client", client), nil
	}
	if id == "" {
		return i18n.T(ctx, "admin.audit.actor_system"), nil
	}
	return n.user(ctx, id)
}
