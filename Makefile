# authz — the two commands that matter on a fresh machine with Go installed:
#   make run    serve on the embedded SQLite store in ./data
#   make test   run the whole test suite
GO        ?= go
# go.mod's toolchain line names the Go release with the latest security
# fixes (govulncheck checks the standard library too); auto lets an older
# installed go fetch it from the module proxy, as go does by default.
export GOTOOLCHAIN ?= auto
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
# Four test packages and four tests of a package at a time: most wait on
# PostgreSQL or Chromium, not on the two cores, so running more side by side
# overlaps the waits. make lint runs go vet; go test's own vet pass is off.
#
# -race turns on checkptr, which checks every unsafe.Pointer conversion. The
# SQLite driver is C translated to Go (modernc.org/...): pointer arithmetic on
# every step of every statement, where checkptr doubled the CPU of each SQLite
# test. It is kept for all other code; the race detector itself covers all.
TEST_FLAGS ?= -timeout 20m -p 4 -parallel 4 -vet=off -gcflags='modernc.org/...=-d=checkptr=0'
# The server is built static: no libc or dynamic loader to map (1.4 MB less
# resident memory at idle), and it runs on any Linux. Names resolve with Go's
# own resolver, which reads /etc/hosts and /etc/resolv.conf.
STATIC    := CGO_ENABLED=0

.PHONY: run build test generate lint fmt-check generate-check tidy-check vulncheck bench bench-scale screenshots

run:
	$(STATIC) $(GO) run -ldflags "$(LDFLAGS)" ./cmd/authz serve $(ARGS)

build:
	$(STATIC) $(GO) build -ldflags "$(LDFLAGS)" -o bin/authz ./cmd/authz

# Store tests also run on PostgreSQL when AUTHZ_TEST_DATABASE_URL is set;
# browser tests need Debian's chromium (AUTHZ_REQUIRE_BROWSER=1 makes its absence fail).
# Every test runs under the race detector.
test:
	$(GO) test -race $(TEST_FLAGS) ./...

generate:
	$(GO) tool templ generate

lint:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Fails when the committed templ output differs from a fresh generation.
generate-check: generate
	@git diff --exit-code -- '*_templ.go' || { echo "generated templ files are stale: run make generate and commit"; exit 1; }

# Fails when go.mod or go.sum is not what go mod tidy makes of them.
tidy-check:
	$(GO) mod tidy -diff

# govulncheck (a go tool of this module) against a vulnerability database
# built here, since CI reaches the Go module proxy but not vuln.go.dev:
# golang.org/x/vulndb, pinned below, carries every OSV entry (data/osv) and
# cmd/indexdb, which writes the layout that govulncheck -db file:// reads.
# Fails when the code calls a vulnerable function.
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018
VULNDB_DIR     ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/authz/vulndb-$(VULNDB_VERSION)
vulncheck:
	@if [ ! -f "$(VULNDB_DIR)/index/db.json" ]; then \
	  set -e; \
	  $(GO) mod download golang.org/x/vulndb@$(VULNDB_VERSION); \
	  src=$$($(GO) list -m -f '{{.Dir}}' golang.org/x/vulndb@$(VULNDB_VERSION)); \
	  rm -rf "$(VULNDB_DIR).tmp"; \
	  $(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) -vulns "$$src/data/osv" -out "$(VULNDB_DIR).tmp"; \
	  mv "$(VULNDB_DIR).tmp" "$(VULNDB_DIR)"; \
	fi
	$(GO) tool govulncheck -db "file://$(VULNDB_DIR)" ./...

# The pages of flow A (new user, also in Japanese under docs/screens/ja) and of the account page (recovery codes,
# a replaced authenticator), from headless Chromium, for the README.
screenshots:
	mkdir -p docs/screens
	AUTHZ_SCREENSHOTS=$(CURDIR)/docs/screens $(GO) test -count=1 -run 'TestFlowANewUser/sqlite|TestFlowANewUserInJapanese/sqlite|TestAccountLostPhoneRecoveryCodeThenReplaceAuthenticator/sqlite' ./e2e

# Micro-benchmarks of the hot paths, then every load scenario against a fresh
# server on SQLite and on PostgreSQL (and the ID-token-signing scenarios again
# with ES256 on both), ending with one summary against the
# targets of docs/performance.md. PostgreSQL is $AUTHZ_BENCH_DATABASE_URL or
# $AUTHZ_TEST_DATABASE_URL, else a throwaway cluster when initdb is installed.
# BENCH_FLAGS passes options, e.g. BENCH_FLAGS="--duration 5s --json bench.json".
BENCH_FLAGS ?=
bench: build
	$(GO) build -o bin/authz-load ./tools/authz-load
	bin/authz-load bench --authz bin/authz $(BENCH_FLAGS)

# Growth (docs/performance.md "Growth"): the token, login and admin-list
# figures on an empty store, then on one seeded with 100,000 users (a third
# with OTP), 1,000 clients, 1,000,000 live and 1,000,000 expired tokens and
# 1,000,000 audit events, and the janitor deleting the expired tokens while
# client-credentials requests run; on SQLite and PostgreSQL (as for make
# bench). Not part of make test: it takes a while (SCALE_FLAGS="--scale 0.05"
# for a quick run). It refuses a database holding data it did not create.
SCALE_FLAGS ?=
bench-scale: build
	$(GO) build -o bin/authz-load ./tools/authz-load
	bin/authz-load scale --authz bin/authz $(SCALE_FLAGS)
