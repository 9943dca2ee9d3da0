package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/tools/loadgen"
)

func TestProcessesCPUFindsThisProcess(t *testing.T) {
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Skip("no /proc here: ", err)
	}
	for start := time.Now(); time.Since(start) < 30*time.Millisecond; {
		// Use some CPU, so that the figures below are not all zero.
	}
	got := processesCPU(strings.TrimSpace(string(comm)))
	if _, ok := got[os.Getpid()]; !ok {
		t.Fatalf("processesCPU(%q) = %v, missing this process %d", comm, got, os.Getpid())
	}
	if own := ownCPU(); own <= 0 || got[os.Getpid()].own > own {
		t.Errorf("ownCPU = %v, processesCPU gave %v for this process before it", own, got[os.Getpid()])
	}
	if len(processesCPU("no-such-command")) != 0 {
		t.Error("processesCPU found processes of a command that does not run")
	}
}

func TestCPUSince(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	before := map[int]procCPU{1: {own: ms(1000), children: ms(300)}, 2: {own: ms(2000)}, 3: {own: ms(1000), parent: 1}, 5: {own: ms(100), parent: 9}}
	// 1 used 500 ms, and reaped 3, which had used 1000 ms by before and
	// 200 ms since; 4 started and used 250 ms; a PID reused by a new
	// process that has used less than the old one (2) counts whole.
	now := map[int]procCPU{1: {own: ms(1500), children: ms(1500)}, 2: {own: ms(500)}, 4: {own: ms(250)}}
	// 5 ended too, reaped by none of them: lost, and it takes nothing off.
	if got, want := cpuSince(before, now), ms(500+200+250+500); got != want {
		t.Errorf("cpuSince = %v, want %v", got, want)
	}
}

// TestCPUSinceCountsEndedChildren: a process of the same command that
// starts and ends between the two readings, reaped by one that is read,
// counts with the CPU time it used.
func TestCPUSinceCountsEndedChildren(t *testing.T) {
	if os.Getenv("AUTHZ_LOAD_BURN") != "" {
		for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
			// Use CPU for the parent to find in its children's time.
		}
		return
	}
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Skip("no /proc here: ", err)
	}
	name := strings.TrimSpace(string(comm))
	before := processesCPU(name)
	child := exec.Command(os.Args[0], "-test.run=^TestCPUSinceCountsEndedChildren$")
	child.Env = append(os.Environ(), "AUTHZ_LOAD_BURN=1")
	if out, err := child.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	used := child.ProcessState.UserTime() + child.ProcessState.SystemTime()
	// /proc counts in clock ticks, the child's own figure is exact.
	if got, tick := cpuSince(before, processesCPU(name)), time.Second/userHZ; got < used-2*tick {
		t.Errorf("cpuSince = %v, want at least the ended child's %v", got, used)
	}
}

func TestLocalDatabase(t *testing.T) {
	for url, want := range map[string]bool{
		"postgres://postgres@127.0.0.1:5432/db?sslmode=disable": true,
		"postgres://u:p@localhost/db":                           true,
		"postgres://u@[::1]:5432/db":                            true,
		"postgres:///db?host=/var/run/postgresql":               true,
		"postgres://u@db.example.com:5432/db":                   false,
		"postgres://u@10.0.0.5/db":                              false,
		"postgres://u@db.example.com/db?host=127.0.0.1.evil":    false,
		"::not a url": false,
	} {
		if got := localDatabase(url); got != want {
			t.Errorf("localDatabase(%q) = %v, want %v", url, got, want)
		}
	}
}

// TestSummaryOtherCPU: the database and load generator rows show the
// measured figures without a verdict, SQLite's database work as the
// server's, and a remote database as not measured.
func TestSummaryOtherCPU(t *testing.T) {
	login := func(db, load float64) map[string]*loadgen.Report {
		return map[string]*loadgen.Report{loadgen.Login: {PerSecond: 40, DatabaseCPUPerOpUs: db, LoadCPUPerOpUs: load}}
	}
	r := &benchResults{GOMAXPROCS: 2, Backends: []*backendResult{
		{Backend: "sqlite", Runs: login(0, 1500)},
		{Backend: "postgres", Runs: login(4300, 1600)},
		{Backend: "postgres-es256", Runs: login(0, 1700)},
	}}
	var out strings.Builder
	r.summarize(&out)
	for name, want := range map[string][]string{
		"  login: database CPU µs/op":       {"in", "server", "4300", "not", "local"},
		"  login: load generator CPU µs/op": {"1500", "1600", "1700"},
	} {
		var got []string
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, name) {
				got = strings.Fields(strings.TrimPrefix(l, name))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q in\n%s", name, got, want, out.String())
		}
	}
}
