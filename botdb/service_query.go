package botdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// badRequestError marks a query the caller got wrong (code 400), as opposed
// to a failure of the service (500) or a timeout (503).
type badRequestError struct{ err error }

func (e badRequestError) Error() string { return e.err.Error() }
func (e badRequestError) Unwrap() error { return e.err }

func badRequest(err error) error { return badRequestError{err} }

// maxTopChatters bounds the top chatters list of channel_stats.
const maxTopChatters = 100

// maxWaiters is how many queries may wait for earlier events at once off
// their endpoint's goroutine; beyond it they wait in line (back-pressure).
const maxWaiters = 256

// waiting runs h on the endpoint's goroutine when its read barrier is
// already met (the common case: no wait, no goroutine), else on its own
// goroutine, so that one query waiting for a burst to be applied does not
// hold up the queries behind it. always is h's readBarrier argument.
func (s *Service) waiting(h micro.HandlerFunc, always bool) micro.HandlerFunc {
	return func(req micro.Request) {
		if s.barrierMet(req, always) {
			h(req)
			return
		}
		select {
		case s.waiters <- struct{}{}:
		default:
			h(req)
			return
		}
		s.handlersMu.Lock()
		closed := s.handlersClosed
		if !closed {
			s.handlers.Add(1)
		}
		s.handlersMu.Unlock()
		if closed { // stopping: Stop is waiting for the others
			<-s.waiters
			h(req)
			return
		}
		go func() {
			defer s.handlers.Done()
			defer func() { <-s.waiters }()
			h(detached{Request: req, nc: s.nc})
		}()
	}
}

// detached answers a request after micro's handler has returned. micro
// then reads the request's error field for its stats, so a reply from
// another goroutine must not go through micro's request (a data race that
// -race caught); detached publishes the same messages itself. micro's
// stats do not count the errors of these late replies.
type detached struct {
	micro.Request
	nc *nats.Conn
}

func (d detached) Respond(data []byte, opts ...micro.RespondOpt) error {
	return d.publish(&nats.Msg{Data: data}, opts)
}

func (d detached) RespondJSON(v any, opts ...micro.RespondOpt) error {
	data, err := encodeJSON(v)
	if err != nil {
		return micro.ErrMarshalResponse
	}
	return d.Respond(data, opts...)
}

func (d detached) Error(code, description string, data []byte, opts ...micro.RespondOpt) error {
	if code == "" || description == "" {
		return errors.New("error reply needs a code and a description")
	}
	h := nats.Header{micro.ErrorHeader: {description}, micro.ErrorCodeHeader: {code}}
	return d.publish(&nats.Msg{Header: h, Data: data}, opts)
}

func (d detached) publish(m *nats.Msg, opts []micro.RespondOpt) error {
	if d.Reply() == "" {
		return nats.ErrMsgNoReply
	}
	m.Subject = d.Reply()
	for _, o := range opts {
		o(m)
	}
	return d.nc.PublishMsg(m)
}

// barrierMet reports whether req's read barrier is known to be met without
// asking the server (a bad header is: its error reply needs no wait).
func (s *Service) barrierMet(req micro.Request, always bool) bool {
	seq, has, err := minSeqOf(req)
	if err != nil || !has && !always {
		return true
	}
	return s.mode.met(seq, has)
}

// respondError answers with the micro error headers and our JSON body, so
// that both micro-aware tools and plain JSON clients see the failure.
func (s *Service) respondError(req micro.Request, err error) {
	code := "500"
	var bad badRequestError
	switch {
	case errors.As(err, &bad) || errors.Is(err, ErrInvalid):
		code = "400"
	case errors.Is(err, context.DeadlineExceeded):
		code = "503"
	}
	body, _ := encodeJSON(ErrorReply{Success: false, Error: err.Error()})
	if rerr := req.Error(code, err.Error(), body); rerr != nil {
		s.log.Warn("sending error reply", "subject", req.Subject(), "error", rerr)
	}
}

// respond answers with v as JSON, cut to fit the server's payload limit.
func (s *Service) respond(req micro.Request, v any) {
	data, err := fitReply(v, s.maxReply())
	if err != nil {
		s.respondError(req, err)
		return
	}
	if err := req.Respond(data); err != nil {
		s.log.Warn("sending reply", "subject", req.Subject(), "error", err)
	}
}

// replyHeadroom is kept free below the server's max payload for what the
// server counts besides the body (headers).
const replyHeadroom = 4 << 10

// maxReply is the largest reply body the server takes.
func (s *Service) maxReply() int {
	return int(s.nc.MaxPayload()) - replyHeadroom
}

// encodeJSON encodes v without HTML escaping: replies go to programs, not
// into HTML, and escaping triples the size of text such as "<<<".
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// fitReply encodes v in at most limit bytes. A recent_chat reply that is
// too large keeps as many of its newest messages as fit and says "more";
// any other reply too large is an error (none can be, with today's limits).
func fitReply(v any, limit int) ([]byte, error) {
	data, err := encodeJSON(v)
	if err != nil {
		return nil, fmt.Errorf("encoding reply: %w", err)
	}
	if len(data) <= limit {
		return data, nil
	}
	r, ok := v.(RecentChatReply)
	if !ok {
		return nil, fmt.Errorf("encoding reply: %d bytes is over the server's limit of %d", len(data), limit)
	}
	all := r.Messages
	r.More = true
	// The largest prefix that fits: messages are newest first.
	n := sort.Search(len(all)+1, func(n int) bool {
		r.Messages = all[:n]
		d, err := encodeJSON(r)
		return err != nil || len(d) > limit
	}) - 1
	r.Messages = all[:max(n, 0)]
	return encodeJSON(r)
}

