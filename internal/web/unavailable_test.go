package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ordergate/ordergate"
)

// TestDatabaseDownAnswersUnavailable closes the server's database: a
// request that needs it is answered 503 with the code "unavailable", not
// 500 "internal", so that clients know to retry; the sign-in page says
// so in words, with the same status.
func TestDatabaseDownAnswersUnavailable(t *testing.T) {
	ts := newTestServer(t, nil)
	form := ts.do(t, "GET", "/login", "", "")
	token := csrfField.FindSubmatch(form.Body)
	cookie := form.Cookie("ordergate_login_csrf")
	if token == nil || cookie == nil {
		t.Fatalf("the sign-in page has no CSRF token (%q) or cookie (%v)", token, cookie)
	}
	if err := ts.DB.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path, body string
	}{
		{"POST", "/api/v1/login", fmt.Sprintf(`{"username":"alice","password":%q}`, alicePassword)},
		{"GET", "/readyz", ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			a := ts.do(t, tc.method, tc.path, "application/json", tc.body)
			body := a.JSON(t)
			if a.Status != http.StatusServiceUnavailable || body["error"] != ordergate.EUNAVAILABLE {
				t.Errorf("%s %s with the database closed = %d %v, want 503 %s", tc.method, tc.path, a.Status, body, ordergate.EUNAVAILABLE)
			}
		})
	}
	t.Run("sign-in page", func(t *testing.T) {
		fields := url.Values{"csrf_token": {string(token[1])}, "username": {"alice"}, "password": {alicePassword}}
		a := ts.do(t, "POST", "/login", "application/x-www-form-urlencoded", fields.Encode(), "Cookie: ordergate_login_csrf="+cookie.Value)
		if want := "The database is unreachable"; a.Status != http.StatusServiceUnavailable || !strings.Contains(string(a.Body), want) {
			t.Errorf("POST /login with the database closed = %d, want 503 and a page saying %q:\n%s", a.Status, want, a.Body)
		}
	})
}

// TestClientGoneIsNoServerError sends a sign-in whose client has already
// gone: the request fails on its cancelled context, which is the
// client's doing, so it is a 499 (as proxies log it), not a 500.
func TestClientGoneIsNoServerError(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	body := fmt.Sprintf(`{"username":"alice","password":%q}`, alicePassword)
	r := httptest.NewRequestWithContext(ctx, "POST", "/api/v1/login", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	ts.Handler().ServeHTTP(w, r)
	if w.Code != 499 {
		t.Errorf("sign-in from a client that went away = %d %s, want 499", w.Code, w.Body)
	}
}
