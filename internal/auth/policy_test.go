package auth

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestPolicyRequire(t *testing.T) {
	day := func(d string) time.Time { t, _ := time.Parse(time.DateOnly, d); return t }
	p := Policy{
		MandatoryRoles:  []string{RoleAdmin},
		TrustedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Rollout: []Phase{
			{Roles: []string{"*"}, Methods: []string{MethodTOTP, MethodWebAuthn}, EnforceFrom: day("2026-10-01"), Grace: 30 * 24 * time.Hour},
		},
	}
	clerk := &User{Roles: []string{RoleClerk}}
	admin := &User{Roles: []string{RoleAdmin}}
	cases := []struct {
		name     string
		u        *User
		ip       string
		enrolled []string
		now      string
		want     string
	}{
		{"clerk before the phase is reminded", clerk, "10.1.1.1", nil, "2026-09-01", "need=false grace=false reminder=true reasons=[]"},
		{"clerk in grace may postpone", clerk, "10.1.1.1", nil, "2026-10-15", "need=false grace=true reminder=true reasons=[]"},
		{"clerk after grace must enroll", clerk, "10.1.1.1", nil, "2026-11-01", "need=true grace=false reminder=false reasons=[rollout:2026-10-01]"},
		{"enrolled clerk always uses the factor", clerk, "10.1.1.1", []string{MethodTOTP}, "2026-11-01", "need=true grace=false reminder=false reasons=[enrolled]"},
		{"sms does not meet a totp/webauthn phase", clerk, "10.1.1.1", []string{MethodSMS}, "2026-11-01", "need=true grace=false reminder=false reasons=[rollout:2026-10-01]"},
		{"remote clerk", clerk, "203.0.113.9", nil, "2026-09-01", "need=true grace=false reminder=true reasons=[remote_access]"},
		{"admin", admin, "10.1.1.1", nil, "2026-09-01", "need=true grace=false reminder=true reasons=[role:admin]"},
	}
	for _, tc := range cases {
		r := p.Require(tc.u, tc.ip, tc.enrolled, day(tc.now))
		got := fmt.Sprintf("need=%v grace=%v reminder=%v reasons=%v", r.Need, r.Grace, r.Reminder, r.Reasons)
		if got != tc.want {
			t.Errorf("%s: Require = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestPolicyMethods(t *testing.T) {
	p := Policy{PhishingResistantRoles: []string{RoleAdmin}, Available: []string{MethodTOTP, MethodWebAuthn, MethodBackupCode}}
	if got := fmt.Sprint(p.Methods(&User{Roles: []string{RoleAdmin, RoleClerk}}, nil)); got != "[webauthn]" {
		t.Errorf("phishing-resistant admin methods = %s, want [webauthn]", got)
	}
	if got := fmt.Sprint(p.Methods(&User{Roles: []string{RoleClerk}}, map[string]bool{MethodTOTP: true})); got != "[totp backup_code]" {
		t.Errorf("clerk methods under a totp rollout = %s, want [totp backup_code]", got)
	}
}
