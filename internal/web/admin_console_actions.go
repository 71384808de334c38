package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
)

// More of the administration console: remembered devices and the start of
// a four-eyes factor reset on the user page, invitation delivery, and the
// step-up prompt that console actions answering
// insufficient_user_authentication show instead of a dead end.

// stepUpCodeField is the form field of the console's step-up prompt.
const stepUpCodeField = "stepup_code"

// devicesOut shows a user's browsers; RememberedUntil only while
// "trust this browser" holds at now, and Current for the one whose id is
// current (none when current is "").
func devicesOut(ds []*auth.Device, now time.Time, current string) []deviceJSON {
	out := []deviceJSON{}
	for _, d := range ds {
		j := deviceJSON{ID: d.ID, UserAgent: d.UserAgent, FirstSeenAt: d.FirstSeenAt, LastSeenAt: d.LastSeenAt,
			Current: current != "" && d.ID == current}
		if d.Remembered(now) {
			t := d.RememberedUntil
			j.RememberedUntil = &t
		}
		out = append(out, j)
	}
	return out
}

// sendInvitation sends a new invitation's link to the person and returns
// the channel it went by ("" when none is configured or sending failed,
// which is logged: the administrator still has the link to pass on).
func (s *Server) sendInvitation(r *http.Request, actor ordergate.Actor, il *auth.IssuedLink, link string) string {
	channel, err := s.Auth.SendInvitation(r.Context(), actor, il, link)
	if err != nil {
		s.Log.Warn("invitation not sent", "event", "invitation.send_failed", "user_id", actor.ID, "subject_id", il.User.ID,
			"code", ordergate.ErrorCode(err))
		return ""
	}
	return channel
}

// stepUpPromptData is admin_stepup.html's data: the form that confirms a
// TOTP code and posts the interrupted action again with its fields.
type stepUpPromptData struct {
	Action string
	Fields []stepUpField
	Back   string
}

type stepUpField struct{ Name, Value string }

// consoleStepUpPrompt answers a console form whose action needs a fresh
// second factor with a TOTP prompt that repeats the form. msg, when set,
// says why the last code was not accepted.
func (s *Server) consoleStepUpPrompt(w http.ResponseWriter, r *http.Request, ss *session, msg string) {
	d := stepUpPromptData{Action: r.URL.Path, Back: "/admin"}
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Path != "" && strings.HasPrefix(ref.Path, "/admin") {
		d.Back = ref.Path
	}
	for name, vs := range r.PostForm {
		if name == "csrf_token" || name == stepUpCodeField {
			continue
		}
		for _, v := range vs {
			d.Fields = append(d.Fields, stepUpField{Name: name, Value: v})
		}
	}
	s.consolePage(w, http.StatusUnauthorized, "admin_stepup.html", "Confirm it is you", ss, d, msg)
}

// consoleStepUp proves the TOTP code of the step-up prompt on ss's
// session and returns the stepped-up session for the action to go on
// with, or answers with the prompt again.
func (s *Server) consoleStepUp(w http.ResponseWriter, r *http.Request, ss *session) (*session, bool) {
	code := strings.TrimSpace(r.PostFormValue(stepUpCodeField))
	res, err := s.Auth.StepUp(r.Context(), ss.sess, ss.user, auth.MethodTOTP, code, "admin:"+r.URL.Path, "")
	if err != nil {
		s.Log.Info("console step-up refused", "event", "admin.step_up_failed", "user_id", ss.user.ID,
			"code", ordergate.ErrorCode(err), "client_ip", s.ClientIP(r))
		msg := codeFailed
		if ordergate.ErrorCode(err) == ordergate.ERATELIMIT {
			msg = ordergate.ErrorMessage(err)
		}
		s.consoleStepUpPrompt(w, r, ss, msg)
		return nil, false
	}
	s.replaceCookie(w, ss, res.Token, res.Session)
	return &session{sess: res.Session, user: ss.user, cookie: ss.cookie}, true
}

// POST /admin/users/{id}/devices/{device}/forget
func (s *Server) handleConsoleDeviceForget(w http.ResponseWriter, r *http.Request) {
	s.consoleAction(w, r, func(ctx context.Context, a ordergate.Actor, id string) error {
		return s.Auth.ForgetDevice(ctx, a, id, r.PathValue("device"))
	})
}

// POST /admin/users/{id}/factor-reset: the first administrator's half of
// the four-eyes factor reset; a second one approves it.
func (s *Server) handleConsoleFactorReset(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.consoleSession(w, r, true)
	if !ok {
		return
	}
	id := r.PathValue("id")
	back := "/admin/users/" + url.PathEscape(id)
	fr, err := s.Auth.RequestFactorReset(r.Context(), ss.sess, ss.user, id, r.PostFormValue("reason"))
	if err != nil {
		s.consoleError(w, r, ss, err, back)
		return
	}
	s.consolePage(w, http.StatusCreated, "admin_notice.html", "Factor reset", ss, consoleNotice{
		Text: "The reset of all second factors was requested (" + fr.ID + "). A second administrator must approve it under " +
			"factor resets before " + fr.ExpiresAt.Format("2006-01-02 15:04 MST") + "; approving gives the one-time enrollment link.",
		Back: back, BackText: "Back to the user"}, "")
}
