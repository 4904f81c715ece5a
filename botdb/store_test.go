package botdb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

var ctx = context.Background()

// tableCounts returns the number of rows of every data table, to check that
// a refused write wrote nothing.
func tableCounts(t *testing.T, db *DB) map[string]int {
	t.Helper()
	out := make(map[string]int)
	for _, table := range []string{"user_stats", "user_actions", "user_count_history", "recent_chat", "consumer_cursor"} {
		var n int
		if err := db.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	var hw string
	if err := db.read.QueryRowContext(ctx, `SELECT printf('%d %d %d', max_users, max_connected, COALESCE(last_updated, -1)) FROM channel_stats`).Scan(&hw); err != nil {
		t.Fatal(err)
	}
	out["channel_stats "+hw] = 1
	return out
}

func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var ve *ValidationError
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &ve) {
		t.Fatalf("error %v: want a *ValidationError matching ErrInvalid", err)
	}
	if ve.Field != field {
		t.Errorf("error %q names field %q; want %q", err, ve.Field, field)
	}
	if !strings.Contains(err.Error(), field+": ") {
		t.Errorf("error %q does not name %q", err, field)
	}
}

func TestValidationRefusesAndWritesNothing(t *testing.T) {
	db := MustOpenDB(t)
	// Some data first, so "nothing written" compares non-empty tables.
	if err := db.Apply(ctx, []Event{
		{Kind: EventChatMessage, Username: "alice", Message: "hi", Time: epoch},
		{Kind: EventUserJoined, Username: "alice", Time: epoch},
		{Kind: EventHighWater, ChatCount: 3, ConnectedCount: 5, Time: epoch},
	}); err != nil {
		t.Fatal(err)
	}
	before := tableCounts(t, db)
	long := strings.Repeat("é", MaxUsernameChars+1)
	for _, tc := range []struct {
		name  string
		field string
		call  func() error
	}{
		{"log chat empty username", "username", func() error { return db.LogChat(ctx, "", "hi", epoch) }},
		{"log chat 51 characters", "username", func() error { return db.LogChat(ctx, long, "hi", epoch) }},
		{"log chat invalid utf-8 username", "username", func() error { return db.LogChat(ctx, "a\xffb", "hi", epoch) }},
		{"log chat NUL in username", "username", func() error { return db.LogChat(ctx, "a\x00b", "hi", epoch) }},
		{"log chat newline in username", "username", func() error { return db.LogChat(ctx, "a\nb", "hi", epoch) }},
		{"log chat C1 control in username", "username", func() error { return db.LogChat(ctx, "a\u0085b", "hi", epoch) }},
		{"log chat empty message", "message", func() error { return db.LogChat(ctx, "alice", "", epoch) }},
		{"log chat 4097 bytes", "message", func() error { return db.LogChat(ctx, "alice", strings.Repeat("x", MaxMessageBytes+1), epoch) }},
		{"log chat invalid utf-8 message", "message", func() error { return db.LogChat(ctx, "alice", "bad \xc3\x28", epoch) }},
		{"user joined bad name", "username", func() error { return db.UserJoined(ctx, "", epoch) }},
		{"user left bad name", "username", func() error { return db.UserLeft(ctx, "tab\tname", epoch) }},
		{"user chat message bad name", "username", func() error { return db.UserChatMessage(ctx, long, epoch) }},
		{"high water negative chat", "chat_count", func() error { return db.UpdateHighWaterMark(ctx, -1, 10, epoch) }},
		{"high water negative connected", "connected_count", func() error { return db.UpdateHighWaterMark(ctx, 10, -1, epoch) }},
		{"user count negative", "chat_count", func() error { return db.LogUserCount(ctx, -5, 0, epoch) }},
		{"action empty type", "action_type", func() error { return db.LogUserAction(ctx, "alice", "", "", epoch) }},
		{"action long type", "action_type", func() error {
			return db.LogUserAction(ctx, "alice", strings.Repeat("a", MaxActionTypeChars+1), "", epoch)
		}},
		{"action control in type", "action_type", func() error { return db.LogUserAction(ctx, "alice", "pm\x1b[31m", "", epoch) }},
		{"action long details", "details", func() error {
			return db.LogUserAction(ctx, "alice", "pm_command", strings.Repeat("d", MaxDetailsBytes+1), epoch)
		}},
		{"action bad user", "username", func() error { return db.LogUserAction(ctx, "", "pm_command", "", epoch) }},
		{"cleanup negative", "older_than", func() error { _, err := db.CleanupOldHistory(ctx, -time.Hour); return err }},
		{"apply unknown kind", "kind", func() error { return db.Apply(ctx, []Event{{Kind: "user.exploded", Username: "a"}}) }},
		{"apply empty kind", "kind", func() error { return db.Apply(ctx, []Event{{Username: "a"}}) }},
		{"apply from empty source", "source", func() error { return db.ApplyFrom(ctx, "", 1, nil) }},
		{"apply from huge seq", "seq", func() error { return db.ApplyFrom(ctx, "s", math.MaxInt64+1, nil) }},
		{"recent negative limit", "limit", func() error { _, err := db.RecentMessages(ctx, -1, 0); return err }},
		{"recent negative offset", "offset", func() error { _, err := db.RecentMessages(ctx, 10, -1); return err }},
		{"top chatters negative", "limit", func() error { _, err := db.TopChatters(ctx, -1); return err }},
		{"user actions negative", "limit", func() error { _, err := db.UserActions(ctx, "alice", -1); return err }},
		{"user actions bad user", "username", func() error { _, err := db.UserActions(ctx, "a\x00", 1); return err }},
		{"user stats bad user", "username", func() error { _, _, err := db.UserStats(ctx, ""); return err }},
		{"cursor empty source", "source", func() error { _, err := db.Cursor(ctx, ""); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantInvalid(t, tc.call(), tc.field)
			if after := tableCounts(t, db); !reflect.DeepEqual(after, before) {
				t.Errorf("tables changed: %v -> %v", before, after)
			}
		})
	}
}

