package botdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxPayload is the largest event or query payload the service accepts. The
// store's own field limits are far below it; this bound only stops a huge
// message from being decoded at all.
const MaxPayload = 64 << 10

// maxUnixSeconds is the last second of year 9999: later timestamps are
// rejected rather than silently wrapped by SQLite's date functions.
const maxUnixSeconds = 253402300799

// Subjects holds the NATS subjects of one service instance, all derived from
// its prefix so that several bots can share one NATS server.
type Subjects struct {
	Prefix string
	// Events maps each event subject to the kind of event it carries.
	Events map[string]EventKind
	// Sync is the barrier subject: captured by the stream like the events,
	// so that a JetStream publish to it returns a sequence after every event
	// the same connection published before (see Client.Sync).
	Sync string
	// Query subjects.
	UserStats, ChannelStats, RecentChat, Health string

	kindSubject map[EventKind]string
	eventList   []string
}

// eventKinds lists the event kinds in a fixed order (subjects of the stream).
var eventKinds = []EventKind{EventUserJoined, EventUserLeft, EventChatMessage, EventUserCount, EventHighWater, EventUserAction}

// NewSubjects returns the subjects for prefix ("rosey" when empty).
func NewSubjects(prefix string) Subjects {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	s := Subjects{
		Prefix:       prefix,
		Events:       make(map[string]EventKind, len(eventKinds)),
		kindSubject:  make(map[EventKind]string, len(eventKinds)),
		Sync:         prefix + ".db.sync",
		UserStats:    prefix + ".db.query.user_stats",
		ChannelStats: prefix + ".db.query.channel_stats",
		RecentChat:   prefix + ".db.stats.recent_chat.get",
		Health:       prefix + ".db.query.health",
	}
	for _, k := range eventKinds {
		subj := prefix + ".db." + string(k)
		s.Events[subj] = k
		s.kindSubject[k] = subj
		s.eventList = append(s.eventList, subj)
	}
	return s
}

// EventSubjects returns the event subjects in a fixed order.
func (s Subjects) EventSubjects() []string { return append([]string(nil), s.eventList...) }

// Subject returns the subject events of kind k are published on.
func (s Subjects) Subject(k EventKind) (string, bool) {
	subj, ok := s.kindSubject[k]
	return subj, ok
}

// ValidatePrefix checks that prefix is a plain dot-separated list of NATS
// tokens (no wildcards or spaces); empty means the default.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	for _, tok := range strings.Split(prefix, ".") {
		if tok == "" || strings.ContainsAny(tok, " \t\r\n*>") {
			return fmt.Errorf("prefix %q: must be dot-separated tokens without spaces or wildcards", prefix)
		}
	}
	return nil
}

// wireEvent is the JSON payload of every event subject; which fields are
// required depends on the subject.
type wireEvent struct {
	Username       *string      `json:"username,omitempty"`
	Message        *string      `json:"message,omitempty"`
	ChatCount      *int64       `json:"chat_count,omitempty"`
	ConnectedCount *int64       `json:"connected_count,omitempty"`
	Command        *string      `json:"command,omitempty"`
	Args           *string      `json:"args,omitempty"`
	Result         *string      `json:"result,omitempty"`
	Timestamp      *json.Number `json:"timestamp,omitempty"`
}

// pmDetails is how a pm_command event's command, args and result are kept
// in the store's free-text Details column.
type pmDetails struct {
	Command string `json:"command"`
	Args    string `json:"args,omitempty"`
	Result  string `json:"result,omitempty"`
}

// checkPayload rejects what must not reach the JSON decoder: oversized data
// and invalid UTF-8, which encoding/json would otherwise silently replace.
func checkPayload(data []byte) error {
	if len(data) > MaxPayload {
		return fmt.Errorf("payload: %d bytes is over the %d-byte limit", len(data), MaxPayload)
	}
	if !utf8.Valid(data) {
		return errors.New("payload: invalid UTF-8")
	}
	return nil
}

// decodeStrict decodes one JSON value into v; json.Unmarshal refuses
// trailing data and is faster than a Decoder for one small value.
func decodeStrict(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("payload: invalid JSON: %w", err)
	}
	return nil
}

