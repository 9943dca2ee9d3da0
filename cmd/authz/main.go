// Command authz is the authz OpenID Connect / OAuth 2.0 authorization server.
//
//	authz serve                      run the server
//	authz migrate up|status          apply or list database migrations
//	authz keys rotate                add a new signing key of each algorithm
//	authz client create|list|delete|rotate-secret
//	authz admin user|client|idp list|get|create|update|delete|…
//	authz version
//
// Every command takes the configuration flags; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/authz/authz/internal/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// exit codes
const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one sub-command.
type command struct {
	name  string
	usage string
	run   func(ctx context.Context, env *environment, args []string) error
}

var commands = []command{
	{"serve", "run the server", runServe},
	{"migrate", "migrate up|status: apply or list database migrations", runMigrate},
	{"keys", "keys rotate: add a new signing key of each algorithm", runKeys},
	{"client", "client create|list|delete|rotate-secret: manage relying applications", runClient},
	{"admin", "admin user|client|idp <action>: manage users, applications and upstream providers", runAdmin},
	{"version", "print the version", func(_ context.Context, env *environment, _ []string) error {
		fmt.Fprintln(env.stdout, "authz", version)
		return nil
	}},
}

// environment is what a command gets besides its arguments.
type environment struct {
	cfg    *config.Config
	log    *slog.Logger
	stdout io.Writer
	stderr io.Writer
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: authz <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "\nRun 'authz <command> -h' for the flags.")
}

// run is the whole command short of the process: args without the program
// name, the environment as lookupEnv reads it (os.LookupEnv in main), and
// the exit status as its result. Cancelling ctx is what SIGINT and SIGTERM do.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitConfig
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		// Asked for: the usage is the answer, on stdout, and no error.
		usage(stdout)
		return 0
	}
	var cmd *command
	for i := range commands {
		if commands[i].name == args[0] {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "authz: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitConfig
	}
	fs := flag.NewFlagSet("authz "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	loader := config.Register(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitConfig
	}
	cfg, err := loader.Load(lookupEnv)
	if err != nil {
		fmt.Fprintln(stderr, "authz:", err)
		return exitConfig
	}
	env := &environment{cfg: cfg, log: newLogger(cfg, stderr), stdout: stdout, stderr: stderr}
	if err := cmd.run(ctx, env, fs.Args()); err != nil {
		fmt.Fprintln(stderr, "authz:", oneLine(err))
		var ce *config.Error
		var ue usageError
		if errors.As(err, &ce) || errors.As(err, &ue) {
			return exitConfig
		}
		return exitFail
	}
	return exitOK
}

// usageError is a wrong sub-command argument.
type usageError string

func (e usageError) Error() string { return string(e) }

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// oneLine folds a multi-line error (pgx lists every address it tried) into the
// single line an operator reads first.
func oneLine(err error) string {
	var parts []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" && !slices.Contains(parts, line) {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, "; ")
}
