package botdb

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerOptions configures an embedded nats-server (the daemon's default, and
// every test's).
type ServerOptions struct {
	Host string // default 127.0.0.1: loopback only unless asked
	Port int    // -1 picks a free port; 0 means the NATS default 4222
	// StoreDir is where JetStream keeps its files (required with JetStream).
	StoreDir  string
	JetStream bool
	// SyncAlways makes JetStream fsync every write (sync_interval: always):
	// a power loss then loses no acknowledged event, at a cost in throughput
	// measured in docs/BOTDB.md. The default syncs every 2 minutes, which
	// survives process crashes but not power loss.
	SyncAlways bool
}

// StartServer starts an embedded nats-server and waits until it accepts
// connections.
func StartServer(opts ServerOptions) (*server.Server, error) {
	if opts.JetStream && opts.StoreDir == "" {
		return nil, errors.New("starting nats server: JetStream needs a store directory")
	}
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	sopts := &server.Options{
		ServerName: "botdb",
		Host:       host,
		Port:       opts.Port,
		JetStream:  opts.JetStream,
		StoreDir:   opts.StoreDir,
		SyncAlways: opts.SyncAlways,
		NoLog:      true,
		NoSigs:     true, // the process owner handles signals
	}
	s, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("starting nats server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("starting nats server on %s:%d: not ready after 10s (port in use?)", host, opts.Port)
	}
	return s, nil
}

// ShutdownServer stops s and waits until it is down, so that its JetStream
// files are closed before the caller removes or reopens them. Callers drain
// their own connections first. A nil s is a no-op.
func ShutdownServer(s *server.Server) {
	if s == nil {
		return
	}
	s.Shutdown()
	s.WaitForShutdown()
}