func TestValidationAccepts(t *testing.T) {
	db := MustOpenDB(t)
	for _, tc := range []struct{ name, username, message string }{
		{"50 characters of 2 bytes", strings.Repeat("é", MaxUsernameChars), "x"},
		{"one character", "a", "x"},
		{"4096 bytes", "bob", strings.Repeat("x", MaxMessageBytes)},
		{"multi-line message", "bob", "line one\nline two\ttabbed"},
		{"emoji", "🙂user", "héllo 世界 🙂"},
		{"sql injection", "robert'); --", `'); DROP TABLE recent_chat; --`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := db.LogChat(ctx, tc.username, tc.message, epoch); err != nil {
				t.Fatal(err)
			}
			msgs, err := db.RecentMessages(ctx, 1, 0)
			if err != nil || len(msgs) != 1 {
				t.Fatalf("%v, %v", msgs, err)
			}
			if msgs[0].Username != tc.username || msgs[0].Message != tc.message {
				t.Errorf("read back %q: %q; want %q: %q", msgs[0].Username, msgs[0].Message, tc.username, tc.message)
			}
		})
	}
}

func TestRecentMessagesOrder(t *testing.T) {
	clock := &fixedClock{t: epoch.Add(time.Hour)}
	db := MustOpenDB(t, WithClock(clock.now))
	// Inserted out of time order, with ties: newest timestamp first, then
	// the later insert (higher id) first.
	for _, m := range []struct {
		user string
		ts   time.Time
	}{
		{"a", epoch.Add(2 * time.Second)},
		{"b", epoch},
		{"c", epoch.Add(2 * time.Second)},
		{"d", time.Time{}}, // now by the clock
		{"e", epoch.Add(time.Second)},
		{"f", epoch.Add(1500 * time.Millisecond)}, // stored as whole seconds
	} {
		if err := db.LogChat(ctx, m.user, "msg from "+m.user, m.ts); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := db.RecentMessages(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, m.Username)
	}
	if want := []string{"d", "c", "a", "f", "e", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("order %v; want %v", got, want)
	}
	if !msgs[0].Timestamp.Equal(clock.t) || msgs[0].Timestamp.Location() != time.UTC {
		t.Errorf("zero time stored as %v; want the clock's %v in UTC", msgs[0].Timestamp, clock.t)
	}
	if !msgs[3].Timestamp.Equal(epoch.Add(time.Second)) {
		t.Errorf("sub-second time stored as %v; want %v", msgs[3].Timestamp, epoch.Add(time.Second))
	}
	for i := 1; i < len(msgs); i++ {
		if msgs[i].ID == msgs[i-1].ID {
			t.Errorf("duplicate id %d", msgs[i].ID)
		}
	}
}

