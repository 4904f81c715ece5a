package botdb

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The kill test: a child process (this test binary, re-executed) writes
// transactions as fast as it can and reports each one on stdout after it
// committed; the parent kills it with SIGKILL mid-stream, reopens the file
// and checks it is intact and holds every reported transaction.

const (
	killEnvPath  = "BOTDB_KILL_CHILD_DB"
	killEnvStart = "BOTDB_KILL_CHILD_START"
	killSource   = "kill-test"
)

// killTxRows is how many chat rows transaction k writes: single LogChat
// calls, Apply batches and ApplyFrom batches in turn.
func killTxRows(k int) int {
	switch k % 3 {
	case 0:
		return 1
	case 1:
		return 50
	}
	return 7
}

func killMessage(k, j int) string { return fmt.Sprintf("tx %d row %d", k, j) }

// TestKillChild is the child's body; it does nothing in a normal run.
func TestKillChild(t *testing.T) {
	path := os.Getenv(killEnvPath)
	if path == "" {
		t.Skip("only runs as the kill test's child process")
	}
	start, err := strconv.Atoi(os.Getenv(killEnvStart))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second) // the parent kills us long before
	for k := start; time.Now().Before(deadline); k++ {
		switch n := killTxRows(k); k % 3 {
		case 0:
			err = db.LogChat(ctx, "killer", killMessage(k, 0), time.Time{})
		default:
			events := make([]Event, n)
			for j := range events {
				events[j] = Event{Kind: EventChatMessage, Username: "killer", Message: killMessage(k, j)}
			}
			if k%3 == 1 {
				err = db.Apply(ctx, events)
			} else {
				err = db.ApplyFrom(ctx, killSource, uint64(k), events)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		// Reported only after the commit returned: the parent may rely on it.
		if _, err := fmt.Fprintf(os.Stdout, "committed %d\n", k); err != nil {
			t.Fatal(err)
		}
	}
}

func TestKillDuringWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.db")
	var rounds [][2]int // [first, last reported] transaction of each round
	next := 0
	for round := range 3 {
		last := killChildRound(t, path, next, 200+round*100)
		t.Logf("round %d: killed after transaction %d was reported", round, last)
		rounds = append(rounds, [2]int{next, last})
		checkAfterKill(t, path, rounds)
		// A transaction may have committed without being reported: the next
		// round's numbers (and ApplyFrom sequences) start well above it.
		next = last + 1000
	}
}

// killChildRound runs the child from transaction start, kills it once it has
// reported at least min transactions, and returns the last reported one.
func killChildRound(t *testing.T, path string, start, atLeast int) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), killEnvPath+"="+path, killEnvStart+"="+strconv.Itoa(start))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	last, reported := -1, 0
	killed := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		s, ok := strings.CutPrefix(sc.Text(), "committed ")
		if !ok {
			continue
		}
		k, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("child said %q", sc.Text())
		}
		last = k
		reported++
		if reported == atLeast && !killed {
			// Lines the child wrote before dying are still read below.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended before being killed, after %d transactions: %v", reported, err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL: %v", cmd.ProcessState)
	}
	return last
}

// checkAfterKill reopens the file and checks it passes integrity_check and
// holds every row of every reported transaction.
func checkAfterKill(t *testing.T, path string, rounds [][2]int) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer db.Close()
	var check string
	if err := db.write.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q, %v", check, err)
	}
	have := make(map[string]bool)
	rows, err := db.read.QueryContext(ctx, `SELECT message FROM recent_chat WHERE username = 'killer'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			t.Fatal(err)
		}
		have[m] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	missing, lastApplyFrom := 0, -1
	for _, r := range rounds {
		for k := r[0]; k <= r[1]; k++ {
			if k%3 == 2 {
				lastApplyFrom = k
			}
			for j := range killTxRows(k) {
				if m := killMessage(k, j); !have[m] {
					if missing < 5 {
						t.Errorf("committed row %q is missing", m)
					}
					missing++
				}
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d committed rows missing", missing)
	}
	// Apply counts each message's line in the same transaction (LogChat only
	// logs): the counter must match the batched messages present.
	var counted int64
	for m := range have {
		var k, j int
		if _, err := fmt.Sscanf(m, "tx %d row %d", &k, &j); err != nil {
			t.Fatalf("unexpected message %q", m)
		}
		if k%3 != 0 {
			counted++
		}
	}
	st, ok, err := db.UserStats(ctx, "killer")
	if err != nil || !ok || st.TotalChatLines != counted {
		t.Errorf("killer's line count %d (%v, %v); want %d, one per batched message", st.TotalChatLines, ok, err, counted)
	}
	if cur, err := db.Cursor(ctx, killSource); err != nil || cur < uint64(lastApplyFrom) {
		t.Errorf("cursor %d, %v; want at least %d", cur, err, lastApplyFrom)
	}
}
