package botdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
)

// startTestServer starts an embedded server on a random loopback port, with
// JetStream under a temporary directory when js is set.
func startTestServer(tb testing.TB, js bool) *server.Server {
	tb.Helper()
	srv, err := StartServer(ServerOptions{Port: -1, JetStream: js, StoreDir: tb.TempDir()})
	if err != nil {
		tb.Fatalf("start server: %v", err)
	}
	tb.Cleanup(func() { ShutdownServer(srv) })
	return srv
}

func connectTest(tb testing.TB, srv *server.Server) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// testLogger sends service logs to the test log, and lets tests count
// rejections.
type testLogger struct {
	mu    sync.Mutex
	lines []string
	tb    testing.TB
}

func (l *testLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	return len(p), nil
}

func (l *testLogger) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

func newTestLogger(tb testing.TB) (*slog.Logger, *testLogger) {
	tl := &testLogger{tb: tb}
	return slog.New(slog.NewTextHandler(tl, &slog.HandlerOptions{Level: slog.LevelDebug})), tl
}

// startService starts a service and stops it when the test ends.
func startService(tb testing.TB, nc *nats.Conn, db *DB, cfg ServiceConfig) *Service {
	tb.Helper()
	svc, err := NewService(context.Background(), nc, db, cfg)
	if err != nil {
		tb.Fatalf("new service: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := svc.Stop(ctx); err != nil {
			tb.Errorf("stop service: %v", err)
		}
	})
	return svc
}

// env is one server, one database, one service and a client on its own
// connection.
type env struct {
	srv    *server.Server
	db     *DB
	svc    *Service
	client *Client
	nc     *nats.Conn // the client's connection
	logs   *testLogger
}

func newEnv(tb testing.TB, cfg ServiceConfig) *env {
	tb.Helper()
	srv := startTestServer(tb, !cfg.NoJetStream)
	db := MustOpenDB(tb)
	logger, logs := newTestLogger(tb)
	cfg.Logger = logger
	tb.Cleanup(func() {
		if tb.Failed() {
			logs.mu.Lock()
			tb.Logf("service log:\n%s", strings.Join(logs.lines, ""))
			logs.mu.Unlock()
		}
	})
	svc := startService(tb, connectTest(tb, srv), db, cfg)
	nc := connectTest(tb, srv)
	return &env{srv: srv, db: db, svc: svc, client: NewClient(nc, cfg.Prefix), nc: nc, logs: logs}
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func mustPublish(tb testing.TB, c *Client, e Event) {
	tb.Helper()
	if err := c.Publish(context.Background(), e); err != nil {
		tb.Fatalf("publish %s: %v", e.Kind, err)
	}
}

// serviceModes are the two ways the service takes events; tests that hold
// for both run once in each.
var serviceModes = []struct {
	name string
	noJS bool
}{{"jetstream", false}, {"core", true}}

// TestQueryUserStatsViaNATS is the original bot's stalled test: many chat
// lines published, then user_stats over NATS returns the full count.
func TestQueryUserStatsViaNATS(t *testing.T) {
	for _, mode := range serviceModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, ServiceConfig{NoJetStream: mode.noJS})
			ctx := testCtx(t)
			joined := time.Unix(1_700_000_000, 0).UTC()
			mustPublish(t, e.client, Event{Kind: EventUserJoined, Username: "alice", Time: joined})
			const lines = 20000
			for i := range lines {
				mustPublish(t, e.client, Event{Kind: EventChatMessage, Username: "alice", Message: fmt.Sprintf("line %d", i), Time: joined.Add(time.Second)})
			}
			st, err := e.client.UserStats(ctx, "alice")
			if err != nil {
				t.Fatalf("user_stats: %v", err)
			}
			want := UserStatsReply{Success: true, Found: true, Username: "alice", FirstSeen: joined.Unix(), LastSeen: joined.Unix() + 1, TotalChatLines: lines}
			if st.CurrentSessionStart == nil || *st.CurrentSessionStart != joined.Unix() {
				t.Errorf("current_session_start = %v, want %d", st.CurrentSessionStart, joined.Unix())
			}
			st.CurrentSessionStart = nil
			if st != want {
				t.Errorf("user_stats = %+v\nwant %+v", st, want)
			}
			h, err := e.client.Health(ctx)
			if err != nil {
				t.Fatalf("health: %v", err)
			}
			if h.EventsApplied != lines+1 || h.EventsRejected != 0 {
				t.Errorf("health = %+v, want %d applied, 0 rejected", h, lines+1)
			}
		})
	}
}

