package web_test

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/auth/password"
	"github.com/ordergate/ordergate/internal/auth/totp"
	"github.com/ordergate/ordergate/internal/risk"
	"github.com/ordergate/ordergate/internal/web"
)

// BenchmarkLoginTOTPConcurrency8 measures the whole password + TOTP login
// from 8 concurrent clients on SQLite, and the TOTP step alone: the
// request that checks the code, records its time step as used, replaces
// the session, confirms the login for the risk engine and appends the
// audit event, in one transaction. The clock is simulated so that
// every login has a fresh time step. full-login also reports the server
// time of its TOTP steps while the password steps' argon2id runs beside
// them.
//
//	go test -run '^$' -bench LoginTOTP -benchtime 256x ./internal/web/
func BenchmarkLoginTOTPConcurrency8(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	password.ReserveProcs() // as ordergate serve does
	clock := newFakeClock()
	db := MustOpenDB(b, clock)
	log := slog.New(slog.DiscardHandler)
	svc := auth.NewService(db, MustOpenKeyring(b), clock, log)
	svc.Adaptive = &auth.Adaptive{Engine: risk.New(risk.Config{}, clock), Store: db} // as ordergate serve runs
	ctx := context.Background()
	const users = 64
	seeds := make([][]byte, users)
	for i := range users {
		name := fmt.Sprintf("admin%02d", i)
		if _, err := svc.CreateUser(ctx, auth.UserActor(&auth.User{}, nil), auth.NewUser{Username: name, Password: alicePassword, Roles: []string{auth.RoleAdmin}}); err != nil {
			b.Fatal(err)
		}
		res, err := svc.Login(ctx, name, alicePassword, auth.Client{IP: "127.0.0.1"})
		if err != nil {
			b.Fatal(err)
		}
		enr, err := svc.BeginTOTP(ctx, res.Session, res.User)
		if err != nil {
			b.Fatal(err)
		}
		seeds[i], _ = base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(enr.Secret)
		if _, err := svc.ConfirmTOTP(ctx, res.Session, res.User, enr.ID, totp.Code(seeds[i], clock.Now(), totp.DefaultParams)); err != nil {
			b.Fatal(err)
		}
	}
	// Server time of the second step: from the request's arrival in the
	// handler chain to its answer, as the server's own histogram sees it
	// but exact, without its buckets.
	var serverMu sync.Mutex
	var serverLat []time.Duration
	h := web.NewServer(svc, db, web.NewMetrics(), log).Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/login/mfa" {
			h.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		h.ServeHTTP(w, r)
		d := time.Since(start)
		serverMu.Lock()
		serverLat = append(serverLat, d)
		serverMu.Unlock()
	}))
	defer hs.Close()
	tr := hs.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = benchClients
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	post := func(path, token, body string) (*http.Response, error) {
		req, _ := http.NewRequest("POST", hs.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", jsonType)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return client.Do(req)
	}

	password := func(i int) string {
		resp, err := post("/api/v1/login", "", loginBody(fmt.Sprintf("admin%02d", i), alicePassword))
		if err != nil {
			b.Fatal(err)
		}
		body := readJSON(resp)
		if body["state"] != "mfa_required" {
			b.Fatalf("login = %v, want mfa_required", body)
		}
		return body["session_token"].(string)
	}
	second := func(i int, token string) {
		resp, err := post("/api/v1/login/mfa", token, `{"method":"totp","code":"`+totp.Code(seeds[i], clock.Now(), totp.DefaultParams)+`"}`)
		if err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode != 200 {
			b.Errorf("login/mfa = %d %v", resp.StatusCode, readJSON(resp))
		}
		resp.Body.Close()
	}
	// The TOTP step alone, at concurrency 8 and one at a time (what the
	// second factor costs a single login). The password steps run with the
	// timer stopped, and their argon2id garbage is collected before the
	// timed part.
	totpStep := func(clients int) func(b *testing.B) {
		return func(b *testing.B) {
			var lat []time.Duration
			serverMu.Lock()
			serverLat = serverLat[:0]
			serverMu.Unlock()
			for done := 0; done < b.N; {
				clock.Add(30 * time.Second)
				round := min(users, b.N-done)
				tokens := make([]string, round)
				b.StopTimer()
				parallel(benchClients, round, func(i int) { tokens[i] = password(i) })
				runtime.GC()
				b.StartTimer()
				var mu sync.Mutex
				parallel(clients, round, func(i int) {
					start := time.Now()
					second(i, tokens[i])
					mu.Lock()
					lat = append(lat, time.Since(start))
					mu.Unlock()
				})
				done += round
			}
			reportLatencies(b, "totp-", lat)
			serverMu.Lock()
			reportLatencies(b, "server-", serverLat)
			serverMu.Unlock()
		}
	}
	b.Run("totp-step", totpStep(benchClients))
	b.Run("totp-step-serial", totpStep(1))
	b.Run("full-login", func(b *testing.B) {
		var mu sync.Mutex
		var lat []time.Duration
		serverMu.Lock()
		serverLat = serverLat[:0]
		serverMu.Unlock()
		start := time.Now()
		for done := 0; done < b.N; {
			clock.Add(30 * time.Second)
			round := min(users, b.N-done)
			parallel(benchClients, round, func(i int) {
				start := time.Now()
				second(i, password(i))
				mu.Lock()
				lat = append(lat, time.Since(start))
				mu.Unlock()
			})
			done += round
		}
		reportLatencies(b, "login-", lat)
		serverMu.Lock()
		reportLatencies(b, "server-totp-", serverLat)
		serverMu.Unlock()
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logins/s")
	})
}

// parallel runs fn(0..n-1) on clients goroutines.
func parallel(clients, n int, fn func(i int)) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := range work {
				fn(i)
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}

// readJSON decodes and closes a response body.
func readJSON(resp *http.Response) map[string]any {
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return m
}
