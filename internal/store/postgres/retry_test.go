package postgres_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/store/postgres"
)

// lose makes the next times writes of event (INSERT or UPDATE) to table fail
// with SQLSTATE code, as PostgreSQL fails a transaction that lost to a
// concurrent one, and returns how many such writes were attempted so far. The
// count lives in a sequence, which a rollback does not undo.
func lose(t *testing.T, s *postgres.Store, table, event string, times int, code string) (attempts func() int) {
	t.Helper()
	ctx := t.Context()
	for _, sql := range []string{
		`CREATE SEQUENCE IF NOT EXISTS lost_writes MINVALUE 0 START 0`,
		`CREATE OR REPLACE FUNCTION lose() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF nextval('lost_writes') < TG_ARGV[0]::int THEN
				RAISE EXCEPTION 'lost on purpose' USING ERRCODE = TG_ARGV[1];
			END IF;
			RETURN NEW;
		END $$`,
		`CREATE TRIGGER lose BEFORE ` + event + ` ON ` + table + `
			FOR EACH ROW EXECUTE FUNCTION lose('` + strconv.Itoa(times) + `', '` + code + `')`,
	} {
		if _, err := s.Pool().Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	return func() int {
		var n int
		if err := s.Pool().QueryRow(ctx, `SELECT CASE WHEN is_called THEN last_value + 1 ELSE 0 END FROM lost_writes`).Scan(&n); err != nil {
			t.Fatalf("count attempts: %v", err)
		}
		return n
	}
}

// Outside a transaction a method is its own transaction, which the store
// runs again when it loses: a single statement (Exec and QueryRow alike)
// and a method's own multi-statement transaction.
func TestOutsideTxLostWritesRunAgain(t *testing.T) {
	ctx := t.Context()
	now := time.Now().UTC()
	for _, c := range []struct {
		name, table, event, code string
		call                     func(s *postgres.Store) error
		check                    func(t *testing.T, s *postgres.Store)
	}{
		{"Exec", "users", "UPDATE", "40001", func(s *postgres.Store) error {
			u := newUser("alice")
			if err := s.CreateUser(ctx, u); err != nil {
				return err
			}
			u.FirstName = "Alice"
			return s.UpdateUser(ctx, u)
		}, nil},
		{"QueryRow", "audit_events", "INSERT", "40P01", func(s *postgres.Store) error {
			e := &store.AuditEvent{Time: now, Type: "user.created"}
			if err := s.AppendAudit(ctx, e); err != nil {
				return err
			}
			if e.ID == 0 {
				return errors.New("AppendAudit set no ID")
			}
			return nil
		}, nil},
		{"Batch", "audit_events", "INSERT", "40001", func(s *postgres.Store) error {
			u := newUser("alice")
			if err := s.CreateUser(ctx, u); err != nil {
				return err
			}
			sess := &store.Session{ID: "s1", UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			return s.SignIn(ctx, "", sess, &store.AuditEvent{Time: now, Type: "login.success", UserID: u.ID})
		}, func(t *testing.T, s *postgres.Store) {
			// A lost batch took its session and last login back with it, or
			// the next run's insert of the same session would conflict.
			if _, err := s.GetSession(ctx, "s1", now); err != nil {
				t.Errorf("the signed-in session: %v", err)
			}
			if _, n, err := s.ListAudit(ctx, store.AuditFilter{}); err != nil || n != 1 {
				t.Errorf("%d audit events (%v), want the one sign-in", n, err)
			}
		}},
		{"OwnTransaction", "throttles", "INSERT", "40001", func(s *postgres.Store) error {
			_, err := s.AddFailure(ctx, "otp:alice", now, func(int) time.Duration { return 0 })
			return err
		}, func(t *testing.T, s *postgres.Store) {
			// The lost runs were rolled back: one call counts one failure.
			if th, err := s.GetThrottle(ctx, "otp:alice"); err != nil || th.Failures != 1 {
				t.Errorf("throttle after one AddFailure = %+v, %v; want 1 failure", th, err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			attempts := lose(t, s, c.table, c.event, 2, c.code)
			if err := c.call(s); err != nil {
				t.Fatalf("with two lost runs: %v", err)
			}
			if got := attempts(); got != 3 {
				t.Errorf("%d attempts, want 3", got)
			}
			if c.check != nil {
				c.check(t, s)
			}
		})
	}
}

// A statement that keeps losing gives up after store.TxAttempts runs with an
// error that says both why and that the store cannot do it now.
func TestOutsideTxGivesUp(t *testing.T) {
	s := newStore(t)
	u := newUser("alice")
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	attempts := lose(t, s, "users", "UPDATE", 1<<30, "40001")
	err := s.UpdateUser(t.Context(), u)
	if !errors.Is(err, store.ErrRetry) || !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("UpdateUser that always loses: %v, want ErrRetry and ErrUnavailable", err)
	}
	if errors.Is(err, store.ErrConflict) {
		t.Errorf("UpdateUser that always loses: %v, contention taken for a conflict", err)
	}
	if got := attempts(); got != store.TxAttempts {
		t.Errorf("%d attempts, want store.TxAttempts = %d", got, store.TxAttempts)
	}
}

// Inside a transaction the method does not run again by itself: the
// transaction is lost whole, and the caller's InTx runs it again.
func TestInsideTxLostWriteRunsTxAgain(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	u := newUser("alice")
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	attempts := lose(t, s, "users", "UPDATE", 1, "40P01")
	runs := 0
	err := store.InTx(ctx, s, func(ctx context.Context) error {
		runs++
		return s.UpdateUser(ctx, u)
	})
	if err != nil {
		t.Fatal(err)
	}
	if runs != 2 || attempts() != 2 {
		t.Errorf("transaction ran %d times, the statement %d; want 2 each", runs, attempts())
	}
}

func newUser(name string) *store.User {
	now := time.Now().UTC()
	return &store.User{ID: store.NewID(), Username: name, Enabled: true, Role: store.RoleUser, CreatedAt: now, UpdatedAt: now}
}
