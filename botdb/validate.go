package botdb

import (
	"errors"
	"fmt"
	"math"
	"unicode"
	"unicode/utf8"
)

// Limits on accepted input. They bound what one event can cost the store and
// what a reader can be handed back.
const (
	MaxUsernameChars   = 50   // characters (runes) in a username
	MaxMessageBytes    = 4096 // bytes in a chat message
	MaxActionTypeChars = 64   // characters in a user action's type
	MaxDetailsBytes    = 16384
	MaxSourceBytes     = 255 // bytes in an ApplyFrom source name

	// DefaultLimit is the page size of RecentMessages and UserActions when
	// the caller passes 0; MaxLimit is the largest page (larger is clamped).
	DefaultLimit = 100
	MaxLimit     = 1000
	// DefaultTopChatters is the TopChatters limit when the caller passes 0.
	DefaultTopChatters = 10
)

// ErrInvalid is the errors.Is target of every validation error: the input was
// refused and nothing was written.
var ErrInvalid = errors.New("invalid input")

// ValidationError tells which input was refused and by which rule. Callers
// branch with errors.Is(err, ErrInvalid) or read the fields with errors.As.
type ValidationError struct {
	Field string // the input: "username", "message", "limit", ...
	Rule  string // what it must be: "must be 1-50 characters"
}

// Error returns "field: rule".
func (e *ValidationError) Error() string { return e.Field + ": " + e.Rule }

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, rule string) *ValidationError {
	return &ValidationError{Field: field, Rule: rule}
}

// validateUsername checks a username: 1-50 characters of valid UTF-8 with no
// control characters (they would corrupt logs and chat renderings).
func validateUsername(field, s string) error {
	if s == "" {
		return invalid(field, fmt.Sprintf("must be 1-%d characters, got none", MaxUsernameChars))
	}
	if !utf8.ValidString(s) {
		return invalid(field, "must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > MaxUsernameChars {
		return invalid(field, fmt.Sprintf("must be 1-%d characters, got %d", MaxUsernameChars, n))
	}
	if hasControl(s) {
		return invalid(field, "must not contain control characters")
	}
	return nil
}

// validateMessage checks a chat message: 1-4096 bytes of valid UTF-8.
// Control characters such as newlines are allowed: they are chat content.
func validateMessage(s string) error {
	if s == "" || len(s) > MaxMessageBytes {
		return invalid("message", fmt.Sprintf("must be 1-%d bytes, got %d", MaxMessageBytes, len(s)))
	}
	if !utf8.ValidString(s) {
		return invalid("message", "must be valid UTF-8")
	}
	return nil
}

func validateActionType(s string) error {
	if s == "" {
		return invalid("action_type", fmt.Sprintf("must be 1-%d characters, got none", MaxActionTypeChars))
	}
	if !utf8.ValidString(s) {
		return invalid("action_type", "must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > MaxActionTypeChars {
		return invalid("action_type", fmt.Sprintf("must be 1-%d characters, got %d", MaxActionTypeChars, n))
	}
	if hasControl(s) {
		return invalid("action_type", "must not contain control characters")
	}
	return nil
}

func validateDetails(s string) error {
	if len(s) > MaxDetailsBytes {
		return invalid("details", fmt.Sprintf("must be at most %d bytes, got %d", MaxDetailsBytes, len(s)))
	}
	if !utf8.ValidString(s) {
		return invalid("details", "must be valid UTF-8")
	}
	return nil
}

func validateCount(field string, n int) error {
	if n < 0 {
		return invalid(field, fmt.Sprintf("must not be negative, got %d", n))
	}
	return nil
}

func validateSource(source string, seq uint64) error {
	if source == "" || len(source) > MaxSourceBytes {
		return invalid("source", fmt.Sprintf("must be 1-%d bytes, got %d", MaxSourceBytes, len(source)))
	}
	if !utf8.ValidString(source) {
		return invalid("source", "must be valid UTF-8")
	}
	if seq > math.MaxInt64 {
		return invalid("seq", fmt.Sprintf("must be at most %d, got %d", int64(math.MaxInt64), seq))
	}
	return nil
}

// pageLimit applies the paging rules: negative is an error, 0 means def,
// more than MaxLimit is clamped.
func pageLimit(limit, def int) (int, error) {
	switch {
	case limit < 0:
		return 0, invalid("limit", fmt.Sprintf("must not be negative, got %d", limit))
	case limit == 0:
		return def, nil
	case limit > MaxLimit:
		return MaxLimit, nil
	}
	return limit, nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}
