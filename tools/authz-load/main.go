// Command authz-load drives a running authz over HTTP and measures it.
//
//	authz-load seed [authz configuration flags] [--users N] [--out FILE]
//	authz-load run --target URL --scenario NAME [--duration D] [--workers N] [--rate R] [--seed FILE] [--json]
//	authz-load bench [--authz bin/authz] [--duration D] [--json FILE]
//	authz-load scale [--authz bin/authz] [--scale F] [--duration D] [--json FILE]
//
// seed creates, directly in the store that the configuration flags select
// (the same flags as authz's), the clients and users with enrolled
// authenticators that the scenarios need, and writes their secrets to a JSON
// file. run drives one scenario (client-credentials, introspect, refresh,
// login) and prints requests/s, latency percentiles and errors. bench is what
// `make bench` runs: Go micro-benchmarks, then every scenario against a fresh
// server on SQLite and on PostgreSQL, and one summary against the targets.
// scale is `make bench-scale`: the same scenarios and the admin lists on an
// empty store, then on one seeded with a hundred thousand users and millions
// of tokens and audit events, and the expired-token cleanup under load.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/authz/authz/tools/loadgen"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	stopProfile()
	os.Exit(code)
}

// stopProfile ends a CPU profile started by a build with -tags pprof.
var stopProfile = func() {}

const usageText = `usage:
  authz-load seed [authz configuration flags] [--users N] [--out FILE]
  authz-load run --target URL --scenario NAME [--duration 10s] [--workers 8] [--rate 0] [--seed FILE] [--json]
  authz-load bench [--authz bin/authz] [--duration 10s] [--json FILE]
  authz-load scale [--authz bin/authz] [--scale 1] [--duration 10s] [--backends sqlite,postgres] [--json FILE]

scenarios: client-credentials, introspect, refresh, login
Run 'authz-load <command> -h' for every flag.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "seed":
		err = runSeed(ctx, args[1:], stdout, stderr)
	case "run":
		err = runLoad(ctx, args[1:], stdout, stderr)
	case "bench":
		err = runBench(ctx, args[1:], stdout, stderr)
	case "scale":
		err = runScale(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	default:
		fmt.Fprintf(stderr, "authz-load: unknown command %q\n\n%s", args[0], usageText)
		return exitUsage
	}
	return exitCode(err, stderr)
}

// usageError is a bad argument of the tool itself.
type usageError string

func (e usageError) Error() string { return string(e) }

// errHelp means -h was asked for and answered.
var errHelp = errors.New("help shown")

func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, errHelp) {
		return exitOK
	}
	fmt.Fprintln(stderr, "authz-load:", err)
	var ue usageError
	var le *loadgen.UsageError
	if errors.As(err, &ue) || errors.As(err, &le) || isConfigError(err) {
		return exitUsage
	}
	return exitFail
}
