# The natsbench-action container. The build stage compiles the action with
# cgo on (SQLite); the runtime keeps the Go toolchain, gcc and git, because
# the action builds and runs the user's benchmarks.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The same command as .ci/run: scripts/build.sh is the one build recipe.
RUN bash scripts/build.sh /natsbench

FROM golang:1.26-bookworm
# The official image pins GOTOOLCHAIN=local; a module whose go.mod asks for
# a newer Go must get it.
ENV GOTOOLCHAIN=auto \
    CGO_ENABLED=1
# The workspace is mounted from the host and belongs to another user; git
# refuses such repositories ("dubious ownership") unless told to trust them.
RUN git config --system --add safe.directory '*'
COPY --from=build /natsbench /natsbench
ENTRYPOINT ["/natsbench"]
