package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
)

// TestFactorResetFourEyes walks the admin-assisted reset: admin A asks,
// admin B approves with a fresh factor, the user's factors and sessions
// go, and a one-time link opens an enrollment-only session.
func TestFactorResetFourEyes(t *testing.T) {
	ts := newSMSServer(t, nil)
	ctx := context.Background()
	ann := ts.addUser(t, "ann", "", auth.RoleAdmin)
	ben := ts.addUser(t, "ben", "", auth.RoleAdmin)
	const unaPhone = "+14155550177"
	una := ts.addUser(t, "una", unaPhone, auth.RoleClerk)
	ts.addUser(t, "carl", "", auth.RoleClerk)

	annTok, annSeed := ts.enrollTOTP(t, ts.signIn(t, "ann")["session_token"].(string))
	benTok, benSeed := ts.enrollTOTP(t, ts.signIn(t, "ben")["session_token"].(string))
	unaTok := ts.signIn(t, "una")["session_token"].(string)
	ts.post(t, unaTok, "/api/v1/me/vouch/sms/send", nil)
	ts.post(t, unaTok, "/api/v1/me/vouch/sms", map[string]string{"code": ts.phones.code(t, unaPhone)})
	unaTok, _ = ts.enrollTOTP(t, unaTok)
	if a := ts.post(t, unaTok, "/api/v1/me/backup-codes", nil); a.Status != http.StatusCreated {
		t.Fatalf("backup codes = %d %s", a.Status, a.Body)
	}
	carlTok := ts.signIn(t, "carl")["session_token"].(string)

	reset := func(tok, userID string) answer {
		return ts.post(t, tok, "/api/v1/admin/users/"+userID+"/factor-reset", map[string]string{"reason": "lost her phone on a trip"})
	}
	approve := func(tok, id string) answer {
		return ts.post(t, tok, "/api/v1/admin/factor-resets/"+id+"/approve", nil)
	}
	reason := func(a answer) string { return a.JSON(t)["reason"].(string) }

	if a := reset(carlTok, una.ID); a.Status != http.StatusForbidden || reason(a) != "not_admin" {
		t.Errorf("clerk asks for a reset = %d %s, want 403 not_admin", a.Status, a.Body)
	}
	if a := reset(annTok, ann.ID); a.Status != http.StatusForbidden || reason(a) != "own_account" {
		t.Errorf("admin resets herself = %d %s, want 403 own_account", a.Status, a.Body)
	}
	if a := ts.post(t, annTok, "/api/v1/admin/users/"+una.ID+"/factor-reset", map[string]string{"reason": "x"}); a.Status != http.StatusBadRequest {
		t.Errorf("reset without a real reason = %d, want 400", a.Status)
	}
	a := reset(annTok, una.ID)
	if a.Status != http.StatusCreated {
		t.Fatalf("reset request = %d %s", a.Status, a.Body)
	}
	id := a.JSON(t)["id"].(string)
	if a := approve(annTok, id); a.Status != http.StatusForbidden || reason(a) != "own_request" {
		t.Errorf("requester approves = %d %s, want 403 own_request", a.Status, a.Body)
	}
	// A request to reset ben cannot be approved by ben.
	benReq := reset(annTok, ben.ID).JSON(t)["id"].(string)
	if a := approve(benTok, benReq); a.Status != http.StatusForbidden || reason(a) != "own_account" {
		t.Errorf("subject approves his own reset = %d %s, want 403 own_account", a.Status, a.Body)
	}
	// The approver's second factor must be fresh.
	ts.Clock.Add(6 * time.Minute)
	wantError(t, "approve with a stale factor", approve(benTok, id), http.StatusUnauthorized, ordergate.ESTEPUP)
	benTok = ts.signInTOTP(t, "ben", benSeed)
	a = approve(benTok, id)
	if a.Status != http.StatusOK {
		t.Fatalf("approve = %d %s", a.Status, a.Body)
	}
	m := a.JSON(t)
	token := m["token"].(string)
	if url := m["url"].(string); url != "https://oms.example.com/recovery/"+token {
		t.Errorf("url = %q", url)
	}
	if a := approve(benTok, id); a.Status != http.StatusForbidden || reason(a) != "already_approved" {
		t.Errorf("second approval = %d %s, want 403 already_approved", a.Status, a.Body)
	}

	// U's sessions, factors and backup codes are gone.
	if a := ts.do(t, "GET", "/api/v1/session", "", "", bearer(unaTok)); a.Status != http.StatusUnauthorized {
		t.Errorf("una's session after the reset = %d, want 401", a.Status)
	}
	if fs, _ := ts.Auth.Store.Factors(ctx, una.ID); len(fs) != 0 {
		t.Errorf("una's factors after the reset = %d", len(fs))
	}
	if n, _ := ts.Auth.Store.BackupCodesLeft(ctx, una.ID); n != 0 {
		t.Errorf("una's backup codes after the reset = %d", n)
	}

	// The link with the password opens an enrollment-only session, once.
	wantError(t, "accept with a wrong password", ts.do(t, "POST", "/api/v1/recovery/"+token+"/accept", jsonType, `{"password":"wrong wrong wrong"}`),
		http.StatusUnauthorized, ordergate.ECREDENTIALS)
	wantError(t, "accept an unknown link", ts.do(t, "POST", "/api/v1/recovery/nonsense/accept", jsonType, jsonBody(map[string]string{"password": adminPassword})),
		http.StatusUnauthorized, ordergate.ECREDENTIALS)
	a = ts.do(t, "POST", "/api/v1/recovery/"+token+"/accept", jsonType, jsonBody(map[string]string{"password": adminPassword}))
	if a.Status != http.StatusOK || a.JSON(t)["state"] != auth.LoginEnrollmentRequired {
		t.Fatalf("accept = %d %s, want enrollment_required", a.Status, a.Body)
	}
	enrollTok := a.JSON(t)["session_token"].(string)
	if a := ts.do(t, "GET", "/api/v1/me/factors", "", "", bearer(enrollTok)); a.Status != http.StatusForbidden {
		t.Errorf("enrollment session reads factors = %d, want 403", a.Status)
	}
	// The four-eyes approval vouches for the user: no SMS to a perhaps lost phone.
	if tok, _ := ts.enrollTOTP(t, enrollTok); tok == enrollTok {
		t.Errorf("enrollment did not move the session to a new token")
	}
	wantError(t, "accept twice", ts.do(t, "POST", "/api/v1/recovery/"+token+"/accept", jsonType, jsonBody(map[string]string{"password": adminPassword})),
		http.StatusUnauthorized, ordergate.ECREDENTIALS)

	// A request expires after 24 hours.
	late := reset(annTok, una.ID).JSON(t)["id"].(string)
	ts.Clock.Add(25 * time.Hour)
	benTok = ts.signInTOTP(t, "ben", benSeed)
	if a := approve(benTok, late); a.Status != http.StatusForbidden || reason(a) != "expired" {
		t.Errorf("approve after 24h = %d %s, want 403 expired", a.Status, a.Body)
	}
	annTok = ts.signInTOTP(t, "ann", annSeed)
	if a := ts.do(t, "GET", "/api/v1/admin/factor-resets", "", "", bearer(annTok)); a.Status != http.StatusOK || !strings.Contains(string(a.Body), `"status":"expired"`) {
		t.Errorf("list resets = %d %s", a.Status, a.Body)
	}

	want := []string{"factor_reset.requested", "factor_reset.approve", "factor_reset.approved", "factor.reset", "recovery.accept", "recovery.accepted"}
	for _, action := range want {
		if len(auditEvents(t, ts, action)) == 0 {
			t.Errorf("no %s in the audit log", action)
		}
	}
	if evs := auditEvents(t, ts, "factor_reset.approve"); len(evs) != 4 {
		t.Errorf("denied approvals audited = %d, want 4", len(evs))
	}

	// Notifications: una hears of the factor added, the reset and the new
	// factor by SMS; ann (no phone) in the outbox.
	if err := ts.Auth.DispatchNotifications(ctx); err != nil {
		t.Fatal(err)
	}
	notes, err := ts.Auth.Recovery.Store.Notifications(ctx, una.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, n := range notes {
		kinds = append(kinds, n.Kind+"/"+n.Channel)
	}
	if got, want := strings.Join(kinds, " "), "factor.added/sms factors.reset/sms factor.added/sms"; got != want {
		t.Errorf("una's notifications = %s, want %s", got, want)
	}
	if msg := ts.phones.last(t, unaPhone); !strings.Contains(msg, "was added") {
		t.Errorf("una's last text = %q", msg)
	}
	if got := ts.notices.count("user:" + ann.ID); got != 1 {
		t.Errorf("outbox notices for ann = %d, want 1 (her TOTP)", got)
	}
	if err := ts.Auth.DispatchNotifications(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _ := ts.Auth.Recovery.Store.Notifications(ctx, una.ID); len(again) != len(notes) {
		t.Errorf("a second dispatch made %d notifications, want %d", len(again), len(notes))
	}
}

// TestBackupCodeNotification: a backup-code sign-in leads to "secure your
// account" and is told to the user.
func TestBackupCodeNotification(t *testing.T) {
	ts := newSMSServer(t, nil)
	ctx := context.Background()
	u := ts.addUser(t, "bea", "", auth.RoleAdmin)
	tok, _ := ts.enrollTOTP(t, ts.signIn(t, "bea")["session_token"].(string))
	codes := ts.post(t, tok, "/api/v1/me/backup-codes", nil).JSON(t)["codes"].([]any)
	pending := ts.signIn(t, "bea")["session_token"].(string)
	a := ts.post(t, pending, "/api/v1/login/mfa", map[string]string{"method": "backup_code", "code": codes[0].(string)})
	m := a.JSON(t)
	if a.Status != http.StatusOK || m["next"] != "secure_account" || m["backup_codes_left"] != float64(9) {
		t.Fatalf("backup-code sign-in = %d %s", a.Status, a.Body)
	}
	if err := ts.Auth.DispatchNotifications(ctx); err != nil {
		t.Fatal(err)
	}
	notes, _ := ts.Auth.Recovery.Store.Notifications(ctx, u.ID)
	if len(notes) != 2 || notes[1].Kind != "backup_code.used" || !strings.Contains(notes[1].Body, "(9 left)") || notes[1].Channel != "outbox" {
		t.Errorf("notifications = %+v", notes)
	}
}
