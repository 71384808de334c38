package main

import (
	"context"
	"log/slog"
	"net/netip"
	"net/url"

	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/auth/webauthn"
	"github.com/ordergate/ordergate/internal/config"
)

// enableWebAuthn turns on security keys and passkeys for the relying party
// at publicURL (its host is the RP ID, its origin the accepted origin),
// with the roles' demands from mfa.webauthn and mfa.passwordless_roles.
// WebAuthn needs a host name: with an IP address in the public URL (the
// default, http://127.0.0.1:8080) it stays off, with a warning.
func enableWebAuthn(svc *auth.Service, st *store, cfg *config.Config, publicURL string, log *slog.Logger) error {
	if u, err := url.Parse(publicURL); err == nil {
		if _, err := netip.ParseAddr(u.Hostname()); err == nil {
			log.Warn("security keys and passkeys are off: the public URL's host is an IP address; use a host name (--public-url http://localhost:8080)",
				"event", "webauthn.disabled", "public_url", publicURL)
			return nil
		}
	}
	rp, err := webauthn.New(publicURL, "ordergate")
	if err != nil {
		return err
	}
	w := cfg.MFA.WebAuthn
	svc.WebAuthn = &auth.WebAuthn{RP: rp, Store: st, Orders: orderAmounts{st},
		PasswordlessRoles:     cfg.MFA.PasswordlessRoles,
		UserVerificationRoles: w.RequireUserVerification, DeviceBoundRoles: w.RequireDeviceBound,
		AttestationRoles: w.AttestationRoles, AllowedAAGUIDs: w.AllowedAAGUIDs}
	if w.MDSPath != "" {
		md, skipped, err := webauthn.LoadMetadata(w.MDSPath, w.MDSRootCert)
		if err != nil {
			return err
		}
		svc.WebAuthn.Metadata = md
		log.Info("fido metadata loaded", "event", "webauthn.metadata", "path", w.MDSPath, "skipped_entries", skipped)
	}
	svc.Policy.Available = append(svc.Policy.Available, auth.MethodWebAuthn)
	log.Info("webauthn enabled", "event", "webauthn.enabled", "rp_id", rp.ID(), "origins", rp.Origins())
	return nil
}

// orderAmounts is the order store as a WebAuthn step-up sees it.
type orderAmounts struct{ st *store }

// OrderAmount implements auth.OrderLookup.
func (o orderAmounts) OrderAmount(ctx context.Context, id string) (int64, string, error) {
	ord, err := o.st.OrderByID(ctx, id)
	if err != nil {
		return 0, "", err
	}
	return ord.Total, ord.Currency, nil
}
