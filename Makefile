# Airlock. `make test` and `make demo` install what they need themselves
# (Go modules, Debian packages, MinIO into bin/: see scripts/deps.sh).
GO      ?= go
BIN     := $(CURDIR)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
FUZZTIME ?= 30s
export PATH := $(BIN):$(PATH)

.PHONY: build test demo bench fuzz vet clean deps conformance

# Debian packages, the unprivileged user PostgreSQL test clusters run as,
# and MinIO into bin/ (idempotent; seconds when everything is there).
deps:
	./scripts/deps.sh

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/airlock ./cmd/airlock

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: run gofmt -w on the files above'; exit 1; }
	$(GO) vet ./...

# All tests: unit, fuzz seed corpora (run as regression tests), examples.
test: deps vet
	$(GO) test -race -count=1 -timeout 30m ./...

# The quickstart: a sample task under `airlock exec`, allowed and denied
# operations, the audit log and its verification.
demo: deps build
	./examples/quickstart/demo.sh

# Benchmarks that print numbers (decision, audit record, …).
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./policy/ ./proxy/... ./certs/ ./protocols/...
	AIRLOCK_BENCH=1 $(GO) test -count=1 -v -run 'TestBench' -timeout 60m ./integration/

# Each fuzz target for FUZZTIME (go test -fuzz takes one target at a time).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# PostgreSQL's regression suite and ceph's s3-tests, each directly and
# through an allow-all Airlock, compared (not part of test; fetches the
# PostgreSQL suite itself; S3TESTS=/path/to/ceph/s3-tests for the S3 half).
S3TESTS ?=
conformance: deps
	./scripts/conformance.sh $(S3TESTS)

clean:
	rm -rf $(BIN)
