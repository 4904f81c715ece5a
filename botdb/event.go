package botdb

import (
	"fmt"
	"time"
)

// EventKind names what an Event records. The values are also the NATS
// subject suffixes the service listens on.
type EventKind string

// The event kinds Apply knows.
const (
	EventUserJoined  EventKind = "user.joined"       // Username joined: starts a session
	EventUserLeft    EventKind = "user.left"         // Username left: closes the session
	EventChatMessage EventKind = "message.log"       // counts a chat line for Username AND logs Message
	EventUserCount   EventKind = "stats.user_count"  // a ChatCount/ConnectedCount sample for the history
	EventHighWater   EventKind = "stats.high_water"  // raises the high water marks to ChatCount/ConnectedCount
	EventUserAction  EventKind = "action.pm_command" // a user action: ActionType and Details
)

// Event is one change to the store, as the bot publishes it. Fields that a
// kind does not use are ignored.
type Event struct {
	Kind           EventKind
	Time           time.Time // zero = now, by the store's clock
	Username       string
	Message        string
	ChatCount      int
	ConnectedCount int
	ActionType     string // for EventUserAction, e.g. "pm_command"
	Details        string // for EventUserAction: free text or JSON
}

// Validate checks the fields e's kind uses, with the same rules as the
// single-row methods. The error is a *ValidationError.
func (e Event) Validate() error {
	switch e.Kind {
	case EventUserJoined, EventUserLeft:
		return validateUsername("username", e.Username)
	case EventChatMessage:
		if err := validateUsername("username", e.Username); err != nil {
			return err
		}
		return validateMessage(e.Message)
	case EventUserCount, EventHighWater:
		if err := validateCount("chat_count", e.ChatCount); err != nil {
			return err
		}
		return validateCount("connected_count", e.ConnectedCount)
	case EventUserAction:
		if err := validateUsername("username", e.Username); err != nil {
			return err
		}
		if err := validateActionType(e.ActionType); err != nil {
			return err
		}
		return validateDetails(e.Details)
	case "":
		return invalid("kind", "must be set")
	default:
		return invalid("kind", fmt.Sprintf("unknown event kind %q", truncate(string(e.Kind), 64)))
	}
}

// truncate keeps error messages short when the input is huge.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
