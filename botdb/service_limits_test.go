package botdb

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// recentChat asks recent_chat.get with a plain request and decodes the
// reply, failing the test on an error reply.
func recentChat(t *testing.T, e *env, limit, offset int) (RecentChatReply, []byte) {
	t.Helper()
	req := fmt.Sprintf(`{"limit":%d,"offset":%d}`, limit, offset)
	reply, err := e.nc.Request(e.client.Subjects().RecentChat, []byte(req), 20*time.Second)
	if err != nil {
		t.Fatalf("recent_chat %s: %v", req, err)
	}
	var r RecentChatReply
	if err := json.Unmarshal(reply.Data, &r); err != nil || !r.Success {
		t.Fatalf("recent_chat %s: %.200s (%v)", req, reply.Data, err)
	}
	return r, reply.Data
}

// TestRecentChatFitsThePayloadLimit: a reply never exceeds the server's max
// payload (which would leave the query unanswered). Text is not HTML
// escaped, so 100 lines of 4,096 '<' fit whole; what cannot fit is cut,
// newest first, with "more", and the rest comes with a larger offset.
func TestRecentChatFitsThePayloadLimit(t *testing.T) {
	t.Run("100 lines of 4096 <", func(t *testing.T) {
		e := newEnv(t, ServiceConfig{})
		line := strings.Repeat("<", 4096)
		for range 100 {
			mustPublish(t, e.client, Event{Kind: EventChatMessage, Username: "lt", Message: line})
		}
		if _, err := e.client.Sync(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.Health(testCtx(t)); err != nil { // waits for the events
			t.Fatal(err)
		}
		r, raw := recentChat(t, e, 0, 0)
		if len(r.Messages) != 100 || r.More {
			t.Fatalf("recent_chat: %d messages, more %v; want all 100", len(r.Messages), r.More)
		}
		for _, m := range r.Messages {
			if m.Message != line {
				t.Fatalf("message of %d bytes, want the 4096 '<'", len(m.Message))
			}
		}
		if strings.Contains(string(raw), `\u003c`) {
			t.Error("reply escapes < as \\u003c")
		}
	})
	t.Run("limit 1000 of 1 KB lines", func(t *testing.T) {
		e := newEnv(t, ServiceConfig{})
		const n = 1000
		for i := range n {
			mustPublish(t, e.client, Event{Kind: EventChatMessage, Username: "kb", Message: fmt.Sprintf("%04d %s", i, strings.Repeat("x", 1019))})
		}
		if _, err := e.client.Sync(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.Health(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		max := int(e.nc.MaxPayload())
		var got []MessageReply
		for page := 0; len(got) < n; page++ {
			r, raw := recentChat(t, e, n-len(got), len(got))
			if len(raw) > max {
				t.Fatalf("reply of %d bytes, over the max payload %d", len(raw), max)
			}
			if len(r.Messages) == 0 {
				t.Fatalf("page %d: empty after %d of %d messages", page, len(got), n)
			}
			if r.More != (len(got)+len(r.Messages) < n) {
				t.Fatalf("page %d: more = %v with %d+%d of %d messages", page, r.More, len(got), len(r.Messages), n)
			}
			got = append(got, r.Messages...)
		}
		if len(got) != n {
			t.Fatalf("%d messages over all pages, want %d", len(got), n)
		}
		for i, m := range got { // newest first, none missing or repeated
			if want := fmt.Sprintf("%04d ", n-1-i); !strings.HasPrefix(m.Message, want) {
				t.Fatalf("message %d starts %.5q, want %q", i, m.Message, want)
			}
		}
	})
}

// TestMinSeqBeyondTheStreamIsRefused: a query asking to wait for a sequence
// the stream has not reached is refused at once (400), instead of holding
// a waiting slot until its QueryWait (an hour here: a flood that waited
// would never be answered within the test), and a normal query asked
// during the flood is answered.
func TestMinSeqBeyondTheStreamIsRefused(t *testing.T) {
	e := newEnv(t, ServiceConfig{QueryWait: time.Hour})
	ctx := testCtx(t)
	for range 10 {
		mustPublish(t, e.client, Event{Kind: EventChatMessage, Username: "normal", Message: "hi"})
	}
	const flood = 300
	replies := make(chan *nats.Msg, flood)
	inbox := nats.NewInbox()
	sub, err := e.nc.ChanSubscribe(inbox, replies)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	for _, seq := range []uint64{1 << 63, 18446744073709551615} {
		for range flood / 2 {
			m := nats.NewMsg(e.client.Subjects().UserStats)
			m.Reply = inbox
			m.Header.Set(MinSeqHeader, strconv.FormatUint(seq, 10))
			m.Data = []byte(`{"username":"normal"}`)
			if err := e.nc.PublishMsg(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	st, err := e.client.UserStats(ctx, "normal")
	if err != nil || st.TotalChatLines != 10 {
		t.Fatalf("user_stats during the flood = %+v, %v; want 10 lines", st, err)
	}
	for i := range flood {
		select {
		case r := <-replies:
			if code := r.Header.Get(micro.ErrorCodeHeader); code != "400" || !strings.Contains(string(r.Data), "beyond the stream's last sequence") {
				t.Fatalf("flood reply %d: code %q, %s; want 400 beyond the stream's last sequence", i, code, r.Data)
			}
		case <-ctx.Done():
			t.Fatalf("%d of %d flood queries answered: the rest wait", i, flood)
		}
	}
}