func TestRecentMessagesLimits(t *testing.T) {
	db := MustOpenDB(t)
	const n = MaxLimit + 150
	events := make([]Event, n)
	for i := range events {
		events[i] = Event{Kind: EventChatMessage, Username: "u", Message: fmt.Sprint(i), Time: epoch.Add(time.Duration(i) * time.Second)}
	}
	if err := db.Apply(ctx, events); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		limit, offset int
		wantLen       int
		wantFirst     string
	}{
		{"default", 0, 0, DefaultLimit, fmt.Sprint(n - 1)},
		{"one", 1, 0, 1, fmt.Sprint(n - 1)},
		{"max", MaxLimit, 0, MaxLimit, fmt.Sprint(n - 1)},
		{"clamped", MaxLimit + 1, 0, MaxLimit, fmt.Sprint(n - 1)},
		{"huge", math.MaxInt, 0, MaxLimit, fmt.Sprint(n - 1)},
		{"offset", 10, 5, 10, fmt.Sprint(n - 6)},
		{"offset near end", 100, n - 3, 3, "2"},
		{"offset past end", 10, n, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs, err := db.RecentMessages(ctx, tc.limit, tc.offset)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != tc.wantLen {
				t.Fatalf("got %d messages; want %d", len(msgs), tc.wantLen)
			}
			if len(msgs) > 0 && msgs[0].Message != tc.wantFirst {
				t.Errorf("first message %q; want %q", msgs[0].Message, tc.wantFirst)
			}
		})
	}
}

func TestInjectionStoredVerbatim(t *testing.T) {
	db := MustOpenDB(t)
	evil := `'); DROP TABLE recent_chat; --`
	if err := db.LogChat(ctx, "mallory", evil, epoch); err != nil {
		t.Fatal(err)
	}
	if err := db.LogUserAction(ctx, "mallory", "pm_command", evil, epoch); err != nil {
		t.Fatal(err)
	}
	if err := db.UserJoined(ctx, `x'; DROP TABLE user_stats; --`, epoch); err != nil {
		t.Fatal(err)
	}
	msgs, err := db.RecentMessages(ctx, 0, 0)
	if err != nil || len(msgs) != 1 || msgs[0].Message != evil {
		t.Fatalf("read back %v, %v", msgs, err)
	}
	acts, err := db.UserActions(ctx, "mallory", 0)
	if err != nil || len(acts) != 1 || acts[0].Details != evil {
		t.Fatalf("read back %v, %v", acts, err)
	}
	if _, ok, err := db.UserStats(ctx, `x'; DROP TABLE user_stats; --`); !ok || err != nil {
		t.Fatalf("user not found: %v", err)
	}
}

