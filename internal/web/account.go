package web

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
)

// The account security page: a user's factors with their times, adding,
// renaming and removing them (removal after a fresh second factor), and the
// backup codes.

// accountFactor is one factor on the account security page.
type accountFactor struct {
	ID         string
	Type       string
	Name       string
	Confirmed  bool
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// accountData is the account security page.
type accountData struct {
	Factors         []accountFactor
	BackupCodesLeft int
	// Notice says what the last action did.
	Notice string
	// SignedInWithBackupCode is true when this session used a backup code.
	SignedInWithBackupCode bool
	CanAdd                 bool
	// CanAddKey and CanAddSMS offer a security key and text-message
	// codes directly.
	CanAddKey, CanAddSMS bool
	// Devices are the browsers that skip the second factor now, shown
	// (RememberOn) while there are any or policy lets the user's browsers
	// be remembered.
	Devices    []deviceJSON
	RememberOn bool
}

// rememberedDevices returns the user's browsers that skip the second
// factor at now, as GET /api/v1/me/devices shows them.
func (s *Server) rememberedDevices(r *http.Request, userID string) ([]deviceJSON, error) {
	ds, err := s.Auth.Devices(r.Context(), userID)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(devicesOut(ds, s.Clock.Now(), s.deviceID(r)),
		func(d deviceJSON) bool { return d.RememberedUntil == nil }), nil
}

// handleDeviceForgetForm forgets one of the user's browsers, as DELETE
// /api/v1/me/devices/{id} does: its next login asks for the second factor.
func (s *Server) handleDeviceForgetForm(w http.ResponseWriter, r *http.Request) {
	ss := s.activePage(w, r)
	if ss == nil {
		return
	}
	if err := s.Auth.ForgetDevice(r.Context(), auth.UserActor(ss.user, ss.sess), ss.user.ID, r.PathValue("id")); err != nil {
		status, msg := s.pageError(r, err)
		s.renderAccount(w, r, ss, status, "", msg)
		return
	}
	http.Redirect(w, r, "/account/security?done=device_forgotten", http.StatusSeeOther)
}

// handleDevicesForgetAllForm stops every browser of the user from
// skipping the second factor.
func (s *Server) handleDevicesForgetAllForm(w http.ResponseWriter, r *http.Request) {
	ss := s.activePage(w, r)
	if ss == nil {
		return
	}
	if err := s.Auth.ForgetRememberedDevices(r.Context(), auth.UserActor(ss.user, ss.sess), ss.user.ID, "user_request"); err != nil {
		status, msg := s.pageError(r, err)
		s.renderAccount(w, r, ss, status, "", msg)
		return
	}
	http.Redirect(w, r, "/account/security?done=devices_forgotten", http.StatusSeeOther)
}

// accountNotices are the fixed messages ?done= may ask for.
var accountNotices = map[string]string{
	"factor_added":      "Your new factor is ready. Your backup codes still work.",
	"renamed":           "The factor was renamed.",
	"removed":           "The factor was removed.",
	"device_forgotten":  "The browser was forgotten. It will ask for a second factor at its next sign-in.",
	"devices_forgotten": "No browser skips the second factor any more.",
}

func (s *Server) handleAccountPage(w http.ResponseWriter, r *http.Request) {
	if ss := s.activePage(w, r); ss != nil {
		s.renderAccount(w, r, ss, http.StatusOK, accountNotices[r.URL.Query().Get("done")], "")
	}
}

// accountFactors returns the user's factors as the account pages list
// them, only the confirmed ones when confirmedOnly, and how many backup
// codes the user has left.
func (s *Server) accountFactors(ctx context.Context, userID string, confirmedOnly bool) ([]accountFactor, int, error) {
	fs, err := s.Auth.Store.Factors(ctx, userID)
	if err != nil {
		return nil, 0, err
	}
	left, err := s.Auth.Store.BackupCodesLeft(ctx, userID)
	if err != nil {
		return nil, 0, err
	}
	var out []accountFactor
	for _, f := range fs {
		if confirmedOnly && !f.Confirmed {
			continue
		}
		label := methodLabels[f.Type]
		if label == "" {
			label = f.Type
		}
		out = append(out, accountFactor{ID: f.ID, Type: label, Name: f.Name, Confirmed: f.Confirmed,
			CreatedAt: f.CreatedAt, LastUsedAt: f.LastUsedAt})
	}
	return out, left, nil
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, ss *session, status int, notice, msg string) {
	ctx := r.Context()
	factors, left, err := s.accountFactors(ctx, ss.user.ID, false)
	if err != nil {
		s.renderMessage(w, r, ss, err)
		return
	}
	devices, err := s.rememberedDevices(r, ss.user.ID)
	if err != nil {
		s.renderMessage(w, r, ss, err)
		return
	}
	methods := s.Auth.EnrollMethods(ss.user)
	d := accountData{Factors: factors, BackupCodesLeft: left, Notice: notice, CanAdd: len(methods) > 0,
		SignedInWithBackupCode: slices.Contains(ss.sess.Auth.AMR, ordergate.AMRBackup),
		CanAddKey:              slices.Contains(methods, auth.MethodWebAuthn) && s.enrollHere(auth.MethodWebAuthn),
		CanAddSMS:              slices.Contains(methods, auth.MethodSMS) && s.enrollHere(auth.MethodSMS),
		Devices:                devices, RememberOn: len(devices) > 0 || s.Auth.RememberDeviceFor(ss.user) > 0}
	p := pageFor(ss, "Account security")
	p.Error, p.Data = msg, d
	s.render(w, status, "account.html", p)
}

func (s *Server) handleFactorRenameForm(w http.ResponseWriter, r *http.Request) {
	ss := s.activePage(w, r)
	if ss == nil {
		return
	}
	if err := s.Auth.RenameFactor(r.Context(), ss.sess, ss.user, r.PathValue("id"), r.PostFormValue("name")); err != nil {
		status, msg := s.pageError(r, err)
		s.renderAccount(w, r, ss, status, "", msg)
		return
	}
	http.Redirect(w, r, "/account/security?done=renamed", http.StatusSeeOther)
}

// stepUpData is the prompt for a fresh second factor before a removal.
type stepUpData struct {
	FactorID   string
	FactorName string
	TOTP       bool
	BackupCode bool
}

// handleFactorRemoveForm removes a factor. Removal needs a fresh second
// factor: without one it shows a prompt whose answer (method and code)
// comes back here, proves the factor (step-up), then removes.
func (s *Server) handleFactorRemoveForm(w http.ResponseWriter, r *http.Request) {
	ss := s.activePage(w, r)
	if ss == nil {
		return
	}
	ctx, id := r.Context(), r.PathValue("id")
	sess := ss.sess
	if method := r.PostFormValue("method"); method != "" {
		res, err := s.Auth.StepUp(ctx, ss.sess, ss.user, method, r.PostFormValue("code"), "factor.remove", "")
		if err != nil {
			status, msg := s.pageError(r, err)
			s.renderStepUp(w, r, ss, status, msg)
			return
		}
		if res.Token != "" {
			s.replaceCookie(w, ss, res.Token, res.Session)
		}
		sess = res.Session
	}
	err := s.Auth.RemoveFactor(ctx, sess, ss.user, id)
	if ordergate.ErrorCode(err) == ordergate.ESTEPUP {
		s.renderStepUp(w, r, ss, http.StatusOK, "")
		return
	}
	if err != nil {
		status, msg := s.pageError(r, err)
		s.renderAccount(w, r, &session{sess: sess, user: ss.user, cookie: ss.cookie}, status, "", msg)
		return
	}
	http.Redirect(w, r, "/account/security?done=removed", http.StatusSeeOther)
}

func (s *Server) renderStepUp(w http.ResponseWriter, r *http.Request, ss *session, status int, msg string) {
	f, err := s.Auth.Store.Factor(r.Context(), ss.user.ID, r.PathValue("id"))
	if err != nil {
		status, msg := s.pageError(r, err)
		s.renderAccount(w, r, ss, status, "", msg)
		return
	}
	methods, err := s.Auth.LoginMethods(r.Context(), ss.user)
	if err != nil {
		s.renderMessage(w, r, ss, err)
		return
	}
	d := stepUpData{FactorID: f.ID, FactorName: f.Name,
		TOTP: slices.Contains(methods, auth.MethodTOTP), BackupCode: slices.Contains(methods, auth.MethodBackupCode)}
	p := pageFor(ss, "Confirm it is you")
	p.Error, p.Data = msg, d
	s.render(w, status, "stepup.html", p)
}

// handleBackupCodesForm replaces the user's backup codes and shows the new
// ones once.
func (s *Server) handleBackupCodesForm(w http.ResponseWriter, r *http.Request) {
	if ss := s.activePage(w, r); ss != nil {
		s.showNewBackupCodes(w, r, ss, "account")
	}
}
