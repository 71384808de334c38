package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth/sms"
)

// Notifications: every factor added, removed or reset and every backup
// code used is told to the user, so that an attacker's change does not go
// unnoticed. They are made from the audit chain, which is written in the
// same transaction as the change itself: whatever changed a factor (TOTP,
// WebAuthn, SMS, an administrator) cannot skip the notice. The table is
// the outbox; DispatchNotifications delivers by SMS when the user has a
// phone, and to the Notices outbox otherwise.

// notifyActions maps audited actions to notification kinds.
var notifyActions = map[string]string{
	"factor.confirmed": "factor.added",
	"factor.removed":   "factor.removed",
	"factor.reset":     "factors.reset",
	"backup_code.used": "backup_code.used",
}

// notificationAttempts is how often delivery is tried; after half of them
// a message meant for SMS goes to the outbox instead.
const notificationAttempts = 6

var factorNames = map[string]string{
	MethodTOTP: "an authenticator app", MethodWebAuthn: "a security key or passkey", MethodSMS: "a phone for text-message codes",
}

// notificationText is the message for an audited event.
func notificationText(kind string, ev audit.Event, username string) string {
	when := ev.At.UTC().Format("2006-01-02 15:04 UTC")
	what := factorNames[fmt.Sprint(ev.Data["type"])]
	if what == "" {
		what = "a second factor"
	}
	tail := " If this was not you, contact your administrator at once."
	switch kind {
	case "factor.added":
		return "ordergate: " + what + " was added to the account " + username + " on " + when + "." + tail
	case "factor.removed":
		return "ordergate: " + what + " was removed from the account " + username + " on " + when + "." + tail
	case "factors.reset":
		return "ordergate: an administrator reset all second factors of the account " + username + " on " + when +
			"; you will get a link to enroll a new one." + tail
	case "backup_code.used":
		left := fmt.Sprint(ev.Data["left"])
		return "ordergate: a backup code was used to sign in to " + username + " on " + when + " (" + left + " left)." + tail
	}
	return "ordergate: your account " + username + " changed on " + when + "." + tail
}

// notifyPhone is where a user's notifications go by SMS: the phone an
// administrator registered, else the newest confirmed SMS factor.
func (s *Service) notifyPhone(ctx context.Context, u *User) (string, error) {
	if u.Phone != "" {
		return u.Phone, nil
	}
	fs, err := s.Store.Factors(ctx, u.ID)
	if err != nil {
		return "", err
	}
	if f := confirmedSMS(fs); f != nil {
		return factorPhone(f), nil
	}
	return "", nil
}

// CollectNotifications turns audit events written since the last call
// into notifications and returns how many it made. Several processes may
// call it at once: the cursor moves once, so each event is told once.
func (s *Service) CollectNotifications(ctx context.Context) (int, error) {
	st, err := s.recoveryStore()
	if err != nil {
		return 0, err
	}
	from, err := st.NotificationCursor(ctx)
	if err != nil {
		return 0, err
	}
	reader, ok := s.Store.(audit.Reader)
	if !ok {
		return 0, fmt.Errorf("notifications: the store cannot read the audit chain")
	}
	to := from
	var notes []Notification
	var derr error
	const page = 500
	err = reader.AuditRecords(ctx, from, func(r audit.Record) bool {
		to = r.Seq
		kind, ok := notifyActions[r.Action]
		if !ok || r.SubjectID == "" {
			return to-from < page
		}
		ev, err := r.Decode()
		if err != nil {
			derr = err
			return false
		}
		if ev.Outcome != audit.OutcomeOK {
			return to-from < page
		}
		u, err := s.Store.UserByID(ctx, r.SubjectID)
		if err != nil {
			derr = err
			return false
		}
		phone, err := s.notifyPhone(ctx, u)
		if err != nil {
			derr = err
			return false
		}
		notes = append(notes, Notification{UserID: u.ID, Kind: kind, AuditSeq: r.Seq, Phone: phone,
			Body: notificationText(kind, ev, u.Username), CreatedAt: s.Clock.Now()})
		return to-from < page
	})
	if err == nil {
		err = derr
	}
	if err != nil || to == from {
		return 0, err
	}
	moved, err := st.AddNotifications(ctx, from, to, notes)
	if err != nil || !moved {
		return 0, err
	}
	return len(notes), nil
}

// DeliverNotifications sends pending notifications: by SMS to their phone
// when SMS is on, else (or after repeated SMS failures) to the Notices
// outbox. It returns how many it delivered.
func (s *Service) DeliverNotifications(ctx context.Context) (int, error) {
	st, err := s.recoveryStore()
	if err != nil {
		return 0, err
	}
	pending, err := st.PendingNotifications(ctx, notificationAttempts, 100)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, n := range pending {
		channel, to, sender := "outbox", "user:"+n.UserID, s.Recovery.Notices
		if n.Phone != "" && s.Recovery.SMS != nil && n.Attempts < notificationAttempts/2 {
			channel, to, sender = "sms", n.Phone, s.Recovery.SMS
		}
		if sender == nil {
			continue
		}
		now := s.Clock.Now()
		if err := sender.Send(ctx, to, n.Body); err != nil {
			s.Log.Warn("notification not delivered", "event", "notification.failed", "user_id", n.UserID, "channel", channel,
				"provider_code", providerCode(err))
			if err := st.MarkNotification(ctx, n.ID, "", providerCode(err), now); err != nil {
				return sent, err
			}
			continue
		}
		if err := st.MarkNotification(ctx, n.ID, channel, "", now); err != nil {
			return sent, err
		}
		sent++
		s.Log.Info("notification delivered", "event", "notification.sent", "user_id", n.UserID, "kind", n.Kind, "channel", channel,
			"to", maskTo(to))
	}
	return sent, nil
}

func maskTo(to string) string {
	if len(to) > 0 && to[0] == '+' {
		return sms.Mask(to)
	}
	return to
}

// DispatchNotifications collects and delivers notifications.
func (s *Service) DispatchNotifications(ctx context.Context) error {
	if s.Recovery == nil || s.Recovery.Store == nil {
		return nil
	}
	if _, err := s.CollectNotifications(ctx); err != nil {
		return err
	}
	_, err := s.DeliverNotifications(ctx)
	return err
}

// RunNotifier dispatches notifications every interval and whenever
// DispatchSoon asks, until ctx ends. Errors are logged and retried.
func (s *Service) RunNotifier(ctx context.Context, interval time.Duration) {
	if s.Recovery == nil {
		return
	}
	wake := s.Recovery.wakeChan()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.DispatchNotifications(ctx); err != nil && ctx.Err() == nil {
			s.Log.Error("notifications", "event", "notification.dispatch_failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
	}
}

// DispatchSoon wakes RunNotifier, if it runs, without waiting for it.
func (s *Service) DispatchSoon() {
	if s.Recovery == nil {
		return
	}
	select {
	case s.Recovery.wakeChan() <- struct{}{}:
	default:
	}
}
