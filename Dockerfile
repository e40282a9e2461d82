# Airlock: a multi-stage build. pg_query_go needs cgo (PostgreSQL's parser in
# C), so the build stage has gcc and the runtime image has glibc. It cannot
# be built on the development machines (no Docker engine there); keep it
# correct by reading, and test the binary directly (make test).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/airlock ./cmd/airlock

# distroless/cc: glibc and CA certificates, no shell. glibc gives threads the
# 8 MiB stacks the SQL parser's nesting bound assumes (musl's 128 KiB would not).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/airlock /usr/local/bin/airlock
USER nonroot:nonroot
# No HEALTHCHECK: Kubernetes probes exec `airlock wait` (the admin listener is
# loopback-only, so kubelet httpGet probes from the node cannot reach it).
ENTRYPOINT ["airlock"]
CMD ["run", "-c", "/etc/airlock/airlock.yaml"]
