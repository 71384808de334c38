package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/secret"
	"github.com/ordergate/ordergate/internal/sqlite"
	"github.com/ordergate/ordergate/internal/sqlstore"
	"github.com/ordergate/ordergate/internal/web"
)

// chainKey is the audit key of the test databases.
var chainKey = []byte("0123456789abcdef0123456789abcdef")

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock forward by d.
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// MustOpenDB returns a migrated SQLite database in a temporary folder.
func MustOpenDB(tb testing.TB, clock ordergate.Clock) *sqlstore.DB {
	tb.Helper()
	chain, err := audit.NewChain(chainKey)
	if err != nil {
		tb.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "ordergate.db"), chain, clock)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

// MustOpenKeyring returns a new master keyring in a temporary folder; the
// service seals factor secrets with it.
func MustOpenKeyring(tb testing.TB) *secret.Keyring {
	tb.Helper()
	k, err := secret.LoadOrCreate(filepath.Join(tb.TempDir(), "ordergate.key"))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// MustCreateUser adds a user with the given password through the service.
func MustCreateUser(tb testing.TB, svc *auth.Service, username, password string) *auth.User {
	tb.Helper()
	u, err := svc.CreateUser(context.Background(), ordergate.SystemActor,
		auth.NewUser{Username: username, Password: password, Roles: []string{auth.RoleClerk}})
	if err != nil {
		tb.Fatalf("CreateUser(%q): %v", username, err)
	}
	return u
}

// testServer is a web.Server on real SQLite behind an httptest server, with
// the user alice.
type testServer struct {
	*web.Server
	URL   string
	Clock *fakeClock
}

// newTestServer starts a server; configure, when not nil, adjusts it before
// it serves.
func newTestServer(t *testing.T, configure func(*web.Server)) *testServer {
	t.Helper()
	clock := newFakeClock()
	db := MustOpenDB(t, clock)
	log := slog.New(slog.DiscardHandler)
	svc := auth.NewService(db, MustOpenKeyring(t), clock, log)
	MustCreateUser(t, svc, "alice", alicePassword)
	srv := web.NewServer(svc, db, web.NewMetrics(), log)
	if configure != nil {
		configure(srv)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &testServer{Server: srv, URL: hs.URL, Clock: clock}
}

// answer is one HTTP response, read in full.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
	resp   *http.Response
}

// JSON decodes the body as a JSON object.
func (a answer) JSON(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.Body, &m); err != nil {
		tb.Fatalf("body %q is not JSON: %v", a.Body, err)
	}
	return m
}

// Cookie returns the Set-Cookie named name, or nil.
func (a answer) Cookie(name string) *http.Cookie {
	for _, c := range a.resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// do sends one request; header holds extra header lines ("Name: value").
func (ts *testServer) do(t *testing.T, method, path, contentType, body string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range header {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Add(k, v)
	}
	return send(t, http.DefaultClient, req)
}

// send makes req with client and reads the whole answer.
func send(tb testing.TB, client *http.Client, req *http.Request) answer {
	tb.Helper()
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: b, resp: resp}
}

// pageRequest sends a browser-like request to base+path with the session
// cookie token (none when empty) and, for a form, the fields of form;
// redirects are not followed.
func pageRequest(t *testing.T, base, method, path, token string, form url.Values) answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: "ordergate_session", Value: token})
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return send(t, c, req)
}

// userID returns the id of the user named username.
func userID(t *testing.T, ts *testServer, username string) string {
	t.Helper()
	u, err := ts.Auth.Store.UserByUsername(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}
