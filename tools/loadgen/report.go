package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"
)

// Report is the result of one run. Latencies are of successful operations;
// for the login scenario an operation is the whole journey.
type Report struct {
	Scenario  string  `json:"scenario"`
	Target    string  `json:"target"`
	Workers   int     `json:"workers"`
	RateLimit float64 `json:"rate_limit,omitempty"`
	Seconds   float64 `json:"seconds"`
	OK        int     `json:"ok"`
	Errors    int     `json:"errors"`
	PerSecond float64 `json:"ok_per_second"`
	P50ms     float64 `json:"p50_ms"`
	P95ms     float64 `json:"p95_ms"`
	P99ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	// ErrorKinds counts errors by step and status or network failure.
	ErrorKinds map[string]int `json:"error_kinds,omitempty"`
	// UserWaits counts how often a login worker found every seeded user's
	// current one-time code used and waited for the next time step: more
	// users make it zero.
	UserWaits int64 `json:"user_waits,omitempty"`
	// ServerCPUPerOpUs is the CPU time (user and system) the server process
	// spent over the run per successful operation, in µs, when the caller
	// measured it (authz-load bench reads /proc): the load generator's own
	// CPU on the same cores is not in it.
	ServerCPUPerOpUs float64 `json:"server_cpu_us_per_op,omitempty"`
	// DatabaseCPUPerOpUs is, when the caller measured it, the CPU time per
	// successful operation of the PostgreSQL server on the same machine (all
	// its processes): a PostgreSQL store's work, which ServerCPUPerOpUs
	// leaves out.
	DatabaseCPUPerOpUs float64 `json:"database_cpu_us_per_op,omitempty"`
	// LoadCPUPerOpUs is, when the caller measured it, the load generator's
	// own CPU time per successful operation.
	LoadCPUPerOpUs float64 `json:"load_cpu_us_per_op,omitempty"`
}

func newReport(o Options, elapsed time.Duration, results []workerResult) *Report {
	r := &Report{Scenario: o.Scenario, Target: o.Target, Workers: o.Workers, RateLimit: o.Rate,
		Seconds: elapsed.Seconds(), ErrorKinds: map[string]int{}}
	var all []time.Duration
	for _, w := range results {
		all = append(all, w.latencies...)
		for k, n := range w.errors {
			r.ErrorKinds[k] += n
			r.Errors += n
		}
	}
	sortDurations(all)
	r.OK = len(all)
	r.PerSecond = float64(r.OK) / elapsed.Seconds()
	r.P50ms = ms(percentile(all, 50))
	r.P95ms = ms(percentile(all, 95))
	r.P99ms = ms(percentile(all, 99))
	if len(all) > 0 {
		r.MaxMs = ms(all[len(all)-1])
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes r as a table for people, then the errors by kind.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tworkers\tseconds\tok\terrors\tok/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\t")
	fmt.Fprintf(tw, "%s\t%d\t%.1f\t%d\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", r.Scenario, r.Workers, r.Seconds,
		r.OK, r.Errors, r.PerSecond, r.P50ms, r.P95ms, r.P99ms, r.MaxMs)
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.RateLimit > 0 {
		fmt.Fprintf(w, "rate limited to %.0f operations/s\n", r.RateLimit)
	}
	if r.UserWaits > 0 {
		fmt.Fprintf(w, "%d waits for a user with an unused one-time code: seed more users\n", r.UserWaits)
	}
	for _, k := range slices.Sorted(maps.Keys(r.ErrorKinds)) {
		fmt.Fprintf(w, "error %6d × %s\n", r.ErrorKinds[k], k)
	}
	return nil
}
