package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// microPackages hold the hot-path benchmarks; microPattern picks them.
var microPackages = []string{
	"./internal/password", "./internal/mfa", "./internal/oauth", "./internal/server",
	"./internal/store/sqlite", "./internal/store/postgres",
}

const microPattern = `^(BenchmarkArgon2id|BenchmarkVerify|BenchmarkSignIDToken|BenchmarkTokenClientCredentials|BenchmarkIntrospect|BenchmarkTokenRequests)$`

// microResult is one benchmark's line.
type microResult struct {
	Package string             `json:"package"`
	Name    string             `json:"name"`
	NsPerOp float64            `json:"ns_per_op"`
	Extra   map[string]float64 `json:"extra,omitempty"` // other per-op units, such as conflicts/op
}

// runMicro runs the micro-benchmarks with the go command, PostgreSQL ones on
// o.adminURL when set (they skip otherwise).
func runMicro(ctx context.Context, o *benchOptions, stderr io.Writer) ([]microResult, error) {
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	args := append([]string{"test", "-run", "^$", "-bench", microPattern, "-benchtime", "1s", "-count", "1"}, microPackages...)
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Env = os.Environ()
	if o.adminURL != "" {
		cmd.Env = append(cmd.Env, "AUTHZ_TEST_DATABASE_URL="+o.adminURL)
	}
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, stderr)
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("micro-benchmarks (%s %s): %w", goCmd, strings.Join(args, " "), err)
	}
	return parseBench(&out), nil
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op(.*)$`)

// parseBench reads `go test -bench` output.
func parseBench(r io.Reader) []microResult {
	var res []microResult
	pkg := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(p, "github.com/authz/authz/")
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ns, err := strconv.ParseFloat(m[2], 64)
		if err != nil || math.IsInf(ns, 0) {
			continue
		}
		res = append(res, microResult{Package: pkg, Name: strings.TrimPrefix(m[1], "Benchmark"), NsPerOp: ns, Extra: extraUnits(m[3])})
	}
	return res
}

// extraUnits parses the "value unit" pairs after ns/op, leaving out the
// memory ones.
func extraUnits(rest string) map[string]float64 {
	f := strings.Fields(rest)
	out := map[string]float64{}
	for i := 0; i+1 < len(f); i += 2 {
		if f[i+1] == "B/op" || f[i+1] == "allocs/op" {
			continue
		}
		if v, err := strconv.ParseFloat(f[i], 64); err == nil {
			out[f[i+1]] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
