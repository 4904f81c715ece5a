package botdb

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestEncodeParseRoundTrip: what the Client sends is what the service
// stores, for every kind.
func TestEncodeParseRoundTrip(t *testing.T) {
	ts := time.Unix(1_700_000_000, 0).UTC()
	details, _ := json.Marshal(pmDetails{Command: "stats", Args: "--all", Result: "ok"})
	tests := []Event{
		{Kind: EventUserJoined, Username: "alice", Time: ts},
		{Kind: EventUserLeft, Username: "alice"},
		{Kind: EventChatMessage, Username: "bob", Message: "hello\nworld ✓", Time: ts},
		{Kind: EventUserCount, ChatCount: 3, ConnectedCount: 9, Time: ts},
		{Kind: EventHighWater, ChatCount: 0, ConnectedCount: 0},
		{Kind: EventUserAction, Username: "carol", ActionType: "pm_command", Details: string(details), Time: ts},
	}
	for _, e := range tests {
		t.Run(string(e.Kind), func(t *testing.T) {
			data, err := EncodeEvent(e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseEvent(e.Kind, data)
			if err != nil {
				t.Fatalf("parse %s: %v", data, err)
			}
			if got != e {
				t.Errorf("round trip of %s:\n got %+v\nwant %+v", data, got, e)
			}
		})
	}
	// Free-text details travel as the command.
	data, err := EncodeEvent(Event{Kind: EventUserAction, Username: "dan", Details: "help"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"command":"help"`) {
		t.Errorf("free-text details encoded as %s, want command help", data)
	}
	if _, err := EncodeEvent(Event{Kind: "nope"}); err == nil {
		t.Error("EncodeEvent of an unknown kind: no error")
	}
}

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		err  string
	}{
		{`{"username":"a"}`, time.Time{}, ""},
		{`{"username":"a","timestamp":0}`, time.Time{}, ""},
		{`{"username":"a","timestamp":1700000000}`, time.Unix(1700000000, 0).UTC(), ""},
		{`{"username":"a","timestamp":1700000000.25}`, time.Unix(1700000000, 250_000_000).UTC(), ""},
		{`{"username":"a","timestamp":-1}`, time.Time{}, "out of range"},
		{`{"username":"a","timestamp":1e300}`, time.Time{}, "out of range"},
	}
	for _, tt := range tests {
		e, err := ParseEvent(EventUserJoined, []byte(tt.in))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !e.Time.Equal(tt.want) {
			t.Errorf("%s: time %v, %v; want %v", tt.in, e.Time, err, tt.want)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, p := range []string{"", "rosey", "bot.one", "a-b_c"} {
		if err := ValidatePrefix(p); err != nil {
			t.Errorf("ValidatePrefix(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"a b", "a.>", "*", "a..b", ".a", "a."} {
		if err := ValidatePrefix(p); err == nil {
			t.Errorf("ValidatePrefix(%q): no error", p)
		}
	}
	if _, err := NewService(context.Background(), &nats.Conn{}, &DB{}, ServiceConfig{Prefix: "a b"}); err == nil || !strings.Contains(err.Error(), "prefix") {
		t.Errorf("NewService with a bad prefix = %v, want an error naming the prefix", err)
	}
}

// TestClientPublishUnknownKind: a clear error, nothing sent.
func TestClientPublishUnknownKind(t *testing.T) {
	srv := startTestServer(t, false)
	c := NewClient(connectTest(t, srv), "")
	if err := c.Publish(context.Background(), Event{Kind: "user.vanished", Username: "x"}); err == nil || !strings.Contains(err.Error(), "user.vanished") {
		t.Errorf("Publish = %v, want an error naming the kind", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Publish(ctx, Event{Kind: EventUserJoined, Username: "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a cancelled context = %v", err)
	}
}

// TestClientSyncWithoutJetStream: no stream means no responder; Sync
// returns 0 and queries still work.
func TestClientSyncWithoutJetStream(t *testing.T) {
	e := newEnv(t, ServiceConfig{NoJetStream: true, Prefix: "plain"})
	ctx := testCtx(t)
	mustPublish(t, e.client, Event{Kind: EventUserJoined, Username: "zed"})
	seq, err := e.client.Sync(ctx)
	if err != nil || seq != 0 {
		t.Fatalf("Sync = %d, %v; want 0, nil", seq, err)
	}
	st, err := e.client.UserStats(ctx, "zed")
	if err != nil || !st.Found {
		t.Errorf("user_stats = %+v, %v; want found", st, err)
	}
}

// TestClientSyncReturnsStreamSequence: the barrier's sequence grows with
// the events published before it.
func TestClientSyncReturnsStreamSequence(t *testing.T) {
	e := newEnv(t, ServiceConfig{})
	ctx := testCtx(t)
	s1, err := e.client.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		mustPublish(t, e.client, Event{Kind: EventUserJoined, Username: "y"})
	}
	s2, err := e.client.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s2 != s1+6 { // five events and the second barrier
		t.Errorf("sync sequences %d then %d, want a step of 6", s1, s2)
	}
}

// TestClientQueryTimeout: a query nobody answers ends with the context.
func TestClientQueryTimeout(t *testing.T) {
	srv := startTestServer(t, false)
	nc := connectTest(t, srv)
	// A responder that never answers.
	if _, err := nc.Subscribe("rosey.db.query.health", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil { // the server knows the responder
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := NewClient(connectTest(t, srv), "").Health(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Health = %v, want a deadline error", err)
	}
}

func TestDecodeReply(t *testing.T) {
	ok := &nats.Msg{Data: []byte(`{"success":true,"found":true,"username":"a","total_chat_lines":3}`)}
	var st UserStatsReply
	if err := decodeReply("s", ok, &st); err != nil || st.TotalChatLines != 3 {
		t.Errorf("decode ok reply = %+v, %v", st, err)
	}
	bad := &nats.Msg{Data: []byte(`{"success":false,"error":"username: missing"}`), Header: nats.Header{}}
	bad.Header.Set("Nats-Service-Error-Code", "400")
	var re *ReplyError
	if err := decodeReply("s", bad, &st); !errors.As(err, &re) || re.Code != "400" || re.Message != "username: missing" {
		t.Errorf("decode error reply = %v", err)
	}
	notJSON := &nats.Msg{Data: []byte(`hello`)}
	if err := decodeReply("s", notJSON, &st); err == nil || !strings.Contains(err.Error(), "decoding reply") {
		t.Errorf("decode non-JSON reply = %v", err)
	}
	noSuccess := &nats.Msg{Data: []byte(`{}`)}
	if err := decodeReply("s", noSuccess, &st); !errors.As(err, &re) {
		t.Errorf("decode reply without success = %v, want *ReplyError", err)
	}
}
