package botdb

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// The store's speed, measured on a real file (WAL, synchronous=NORMAL unless
// named). rows/s counts events written: an EventChatMessage is a recent_chat
// row plus its share of the per-user counter update.

func BenchmarkLogChat(b *testing.B) {
	for _, sync := range []Synchronous{SyncNormal, SyncFull} {
		b.Run("sync="+string(sync), func(b *testing.B) {
			db := MustOpenDB(b, WithSynchronous(sync))
			ctx := context.Background()
			ts := time.Unix(1_700_000_000, 0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if err := db.LogChat(ctx, benchUser(i), "hello, this is a chat line of ordinary length", ts.Add(time.Duration(i)*time.Millisecond)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func BenchmarkApply(b *testing.B) {
	// Chat from 50 users (a busy channel) and from 500 (each user's counter
	// updated about twice per 1000-event batch).
	for _, users := range []int{50, 500} {
		for _, size := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("chat/users=%d/batch=%d", users, size), func(b *testing.B) {
				benchApply(b, size, func(i int) Event {
					return Event{Kind: EventChatMessage, Username: benchUser(i % users), Message: "hello, this is a chat line of ordinary length",
						Time: time.Unix(1_700_000_000+int64(i/100), 0)}
				})
			})
		}
	}
	for _, size := range []int{100, 1000} {
		// A bot's mix: mostly chat, some joins and leaves, counts and actions.
		b.Run(fmt.Sprintf("mixed/batch=%d", size), func(b *testing.B) {
			benchApply(b, size, func(i int) Event {
				ts := time.Unix(1_700_000_000+int64(i/100), 0)
				switch i % 20 {
				case 0:
					return Event{Kind: EventUserJoined, Username: benchUser(i), Time: ts}
				case 1:
					return Event{Kind: EventUserLeft, Username: benchUser(i), Time: ts}
				case 2:
					return Event{Kind: EventUserCount, ChatCount: i % 50, ConnectedCount: i % 70, Time: ts}
				case 3:
					return Event{Kind: EventUserAction, Username: benchUser(i), ActionType: "pm_command", Details: `{"cmd":"stats"}`, Time: ts}
				case 4:
					return Event{Kind: EventHighWater, ChatCount: i % 50, ConnectedCount: i % 70, Time: ts}
				}
				return Event{Kind: EventChatMessage, Username: benchUser(i), Message: "hello, this is a chat line of ordinary length", Time: ts}
			})
		})
	}
}

func benchApply(b *testing.B, size int, event func(i int) Event) {
	db := MustOpenDB(b)
	ctx := context.Background()
	batch := make([]Event, size)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		b.StopTimer()
		for j := range batch {
			batch[j] = event(n)
			n++
		}
		b.StartTimer()
		if err := db.Apply(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkRecentMessages(b *testing.B) {
	db := MustOpenDB(b)
	ctx := context.Background()
	fill(b, db, 20_000)
	for _, limit := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				msgs, err := db.RecentMessages(ctx, limit, 0)
				if err != nil || len(msgs) != limit {
					b.Fatalf("got %d messages, %v", len(msgs), err)
				}
			}
		})
	}
	b.Run("limit=100/offset=10000", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.RecentMessages(ctx, 100, 10_000); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("limit=100/parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := db.RecentMessages(ctx, 100, 0); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkUserStats(b *testing.B) {
	db := MustOpenDB(b)
	ctx := context.Background()
	fill(b, db, 20_000)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, ok, err := db.UserStats(ctx, benchUser(i)); err != nil || !ok {
				b.Fatalf("user %s: found %v, %v", benchUser(i), ok, err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, _, err := db.UserStats(ctx, benchUser(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// benchUsers is how many users the benchmarks spread their events over.
const benchUsers = 500

var benchUserNames = func() []string {
	s := make([]string, benchUsers)
	for i := range s {
		s[i] = fmt.Sprintf("user%03d", i)
	}
	return s
}()

func benchUser(i int) string { return benchUserNames[i%benchUsers] }

// fill writes n chat events through Apply.
func fill(tb testing.TB, db *DB, n int) {
	tb.Helper()
	batch := make([]Event, 0, 1000)
	for i := range n {
		batch = append(batch, Event{Kind: EventChatMessage, Username: benchUser(i), Message: fmt.Sprintf("message %d", i),
			Time: time.Unix(1_700_000_000+int64(i), 0)})
		if len(batch) == cap(batch) || i == n-1 {
			if err := db.Apply(context.Background(), batch); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// BenchmarkDriverBaseline is the bare driver on a one-table schema, with the
// store's pragmas: the yardstick for the store's figures on a shared, noisy
// machine (compare ratios within one run). "bare" has no index, like the
// prototype the targets come from; "indexed" adds the timestamp index that
// RecentMessages needs, which costs a second page write per commit.
func BenchmarkDriverBaseline(b *testing.B) {
	for _, schema := range []struct{ name, ddl string }{
		{"bare", ``},
		{"indexed", `CREATE INDEX chat_ts ON chat (ts);`},
	} {
		for _, size := range []int{1, 1000} {
			b.Run(fmt.Sprintf("%s/batch=%d", schema.name, size), func(b *testing.B) {
				path := b.TempDir() + "/bare.db"
				sdb, err := sql.Open("sqlite3", writeDSN(path, SyncNormal))
				if err != nil {
					b.Fatal(err)
				}
				defer sdb.Close()
				sdb.SetMaxOpenConns(1)
				if _, err := sdb.Exec(`CREATE TABLE chat (id INTEGER PRIMARY KEY, ts INTEGER, username TEXT, message TEXT);` + schema.ddl); err != nil {
					b.Fatal(err)
				}
				ins, err := sdb.Prepare(`INSERT INTO chat (ts, username, message) VALUES (?, ?, ?)`)
				if err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					tx, err := sdb.Begin()
					if err != nil {
						b.Fatal(err)
					}
					st := tx.Stmt(ins)
					for j := range size {
						if _, err := st.Exec(1_700_000_000+i, benchUser(j), "hello, this is a chat line of ordinary length"); err != nil {
							b.Fatal(err)
						}
					}
					if err := tx.Commit(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}
