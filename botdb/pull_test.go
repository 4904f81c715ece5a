package botdb

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestPullStatus sorts what a pull request's inbox receives as
// nats-server sends it: deliveries (with their ack subject, whatever
// their headers), and status messages (no reply, no body).
func TestPullStatus(t *testing.T) {
	status := func(code, descr string) *nats.Msg {
		m := nats.NewMsg("_INBOX.x")
		m.Header.Set("Status", code)
		if descr != "" {
			m.Header.Set("Description", descr)
		}
		return m
	}
	lookalike := status("408", "Request Timeout")
	lookalike.Reply = "$JS.ACK.S.C.1.5.5.0.0"
	tests := []struct {
		name         string
		m            *nats.Msg
		deliver, end bool
		err          error // nil, or what errors.Is must match
		anyErr       bool
	}{
		{"delivery", &nats.Msg{Subject: "rosey.db.user.joined", Reply: "$JS.ACK.S.C.1.1.1.0.0", Data: []byte(`{}`)}, true, false, nil, false},
		{"empty delivery without headers", &nats.Msg{Subject: "rosey.db.user.joined", Reply: "$JS.ACK.S.C.1.2.2.0.0"}, true, false, nil, false},
		{"delivery with a status header", lookalike, true, false, nil, false},
		{"idle heartbeat", status("100", "Idle Heartbeat"), false, false, nil, false},
		{"no messages", status("404", "No Messages"), false, true, nil, false},
		{"expired", status("408", "Request Timeout"), false, true, nil, false},
		{"no responders: the consumer is gone", status("503", ""), false, true, nats.ErrNoResponders, false},
		{"consumer deleted", status("409", "Consumer Deleted"), false, true, jetstream.ErrConsumerDeleted, false},
		{"other conflict", status("409", "Exceeded MaxWaiting"), false, true, nil, true},
		{"bad request", status("400", "Bad Request"), false, true, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deliver, end, err := pullStatus(tt.m)
			if deliver != tt.deliver || end != tt.end {
				t.Errorf("deliver, end = %v, %v; want %v, %v", deliver, end, tt.deliver, tt.end)
			}
			switch {
			case tt.err != nil && !errors.Is(err, tt.err):
				t.Errorf("err = %v, want %v", err, tt.err)
			case tt.err == nil && tt.anyErr != (err != nil):
				t.Errorf("err = %v, want an error: %v", err, tt.anyErr)
			}
		})
	}
}
