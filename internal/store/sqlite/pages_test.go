package sqlite

import (
	"strings"
	"testing"
)

// TestUsersByPrefixPlan: on a store with statistics, both branches of the
// prefix search are index ranges (the username and the e-mail index), never
// a walk of the whole username index.
func TestUsersByPrefixPlan(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	// Enough users for the planner to weigh walking the username index
	// (it does, at ten thousand, without the unary +).
	if _, err := s.write.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999)
		INSERT INTO users (id, username, email) SELECT printf('id%05d', i), printf('user-%05d', i), printf('user-%05d@example.com', i) FROM n;
		ANALYZE`); err != nil {
		t.Fatal(err)
	}
	rows, err := s.write.QueryContext(ctx, `EXPLAIN QUERY PLAN `+usersByPrefix, "", 21, "user-001", maxRune)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	all := strings.Join(plan, "\n")
	for _, want := range []string{"USING COVERING INDEX users_username_lower (<expr>>? AND <expr><?)", "USING INDEX users_email_lower (<expr>>? AND <expr><?)"} {
		if !strings.Contains(all, want) {
			t.Errorf("plan lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "SCAN users") || strings.Contains(all, "users_username_lower (<expr>>?)\n") {
		t.Errorf("plan walks a whole index:\n%s", all)
	}
}
