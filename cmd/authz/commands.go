package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/authz/authz/internal/gcfloor"
	"github.com/authz/authz/internal/oauth"
	"github.com/authz/authz/internal/server"
	"github.com/authz/authz/migrations"
)

func runServe(ctx context.Context, env *environment, args []string) error {
	if len(args) > 0 {
		return usageError("serve takes no arguments")
	}
	app, err := server.Open(ctx, env.cfg, env.log, env.stdout)
	if err != nil {
		return err
	}
	defer app.Close()
	// Started after Open, which returns start-up garbage to the system, so
	// an idle server stays small.
	defer gcfloor.Start(gcfloor.DefaultFloor)()
	return app.Serve(ctx, func(net.Addr) {})
}

// statuser is implemented by both store backends.
type statuser interface {
	MigrationStatus(ctx context.Context) ([]migrations.Status, error)
}

func runMigrate(ctx context.Context, env *environment, args []string) error {
	if len(args) != 1 || (args[0] != "up" && args[0] != "status") {
		return usageError("usage: authz migrate up|status")
	}
	st, err := server.OpenStore(ctx, env.cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if args[0] == "up" {
		if err := st.Migrate(ctx); err != nil {
			return err
		}
		fmt.Fprintln(env.stdout, "migrations applied")
		return nil
	}
	status, err := st.(statuser).MigrationStatus(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
	for _, m := range status {
		applied := "pending"
		if !m.AppliedAt.IsZero() {
			applied = m.AppliedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", m.Version, m.Name, applied)
	}
	return tw.Flush()
}

func runKeys(ctx context.Context, env *environment, args []string) error {
	if len(args) != 1 || args[0] != "rotate" {
		return usageError("usage: authz keys rotate")
	}
	app, err := server.Open(ctx, env.cfg, env.log, env.stdout)
	if err != nil {
		return err
	}
	defer app.Close()
	// Each algorithm kept has a key of its own; all are rotated together.
	for _, alg := range oauth.SigningAlgorithms(env.cfg.SigningAlgorithm) {
		id, activateAt, err := app.Keys.Rotate(ctx, alg, app.RetireAfter())
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "new signing key %s (%s) is published now and signs from %s, once every replica publishes it; older keys stay published for %s after that\n",
			id, alg, activateAt.Local().Format(time.RFC3339), app.RetireAfter())
	}
	return nil
}

func printJSON(env *environment, v any) error {
	enc := json.NewEncoder(env.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
