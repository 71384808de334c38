package web

import (
	"io/fs"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler returns the server's routes wrapped in its middleware. Every
// route is listed here.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()

	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{}))

	mux.HandleFunc("POST /api/v1/login", s.handleLogin)
	mux.HandleFunc("POST /api/v1/logout", s.handleLogout)
	mux.HandleFunc("GET /api/v1/session", s.requireSession(s.handleSession))
	mux.HandleFunc("POST /api/v1/login/mfa", s.anySession(s.handleLoginMFA))
	mux.HandleFunc("POST /api/v1/login/postpone", s.anySession(s.handleLoginPostpone))
	mux.HandleFunc("POST /api/v1/step-up", s.requireSession(s.handleStepUp))

	mux.HandleFunc("GET /api/v1/me/factors", s.requireSession(s.handleFactors))
	mux.HandleFunc("POST /api/v1/me/factors/totp", s.anySession(s.handleTOTPBegin))
	mux.HandleFunc("POST /api/v1/me/factors/totp/{id}/confirm", s.anySession(s.handleTOTPConfirm))
	mux.HandleFunc("PATCH /api/v1/me/factors/{id}", s.requireSession(s.handleFactorRename))
	mux.HandleFunc("DELETE /api/v1/me/factors/{id}", s.requireSession(s.handleFactorDelete))
	mux.HandleFunc("POST /api/v1/me/backup-codes", s.anySession(s.handleBackupCodes))
	mux.HandleFunc("POST /api/v1/me/factors/sms", s.anySession(s.handleSMSBegin))
	mux.HandleFunc("POST /api/v1/me/factors/sms/{id}/confirm", s.anySession(s.handleSMSConfirm))
	mux.HandleFunc("POST /api/v1/login/mfa/sms/send", s.anySession(s.handleLoginSMSSend))
	mux.HandleFunc("POST /api/v1/me/vouch/sms/send", s.anySession(s.handleVouchSMSSend))
	mux.HandleFunc("POST /api/v1/me/vouch/sms", s.anySession(s.handleVouchSMS))
	mux.HandleFunc("POST /api/v1/admin/users/{id}/factor-reset", s.requireSession(s.handleFactorResetRequest))
	mux.HandleFunc("GET /api/v1/admin/factor-resets", s.requireSession(s.handleFactorResets))
	mux.HandleFunc("POST /api/v1/admin/factor-resets/{id}/approve", s.requireSession(s.handleFactorResetApprove))
	mux.HandleFunc("POST /api/v1/recovery/{token}/accept", s.handleRecoveryAccept)
	mux.HandleFunc("POST /api/v1/me/factors/webauthn/begin", s.anySession(s.handleWebAuthnRegisterBegin))
	mux.HandleFunc("POST /api/v1/me/factors/webauthn/finish", s.anySession(s.handleWebAuthnRegisterFinish))
	mux.HandleFunc("POST /api/v1/login/webauthn/begin", s.anySession(s.handleWebAuthnLoginBegin))
	mux.HandleFunc("POST /api/v1/login/webauthn/finish", s.anySession(s.handleWebAuthnLoginFinish))
	mux.HandleFunc("POST /api/v1/login/passkey/begin", s.handlePasskeyBegin)
	mux.HandleFunc("POST /api/v1/login/passkey/finish", s.handlePasskeyFinish)
	mux.HandleFunc("POST /api/v1/step-up/webauthn/begin", s.requireSession(s.handleWebAuthnStepUpBegin))
	mux.HandleFunc("POST /api/v1/step-up/webauthn/finish", s.requireSession(s.handleWebAuthnStepUpFinish))

	mux.HandleFunc("GET /api/v1/admin/adoption", s.requireRoles(readerRoles, s.handleAdoption))
	mux.HandleFunc("GET /api/v1/admin/risk-decisions", s.requireRoles(readerRoles, s.handleRiskDecisions))
	mux.HandleFunc("GET /api/v1/admin/users/{id}/devices", s.requireRoles(readerRoles, s.handleUserDevices))
	mux.HandleFunc("DELETE /api/v1/admin/users/{id}/devices/{device}", s.requireRoles(adminRoles, s.handleUserDeviceForget))
	mux.HandleFunc("GET /api/v1/me/devices", s.requireSession(s.handleMyDevices))
	mux.HandleFunc("DELETE /api/v1/me/devices/{id}", s.requireSession(s.handleMyDeviceForget))
	mux.HandleFunc("POST /api/v1/me/devices/current/remember", s.requireSession(s.handleRememberDevice))
	mux.HandleFunc("GET /auth/verify", s.handleVerify)

	mux.HandleFunc("POST /api/v1/intake/{channel}", s.handleIntake)
	mux.HandleFunc("POST /api/v1/orders", s.withOrders(s.handleOrderCreate))
	mux.HandleFunc("GET /api/v1/orders", s.withOrders(s.handleOrderList))
	mux.HandleFunc("GET /api/v1/orders/{id}", s.withOrders(s.handleOrderGet))
	mux.HandleFunc("PATCH /api/v1/orders/{id}", s.withOrders(s.handleOrderPatch))
	mux.HandleFunc("POST /api/v1/orders/{id}/cancel", s.withOrders(s.handleOrderCancel))
	mux.HandleFunc("POST /api/v1/orders/{id}/approve", s.withOrders(s.handleOrderApprove))
	mux.HandleFunc("GET /api/v1/orders/{id}/audit", s.withOrders(s.handleOrderAudit))

	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", s.handleHome)
	mux.HandleFunc("GET /login", s.handleLoginPage)
	mux.HandleFunc("POST /login", s.handleLoginForm)
	mux.HandleFunc("POST /logout", s.handleLogoutForm)
	mux.HandleFunc("GET /login/second-factor", s.handleSecondFactorPage)
	mux.HandleFunc("POST /login/second-factor", s.handleSecondFactorForm)
	mux.HandleFunc("GET /enroll", s.handleEnrollPage)
	mux.HandleFunc("POST /enroll", s.handleEnrollBegin)
	mux.HandleFunc("GET /enroll/totp/{id}", s.handleEnrollTOTPPage)
	mux.HandleFunc("POST /enroll/totp/{id}", s.handleEnrollTOTPConfirm)
	mux.HandleFunc("POST /enroll/done", s.handleEnrollDone)
	mux.HandleFunc("GET /account/security", s.handleAccountPage)
	mux.HandleFunc("POST /account/security/factors/{id}/name", s.handleFactorRenameForm)
	mux.HandleFunc("POST /account/security/factors/{id}/remove", s.handleFactorRemoveForm)
	mux.HandleFunc("POST /account/security/backup-codes", s.handleBackupCodesForm)
	mux.HandleFunc("GET /admin/adoption", s.handleAdoptionPage)
	mux.HandleFunc("GET /orders", s.handleOrdersPage)
	mux.HandleFunc("GET /orders/{id}", s.handleOrderPage)
	mux.HandleFunc("GET /orders/{id}/edit", s.handleOrderEditPage)
	mux.HandleFunc("POST /orders/{id}/edit", s.handleOrderEditForm)
	mux.HandleFunc("POST /orders/{id}/approve", s.handleOrderApproveForm)
	mux.HandleFunc("GET /admin/sources", s.handleSourcesPage)
	mux.HandleFunc("POST /admin/sources", s.handleSourceCreateForm)
	mux.HandleFunc("/api/", s.handleAPINotFound)

	return s.recoverPanics(s.securityHeaders(s.observe(s.requireAPIJSON(s.loadSession(s.returnTo(s.remoteAccess(s.csrf(mux))))))))
}
