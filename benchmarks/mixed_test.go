package benchmarks

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/natsbench/natsbench-action/botdb"
)

// mixPattern is the mix of BenchmarkMixedEvents, repeated for each user in
// turn: a visit of a user who joins, chats, runs a PM command and leaves,
// with the bot's periodic user count and high-water samples in between, as
// the original's benchmark mixed them. Half the events are chat lines.
var mixPattern = [...]botdb.EventKind{
	botdb.EventUserJoined,
	botdb.EventChatMessage,
	botdb.EventChatMessage,
	botdb.EventUserCount,
	botdb.EventChatMessage,
	botdb.EventUserAction,
	botdb.EventChatMessage,
	botdb.EventHighWater,
	botdb.EventChatMessage,
	botdb.EventUserLeft,
}

// mixUsers is how many distinct users a round of BenchmarkMixedEvents uses.
const mixUsers = 50

// mixRound builds the events of one round of BenchmarkMixedEvents and
// knows what the store must hold once they are applied.
type mixRound struct {
	users     []string
	countBase time.Time // user_count samples are stamped countBase+i s
	waterBase int       // high-water samples count waterBase+i users

	want struct{ chat, actions, counts, users, water int }
}

func newMixRound(env *Env, round int) *mixRound {
	r := &mixRound{
		// Far-future, per-round sample times, so that UserCountHistory
		// since countBase returns this round's samples only.
		countBase: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(round) * 1000 * time.Hour),
		waterBase: 1_000_000 * (round + 1),
	}
	for range mixUsers {
		r.users = append(r.users, env.NewUser("mixed"))
	}
	return r
}

// event returns the i-th event of the round and counts what it must store.
func (r *mixRound) event(i int) botdb.Event {
	visit := i / len(mixPattern)
	user := r.users[visit%len(r.users)]
	if visit < len(r.users) && i%len(mixPattern) == 0 {
		r.want.users++
	}
	switch kind := mixPattern[i%len(mixPattern)]; kind {
	case botdb.EventChatMessage:
		r.want.chat++
		return ChatEvent(user, i)
	case botdb.EventUserAction:
		r.want.actions++
		return botdb.Event{Kind: kind, Username: user, ActionType: "pm_command", Details: `{"command":"stats","args":"me","result":"ok"}`}
	case botdb.EventUserCount:
		r.want.counts++
		return botdb.Event{Kind: kind, Time: r.countBase.Add(time.Duration(i) * time.Second), ChatCount: 40 + i%20, ConnectedCount: 60 + i%20}
	case botdb.EventHighWater:
		r.want.water = r.waterBase + i
		return botdb.Event{Kind: kind, ChatCount: r.waterBase + i, ConnectedCount: r.waterBase + i}
	default: // joined, left
		return botdb.Event{Kind: kind, Username: user}
	}
}

// mixCounts is what the store holds, read through its API.
type mixCounts struct {
	chatLog, actionID, usersSeen int64
	lines                        map[string]int64
}

func readMixCounts(ctx context.Context, db *botdb.DB, users []string) (mixCounts, error) {
	var c mixCounts
	var err error
	if c.chatLog, err = LastMessageID(ctx, db); err != nil {
		return c, err
	}
	actions, err := db.UserActions(ctx, "", 1)
	if err != nil {
		return c, fmt.Errorf("reading the newest action: %w", err)
	}
	if len(actions) > 0 {
		c.actionID = actions[0].ID
	}
	if c.usersSeen, err = db.TotalUsersSeen(ctx); err != nil {
		return c, fmt.Errorf("counting users: %w", err)
	}
	c.lines = make(map[string]int64, len(users))
	for _, u := range users {
		if c.lines[u], err = ChatLines(ctx, db, u); err != nil {
			return c, err
		}
	}
	return c, nil
}

// check compares the store's growth from before to after with what the
// round published, kind by kind.
func (r *mixRound) check(ctx context.Context, db *botdb.DB, before, after mixCounts) error {
	var lines int64
	for _, u := range r.users {
		lines += after.lines[u] - before.lines[u]
	}
	counts, err := db.UserCountHistory(ctx, r.countBase)
	if err != nil {
		return fmt.Errorf("reading user count history: %w", err)
	}
	water, err := db.HighWaterMark(ctx)
	if err != nil {
		return fmt.Errorf("reading high water mark: %w", err)
	}
	for _, c := range []struct {
		what      string
		got, want int64
	}{
		{"chat lines logged", after.chatLog - before.chatLog, int64(r.want.chat)},
		{"chat lines counted", lines, int64(r.want.chat)},
		{"pm commands", after.actionID - before.actionID, int64(r.want.actions)},
		{"user count samples", int64(len(counts)), int64(r.want.counts)},
		{"new users", after.usersSeen - before.usersSeen, int64(r.want.users)},
	} {
		if c.got != c.want {
			return fmt.Errorf("%s: stored %d, published %d", c.what, c.got, c.want)
		}
	}
	if r.want.water > 0 && water.Users != r.want.water {
		return fmt.Errorf("high water mark: %d, want %d", water.Users, r.want.water)
	}
	return nil
}

// BenchmarkMixedEvents (9) streams chat, user (joined, left, PM command)
// and stats (user count, high water) events at once, with the sustained
// window, and reports the rate at which they are stored. Every kind is
// checked in the store afterwards, and the service must have rejected none.
// One op is one event.
func BenchmarkMixedEvents(b *testing.B) {
	env := NewEnv(b, botdb.ServiceConfig{})
	round := 0
	b.Run("mix=visits", func(b *testing.B) {
		ctx := b.Context()
		round++
		r := newMixRound(env, round)
		before, err := readMixCounts(ctx, env.DB, r.users)
		if err != nil {
			b.Fatal(err)
		}
		h0 := env.Service.Health()
		b.ResetTimer()
		start := time.Now()
		if err := publishWindowed(ctx, env, b.N, sustainedWindow, r.event); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		h1 := env.Service.Health()
		if rej := h1.EventsRejected - h0.EventsRejected; rej != 0 {
			b.Fatalf("service rejected %d events of the mix", rej)
		}
		if got := h1.EventsApplied - h0.EventsApplied; got != int64(b.N) {
			b.Fatalf("service applied %d of %d events", got, b.N)
		}
		after, err := readMixCounts(ctx, env.DB, r.users)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.check(ctx, env.DB, before, after); err != nil {
			b.Fatal(err)
		}
		ReportRate(b, b.N, elapsed)
		b.ReportMetric(1, "stored-fraction")
	})
}