// queryCtx bounds one query, including its read-your-writes wait.
func (s *Service) queryCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.sink.ctx, s.cfg.QueryWait)
}

// answer runs one query: it parses the request into a Q, checks it
// (check may be nil), waits for the read barrier, and replies with what
// reply returns, or with the error of whichever step failed. A query that
// is wrong fails before it waits.
func answer[Q any](s *Service, req micro.Request, always bool, check func(*Q) error, reply func(context.Context, *Q) (any, error)) {
	var q Q
	if err := parseQuery(req.Data(), &q); err != nil {
		s.respondError(req, badRequest(err))
		return
	}
	if check != nil {
		if err := check(&q); err != nil {
			s.respondError(req, err)
			return
		}
	}
	ctx, cancel := s.queryCtx()
	defer cancel()
	if err := s.readBarrier(ctx, req, always); err != nil {
		s.respondError(req, err)
		return
	}
	r, err := reply(ctx, &q)
	if err != nil {
		s.respondError(req, err)
		return
	}
	s.respond(req, r)
}

func (s *Service) handleUserStats(req micro.Request) {
	check := func(q *UserStatsRequest) error { return validateUsername("username", q.Username) }
	answer(s, req, true, check, func(ctx context.Context, q *UserStatsRequest) (any, error) {
		st, found, err := s.sink.db.UserStats(ctx, q.Username)
		if err != nil {
			return nil, err
		}
		r := UserStatsReply{Success: true, Found: found, Username: q.Username}
		if found {
			r.Username = st.Username
			r.FirstSeen = unixOrZero(st.FirstSeen)
			r.LastSeen = unixOrZero(st.LastSeen)
			r.TotalChatLines = st.TotalChatLines
			r.TotalTimeConnected = int64(st.TotalTimeConnected.Seconds())
			if !st.CurrentSessionStart.IsZero() {
				v := st.CurrentSessionStart.Unix()
				r.CurrentSessionStart = &v
			}
		}
		return r, nil
	})
}

func (s *Service) handleChannelStats(req micro.Request) {
	var top int
	check := func(q *ChannelStatsRequest) (err error) {
		if top, err = limitValue("top_limit", q.TopLimit, maxTopChatters); err != nil {
			return badRequest(err)
		}
		if top == 0 {
			top = DefaultTopChatters
		}
		return nil
	}
	answer(s, req, true, check, func(ctx context.Context, _ *ChannelStatsRequest) (any, error) {
		r := ChannelStatsReply{Success: true, TopChatters: []ChatterReply{}}
		hw, err := s.sink.db.HighWaterMark(ctx)
		if err != nil {
			return nil, err
		}
		r.HighWaterMark = HighWaterReply{Users: hw.Users, Timestamp: unixOrZero(hw.Time)}
		if hw, err = s.sink.db.HighWaterMarkConnected(ctx); err != nil {
			return nil, err
		}
		r.HighWaterConnected = HighWaterReply{Users: hw.Users, Timestamp: unixOrZero(hw.Time)}
		chatters, err := s.sink.db.TopChatters(ctx, top)
		if err != nil {
			return nil, err
		}
		for _, c := range chatters {
			r.TopChatters = append(r.TopChatters, ChatterReply{Username: c.Username, ChatLines: c.ChatLines})
		}
		if r.TotalUsersSeen, err = s.sink.db.TotalUsersSeen(ctx); err != nil {
			return nil, err
		}
		return r, nil
	})
}

func (s *Service) handleRecentChat(req micro.Request) {
	var limit, offset int
	check := func(q *RecentChatRequest) (err error) {
		if limit, err = limitValue("limit", q.Limit, 0); err != nil {
			return badRequest(err)
		}
		if offset, err = limitValue("offset", q.Offset, 0); err != nil {
			return badRequest(err)
		}
		return nil
	}
	answer(s, req, true, check, func(ctx context.Context, _ *RecentChatRequest) (any, error) {
		msgs, err := s.sink.db.RecentMessages(ctx, limit, offset)
		if err != nil {
			return nil, err
		}
		r := RecentChatReply{Success: true, Messages: make([]MessageReply, 0, len(msgs))}
		for _, m := range msgs {
			r.Messages = append(r.Messages, MessageReply{ID: m.ID, Timestamp: unixOrZero(m.Timestamp), Username: m.Username, Message: m.Message})
		}
		return r, nil
	})
}

// handleHealth answers at once unless the client asked for its writes.
func (s *Service) handleHealth(req micro.Request) {
	answer(s, req, false, nil, func(context.Context, *struct{}) (any, error) {
		return HealthReply{Success: true, Health: s.Health()}, nil
	})
}
