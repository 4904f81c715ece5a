// Package benchmarks holds the ten benchmarks of botdb through NATS: event
// latency, request/reply latency, concurrency, throughput, bursts, CPU per
// event against direct SQLite writes, memory stability, mixed event types
// and service restarts.
//
// Every benchmark runs against the real parts: an in-process nats-server
// with JetStream storing under b.TempDir(), a SQLite file, the botdb
// service and its client. Each one checks its own result through the store
// (every event stored, exactly once) and fails with b.Fatal when data is
// lost, so a fast but lossy change can never look like an improvement.
//
// None of them uses the NATS_URL a runner may provide: each needs a
// JetStream stream and consumer of its own, under its own storage directory,
// and head and base runs of the same benchmarks on one shared server would
// share (and fight over) the stream.
//
// Figures are reported with b.ReportMetric in units that benchstat reads:
// ns/op, p50-ns, p95-ns, p99-ns, events/s, cpu-ns/event, B/1k-events,
// stored-fraction, restart-ns, overhead-pp and commits/event. The harness
// (harness.go) builds those environments; docs/CPU_OVERHEAD_ANALYSIS.md
// explains the CPU figures with profiles.
//
// Run them with
//
//	go test -run '^$' -bench . ./benchmarks
//
// and in CI, one iteration each, with -benchtime 1x.
package benchmarks
