package botdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// DefaultRequestTimeout bounds a Client request whose ctx has no deadline.
// It is above the service's default QueryWait, so that a slow
// read-your-writes wait ends with the service's explanation, not a timeout.
const DefaultRequestTimeout = 15 * time.Second

// Client publishes bot events and queries the botdb service over NATS.
//
// Queries reflect every event this Client published before them
// (read-your-writes): events are plain core publishes, so before the first
// query after a publish the Client sends one JetStream request on the
// barrier subject (Sync), whose reply carries a stream sequence after all of
// them, and the query asks the service to wait until that sequence is
// applied. Without JetStream the barrier has no responder and ordering on
// the single connection does the same job. A Client is safe for concurrent
// use.
type Client struct {
	nc     *nats.Conn
	subj   Subjects
	dirty  atomic.Bool   // published since the last Sync
	minSeq atomic.Uint64 // highest barrier sequence seen
}

// NewClient returns a Client on nc for the services under prefix ("" means
// "rosey").
func NewClient(nc *nats.Conn, prefix string) *Client {
	return &Client{nc: nc, subj: NewSubjects(prefix)}
}

// ReplyError is a query the service answered with {"success": false}.
type ReplyError struct {
	Subject string
	Code    string // "400" bad request, "500" service failure, "503" timed out
	Message string
}

// Error returns the subject and the service's message.
func (e *ReplyError) Error() string {
	return fmt.Sprintf("%s: %s (code %s)", e.Subject, e.Message, e.Code)
}

// Publish sends e on its event subject with a core publish (no ack: the
// JetStream stream captures it).
func (c *Client) Publish(ctx context.Context, e Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publishing %s: %w", e.Kind, err)
	}
	subj, ok := c.subj.Subject(e.Kind)
	if !ok {
		return fmt.Errorf("publishing event: kind %q: unknown", e.Kind)
	}
	data, err := EncodeEvent(e)
	if err != nil {
		return fmt.Errorf("publishing %s: %w", e.Kind, err)
	}
	return c.PublishRaw(ctx, subj, data)
}

// PublishRaw sends data as is on subject: for payloads Event cannot express
// (tests of bad input, other publishers' formats).
func (c *Client) PublishRaw(ctx context.Context, subject string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publishing to %s: %w", subject, err)
	}
	if err := c.nc.Publish(subject, data); err != nil {
		return fmt.Errorf("publishing to %s: %w", subject, err)
	}
	c.dirty.Store(true)
	return nil
}

// Sync returns a stream sequence at or after every event this Client has
// published so far (0 without JetStream), and makes the next queries wait
// for it.
func (c *Client) Sync(ctx context.Context) (uint64, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	c.dirty.Store(false)
	msg, err := c.nc.RequestWithContext(ctx, c.subj.Sync, nil)
	if errors.Is(err, nats.ErrNoResponders) {
		// No stream: plain subscriptions see events in publish order.
		return c.minSeq.Load(), nil
	}
	if err != nil {
		c.dirty.Store(true)
		return 0, fmt.Errorf("syncing with the stream: %w", err)
	}
	var ack struct {
		Seq   uint64 `json:"seq"`
		Error *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &ack); err != nil {
		c.dirty.Store(true)
		return 0, fmt.Errorf("syncing with the stream: reading ack: %w", err)
	}
	if ack.Error != nil {
		c.dirty.Store(true)
		return 0, fmt.Errorf("syncing with the stream: %s", ack.Error.Description)
	}
	for {
		cur := c.minSeq.Load()
		if ack.Seq <= cur || c.minSeq.CompareAndSwap(cur, ack.Seq) {
			break
		}
	}
	return c.minSeq.Load(), nil
}

func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, DefaultRequestTimeout)
}

// request sends a query and decodes a successful reply into out.
func (c *Client) request(ctx context.Context, subject string, req, out any) error {
	if c.dirty.Load() {
		if _, err := c.Sync(ctx); err != nil {
			return fmt.Errorf("querying %s: %w", subject, err)
		}
	}
	data, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("querying %s: %w", subject, err)
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(MinSeqHeader, strconv.FormatUint(c.minSeq.Load(), 10))
	reply, err := c.nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		return fmt.Errorf("querying %s: %w", subject, err)
	}
	return decodeReply(subject, reply, out)
}

func decodeReply(subject string, reply *nats.Msg, out any) error {
	var status struct {
		Success *bool  `json:"success"`
		Error   string `json:"error"`
	}
	if err := json.Unmarshal(reply.Data, &status); err != nil {
		if desc := reply.Header.Get(micro.ErrorHeader); desc != "" {
			return &ReplyError{Subject: subject, Code: reply.Header.Get(micro.ErrorCodeHeader), Message: desc}
		}
		return fmt.Errorf("querying %s: decoding reply: %w", subject, err)
	}
	if status.Success == nil || !*status.Success {
		msg := status.Error
		if msg == "" {
			msg = reply.Header.Get(micro.ErrorHeader)
		}
		if msg == "" {
			msg = "reply without success"
		}
		return &ReplyError{Subject: subject, Code: reply.Header.Get(micro.ErrorCodeHeader), Message: msg}
	}
	if err := json.Unmarshal(reply.Data, out); err != nil {
		return fmt.Errorf("querying %s: decoding reply: %w", subject, err)
	}
	return nil
}

// UserStats asks for one user's statistics.
func (c *Client) UserStats(ctx context.Context, username string) (UserStatsReply, error) {
	var r UserStatsReply
	err := c.request(ctx, c.subj.UserStats, UserStatsRequest{Username: username}, &r)
	return r, err
}

// ChannelStats asks for the high-water marks, top 10 chatters and users
// seen.
func (c *Client) ChannelStats(ctx context.Context) (ChannelStatsReply, error) {
	var r ChannelStatsReply
	err := c.request(ctx, c.subj.ChannelStats, ChannelStatsRequest{}, &r)
	return r, err
}

// RecentChat asks for chat lines, newest first. limit 0 means 100.
func (c *Client) RecentChat(ctx context.Context, limit, offset int) ([]MessageReply, error) {
	var r RecentChatReply
	err := c.request(ctx, c.subj.RecentChat, RecentChatRequest{Limit: &limit, Offset: &offset}, &r)
	return r.Messages, err
}

// Health asks for the service's counters.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var r HealthReply
	err := c.request(ctx, c.subj.Health, struct{}{}, &r)
	return r.Health, err
}

// Subjects returns the subjects this Client uses.
func (c *Client) Subjects() Subjects { return c.subj }