func TestUserSessions(t *testing.T) {
	db := MustOpenDB(t)
	at := func(sec int) time.Time { return epoch.Add(time.Duration(sec) * time.Second) }
	type step struct {
		call func() error
		want UserStats // Username "alice" implied
	}
	join := func(sec int) func() error { return func() error { return db.UserJoined(ctx, "alice", at(sec)) } }
	leave := func(sec int) func() error { return func() error { return db.UserLeft(ctx, "alice", at(sec)) } }
	chat := func(sec int) func() error { return func() error { return db.UserChatMessage(ctx, "alice", at(sec)) } }
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"join creates the user and opens a session", []step{
			{join(10), UserStats{FirstSeen: at(10), LastSeen: at(10), CurrentSessionStart: at(10)}},
		}},
		{"leave adds the session and closes it", []step{
			{join(10), UserStats{FirstSeen: at(10), LastSeen: at(10), CurrentSessionStart: at(10)}},
			{leave(100), UserStats{FirstSeen: at(10), LastSeen: at(100), TotalTimeConnected: 90 * time.Second}},
			{join(200), UserStats{FirstSeen: at(10), LastSeen: at(200), TotalTimeConnected: 90 * time.Second, CurrentSessionStart: at(200)}},
			{leave(230), UserStats{FirstSeen: at(10), LastSeen: at(230), TotalTimeConnected: 120 * time.Second}},
		}},
		{"repeated join keeps the open session", []step{
			{join(10), UserStats{FirstSeen: at(10), LastSeen: at(10), CurrentSessionStart: at(10)}},
			{join(50), UserStats{FirstSeen: at(10), LastSeen: at(50), CurrentSessionStart: at(10)}},
			{leave(70), UserStats{FirstSeen: at(10), LastSeen: at(70), TotalTimeConnected: 60 * time.Second}},
		}},
		{"leave without a session adds nothing", []step{
			{leave(40), UserStats{FirstSeen: at(40), LastSeen: at(40)}},
			{leave(50), UserStats{FirstSeen: at(40), LastSeen: at(50)}},
		}},
		{"leave before the join time adds nothing", []step{
			{join(100), UserStats{FirstSeen: at(100), LastSeen: at(100), CurrentSessionStart: at(100)}},
			{leave(90), UserStats{FirstSeen: at(90), LastSeen: at(100)}},
		}},
		{"chat counts lines and moves last seen", []step{
			{chat(5), UserStats{FirstSeen: at(5), LastSeen: at(5), TotalChatLines: 1}},
			{chat(8), UserStats{FirstSeen: at(5), LastSeen: at(8), TotalChatLines: 2}},
			{chat(6), UserStats{FirstSeen: at(5), LastSeen: at(8), TotalChatLines: 3}}, // late event
			{join(9), UserStats{FirstSeen: at(5), LastSeen: at(9), TotalChatLines: 3, CurrentSessionStart: at(9)}},
			{chat(12), UserStats{FirstSeen: at(5), LastSeen: at(12), TotalChatLines: 4, CurrentSessionStart: at(9)}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := db.write.ExecContext(ctx, `DELETE FROM user_stats`); err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				if err := s.call(); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				got, ok, err := db.UserStats(ctx, "alice")
				if err != nil || !ok {
					t.Fatalf("step %d: found %v, %v", i, ok, err)
				}
				s.want.Username = "alice"
				if got != s.want {
					t.Errorf("step %d:\n got %+v\nwant %+v", i, got, s.want)
				}
			}
		})
	}
}

func TestUserStatsUnknown(t *testing.T) {
	db := MustOpenDB(t)
	st, ok, err := db.UserStats(ctx, "nobody")
	if err != nil || ok || st != (UserStats{}) {
		t.Errorf("got %+v, %v, %v; want zero, false, nil", st, ok, err)
	}
}

func TestTopChattersAndTotalUsers(t *testing.T) {
	db := MustOpenDB(t)
	if n, err := db.TotalUsersSeen(ctx); err != nil || n != 0 {
		t.Fatalf("empty store: %d, %v", n, err)
	}
	var events []Event
	for user, lines := range map[string]int{"ann": 5, "bob": 3, "cat": 5, "dan": 1} {
		for range lines {
			events = append(events, Event{Kind: EventChatMessage, Username: user, Message: "x", Time: epoch})
		}
	}
	events = append(events, Event{Kind: EventUserJoined, Username: "lurker", Time: epoch})
	for i := range 15 {
		events = append(events, Event{Kind: EventChatMessage, Username: fmt.Sprintf("z%02d", i), Message: "x", Time: epoch})
	}
	if err := db.Apply(ctx, events); err != nil {
		t.Fatal(err)
	}
	if n, err := db.TotalUsersSeen(ctx); err != nil || n != 20 {
		t.Errorf("TotalUsersSeen = %d, %v; want 20", n, err)
	}
	for _, tc := range []struct {
		name    string
		limit   int
		wantLen int
	}{
		{"default", 0, DefaultTopChatters},
		{"three", 3, 3},
		{"all", 100, 19}, // the lurker never chatted
		{"clamped", MaxLimit * 10, 19},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top, err := db.TopChatters(ctx, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(top) != tc.wantLen {
				t.Fatalf("got %d chatters; want %d", len(top), tc.wantLen)
			}
			want := []ChatterCount{{"ann", 5}, {"cat", 5}, {"bob", 3}}
			if !reflect.DeepEqual(top[:min(3, len(top))], want[:min(3, len(top))]) {
				t.Errorf("top = %v; want it to start %v", top, want)
			}
		})
	}
}