// ParseEvent decodes and validates the payload of an event published on a
// subject of kind k. Every error names the field and the problem.
func ParseEvent(k EventKind, data []byte) (Event, error) {
	if err := checkPayload(data); err != nil {
		return Event{}, err
	}
	var w wireEvent
	if err := decodeStrict(data, &w); err != nil {
		return Event{}, err
	}
	e := Event{Kind: k}
	ts, err := parseTimestamp(w.Timestamp)
	if err != nil {
		return Event{}, err
	}
	e.Time = ts
	switch k {
	case EventUserJoined, EventUserLeft:
		if e.Username, err = required("username", w.Username); err != nil {
			return Event{}, err
		}
	case EventChatMessage:
		if e.Username, err = required("username", w.Username); err != nil {
			return Event{}, err
		}
		if w.Message == nil {
			return Event{}, errors.New("message: missing")
		}
		e.Message = *w.Message
	case EventUserCount, EventHighWater:
		if e.ChatCount, err = count("chat_count", w.ChatCount); err != nil {
			return Event{}, err
		}
		if e.ConnectedCount, err = count("connected_count", w.ConnectedCount); err != nil {
			return Event{}, err
		}
	case EventUserAction:
		if e.Username, err = required("username", w.Username); err != nil {
			return Event{}, err
		}
		cmd, err := required("command", w.Command)
		if err != nil {
			return Event{}, err
		}
		d := pmDetails{Command: cmd}
		if w.Args != nil {
			d.Args = *w.Args
		}
		if w.Result != nil {
			d.Result = *w.Result
		}
		b, err := json.Marshal(d)
		if err != nil {
			return Event{}, fmt.Errorf("details: %w", err)
		}
		e.ActionType = "pm_command"
		e.Details = string(b)
	default:
		return Event{}, fmt.Errorf("event kind %q: unknown", k)
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

func required(field string, v *string) (string, error) {
	if v == nil {
		return "", fmt.Errorf("%s: missing", field)
	}
	if *v == "" {
		return "", fmt.Errorf("%s: must not be empty", field)
	}
	return *v, nil
}

func count(field string, v *int64) (int, error) {
	if v == nil {
		return 0, fmt.Errorf("%s: missing", field)
	}
	if *v < 0 {
		return 0, fmt.Errorf("%s: must not be negative, got %d", field, *v)
	}
	if *v > math.MaxInt32 {
		return 0, fmt.Errorf("%s: %d is too large", field, *v)
	}
	return int(*v), nil
}

// parseTimestamp reads Unix seconds (fractions allowed, as Python's
// time.time() sends them). Missing or 0 means "now" (store clock).
func parseTimestamp(n *json.Number) (time.Time, error) {
	if n == nil {
		return time.Time{}, nil
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, fmt.Errorf("timestamp: %q is not a number of Unix seconds", n.String())
	}
	if f < 0 || f > maxUnixSeconds {
		return time.Time{}, fmt.Errorf("timestamp: %s is out of range (0 to %d Unix seconds)", n.String(), maxUnixSeconds)
	}
	if f == 0 {
		return time.Time{}, nil
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// EncodeEvent returns the wire payload for e, the inverse of ParseEvent. For
// EventUserAction, Details written by ParseEvent (a JSON object with
// command, args and result) is unpacked; any other Details is sent as the
// command.
func EncodeEvent(e Event) ([]byte, error) {
	var w wireEvent
	if !e.Time.IsZero() {
		n := json.Number(unixString(e.Time))
		w.Timestamp = &n
	}
	str := func(s string) *string { return &s }
	num := func(i int) *int64 { v := int64(i); return &v }
	switch e.Kind {
	case EventUserJoined, EventUserLeft:
		w.Username = str(e.Username)
	case EventChatMessage:
		w.Username, w.Message = str(e.Username), str(e.Message)
	case EventUserCount, EventHighWater:
		w.ChatCount, w.ConnectedCount = num(e.ChatCount), num(e.ConnectedCount)
	case EventUserAction:
		w.Username = str(e.Username)
		var d pmDetails
		if json.Unmarshal([]byte(e.Details), &d) == nil && d.Command != "" {
			w.Command = str(d.Command)
			if d.Args != "" {
				w.Args = str(d.Args)
			}
			if d.Result != "" {
				w.Result = str(d.Result)
			}
		} else {
			w.Command = str(e.Details)
		}
	default:
		return nil, fmt.Errorf("encoding event: kind %q: unknown", e.Kind)
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encoding event: %w", err)
	}
	return b, nil
}

// unixString formats t as Unix seconds, with a fraction only when needed.
func unixString(t time.Time) string {
	if t.Nanosecond() == 0 {
		return fmt.Sprint(t.Unix())
	}
	return fmt.Sprintf("%.6f", float64(t.UnixNano())/1e9)
}

// unixOrZero returns t as Unix seconds, 0 for the zero time.
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// Query requests and replies. Every reply carries "success"; a failure is
// {"success": false, "error": "..."}.

// ErrorReply is the body of every failed query.
type ErrorReply struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
}

// UserStatsRequest asks for one user's statistics.
type UserStatsRequest struct {
	Username string `json:"username"`
}

// UserStatsReply answers rosey.db.query.user_stats. Times are Unix seconds;
// TotalTimeConnected is in seconds; CurrentSessionStart is null when the
// user is not connected.
type UserStatsReply struct {
	Success             bool   `json:"success"`
	Found               bool   `json:"found"`
	Username            string `json:"username"`
	FirstSeen           int64  `json:"first_seen"`
	LastSeen            int64  `json:"last_seen"`
	TotalChatLines      int64  `json:"total_chat_lines"`
	TotalTimeConnected  int64  `json:"total_time_connected"`
	CurrentSessionStart *int64 `json:"current_session_start"`
}

// ChannelStatsRequest asks for channel-wide statistics; TopLimit (default
// 10, at most 100) bounds the top chatters list.
type ChannelStatsRequest struct {
	TopLimit *int `json:"top_limit,omitempty"`
}

// HighWaterReply is a high-water mark: the most users seen and when.
type HighWaterReply struct {
	Users     int   `json:"users"`
	Timestamp int64 `json:"timestamp"`
}

// ChatterReply is one entry of the top chatters list.
type ChatterReply struct {
	Username  string `json:"username"`
	ChatLines int64  `json:"chat_lines"`
}

// ChannelStatsReply answers rosey.db.query.channel_stats.
type ChannelStatsReply struct {
	Success            bool           `json:"success"`
	HighWaterMark      HighWaterReply `json:"high_water_mark"`
	HighWaterConnected HighWaterReply `json:"high_water_connected"`
	TopChatters        []ChatterReply `json:"top_chatters"`
	TotalUsersSeen     int64          `json:"total_users_seen"`
}

// RecentChatRequest asks for recent chat lines, newest first. Limit 0 means
// the store's default (100); larger than 1000 is clamped.
type RecentChatRequest struct {
	Limit  *int `json:"limit,omitempty"`
	Offset *int `json:"offset,omitempty"`
}

// MessageReply is one chat line.
type MessageReply struct {
	ID        int64  `json:"id"`
	Timestamp int64  `json:"timestamp"`
	Username  string `json:"username"`
	Message   string `json:"message"`
}

// RecentChatReply answers rosey.db.stats.recent_chat.get. More is set when
// the messages asked for did not fit in one NATS message: the reply holds
// the newest of them, and a request with a larger offset gets the rest.
type RecentChatReply struct {
	Success  bool           `json:"success"`
	Messages []MessageReply `json:"messages"`
	More     bool           `json:"more,omitempty"`
}

// HealthReply answers rosey.db.query.health.
type HealthReply struct {
	Success bool `json:"success"`
	Health
}

// parseQuery decodes a query payload. An empty payload is an empty object,
// so that `nats req subject ""` works.
func parseQuery(data []byte, v any) error {
	if err := checkPayload(data); err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	return decodeStrict(data, v)
}

// limitValue validates an optional non-negative integer query field.
func limitValue(field string, v *int, max int) (int, error) {
	if v == nil {
		return 0, nil
	}
	if *v < 0 {
		return 0, fmt.Errorf("%s: must not be negative, got %d", field, *v)
	}
	if max > 0 && *v > max {
		return max, nil
	}
	return *v, nil
}
