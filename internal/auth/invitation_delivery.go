package auth

import (
	"context"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
)

// Invitation delivery: besides showing the link once to the inviting
// administrator, the link is sent to the person. A user with a phone gets
// it by SMS (the Recovery SMS sender); otherwise, or when the SMS cannot
// be sent, it goes to the notification outbox (Recovery.Notices),
// addressed to the e-mail address when there is one. The link is never
// logged or audited; the audit event says only where it went.

// Invitation delivery channels.
const (
	DeliveredSMS    = "sms"
	DeliveredOutbox = "outbox"
)

// invitationText is the message carrying an invitation link.
func invitationText(il *IssuedLink, link string) string {
	return "ordergate: you are invited to ordergate as " + il.User.Username + ". Choose your password at " + link +
		" before " + il.Link.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC") +
		"; the link works once. If you did not expect this, ignore it."
}

// SendInvitation sends il's link (link is its full URL, with the token)
// to the invited user: by SMS when the user has a phone and SMS is on,
// else to the notification outbox. It returns the channel used, or ""
// when neither is configured; the sending is audited without the link.
// EUNAVAILABLE when every configured channel failed.
func (s *Service) SendInvitation(ctx context.Context, actor ordergate.Actor, il *IssuedLink, link string) (string, error) {
	if s.Recovery == nil || (s.Recovery.SMS == nil && s.Recovery.Notices == nil) {
		return "", nil
	}
	u := il.User
	body := invitationText(il, link)
	channel, failed := "", ""
	if u.Phone != "" && s.Recovery.SMS != nil {
		if err := s.Recovery.SMS.Send(ctx, u.Phone, body); err != nil {
			failed = providerCode(err)
			s.Log.Warn("invitation not sent by SMS", "event", "invitation.send_failed", "user_id", actor.ID, "subject_id", u.ID,
				"channel", DeliveredSMS, "provider_code", failed)
		} else {
			channel = DeliveredSMS
		}
	}
	if channel == "" && s.Recovery.Notices != nil {
		to := "user:" + u.ID
		if u.Email != "" {
			to = u.Email
		}
		if err := s.Recovery.Notices.Send(ctx, to, body); err != nil {
			s.Log.Warn("invitation not sent to the outbox", "event", "invitation.send_failed", "user_id", actor.ID, "subject_id", u.ID,
				"channel", DeliveredOutbox, "provider_code", providerCode(err))
		} else {
			channel = DeliveredOutbox
		}
	}
	ev := audit.Event{At: s.Clock.Now(), Action: "invitation.sent", Outcome: audit.OutcomeOK, Actor: actor, SubjectID: u.ID,
		Data: map[string]any{"link_id": il.Link.ID, "channel": channel}}
	if failed != "" {
		ev.Data["sms_failed"] = failed
	}
	if channel == "" {
		ev.Outcome = audit.OutcomeFailed
	}
	if err := s.Store.AppendAudit(ctx, ev); err != nil {
		return "", err
	}
	if channel == "" {
		return "", ordergate.Errorf(ordergate.EUNAVAILABLE, "the invitation could not be sent; give the person the link yourself")
	}
	s.Log.Info("invitation sent", "event", "invitation.sent", "user_id", actor.ID, "subject_id", u.ID, "channel", channel)
	return channel, nil
}
