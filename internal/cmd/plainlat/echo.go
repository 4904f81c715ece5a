package main

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
)

// echoSubject is where the echo responder listens.
const echoSubject = "plainlat.echo"

// runEcho answers every request on echoSubject with its payload until ctx
// ends: the cheapest request/reply a separate process can give, and so the
// floor the other clients are read against.
func runEcho(ctx context.Context, url string) error {
	nc, err := nats.Connect(url, nats.Name("plainlat-echo"))
	if err != nil {
		return fmt.Errorf("echo: connecting to %s: %w", url, err)
	}
	defer nc.Close()
	if _, err := nc.Subscribe(echoSubject, func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		return fmt.Errorf("echo: subscribing: %w", err)
	}
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("echo: subscribing: %w", err)
	}
	<-ctx.Done()
	return nil
}
