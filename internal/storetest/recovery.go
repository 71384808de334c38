package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/sqlstore"
)

// testRecovery checks SMS codes, send limits, factor resets, recovery
// links and the notification outbox.
func testRecovery(t *testing.T, open Opener) {
	t.Run("SMSCodes", func(t *testing.T) { testSMSCodes(t, open(t)) })
	t.Run("SMSSendLimitConcurrent", func(t *testing.T) { testSMSSendLimitConcurrent(t, open(t)) })
	t.Run("FactorReset", func(t *testing.T) { testFactorReset(t, open(t)) })
	t.Run("Notifications", func(t *testing.T) { testNotifications(t, open(t)) })
}

func smsCode(u *auth.User, phone, purpose string, at time.Time) *auth.SMSCode {
	return &auth.SMSCode{UserID: u.ID, Purpose: purpose, Phone: phone, Hash: "h", CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute)}
}

func testSMSCodes(t *testing.T, db *sqlstore.DB) {
	u := newUser(t, db, "sam", "clerk")
	v := newUser(t, db, "vic", "clerk")
	now := time.Now().UTC().Truncate(time.Microsecond)
	limits := []auth.SendLimit{{Max: 3, Window: 15 * time.Minute}, {Max: 4, Window: 24 * time.Hour}}
	ev := audit.Event{Action: "sms.send", Outcome: audit.OutcomeOK, Actor: ordergate.SystemActor}

	first := smsCode(u, "+14155550100", auth.SMSPurposeLogin, now)
	if err := db.ReserveSMSCode(ctx, first, limits); err != nil {
		t.Fatal(err)
	}
	if _, err := db.LatestSMSCode(ctx, u.ID, auth.SMSPurposeLogin, now); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("a reserved code is valid before it was sent: %v", err)
	}
	if err := db.FinishSMSCode(ctx, first.ID, auth.SMSSent, ev); err != nil {
		t.Fatal(err)
	}
	second := smsCode(u, "+14155550100", auth.SMSPurposeLogin, now.Add(time.Second))
	if err := db.ReserveSMSCode(ctx, second, limits); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishSMSCode(ctx, second.ID, auth.SMSSent, ev); err != nil {
		t.Fatal(err)
	}
	got, err := db.LatestSMSCode(ctx, u.ID, auth.SMSPurposeLogin, now.Add(2*time.Second))
	if err != nil || got.ID != second.ID {
		t.Fatalf("LatestSMSCode = %v, %v; want the second code", got, err)
	}
	if ok, _ := db.UseSMSCode(ctx, first.ID, now.Add(2*time.Second)); ok {
		t.Errorf("UseSMSCode(replaced code) = true, want false: only the latest code is valid")
	}
	if ok, err := db.UseSMSCode(ctx, second.ID, now.Add(2*time.Second)); !ok || err != nil {
		t.Errorf("UseSMSCode(latest) = %v, %v; want true", ok, err)
	}
	if ok, _ := db.UseSMSCode(ctx, second.ID, now.Add(3*time.Second)); ok {
		t.Errorf("UseSMSCode twice = true, want false")
	}

	// A failed send is removed and does not count; a third send fills the window.
	failed := smsCode(u, "+14155550100", auth.SMSPurposeLogin, now.Add(3*time.Second))
	if err := db.ReserveSMSCode(ctx, failed, limits); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishSMSCode(ctx, failed.ID, auth.SMSFailed, ev); err != nil {
		t.Fatal(err)
	}
	third := smsCode(u, "+14155550100", auth.SMSPurposeEnroll, now.Add(4*time.Second))
	if err := db.ReserveSMSCode(ctx, third, limits); err != nil {
		t.Fatalf("third send within the limit: %v", err)
	}
	if err := db.FinishSMSCode(ctx, third.ID, auth.SMSSent, ev); err != nil {
		t.Fatal(err)
	}
	// Expired codes are not valid.
	if _, err := db.LatestSMSCode(ctx, u.ID, auth.SMSPurposeEnroll, now.Add(10*time.Minute)); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("LatestSMSCode after expiry: %v, want not_found", err)
	}
	if ok, _ := db.UseSMSCode(ctx, third.ID, now.Add(10*time.Minute)); ok {
		t.Errorf("UseSMSCode after expiry = true")
	}

	tests := []struct {
		name      string
		code      *auth.SMSCode
		wantCode  string
		wantRetry int
	}{
		{"user over 3 per 15 minutes", smsCode(u, "+491701234567", auth.SMSPurposeLogin, now.Add(5*time.Second)), ordergate.ERATELIMIT, 15*60 - 5},
		{"number over 3 per 15 minutes, other user", smsCode(v, "+14155550100", auth.SMSPurposeLogin, now.Add(5*time.Second)), ordergate.ERATELIMIT, 15*60 - 5},
		{"other user, other number", smsCode(v, "+33612345678", auth.SMSPurposeLogin, now.Add(5*time.Second)), "", 0},
		{"user after the window, within the day", smsCode(u, "+491701234567", auth.SMSPurposeLogin, now.Add(16*time.Minute)), "", 0},
		{"user over 4 per day", smsCode(u, "+491701234567", auth.SMSPurposeLogin, now.Add(40*time.Minute)), ordergate.ERATELIMIT, 24*3600 - 40*60},
	}
	for _, tt := range tests {
		err := db.ReserveSMSCode(ctx, tt.code, limits)
		if got := ordergate.ErrorCode(err); got != tt.wantCode {
			t.Errorf("%s: ReserveSMSCode code %q, want %q", tt.name, got, tt.wantCode)
			continue
		}
		if e, ok := err.(*ordergate.Error); ok && e.RetryAfter != tt.wantRetry {
			t.Errorf("%s: RetryAfter = %d, want %d", tt.name, e.RetryAfter, tt.wantRetry)
		}
	}
}

