package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// natsReadyTimeout bounds the wait for a new server to accept clients.
const natsReadyTimeout = 10 * time.Second

// StartNATS starts an in-process NATS server on a random loopback port,
// with JetStream storing into a temporary directory, and returns its
// client URL. stop shuts it down and removes the store; call it once.
func StartNATS(ctx context.Context) (url string, stop func(), err error) {
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	store, err := os.MkdirTemp("", "natsbench-nats-")
	if err != nil {
		return "", nil, fmt.Errorf("starting nats: making the store directory: %w", err)
	}
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  store,
		NoLog:     true,
		NoSigs:    true,
		// No cluster, leaf or monitoring listeners: only the client port.
		HTTPPort: 0,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		_ = os.RemoveAll(store)
		return "", nil, fmt.Errorf("starting nats: %w", err)
	}
	go s.Start()
	stop = func() {
		s.Shutdown()
		s.WaitForShutdown()
		_ = os.RemoveAll(store)
	}
	if !s.ReadyForConnections(natsReadyTimeout) {
		stop()
		return "", nil, errors.New("starting nats: server not ready for connections within " + natsReadyTimeout.String())
	}
	if err := ctx.Err(); err != nil {
		stop()
		return "", nil, err
	}
	return s.ClientURL(), stop, nil
}