func TestHighWaterMarks(t *testing.T) {
	db := MustOpenDB(t)
	at := func(sec int) time.Time { return epoch.Add(time.Duration(sec) * time.Second) }
	for i, tc := range []struct {
		chat, conn       int
		ts               time.Time
		wantChat, wantCn HighWater
	}{
		{0, 0, at(0), HighWater{}, HighWater{}},
		{5, 8, at(1), HighWater{5, at(1)}, HighWater{8, at(1)}},
		{3, 9, at(2), HighWater{5, at(1)}, HighWater{9, at(2)}},     // chat lower: kept
		{5, 9, at(3), HighWater{5, at(1)}, HighWater{9, at(2)}},     // equal: kept, with its time
		{7, 2, at(4), HighWater{7, at(4)}, HighWater{9, at(2)}},     // connected lower: kept
		{0, 100, at(5), HighWater{7, at(4)}, HighWater{100, at(5)}}, // independent marks
	} {
		if err := db.UpdateHighWaterMark(ctx, tc.chat, tc.conn, tc.ts); err != nil {
			t.Fatal(err)
		}
		chat, err := db.HighWaterMark(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := db.HighWaterMarkConnected(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if chat != tc.wantChat || conn != tc.wantCn {
			t.Errorf("step %d (%d, %d): chat %+v connected %+v; want %+v %+v", i, tc.chat, tc.conn, chat, conn, tc.wantChat, tc.wantCn)
		}
	}
}

func TestUserCountHistoryAndCleanup(t *testing.T) {
	clock := &fixedClock{t: epoch}
	db := MustOpenDB(t, WithClock(clock.now))
	for i := range 10 {
		if err := db.LogUserCount(ctx, i, i*2, epoch.Add(time.Duration(i-10)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.LogUserCount(ctx, 99, 100, time.Time{}); err != nil { // now
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		since     time.Time
		wantLen   int
		wantFirst UserCount
	}{
		{"all", time.Time{}, 11, UserCount{epoch.Add(-10 * time.Hour), 0, 0}},
		{"inclusive", epoch.Add(-3 * time.Hour), 4, UserCount{epoch.Add(-3 * time.Hour), 7, 14}},
		{"now", epoch, 1, UserCount{epoch, 99, 100}},
		{"future", epoch.Add(time.Hour), 0, UserCount{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := db.UserCountHistory(ctx, tc.since)
			if err != nil {
				t.Fatal(err)
			}
			if len(h) != tc.wantLen {
				t.Fatalf("got %d samples; want %d", len(h), tc.wantLen)
			}
			if len(h) > 0 && h[0] != tc.wantFirst {
				t.Errorf("first %+v; want %+v", h[0], tc.wantFirst)
			}
			for i := 1; i < len(h); i++ {
				if h[i].Time.Before(h[i-1].Time) {
					t.Errorf("not oldest first: %v", h)
				}
			}
		})
	}
	clock.t = epoch.Add(time.Hour)
	for _, tc := range []struct {
		olderThan time.Duration
		deleted   int64
		left      int
	}{
		{24 * time.Hour, 0, 11},
		{5 * time.Hour, 6, 5}, // -10h..-5h relative to epoch are older than -4h
		{5 * time.Hour, 0, 5}, // again: nothing more
		{time.Hour, 4, 1},     // keeps the sample at epoch (not older than)
		{0, 1, 0},
	} {
		n, err := db.CleanupOldHistory(ctx, tc.olderThan)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := db.UserCountHistory(ctx, time.Time{})
		if n != tc.deleted || len(h) != tc.left {
			t.Errorf("cleanup older than %v: deleted %d, %d left; want %d, %d", tc.olderThan, n, len(h), tc.deleted, tc.left)
		}
	}
}

func TestUserActions(t *testing.T) {
	db := MustOpenDB(t)
	at := func(sec int) time.Time { return epoch.Add(time.Duration(sec) * time.Second) }
	for i, a := range []struct {
		user, typ, details string
		ts                 time.Time
	}{
		{"alice", "pm_command", `{"cmd":"stats"}`, at(1)},
		{"bob", "pm_command", "", at(2)},
		{"alice", "kick", "spam", at(3)},
		{"alice", "pm_command", "later", at(3)},
	} {
		if err := db.LogUserAction(ctx, a.user, a.typ, a.details, a.ts); err != nil {
			t.Fatalf("action %d: %v", i, err)
		}
	}
	for _, tc := range []struct {
		name    string
		user    string
		limit   int
		details []string
	}{
		{"alice newest first", "alice", 0, []string{"later", "spam", `{"cmd":"stats"}`}},
		{"alice limit", "alice", 2, []string{"later", "spam"}},
		{"everyone", "", 0, []string{"later", "spam", "", `{"cmd":"stats"}`}},
		{"unknown user", "carol", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acts, err := db.UserActions(ctx, tc.user, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range acts {
				got = append(got, a.Details)
				if tc.user != "" && a.Username != tc.user {
					t.Errorf("action of %s in %s's list", a.Username, tc.user)
				}
			}
			if !reflect.DeepEqual(got, tc.details) {
				t.Errorf("details %q; want %q", got, tc.details)
			}
		})
	}
	acts, _ := db.UserActions(ctx, "alice", 1)
	if len(acts) != 1 || acts[0].ActionType != "pm_command" || !acts[0].Time.Equal(at(3)) || acts[0].ID == 0 {
		t.Errorf("newest action %+v", acts)
	}
}

func TestApplyAllKinds(t *testing.T) {
	clock := &fixedClock{t: epoch.Add(time.Hour)}
	db := MustOpenDB(t, WithClock(clock.now))
	at := func(sec int) time.Time { return epoch.Add(time.Duration(sec) * time.Second) }
	events := []Event{
		{Kind: EventUserJoined, Username: "alice", Time: at(0)},
		{Kind: EventChatMessage, Username: "alice", Message: "one", Time: at(1)},
		{Kind: EventChatMessage, Username: "bob", Message: "two", Time: at(2)},
		{Kind: EventUserLeft, Username: "alice", Time: at(60)},
		{Kind: EventChatMessage, Username: "alice", Message: "three", Time: at(61)}, // after leaving
		{Kind: EventUserJoined, Username: "alice", Time: at(70)},
		{Kind: EventUserCount, ChatCount: 2, ConnectedCount: 3, Time: at(80)},
		{Kind: EventHighWater, ChatCount: 2, ConnectedCount: 3, Time: at(80)},
		{Kind: EventUserAction, Username: "bob", ActionType: "pm_command", Details: "help"}, // now
		{Kind: EventChatMessage, Username: "carol", Message: "four"},                        // now
	}
	if err := db.Apply(ctx, events); err != nil {
		t.Fatal(err)
	}
	alice, _, _ := db.UserStats(ctx, "alice")
	if want := (UserStats{Username: "alice", FirstSeen: at(0), LastSeen: at(70), TotalChatLines: 2,
		TotalTimeConnected: 60 * time.Second, CurrentSessionStart: at(70)}); alice != want {
		t.Errorf("alice\n got %+v\nwant %+v", alice, want)
	}
	carol, _, _ := db.UserStats(ctx, "carol")
	if carol.TotalChatLines != 1 || !carol.FirstSeen.Equal(clock.t) {
		t.Errorf("carol %+v; want 1 line first seen at the clock's now", carol)
	}
	msgs, _ := db.RecentMessages(ctx, 0, 0)
	var got []string
	for _, m := range msgs {
		got = append(got, m.Message)
	}
	if want := []string{"four", "three", "two", "one"}; !reflect.DeepEqual(got, want) {
		t.Errorf("messages %v; want %v", got, want)
	}
	if h, _ := db.UserCountHistory(ctx, time.Time{}); len(h) != 1 || h[0] != (UserCount{at(80), 2, 3}) {
		t.Errorf("history %v", h)
	}
	if hw, _ := db.HighWaterMarkConnected(ctx); hw != (HighWater{3, at(80)}) {
		t.Errorf("high water connected %v", hw)
	}
	if acts, _ := db.UserActions(ctx, "bob", 0); len(acts) != 1 || !acts[0].Time.Equal(clock.t) {
		t.Errorf("actions %v", acts)
	}
}

func TestApplyBatchSizes(t *testing.T) {
	// Batches around the multi-row chunk sizes keep every message, in order,
	// and count every line.
	for _, n := range []int{0, 1, 2, 3, chatChunk - 1, chatChunk, chatChunk + 1, 3*chatChunk + 7, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			db := MustOpenDB(t)
			events := make([]Event, n)
			for i := range events {
				events[i] = Event{Kind: EventChatMessage, Username: fmt.Sprintf("u%d", i%7), Message: fmt.Sprint(i), Time: epoch}
			}
			if err := db.Apply(ctx, events); err != nil {
				t.Fatal(err)
			}
			msgs, err := db.RecentMessages(ctx, MaxLimit, 0)
			if err != nil || len(msgs) != n {
				t.Fatalf("%d messages, %v; want %d", len(msgs), err, n)
			}
			for i, m := range msgs { // same timestamp: newest (last applied) first
				if m.Message != fmt.Sprint(n-1-i) {
					t.Fatalf("message %d is %q; want %d", i, m.Message, n-1-i)
				}
			}
			var total int64
			top, _ := db.TopChatters(ctx, 100)
			for _, c := range top {
				total += c.ChatLines
			}
			if total != int64(n) {
				t.Errorf("counted %d lines; want %d", total, n)
			}
		})
	}
}

func TestApplyRefusesWholeBatch(t *testing.T) {
	db := MustOpenDB(t)
	before := tableCounts(t, db)
	err := db.Apply(ctx, []Event{
		{Kind: EventChatMessage, Username: "alice", Message: "fine"},
		{Kind: EventUserJoined, Username: "bob"},
		{Kind: EventChatMessage, Username: "carol", Message: ""},
	})
	wantInvalid(t, err, "message")
	if !strings.Contains(err.Error(), "event 2") {
		t.Errorf("error %q does not name the event's index", err)
	}
	if after := tableCounts(t, db); !reflect.DeepEqual(after, before) {
		t.Errorf("tables changed: %v -> %v", before, after)
	}
}

func TestApplyCanceled(t *testing.T) {
	db := MustOpenDB(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err := db.Apply(cctx, []Event{{Kind: EventChatMessage, Username: "alice", Message: "x"}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v; want context.Canceled", err)
	}
	if msgs, _ := db.RecentMessages(ctx, 0, 0); len(msgs) != 0 {
		t.Errorf("canceled apply wrote %v", msgs)
	}
}

func TestApplyFromCursor(t *testing.T) {
	db := MustOpenDB(t)
	chat := func(msg string) []Event { return []Event{{Kind: EventChatMessage, Username: "alice", Message: msg}} }
	for i, tc := range []struct {
		name       string
		source     string
		seq        uint64
		events     []Event
		wantErr    bool
		wantCursor uint64
		wantMsgs   int
	}{
		{"first batch", "js", 5, chat("a"), false, 5, 1},
		{"next batch", "js", 9, chat("b"), false, 9, 2},
		{"redelivered batch is skipped", "js", 9, chat("b again"), false, 9, 2},
		{"older batch is skipped", "js", 3, chat("old"), false, 9, 2},
		{"invalid batch moves nothing", "js", 12, chat(""), true, 9, 2},
		{"empty batch moves the cursor", "js", 12, nil, false, 12, 2},
		{"sources are separate", "other", 1, chat("c"), false, 12, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := db.ApplyFrom(ctx, tc.source, tc.seq, tc.events)
			if (err != nil) != tc.wantErr {
				t.Fatalf("step %d: error %v; want error %v", i, err, tc.wantErr)
			}
			cur, err := db.Cursor(ctx, "js")
			if err != nil || cur != tc.wantCursor {
				t.Errorf("cursor %d, %v; want %d", cur, err, tc.wantCursor)
			}
			if msgs, _ := db.RecentMessages(ctx, 0, 0); len(msgs) != tc.wantMsgs {
				t.Errorf("%d messages; want %d", len(msgs), tc.wantMsgs)
			}
		})
	}
	if cur, err := db.Cursor(ctx, "unknown"); err != nil || cur != 0 {
		t.Errorf("unknown source cursor %d, %v; want 0, nil", cur, err)
	}
	if err := db.ApplyFrom(ctx, "big", math.MaxInt64, nil); err != nil {
		t.Fatal(err)
	}
	if cur, _ := db.Cursor(ctx, "big"); cur != math.MaxInt64 {
		t.Errorf("cursor %d; want %d", cur, int64(math.MaxInt64))
	}
}

func TestEventValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		e     Event
		field string // "" = valid
	}{
		{"joined", Event{Kind: EventUserJoined, Username: "a"}, ""},
		{"joined without user", Event{Kind: EventUserJoined}, "username"},
		{"left", Event{Kind: EventUserLeft, Username: "a"}, ""},
		{"chat", Event{Kind: EventChatMessage, Username: "a", Message: "m"}, ""},
		{"chat without message", Event{Kind: EventChatMessage, Username: "a"}, "message"},
		{"count zero", Event{Kind: EventUserCount}, ""},
		{"count negative", Event{Kind: EventUserCount, ConnectedCount: -1}, "connected_count"},
		{"high water", Event{Kind: EventHighWater, ChatCount: 1, ConnectedCount: 2}, ""},
		{"action", Event{Kind: EventUserAction, Username: "a", ActionType: "pm_command"}, ""},
		{"action without type", Event{Kind: EventUserAction, Username: "a"}, "action_type"},
		{"unknown", Event{Kind: "x.y"}, "kind"},
		{"huge unknown kind is cut", Event{Kind: EventKind(strings.Repeat("k", 10000))}, "kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.e.Validate()
			if tc.field == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			wantInvalid(t, err, tc.field)
			if len(err.Error()) > 200 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
		})
	}
}

func TestApplyCanceledMidway(t *testing.T) {
	// Canceling a large batch either commits all of it or none of it, and
	// the store keeps working afterwards (database/sql may have replaced the
	// writer connection: it must come back with the same pragmas).
	db := MustOpenDB(t)
	events := make([]Event, 20_000)
	for i := range events {
		events[i] = Event{Kind: EventChatMessage, Username: "u", Message: fmt.Sprint(i), Time: epoch}
	}
	for _, delay := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			before, _, _ := db.UserStats(ctx, "u")
			cctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(delay, cancel)
			err := db.Apply(cctx, events)
			cancel()
			after, _, _ := db.UserStats(ctx, "u")
			switch added := after.TotalChatLines - before.TotalChatLines; {
			case err == nil && added != int64(len(events)):
				t.Errorf("committed batch added %d lines; want %d", added, len(events))
			case err != nil && added != 0:
				t.Errorf("failed batch (%v) added %d lines", err, added)
			case err != nil && !errors.Is(err, context.Canceled):
				t.Errorf("error %v; want cancellation", err)
			}
			if err := db.LogChat(ctx, "after", "still working", epoch); err != nil {
				t.Fatal(err)
			}
			var ckpt int
			if err := db.write.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&ckpt); err != nil || ckpt != walAutocheckpoint {
				t.Errorf("writer wal_autocheckpoint %d, %v; want %d", ckpt, err, walAutocheckpoint)
			}
		})
	}
}