func testSMSSendLimitConcurrent(t *testing.T, db *sqlstore.DB) {
	u := newUser(t, db, "flood", "clerk")
	now := time.Now().UTC()
	limits := []auth.SendLimit{{Max: 3, Window: 15 * time.Minute}}
	const n = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, limited := 0, 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := db.ReserveSMSCode(ctx, smsCode(u, "+14155550100", auth.SMSPurposeLogin, now.Add(time.Duration(i)*time.Millisecond)), limits)
			mu.Lock()
			defer mu.Unlock()
			switch ordergate.ErrorCode(err) {
			case "":
				ok++
			case ordergate.ERATELIMIT:
				limited++
			default:
				t.Errorf("ReserveSMSCode: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 3 || limited != n-3 {
		t.Errorf("%d concurrent sends: %d allowed, %d limited; want 3 and %d", n, ok, limited, n-3)
	}
}

func testFactorReset(t *testing.T, db *sqlstore.DB) {
	a := newUser(t, db, "ann", "admin")
	b := newUser(t, db, "ben", "admin")
	u := newUser(t, db, "una", "clerk")
	now := time.Now().UTC().Truncate(time.Microsecond)
	f := &auth.Factor{UserID: u.ID, Type: "totp", Name: "app", Secret: []byte("sealed"), Confirmed: true}
	if err := db.CreateFactor(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := db.ReplaceBackupCodes(ctx, u.ID, []auth.BackupCode{{ID: "bc1", UserID: u.ID, Lookup: "ab", Hash: "h"}}); err != nil {
		t.Fatal(err)
	}
	sess := &auth.Session{ID: auth.HashToken("una-session"), UserID: u.ID, State: auth.StateActive, CSRFToken: "c",
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	r := &auth.FactorReset{UserID: u.ID, RequestedBy: a.ID, Reason: "lost phone", CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	if err := db.CreateFactorReset(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := db.FactorReset(ctx, r.ID)
	if err != nil || got.Status != auth.ResetPending || got.RequestedBy != a.ID || !got.ExpiresAt.Equal(r.ExpiresAt) {
		t.Fatalf("FactorReset = %+v, %v", got, err)
	}
	link := func(tok string) *auth.RecoveryLink {
		return &auth.RecoveryLink{TokenHash: auth.HashToken(tok), CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	}
	refused := []struct {
		name     string
		approver string
		at       time.Time
	}{
		{"by the requester", a.ID, now.Add(time.Minute)},
		{"by the user", u.ID, now.Add(time.Minute)},
		{"after expiry", b.ID, now.Add(25 * time.Hour)},
	}
	for _, tt := range refused {
		if err := db.ApproveFactorReset(ctx, r.ID, tt.approver, tt.at, link("x")); ordergate.ErrorCode(err) != ordergate.ECONFLICT {
			t.Errorf("ApproveFactorReset %s: code %q, want conflict", tt.name, ordergate.ErrorCode(err))
		}
	}
	ev := audit.Event{Action: "factor.reset", Outcome: audit.OutcomeOK, Actor: ordergate.SystemActor, SubjectID: u.ID}
	if err := db.ApproveFactorReset(ctx, r.ID, b.ID, now.Add(time.Minute), link("tok"), ev); err != nil {
		t.Fatalf("ApproveFactorReset: %v", err)
	}
	if err := db.ApproveFactorReset(ctx, r.ID, b.ID, now.Add(2*time.Minute), link("tok2")); ordergate.ErrorCode(err) != ordergate.ECONFLICT {
		t.Errorf("second approval: code %q, want conflict", ordergate.ErrorCode(err))
	}
	if fs, _ := db.Factors(ctx, u.ID); len(fs) != 0 {
		t.Errorf("factors after reset = %d, want 0", len(fs))
	}
	if n, _ := db.BackupCodesLeft(ctx, u.ID); n != 0 {
		t.Errorf("backup codes after reset = %d, want 0", n)
	}
	if _, err := db.SessionByID(ctx, sess.ID); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("session survived the reset: %v", err)
	}
	l, err := db.RecoveryLink(ctx, auth.HashToken("tok"))
	if err != nil || l.UserID != u.ID || l.ResetID != r.ID {
		t.Fatalf("RecoveryLink = %+v, %v", l, err)
	}
	enroll := &auth.Session{ID: auth.HashToken("enroll"), UserID: u.ID, State: auth.StateEnrollment, CSRFToken: "c",
		CreatedAt: now.Add(time.Hour), LastSeenAt: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour)}
	if err := db.UseRecoveryLink(ctx, l.TokenHash, enroll); err != nil {
		t.Fatalf("UseRecoveryLink: %v", err)
	}
	again := *enroll
	again.ID = auth.HashToken("enroll2")
	if err := db.UseRecoveryLink(ctx, l.TokenHash, &again); ordergate.ErrorCode(err) != ordergate.ECONFLICT {
		t.Errorf("second UseRecoveryLink: code %q, want conflict", ordergate.ErrorCode(err))
	}
	list, err := db.FactorResets(ctx, now.Add(-time.Hour))
	if err != nil || len(list) != 1 || list[0].Status != auth.ResetApproved || list[0].ApprovedBy != b.ID {
		t.Errorf("FactorResets = %+v, %v", list, err)
	}
}

func testNotifications(t *testing.T, db *sqlstore.DB) {
	u := newUser(t, db, "nora", "clerk")
	from, err := db.NotificationCursor(ctx)
	if err != nil || from != 0 {
		t.Fatalf("NotificationCursor = %d, %v", from, err)
	}
	notes := []auth.Notification{{UserID: u.ID, Kind: "factor.added", AuditSeq: 2, Body: "one"}, {UserID: u.ID, Kind: "backup_code.used", AuditSeq: 3, Phone: "+14155550100", Body: "two"}}
	if moved, err := db.AddNotifications(ctx, 0, 3, notes); !moved || err != nil {
		t.Fatalf("AddNotifications = %v, %v", moved, err)
	}
	if moved, err := db.AddNotifications(ctx, 0, 3, notes); moved || err != nil {
		t.Errorf("AddNotifications from a stale cursor = %v, %v; want false", moved, err)
	}
	pending, err := db.PendingNotifications(ctx, 3, 10)
	if err != nil || len(pending) != 2 {
		t.Fatalf("PendingNotifications = %v, %v", pending, err)
	}
	now := time.Now().UTC()
	if err := db.MarkNotification(ctx, pending[0].ID, "outbox", "", now); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := db.MarkNotification(ctx, pending[1].ID, "", "20500", now); err != nil {
			t.Fatal(err)
		}
	}
	if pending, _ := db.PendingNotifications(ctx, 3, 10); len(pending) != 0 {
		t.Errorf("pending after delivery and 3 failures = %d, want 0", len(pending))
	}
	all, _ := db.Notifications(ctx, u.ID)
	if len(all) != 2 || all[0].Channel != "outbox" || all[0].SentAt.IsZero() || all[1].LastError != "20500" || all[1].Attempts != 3 {
		t.Errorf("Notifications = %+v", all)
	}
}
