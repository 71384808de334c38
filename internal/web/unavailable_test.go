package web_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/ordergate/ordergate"
)

// TestDatabaseDownAnswersUnavailable closes the server's database: a
// request that needs it is answered 503 with the code "unavailable", not
// 500 "internal", so that clients know to retry.
func TestDatabaseDownAnswersUnavailable(t *testing.T) {
	ts := newTestServer(t, nil)
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
}
