package botdb

import (
	"context"
	"testing"
)

func TestSmoke(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	if err := db.Apply(ctx, []Event{{Kind: EventChatMessage, Username: "a", Message: "hi"}, {Kind: EventUserJoined, Username: "b"}}); err != nil {
		t.Fatal(err)
	}
	msgs, err := db.RecentMessages(ctx, 0, 0)
	if err != nil || len(msgs) != 1 {
		t.Fatal(msgs, err)
	}
	st, ok, err := db.UserStats(ctx, "a")
	t.Log(st, ok, err)
}
