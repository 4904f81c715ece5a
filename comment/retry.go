package comment

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// secondaryDefault is the wait after a secondary rate limit that gives no
// Retry-After: GitHub's docs ask for at least a minute.
const secondaryDefault = time.Minute

// do runs call with a fresh client until it succeeds, fails for good, or the
// retry budget (attempts, total wait, ctx) runs out. It returns the last
// error, wrapped with ErrPermission for a refusal.
// attempts 0 means g.MaxAttempts. Waits are charged to left, shared by
// the calls of one Upsert so that it as a whole stays within MaxWait.
func (g *GitHub) do(ctx context.Context, left *time.Duration, attempts int, call func(context.Context, *github.Client) (*github.Response, error)) error {
	if attempts <= 0 {
		attempts = g.MaxAttempts
	}
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	for attempt := 1; ; attempt++ {
		_, err := call(ctx, g.client())
		if err == nil {
			return nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		wait, retry, perr := g.classify(err, attempt)
		if perr != nil {
			return perr
		}
		if !retry {
			return err
		}
		if attempt >= attempts {
			if attempts == 1 {
				return err
			}
			return fmt.Errorf("giving up after %d attempts: %w", attempt, err)
		}
		if wait > *left {
			return fmt.Errorf("giving up after %d attempts: GitHub asks to wait %v, over the %v left of the wait budget: %w", attempt, wait, *left, err)
		}
		if err := g.sleep(ctx, wait); err != nil {
			return err
		}
		*left -= wait
	}
}

// classify says whether err is worth another try and after how long. perr
// is set when err is final and better described than err itself.
func (g *GitHub) classify(err error, attempt int) (wait time.Duration, retry bool, perr error) {
	var rl *github.RateLimitError
	if errors.As(err, &rl) {
		now := time.Now
		if g.Now != nil {
			now = g.Now
		}
		max := g.MaxRateLimitWait
		if max <= 0 {
			max = DefaultMaxRateLimitWait
		}
		d := rl.Rate.Reset.Time.Sub(now()) + time.Second
		if d <= time.Second {
			d = time.Second
		}
		if d > max {
			return 0, false, fmt.Errorf("github api rate limit exhausted until %s (over %v away): %w",
				rl.Rate.Reset.Time.UTC().Format(time.RFC3339), max, err)
		}
		return d, true, nil
	}
	var ab *github.AbuseRateLimitError
	if errors.As(err, &ab) {
		// GitHub's rule: Retry-After if given; else the reset if nothing
		// remains; else at least a minute. go-github's RetryAfter falls
		// back to X-RateLimit-Reset even when requests remain, which is
		// the primary window (up to an hour), so read the headers here.
		var h http.Header
		if ab.Response != nil {
			h = ab.Response.Header
		}
		if d, ok := retryAfter(h); ok {
			return d, true, nil
		}
		if h.Get("X-RateLimit-Remaining") == "0" && ab.RetryAfter != nil && *ab.RetryAfter > 0 {
			return *ab.RetryAfter, true, nil
		}
		return secondaryDefault, true, nil
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		code := er.Response.StatusCode
		ra, hasRA := retryAfter(er.Response.Header)
		switch {
		case code == http.StatusTooManyRequests,
			code == http.StatusForbidden && (hasRA || strings.Contains(strings.ToLower(er.Message), "secondary rate limit")):
			if hasRA {
				return ra, true, nil
			}
			return secondaryDefault, true, nil
		case code == http.StatusForbidden || code == http.StatusNotFound:
			return 0, false, fmt.Errorf("%w: %w", ErrPermission, err)
		case code >= 500:
			if hasRA {
				return ra, true, nil
			}
			return backoff(attempt), true, nil
		}
		return 0, false, nil
	}
	// Transport trouble (reset, refused, timeout) is usually passing.
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return backoff(attempt), true, nil
	}
	return 0, false, nil
}

// backoff is 1s, 2s, 4s, ... capped at 30s.
func backoff(attempt int) time.Duration {
	d := time.Second << (attempt - 1)
	if d > 30*time.Second || d <= 0 {
		d = 30 * time.Second
	}
	return d
}

// retryAfter reads a Retry-After header in seconds (what GitHub sends).
func retryAfter(h http.Header) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

func (g *GitHub) sleep(ctx context.Context, d time.Duration) error {
	if g.Sleep != nil {
		return g.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ambiguous reports whether a failed write may have been applied all the
// same: a 5xx from a proxy or a lost connection can follow a create that
// GitHub did, and blindly retrying it would duplicate the comment.
func ambiguous(err error) bool {
	if err == nil {
		return false
	}
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	if errors.As(err, &rl) || errors.As(err, &ab) {
		return false
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		return er.Response != nil && er.Response.StatusCode >= 500
	}
	return true
}
