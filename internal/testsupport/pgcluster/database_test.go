package pgcluster_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/testsupport/pgcluster"
	"github.com/authz/authz/internal/testsupport/pgtest"
)

// CreateDatabase makes a database of its own from a server URL in either
// form, and drop removes it even while a connection to it is open.
func TestCreateDatabase(t *testing.T) {
	server := pgtest.URL(t)
	cfg, err := pgx.ParseConfig(server)
	if err != nil {
		t.Fatal(err)
	}
	keyValue := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", cfg.Host, cfg.Port, cfg.User, cfg.Database)
	if cfg.Password != "" {
		keyValue += " password=" + cfg.Password
	}
	for name, serverURL := range map[string]string{"url": server, "key=value": keyValue} {
		t.Run(name, func(t *testing.T) {
			// DROP DATABASE waits for an immediate checkpoint. On a server
			// other test packages are writing to, that took over a minute in
			// one CI run: the deadline only stops a hang.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			dbURL, drop, err := pgcluster.CreateDatabase(ctx, serverURL, "authz_cd_")
			if err != nil {
				t.Fatal(err)
			}
			conn, err := pgx.Connect(ctx, dbURL)
			if err != nil {
				t.Fatalf("connect to the new database: %v", err)
			}
			defer conn.Close(ctx)
			var db string
			if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(db, "authz_cd_") || db == cfg.Database {
				t.Fatalf("connected to %q, want a new authz_cd_ database", db)
			}
			if err := drop(ctx); err != nil {
				t.Fatalf("drop with a connection open: %v", err)
			}
			if c, err := pgx.Connect(ctx, dbURL); err == nil {
				c.Close(ctx)
				t.Fatal("the dropped database still accepts connections")
			}
		})
	}
}

// CreateSchema gives a test tables of its own in a shared database: what one
// schema's sessions create, another's do not see, and drop removes it all.
func TestCreateSchema(t *testing.T) {
	server := os.Getenv(pgtest.EnvURL)
	pgtest.URL(t) // skips or fails as every PostgreSQL test does without a server
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, dropA, err := pgcluster.CreateSchema(ctx, server, "authz_cs_")
	if err != nil {
		t.Fatal(err)
	}
	b, dropB, err := pgcluster.CreateSchema(ctx, server, "authz_cs_")
	if err != nil {
		t.Fatal(err)
	}
	defer dropB(ctx)
	connA, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer connA.Close(ctx)
	if _, err := connA.Exec(ctx, `CREATE TABLE mine (x int)`); err != nil {
		t.Fatal(err)
	}
	connB, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer connB.Close(ctx)
	if _, err := connB.Exec(ctx, `SELECT * FROM mine`); err == nil {
		t.Fatal("another schema's session sees the table")
	}
	var app string
	if err := connA.QueryRow(ctx, `SELECT current_setting('application_name')`).Scan(&app); err != nil || !strings.HasPrefix(app, "authz_cs_") {
		t.Fatalf("application_name %q, %v: want the schema's name", app, err)
	}
	if err := dropA(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := connB.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, app).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after drop: %d schemas named %s, %v", n, app, err)
	}
}