// TestQueryUserStatsForeignPublisher: a publisher that is not a Client (no
// barrier, no header) reads its writes with its first query after them.
func TestQueryUserStatsForeignPublisher(t *testing.T) {
	e := newEnv(t, ServiceConfig{})
	for range 500 {
		if err := e.nc.Publish("rosey.db.message.log", []byte(`{"username":"bob","message":"hi"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if st := plainUserStats(t, e.nc, "rosey.db.query.user_stats", "bob"); st.TotalChatLines != 500 {
		t.Fatalf("total_chat_lines = %d, want 500", st.TotalChatLines)
	}
}

// TestEventSubjects publishes on each event subject and checks the effect
// through the queries and the store.
func TestEventSubjects(t *testing.T) {
	e := newEnv(t, ServiceConfig{})
	ctx := testCtx(t)
	t0 := time.Unix(1_700_000_000, 0).UTC()
	pub := func(subject, payload string) {
		t.Helper()
		if err := e.client.PublishRaw(ctx, subject, []byte(payload)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("user.joined and user.left", func(t *testing.T) {
		pub("rosey.db.user.joined", `{"username":"carol","timestamp":1700000000}`)
		pub("rosey.db.user.left", `{"username":"carol","timestamp":1700000090}`)
		st, err := e.client.UserStats(ctx, "carol")
		if err != nil {
			t.Fatal(err)
		}
		if !st.Found || st.TotalTimeConnected != 90 || st.CurrentSessionStart != nil || st.FirstSeen != t0.Unix() || st.LastSeen != t0.Unix()+90 {
			t.Errorf("user_stats = %+v, want 90 s connected, not connected now", st)
		}
	})
	t.Run("message.log", func(t *testing.T) {
		pub("rosey.db.message.log", `{"username":"dave","message":"first","timestamp":1700000001}`)
		pub("rosey.db.message.log", `{"username":"dave","message":"second ✓","timestamp":1700000002.5}`)
		msgs, err := e.client.RecentChat(ctx, 2, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 2 || msgs[0].Message != "second ✓" || msgs[1].Message != "first" || msgs[0].Username != "dave" || msgs[0].Timestamp != t0.Unix()+2 {
			t.Errorf("recent_chat = %+v, want second then first", msgs)
		}
		older, err := e.client.RecentChat(ctx, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(older) != 1 || older[0].Message != "first" {
			t.Errorf("recent_chat offset 1 = %+v, want first", older)
		}
		st, err := e.client.UserStats(ctx, "dave")
		if err != nil {
			t.Fatal(err)
		}
		if st.TotalChatLines != 2 {
			t.Errorf("dave total_chat_lines = %d, want 2", st.TotalChatLines)
		}
	})
	t.Run("stats.user_count", func(t *testing.T) {
		pub("rosey.db.stats.user_count", `{"chat_count":3,"connected_count":7,"timestamp":1700000100}`)
		if _, err := e.client.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.Health(ctx); err != nil { // waits for the sync
			t.Fatal(err)
		}
		hist, err := e.db.UserCountHistory(ctx, t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 1 || hist[0].ChatUsers != 3 || hist[0].ConnectedUsers != 7 || !hist[0].Time.Equal(t0.Add(100*time.Second)) {
			t.Errorf("user count history = %+v, want one sample 3/7", hist)
		}
	})
	t.Run("stats.high_water", func(t *testing.T) {
		pub("rosey.db.stats.high_water", `{"chat_count":12,"connected_count":30,"timestamp":1700000200}`)
		pub("rosey.db.stats.high_water", `{"chat_count":5,"connected_count":40,"timestamp":1700000300}`)
		cs, err := e.client.ChannelStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cs.HighWaterMark != (HighWaterReply{Users: 12, Timestamp: t0.Unix() + 200}) {
			t.Errorf("high_water_mark = %+v, want 12 users at +200", cs.HighWaterMark)
		}
		if cs.HighWaterConnected != (HighWaterReply{Users: 40, Timestamp: t0.Unix() + 300}) {
			t.Errorf("high_water_connected = %+v, want 40 users at +300", cs.HighWaterConnected)
		}
		if len(cs.TopChatters) == 0 || cs.TopChatters[0] != (ChatterReply{Username: "dave", ChatLines: 2}) {
			t.Errorf("top_chatters = %+v, want dave first with 2", cs.TopChatters)
		}
		if cs.TotalUsersSeen != 2 {
			t.Errorf("total_users_seen = %d, want 2 (carol, dave)", cs.TotalUsersSeen)
		}
	})
	t.Run("action.pm_command", func(t *testing.T) {
		pub("rosey.db.action.pm_command", `{"username":"erin","command":"stats","args":"--all","result":"ok","timestamp":1700000400}`)
		if _, err := e.client.Health(ctx); err != nil {
			t.Fatal(err)
		}
		acts, err := e.db.UserActions(ctx, "erin", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(acts) != 1 || acts[0].ActionType != "pm_command" || !acts[0].Time.Equal(t0.Add(400*time.Second)) {
			t.Fatalf("user actions = %+v, want one pm_command", acts)
		}
		var d pmDetails
		if err := json.Unmarshal([]byte(acts[0].Details), &d); err != nil || d != (pmDetails{Command: "stats", Args: "--all", Result: "ok"}) {
			t.Errorf("details = %q (%v), want command stats, args --all, result ok", acts[0].Details, err)
		}
	})
	if h := e.svc.Health(); h.EventsRejected != 0 {
		t.Errorf("events_rejected = %d, want 0", h.EventsRejected)
	}
}

// TestBadEvents: every bad payload is rejected, counted, logged once, acked,
// and nothing stops the service.
func TestBadEvents(t *testing.T) {
	for _, mode := range serviceModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, ServiceConfig{NoJetStream: mode.noJS})
			ctx := testCtx(t)
			long := strings.Repeat("x", 51)
			bad := []struct{ subject, payload, reason string }{
				{"rosey.db.user.joined", `{"username":`, "invalid JSON"},
				{"rosey.db.user.joined", `[]`, "invalid JSON"},
				{"rosey.db.user.joined", `{}`, "username: missing"},
				{"rosey.db.user.joined", `{"username":""}`, "username: must not be empty"},
				{"rosey.db.user.left", `{"username":"` + long + `"}`, "username: must be 1-50"},
				{"rosey.db.user.left", "{\"username\":\"a\xffb\"}", "invalid UTF-8"},
				{"rosey.db.user.left", `{"username":"x","timestamp":-5}`, "timestamp"},
				{"rosey.db.user.left", `{"username":"x","timestamp":"soon"}`, "timestamp"},
				{"rosey.db.message.log", `{"username":"x"}`, "message: missing"},
				{"rosey.db.message.log", `{"username":"x","message":"` + strings.Repeat("m", 5000) + `"}`, "message: must be 1-4096"},
				{"rosey.db.message.log", `{"username":"x","message":"` + strings.Repeat("m", MaxPayload) + `"}`, "byte limit"},
				{"rosey.db.message.log", `{"username":7,"message":"hi"}`, "invalid JSON"},
				{"rosey.db.stats.user_count", `{"chat_count":-1,"connected_count":2}`, "chat_count: must not be negative"},
				{"rosey.db.stats.user_count", `{"chat_count":1}`, "connected_count: missing"},
				{"rosey.db.stats.high_water", `{"chat_count":1,"connected_count":-2}`, "connected_count: must not be negative"},
				{"rosey.db.stats.high_water", `{"chat_count":1.5,"connected_count":2}`, "invalid JSON"},
				{"rosey.db.action.pm_command", `{"username":"x"}`, "command: missing"},
				{"rosey.db.action.pm_command", `{"command":"stats"}`, "username: missing"},
				{"rosey.db.action.pm_command", `{"username":"x","command":"c"} {}`, "after top-level value"},
			}
			for _, b := range bad {
				if err := e.client.PublishRaw(ctx, b.subject, []byte(b.payload)); err != nil {
					t.Fatal(err)
				}
			}
			wantAppliedAfter(t, e, "ok", "bad ones")
			h := e.svc.Health()
			if h.EventsRejected != int64(len(bad)) || h.EventsApplied != 1 {
				t.Errorf("health = %+v, want %d rejected, 1 applied", h, len(bad))
			}
			if n, _ := e.db.TotalUsersSeen(ctx); n != 1 {
				t.Errorf("users seen = %d, want 1: a bad event was stored", n)
			}
			for _, b := range bad {
				if e.logs.count(b.reason) == 0 {
					t.Errorf("no log line names %q (payload %.40q)", b.reason, b.payload)
				}
			}
			if n := e.logs.count("event rejected"); n != len(bad) {
				t.Errorf("%d rejection log lines, want %d (once each)", n, len(bad))
			}
		})
	}
}

// wantAppliedAfter publishes a good chat line from a new user and asks
// for it: the service got past what came before (what).
func wantAppliedAfter(t *testing.T, e *env, user, what string) {
	t.Helper()
	mustPublish(t, e.client, Event{Kind: EventChatMessage, Username: user, Message: "still running"})
	st, err := e.client.UserStats(testCtx(t), user)
	if err != nil {
		t.Fatal(err)
	}
	if st.TotalChatLines != 1 {
		t.Errorf("good event after %s: total_chat_lines = %d, want 1", what, st.TotalChatLines)
	}
}

// TestStatusLookalikeEvents: an event subject's message with no body and
// the headers of a server status ("408 Request Timeout", "404 No
// Messages", "409 Consumer Deleted") is stored by the stream like any
// other. The consumer must take it for the delivery it is (and reject it
// as an event), not for the end of its pull request: that would end every
// pull request that brings it, and nothing after it would be applied.
func TestStatusLookalikeEvents(t *testing.T) {
	e := newEnv(t, ServiceConfig{})
	for _, st := range []struct{ code, descr string }{{"408", "Request Timeout"}, {"404", "No Messages"}, {"409", "Consumer Deleted"}, {"100", "Idle Heartbeat"}} {
		m := nats.NewMsg("rosey.db.message.log")
		m.Header.Set("Status", st.code)
		m.Header.Set("Description", st.descr)
		if err := e.nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	wantAppliedAfter(t, e, "after", "the lookalikes")
	if h := e.svc.Health(); h.EventsRejected != 4 {
		t.Errorf("health = %+v, want the 4 lookalikes rejected", h)
	}
}

// TestBadQueries: each bad request gets {"success":false,"error":...} and
// the micro error headers; the service keeps answering.
func TestBadQueries(t *testing.T) {
	e := newEnv(t, ServiceConfig{})
	tests := []struct {
		name, subject, payload, want string
		header                       string
	}{
		{"user_stats invalid JSON", "rosey.db.query.user_stats", `{"username":`, "invalid JSON", ""},
		{"user_stats missing username", "rosey.db.query.user_stats", `{}`, "username: must be 1-50", ""},
		{"user_stats long username", "rosey.db.query.user_stats", `{"username":"` + strings.Repeat("u", 51) + `"}`, "username: must be 1-50", ""},
		{"user_stats invalid UTF-8", "rosey.db.query.user_stats", "{\"username\":\"\xfe\"}", "invalid UTF-8", ""},
		{"user_stats oversized", "rosey.db.query.user_stats", `{"username":"` + strings.Repeat("u", MaxPayload) + `"}`, "byte limit", ""},
		{"user_stats bad header", "rosey.db.query.user_stats", `{"username":"a"}`, "not a sequence number", "x"},
		{"recent_chat negative limit", "rosey.db.stats.recent_chat.get", `{"limit":-1}`, "limit: must not be negative", ""},
		{"recent_chat negative offset", "rosey.db.stats.recent_chat.get", `{"offset":-3}`, "offset: must not be negative", ""},
		{"recent_chat string limit", "rosey.db.stats.recent_chat.get", `{"limit":"ten"}`, "invalid JSON", ""},
		{"channel_stats negative top", "rosey.db.query.channel_stats", `{"top_limit":-1}`, "top_limit: must not be negative", ""},
		{"health not JSON", "rosey.db.query.health", `hello`, "invalid JSON", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := nats.NewMsg(tt.subject)
			msg.Data = []byte(tt.payload)
			if tt.header != "" {
				msg.Header.Set(MinSeqHeader, tt.header)
			}
			reply, err := e.nc.RequestMsg(msg, 5*time.Second)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			var body ErrorReply
			if err := json.Unmarshal(reply.Data, &body); err != nil {
				t.Fatalf("reply %q is not JSON: %v", reply.Data, err)
			}
			if body.Success || !strings.Contains(body.Error, tt.want) {
				t.Errorf("reply = %+v, want success false and an error containing %q", body, tt.want)
			}
			if code := reply.Header.Get(micro.ErrorCodeHeader); code != "400" {
				t.Errorf("error code header = %q, want 400", code)
			}
			if reply.Header.Get(micro.ErrorHeader) == "" {
				t.Error("no micro error header")
			}
		})
	}
	// Through the Client: a typed error.
	_, err := e.client.RecentChat(testCtx(t), -1, 0)
	var re *ReplyError
	if !errors.As(err, &re) || re.Code != "400" || !strings.Contains(re.Message, "limit") {
		t.Errorf("client error = %v, want *ReplyError code 400 about limit", err)
	}
	if _, err := e.client.Health(testCtx(t)); err != nil {
		t.Errorf("health after bad queries: %v", err)
	}
}

// TestStreamSubjectsExact: the stream lists the event subjects (and the
// barrier) exactly, so a recent_chat request is answered by the service,
// not swallowed by the stream.
func TestStreamSubjectsExact(t *testing.T) {
	e := newEnv(t, ServiceConfig{Prefix: "bot7"})
	reply, err := e.nc.Request("$JS.API.STREAM.INFO."+DefaultStream, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Config struct {
			Subjects  []string `json:"subjects"`
			Retention string   `json:"retention"`
		} `json:"config"`
	}
	if err := json.Unmarshal(reply.Data, &info); err != nil {
		t.Fatal(err)
	}
	want := []string{"bot7.db.user.joined", "bot7.db.user.left", "bot7.db.message.log", "bot7.db.stats.user_count", "bot7.db.stats.high_water", "bot7.db.action.pm_command", "bot7.db.sync"}
	if strings.Join(info.Config.Subjects, " ") != strings.Join(want, " ") {
		t.Errorf("stream subjects = %v, want %v", info.Config.Subjects, want)
	}
	if info.Config.Retention != "limits" {
		t.Errorf("retention = %q, want limits (purged by the service)", info.Config.Retention)
	}
	msgs, err := e.client.RecentChat(testCtx(t), 0, 0)
	if err != nil || len(msgs) != 0 {
		t.Errorf("recent_chat = %v, %v; want an empty list from the service", msgs, err)
	}
}

// TestMicroDiscovery: the query side is a micro service named botdb.
func TestMicroDiscovery(t *testing.T) {
	e := newEnv(t, ServiceConfig{})
	reply, err := e.nc.Request("$SRV.INFO.botdb", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var info micro.Info
	if err := json.Unmarshal(reply.Data, &info); err != nil {
		t.Fatal(err)
	}
	if info.Name != ServiceName || info.Version != ServiceVersion || len(info.Endpoints) != 4 {
		t.Errorf("info = %+v, want botdb %s with 4 endpoints", info, ServiceVersion)
	}
	subjects := map[string]bool{}
	for _, ep := range info.Endpoints {
		subjects[ep.Subject] = true
	}
	for _, s := range []string{"rosey.db.query.user_stats", "rosey.db.query.channel_stats", "rosey.db.stats.recent_chat.get", "rosey.db.query.health"} {
		if !subjects[s] {
			t.Errorf("endpoint %s missing from %v", s, subjects)
		}
	}
}

// TestNoJetStreamServer: asking for JetStream where there is none is a
// clear error; NoJetStream works and warns.
func TestNoJetStreamServer(t *testing.T) {
	srv := startTestServer(t, false)
	nc := connectTest(t, srv)
	db := MustOpenDB(t)
	_, err := NewService(testCtx(t), nc, db, ServiceConfig{})
	if !errors.Is(err, ErrNoJetStream) {
		t.Fatalf("NewService without JetStream = %v, want ErrNoJetStream", err)
	}
	logger, logs := newTestLogger(t)
	startService(t, nc, db, ServiceConfig{NoJetStream: true, Logger: logger})
	if logs.count("events published while botdb is down are lost") != 1 {
		t.Errorf("no downtime warning in %q", logs.lines)
	}
}

// TestLargeBurstNeverStalls publishes a large burst and checks that the
// service makes progress every few seconds (a Consume-based prototype
// stalled for ~30 s), then that every event is stored exactly once.
func TestLargeBurstNeverStalls(t *testing.T) {
	n := 100_000
	if testing.Short() || raceEnabled {
		n = 20_000
	}
	e := newEnv(t, ServiceConfig{})
	ctx := testCtx(t)
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if err := e.client.Publish(ctx, Event{Kind: EventChatMessage, Username: fmt.Sprintf("u%d", i%50), Message: "burst"}); err != nil {
				done <- err
				return
			}
		}
		done <- e.nc.Flush()
	}()
	last := int64(-1)
	lastChange := time.Now()
	published := false
	for {
		if !published {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				published = true
			default:
			}
		}
		applied := e.svc.Health().EventsApplied
		if applied == int64(n) {
			break
		}
		if applied != last {
			last, lastChange = applied, time.Now()
		} else if time.Since(lastChange) > 5*time.Second {
			t.Fatalf("no progress for 5s at %d of %d events: stalled", applied, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cs, err := e.client.ChannelStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, c := range cs.TopChatters {
		total += c.ChatLines
	}
	if total != int64(n)/5 { // top 10 of 50 equal users
		t.Errorf("top 10 chatters hold %d lines, want %d", total, n/5)
	}
	if h := e.svc.Health(); h.EventsApplied != int64(n) || h.EventsRejected != 0 {
		t.Errorf("health = %+v, want %d applied", h, n)
	}
	// The stream is purged as the database catches up.
	reply, err := e.nc.Request("$JS.API.STREAM.INFO."+DefaultStream, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		State struct {
			Msgs uint64 `json:"messages"`
		} `json:"state"`
	}
	if err := json.Unmarshal(reply.Data, &info); err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs > purgeEvery+uint64(DefaultMaxBatch) {
		t.Errorf("stream holds %d messages after all were applied, want at most %d (purged)", info.State.Msgs, purgeEvery+DefaultMaxBatch)
	}
	t.Logf("%d events in %d batches, %d consumer resets, %d left in the stream", n, e.svc.Health().Batches, e.logs.count("resetting consumer"), info.State.Msgs)
	e.logs.mu.Lock()
	for _, l := range e.logs.lines {
		if strings.Contains(l, "WARN") {
			t.Log(l)
		}
	}
	e.logs.mu.Unlock()
}

// TestStreamOfAnotherPrefix: a second service with another prefix does not
// take over the first one's stream (its events would stop being captured);
// with its own stream name it runs beside it.
func TestStreamOfAnotherPrefix(t *testing.T) {
	srv := startTestServer(t, true)
	nc := connectTest(t, srv)
	startService(t, nc, MustOpenDB(t), ServiceConfig{})
	_, err := NewService(testCtx(t), nc, MustOpenDB(t), ServiceConfig{Prefix: "other"})
	if err == nil || !strings.Contains(err.Error(), "own stream name") {
		t.Fatalf("second prefix on the same stream = %v, want a refusal", err)
	}
	startService(t, nc, MustOpenDB(t), ServiceConfig{Prefix: "other", Stream: "OTHER_EVENTS", Durable: "other"})
	c := NewClient(connectTest(t, srv), "")
	mustPublish(t, c, Event{Kind: EventUserJoined, Username: "still-captured"})
	if st, err := c.UserStats(testCtx(t), "still-captured"); err != nil || !st.Found {
		t.Errorf("first service after the second started: %+v, %v", st, err)
	}
}

// trickle publishes n chat lines for user, gap apart, each flushed so
// that they reach the server one by one.
func trickle(tb testing.TB, e *env, user string, n int, gap time.Duration) {
	tb.Helper()
	for i := range n {
		mustPublish(tb, e.client, Event{Kind: EventChatMessage, Username: user, Message: fmt.Sprint(i)})
		if err := e.nc.Flush(); err != nil {
			tb.Fatal(err)
		}
		time.Sleep(gap)
	}
}

// TestLingerGroupsATrickle: events coming one by one, closer together than
// the linger, are committed several at a time, and queries see them all.
func TestLingerGroupsATrickle(t *testing.T) {
	for _, m := range serviceModes {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, ServiceConfig{NoJetStream: m.noJS, Linger: 50 * time.Millisecond})
			trickle(t, e, "slow", 100, 5*time.Millisecond)
			st, err := e.client.UserStats(testCtx(t), "slow")
			if err != nil || st.TotalChatLines != 100 {
				t.Fatalf("user_stats = %+v, %v; want 100 lines", st, err)
			}
			// Loose on purpose (a loaded machine spreads the publishes):
			// one by one would be about 100 commits.
			if h := e.svc.Health(); h.Batches > 50 {
				t.Errorf("%d commits for 100 events 5ms apart with a 50ms linger, want far fewer", h.Batches)
			}
		})
	}
}

// TestLingerNeverDelaysAReader: with a linger far longer than the test, a
// reader waiting for its own events (a query with read-your-writes, or
// WaitApplied) still gets them at once: lingering only delays events that
// nobody waits for.
func TestLingerNeverDelaysAReader(t *testing.T) {
	for _, m := range serviceModes {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, ServiceConfig{NoJetStream: m.noJS, Linger: time.Hour})
			ctx := testCtx(t) // 30s: one linger would fail the test
			trickle(t, e, "held", 30, 2*time.Millisecond)
			for i := range 10 {
				mustPublish(t, e.client, Event{Kind: EventChatMessage, Username: "held", Message: "asked"})
				st, err := e.client.UserStats(ctx, "held")
				if err != nil || st.TotalChatLines != int64(31+i) {
					t.Fatalf("user_stats after event %d = %+v, %v; want %d lines", 31+i, st, err, 31+i)
				}
			}
			trickle(t, e, "waited", 10, 2*time.Millisecond)
			if err := e.svc.WaitApplied(ctx, 50); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestStopCommitsWhatALingerHolds: Stop does not wait for a linger, and
// commits the events it held.
func TestStopCommitsWhatALingerHolds(t *testing.T) {
	for _, m := range serviceModes {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, ServiceConfig{NoJetStream: m.noJS, Linger: time.Hour})
			trickle(t, e, "held", 30, 2*time.Millisecond)
			if !m.noJS {
				waitFor(t, 10*time.Second, "30 events in the stream", func() bool { return streamLastSeq(t, e) >= 30 })
			} else {
				waitFor(t, 10*time.Second, "30 events received", func() bool { return e.svc.mode.(*coreConsumer).received.Load() >= 30 })
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := e.svc.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			st, _, err := e.db.UserStats(ctx, "held")
			if err != nil || st.TotalChatLines != 30 {
				t.Errorf("after Stop: %+v, %v; want 30 lines", st, err)
			}
		})
	}
}

// TestLostConsumerIsCreatedAgain: the consumer's state lives in the
// server's memory, so a server restart loses it; the service creates it
// again and goes on from its cursor, exactly once.
func TestLostConsumerIsCreatedAgain(t *testing.T) {
	e := newEnv(t, ServiceConfig{})
	ctx := testCtx(t)
	trickle(t, e, "lost", 20, 0)
	if st, err := e.client.UserStats(ctx, "lost"); err != nil || st.TotalChatLines != 20 {
		t.Fatalf("user_stats = %+v, %v; want 20 lines", st, err)
	}
	js, err := jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteConsumer(ctx, DefaultStream, DefaultDurable); err != nil {
		t.Fatal(err)
	}
	trickle(t, e, "lost", 30, time.Millisecond)
	if st, err := e.client.UserStats(ctx, "lost"); err != nil || st.TotalChatLines != 50 {
		t.Fatalf("user_stats after the consumer was lost = %+v, %v; want 50 lines", st, err)
	}
	if n := e.logs.count("creating it again"); n == 0 {
		t.Error("no log of the consumer being created again")
	}
}

// streamLastSeq reads the event stream's last sequence.
func streamLastSeq(tb testing.TB, e *env) uint64 {
	tb.Helper()
	seq, err := e.svc.mode.(*jsConsumer).streamLastSeq(testCtx(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return seq
}

// TestLingerIsADeadline: events trickling in faster than the linger still
// get committed every linger, not held until the batch fills.
func TestLingerIsADeadline(t *testing.T) {
	e := newEnv(t, ServiceConfig{Linger: 30 * time.Millisecond})
	for i := range 40 {
		mustPublish(t, e.client, Event{Kind: EventChatMessage, Username: "trickle", Message: fmt.Sprint(i)})
		if err := e.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// 200 ms of events 5 ms apart: a held batch would be one commit.
	waitFor(t, 10*time.Second, "40 events applied", func() bool { return e.svc.Health().EventsApplied == 40 })
	if h := e.svc.Health(); h.Batches < 3 {
		t.Errorf("%d commits for events over 200ms with a 30ms linger, want one every ~30ms", h.Batches)
	}
}

// TestQueriesWaitingOffTheirEndpoint: queries whose read barrier is not yet
// met are answered from a goroutine of their own; their replies, good and
// bad, must be the same as on the endpoint's goroutine (under -race this
// also checks that they do not touch micro's request after its handler
// returned).
func TestQueriesWaitingOffTheirEndpoint(t *testing.T) {
	e := newEnv(t, ServiceConfig{})
	ctx := testCtx(t)
	const lines = 20000
	for i := range lines {
		mustPublish(t, e.client, Event{Kind: EventChatMessage, Username: "bob", Message: fmt.Sprintf("line %d", i)})
	}
	seq, err := e.client.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ask := func(body string) *nats.Msg {
		t.Helper()
		m := nats.NewMsg(e.client.Subjects().UserStats)
		m.Header.Set(MinSeqHeader, strconv.FormatUint(seq, 10))
		m.Data = []byte(body)
		reply, err := e.nc.RequestMsgWithContext(ctx, m)
		if err != nil {
			t.Fatalf("user_stats %s: %v", body, err)
		}
		return reply
	}
	bad := ask(`{"username": ""}`)
	good := ask(`{"username": "bob"}`)

	if bad.Header.Get(micro.ErrorCodeHeader) != "400" || !strings.Contains(string(bad.Data), `"success":false`) {
		t.Errorf("bad query: headers %v, body %s; want a 400 and success false", bad.Header, bad.Data)
	}
	var st UserStatsReply
	if err := json.Unmarshal(good.Data, &st); err != nil || !st.Success || st.TotalChatLines != lines {
		t.Errorf("good query: %s (%v); want %d lines", good.Data, err, lines)
	}
}

// TestRedeliveryInOneBatchAppliedOnce: the server delivers a message again,
// with the next delivery sequence and no gap, when it learns that an
// earlier delivery failed (its reply inbox had no subscriber: a pull
// request given up, even one from before a consumer reset) or when the
// message is NAKed. Both copies can fall in one batch; the second must not
// be applied. A snooping connection NAKs deliveries to make this happen.
func TestRedeliveryInOneBatchAppliedOnce(t *testing.T) {
	e := newEnv(t, ServiceConfig{})
	snoop := connectTest(t, e.srv)
	var naked atomic.Int64
	sub, err := snoop.Subscribe("_INBOX.>", func(m *nats.Msg) {
		// Deliveries only (their reply is the ack subject), every 7th
		// stream sequence, the first time it comes.
		meta, err := m.Metadata()
		if err != nil || meta.NumDelivered != 1 || meta.Sequence.Stream%7 != 0 {
			return
		}
		if m.Nak() == nil {
			naked.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := snoop.Flush(); err != nil {
		t.Fatal(err)
	}
	const n = 3000
	for i := range n {
		if err := e.nc.Publish(e.svc.subj.kindSubject[EventChatMessage], fmt.Appendf(nil, `{"username":"u%d","message":"m%d"}`, i%10, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for u := range 10 {
		st := plainUserStats(t, e.nc, e.svc.subj.UserStats, fmt.Sprintf("u%d", u))
		if st.TotalChatLines != n/10 {
			t.Errorf("u%d: %d chat lines, want %d (%d NAKed deliveries came again)", u, st.TotalChatLines, n/10, naked.Load())
		}
	}
	if naked.Load() == 0 {
		t.Error("no delivery was NAKed: the test did not attack anything")
	}
	t.Logf("%d deliveries NAKed and delivered again", naked.Load())
}

// TestCommitSkipsACopyInTheSameBatch feeds the commit real deliveries from
// a real consumer: two events, then the first one again, NAKed and
// delivered anew with the next delivery sequence. The copy is applied
// once, and the cursor does not move back to it.
func TestCommitSkipsACopyInTheSameBatch(t *testing.T) {
	srv := startTestServer(t, true)
	nc := connectTest(t, srv)
	ctx := testCtx(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	subj := NewSubjects("copy")
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "COPY", Subjects: subj.EventSubjects()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"first", "second"} {
		if _, err := js.Publish(ctx, subj.kindSubject[EventChatMessage], fmt.Appendf(nil, `{"username":%q,"message":"hi"}`, user)); err != nil {
			t.Fatal(err)
		}
	}
	var got []received
	take := func(n int) []*nats.Msg {
		t.Helper()
		p, err := startPull(nc, "$JS.API.CONSUMER.MSG.NEXT.COPY.c", pullRequest{Batch: n, Expires: 5 * time.Second}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var ms []*nats.Msg
		for m := range p.Messages() {
			meta, err := m.Metadata()
			got = append(got, received{msg: m, meta: meta, err: err})
			ms = append(ms, m)
		}
		if len(ms) != n {
			t.Fatalf("pulled %d messages, want %d (%v)", len(ms), n, p.Error())
		}
		return ms
	}
	first := take(2)[0]
	if err := first.Nak(); err != nil {
		t.Fatal(err)
	}
	take(1)
	if m := got[2].meta; m == nil || m.Sequence.Stream != 1 || m.Sequence.Consumer != 3 {
		t.Fatalf("third delivery = %+v, want stream sequence 1 as delivery 3", m)
	}

	db := MustOpenDB(t)
	logger, _ := newTestLogger(t)
	k := &sink{db: db, ctx: context.Background(), log: logger, subj: subj, now: time.Now, source: "test:copy", progress: make(chan struct{}), readers: newReaders()}
	c := &jsConsumer{sink: k, nextDseq: 1, purgedTo: 1 << 62}
	if _, _, err := c.commit(got); err != nil {
		t.Fatal(err)
	}
	if c.needReset {
		t.Fatal("a copy with the next delivery sequence was taken for a gap")
	}
	for user, want := range map[string]int64{"first": 1, "second": 1} {
		us, _, err := db.UserStats(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if us.TotalChatLines != want {
			t.Errorf("%s: %d chat lines, want %d", user, us.TotalChatLines, want)
		}
	}
	if cur, err := db.Cursor(ctx, k.source); err != nil || cur != 2 || c.cursor != 2 {
		t.Errorf("cursor = %d in the database, %d in memory (%v); want 2", cur, c.cursor, err)
	}
}
