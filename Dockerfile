# The natsbench-action container. The build stage compiles the action with
# cgo on (SQLite); the runtime keeps the Go toolchain, gcc and git, because
# the action builds and runs the user's benchmarks.
#
# Debian trixie (13): the current stable release and the default of the
# official golang:1.26 tags. Bookworm's regular security support ended in
# June 2026 (only LTS remains), and trixie's newer gcc and git are the ones
# users' cgo packages and checkouts meet on current systems.
FROM golang:1.26-trixie AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The same command as .ci/run, which builds from this context as
# .dockerignore leaves it (scripts/docker-context.sh).
RUN bash scripts/build.sh /natsbench

FROM golang:1.26-trixie
# The official image pins GOTOOLCHAIN=local; a module whose go.mod asks for
# a newer Go must get it. Both caches live in HOME (/github/home), which the
# runner mounts from $RUNNER_TEMP/_github_home: a workflow can restore them
# with actions/cache before the action runs. The image's own GOPATH (/go)
# would make the module cache die with the container.
ENV GOTOOLCHAIN=auto \
    CGO_ENABLED=1 \
    GOCACHE=/github/home/.cache/go-build \
    GOMODCACHE=/github/home/go/pkg/mod
# The workspace is mounted from the host and belongs to another user; git
# refuses such repositories ("dubious ownership") unless told to trust them.
RUN git config --system --add safe.directory '*'
COPY --from=build /natsbench /natsbench
ENTRYPOINT ["/natsbench"]
