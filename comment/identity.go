package comment

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// DefaultBotLogin is the author of comments made with a workflow's
// GITHUB_TOKEN. That token is an installation token of the GitHub Actions
// app, and GitHub refuses GET /user to installation tokens, so it cannot be
// asked.
const DefaultBotLogin = "github-actions[bot]"

// Identity is the account a token acts as. Only comments it wrote count as
// the action's own: a marker in anyone else's comment is ignored.
type Identity struct {
	// Login is the account's login, as comments' user.login gives it.
	Login string
	// Assumed is true when GitHub would not say who the token is (GET /user
	// answered 403, as for any installation token) and Login is the
	// configured BotLogin. A comment the action creates corrects it.
	Assumed bool
}

// String formats id for messages.
func (id Identity) String() string {
	if id.Assumed {
		return id.Login + " (assumed: the token may not read /user)"
	}
	return id.Login
}

// owns reports whether a comment by login was written by id. GitHub logins
// are case-insensitive.
func (id Identity) owns(login string) bool {
	return login != "" && strings.EqualFold(login, id.Login)
}

// Identity returns the account the token acts as: GET /user for a user's
// token (a PAT), else BotLogin (DefaultBotLogin when empty) when GitHub
// refuses /user with 403, as it does for installation tokens. The answer is
// remembered.
func (g *GitHub) Identity(ctx context.Context) (Identity, error) {
	left := g.MaxWait
	if left <= 0 {
		left = DefaultMaxWait
	}
	return g.identity(ctx, &left)
}

func (g *GitHub) identity(ctx context.Context, left *time.Duration) (Identity, error) {
	g.idMu.Lock()
	defer g.idMu.Unlock()
	if g.id.Login != "" {
		return g.id, nil
	}
	var login string
	err := g.do(ctx, left, 0, func(ctx context.Context, c *github.Client) (*github.Response, error) {
		u, resp, err := c.Users.Get(ctx, "")
		if err == nil {
			login = u.GetLogin()
		}
		return resp, err
	})
	switch {
	case err == nil && login != "":
		g.id = Identity{Login: login}
	case err == nil:
		return Identity{}, errors.New("reading the token's account: GET /user gave no login")
	case errors.Is(err, ErrPermission) && status(err) == http.StatusForbidden:
		bot := g.BotLogin
		if bot == "" {
			bot = DefaultBotLogin
		}
		g.id = Identity{Login: bot, Assumed: true}
	default:
		return Identity{}, fmt.Errorf("reading the token's account: %w", err)
	}
	return g.id, nil
}

// learn records login as the token's account, as the author of a comment the
// token just created: that is certain where Identity may have assumed.
func (g *GitHub) learn(login string) Identity {
	g.idMu.Lock()
	defer g.idMu.Unlock()
	if login != "" {
		g.id = Identity{Login: login}
	}
	return g.id
}
