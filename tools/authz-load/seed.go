package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/authz/authz/internal/config"
	"github.com/authz/authz/internal/server"
	"github.com/authz/authz/tools/loadgen"
)

// defaultUsers covers 30 s of logins at the rate two cores allow with the
// default argon2id cost, so a worker rarely waits for a fresh time step.
const defaultUsers = 3000

func runSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("authz-load seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	loader := config.Register(fs)
	users := fs.Int("users", defaultUsers, "users to create, each with an enrolled authenticator")
	out := fs.String("out", "authz-load-seed.json", "file to write the clients' and users' secrets to (- for standard output)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *users < 1 || *users > 1_000_000 {
		return usageError(fmt.Sprintf("--users %d: want 1 to 1000000", *users))
	}
	cfg, err := loader.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := seed(ctx, cfg, log, stderr, *users)
	if err != nil {
		return err
	}
	if *out == "-" {
		return writeJSON(stdout, s)
	}
	if err := loadgen.WriteSeedFile(*out, s); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded 2 clients and %d users into the store; secrets in %s\n", len(s.Users), *out)
	return nil
}

// seed opens the store the way authz does (migrating it, creating the
// bootstrap administrator on a fresh one) and fills it.
func seed(ctx context.Context, cfg *config.Config, log *slog.Logger, console io.Writer, users int) (*loadgen.SeedFile, error) {
	app, err := server.Open(ctx, cfg, log, console)
	if err != nil {
		return nil, err
	}
	defer app.Close()
	s, err := loadgen.Seed(ctx, app, users)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	return s, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parse parses flags, turning -h into errHelp and bad flags into usage errors
// (the flag package has printed the details already).
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return errHelp
	case err != nil:
		return usageError("bad arguments")
	case fs.NArg() > 0:
		return usageError(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	return nil
}

func isConfigError(err error) bool {
	var ce *config.Error
	return errors.As(err, &ce)
}
