package botdb

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

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
			h(req)
		}()
	}
}

// barrierMet reports whether req's read barrier is known to be met without
// asking the server.
func (s *Service) barrierMet(req micro.Request, always bool) bool {
	v := req.Headers().Get(MinSeqHeader)
	if v == "" {
		return !always
	}
	seq, err := strconv.ParseUint(v, 10, 64)
	return err != nil || s.cfg.NoJetStream && s.received.Load() == s.lastSeq.Load() || !s.cfg.NoJetStream && s.lastSeq.Load() >= seq
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
	body, _ := json.Marshal(ErrorReply{Success: false, Error: err.Error()})
	if rerr := req.Error(code, err.Error(), body); rerr != nil {
		s.log.Warn("sending error reply", "subject", req.Subject(), "error", rerr)
	}
}

func (s *Service) respond(req micro.Request, v any) {
	if err := req.RespondJSON(v); err != nil {
		s.log.Warn("sending reply", "subject", req.Subject(), "error", err)
	}
}

// queryCtx bounds one query, including its read-your-writes wait.
func (s *Service) queryCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, s.cfg.QueryWait)
}

func (s *Service) handleUserStats(req micro.Request) {
	var q UserStatsRequest
	if err := parseQuery(req.Data(), &q); err != nil {
		s.respondError(req, badRequest(err))
		return
	}
	if err := validateUsername("username", q.Username); err != nil {
		s.respondError(req, err)
		return
	}
	ctx, cancel := s.queryCtx()
	defer cancel()
	if err := s.readBarrier(ctx, req, true); err != nil {
		s.respondError(req, err)
		return
	}
	st, found, err := s.db.UserStats(ctx, q.Username)
	if err != nil {
		s.respondError(req, err)
		return
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
	s.respond(req, r)
}

func (s *Service) handleChannelStats(req micro.Request) {
	var q ChannelStatsRequest
	if err := parseQuery(req.Data(), &q); err != nil {
		s.respondError(req, badRequest(err))
		return
	}
	top, err := limitValue("top_limit", q.TopLimit, maxTopChatters)
	if err != nil {
		s.respondError(req, badRequest(err))
		return
	}
	if top == 0 {
		top = DefaultTopChatters
	}
	ctx, cancel := s.queryCtx()
	defer cancel()
	if err := s.readBarrier(ctx, req, true); err != nil {
		s.respondError(req, err)
		return
	}
	r := ChannelStatsReply{Success: true, TopChatters: []ChatterReply{}}
	hw, err := s.db.HighWaterMark(ctx)
	if err != nil {
		s.respondError(req, err)
		return
	}
	r.HighWaterMark = HighWaterReply{Users: hw.Users, Timestamp: unixOrZero(hw.Time)}
	if hw, err = s.db.HighWaterMarkConnected(ctx); err != nil {
		s.respondError(req, err)
		return
	}
	r.HighWaterConnected = HighWaterReply{Users: hw.Users, Timestamp: unixOrZero(hw.Time)}
	chatters, err := s.db.TopChatters(ctx, top)
	if err != nil {
		s.respondError(req, err)
		return
	}
	for _, c := range chatters {
		r.TopChatters = append(r.TopChatters, ChatterReply{Username: c.Username, ChatLines: c.ChatLines})
	}
	if r.TotalUsersSeen, err = s.db.TotalUsersSeen(ctx); err != nil {
		s.respondError(req, err)
		return
	}
	s.respond(req, r)
}

func (s *Service) handleRecentChat(req micro.Request) {
	var q RecentChatRequest
	if err := parseQuery(req.Data(), &q); err != nil {
		s.respondError(req, badRequest(err))
		return
	}
	limit, err := limitValue("limit", q.Limit, 0)
	if err != nil {
		s.respondError(req, badRequest(err))
		return
	}
	offset, err := limitValue("offset", q.Offset, 0)
	if err != nil {
		s.respondError(req, badRequest(err))
		return
	}
	ctx, cancel := s.queryCtx()
	defer cancel()
	if err := s.readBarrier(ctx, req, true); err != nil {
		s.respondError(req, err)
		return
	}
	msgs, err := s.db.RecentMessages(ctx, limit, offset)
	if err != nil {
		s.respondError(req, err)
		return
	}
	r := RecentChatReply{Success: true, Messages: make([]MessageReply, 0, len(msgs))}
	for _, m := range msgs {
		r.Messages = append(r.Messages, MessageReply{ID: m.ID, Timestamp: unixOrZero(m.Timestamp), Username: m.Username, Message: m.Message})
	}
	s.respond(req, r)
}

func (s *Service) handleHealth(req micro.Request) {
	var q struct{}
	if err := parseQuery(req.Data(), &q); err != nil {
		s.respondError(req, badRequest(err))
		return
	}
	ctx, cancel := s.queryCtx()
	defer cancel()
	// Health answers at once unless the client asked for its writes.
	if err := s.readBarrier(ctx, req, false); err != nil {
		s.respondError(req, err)
		return
	}
	s.respond(req, HealthReply{Success: true, Health: s.Health()})
}
