package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/authz/authz/tools/loadgen"
)

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("authz-load run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "issuer URL of the authz to drive, such as http://127.0.0.1:8080 (required)")
	scenario := fs.String("scenario", "", "one of "+strings.Join(loadgen.Scenarios, ", ")+" (required)")
	duration := fs.String("duration", "10s", "how long to drive the server")
	workers := fs.Int("workers", 8, "concurrent workers")
	rate := fs.Float64("rate", 0, "cap on operations per second of all workers together (0: none)")
	seedPath := fs.String("seed", "authz-load-seed.json", "seed file written by authz-load seed")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	d, err := time.ParseDuration(*duration)
	if err != nil {
		return usageError(fmt.Sprintf("bad duration %q: want a Go duration such as 10s or 1m", *duration))
	}
	opts := loadgen.Options{Target: *target, Scenario: *scenario, Workers: *workers, Duration: d, Rate: *rate}
	if err := opts.ValidateSettings(); err != nil {
		return err
	}
	if opts.Seed, err = loadgen.ReadSeedFile(*seedPath); err != nil {
		return usageError(err.Error() + " (run authz-load seed first)")
	}
	report, err := loadgen.Run(ctx, opts)
	if err != nil {
		return err
	}
	// The seed remembers which time step each user's code was used in, so the
	// next run on it does not replay a code.
	if err := loadgen.WriteSeedFile(*seedPath, opts.Seed); err != nil {
		return err
	}
	if *asJSON {
		return report.WriteJSON(stdout)
	}
	return report.WriteTable(stdout)
}
