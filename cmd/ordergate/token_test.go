package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordergate/ordergate/internal/auth/hotp"
	"github.com/ordergate/ordergate/internal/auth/totp"
)

// figure6 is RFC 6030 §6.1's pre-shared-key example; its PSK is
// 12345678901234567890123456789012 and its seed RFC 4226's.
const figure6PSK = "12345678901234567890123456789012"

// figure6Code is the 8-digit code of Figure 6's token at counter c.
func figure6Code(c uint64) string {
	return hotp.Code([]byte("12345678901234567890"), c, hotp.Params{Algorithm: totp.SHA1, Digits: 8})
}

func TestTokenCommands(t *testing.T) {
	dir := t.TempDir()
	// runCmd works in dir: name the files absolutely.
	figure6, _ := filepath.Abs("../../internal/auth/pskc/testdata/rfc6030-figure6.pskcxml")
	notPSKC, _ := filepath.Abs("../../internal/auth/pskc/pskc.go")
	if out, err := runCmd(t, dir, "correct horse battery staple\n", "user", "add", "--username", "alice", "--role", "clerk", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v: %s", err, out)
	}
	refusals := []struct {
		name string
		args []string
		want string
	}{
		{"wrong pre-shared key", []string{"token", "import", figure6, "--psk-hex", "00112233445566778899aabbccddeeff"},
			"KeyPackage[1]/Key/Data/Secret: MAC check failed"},
		{"no pre-shared key", []string{"token", "import", figure6}, "KeyContainer/EncryptionKey"},
		{"malformed file", []string{"token", "import", notPSKC}, "KeyContainer"},
		{"no file", []string{"token", "import", "--psk-hex", figure6PSK}, "missing FILE.pskc"},
	}
	for _, tc := range refusals {
		out, err := runCmd(t, dir, "", tc.args...)
		if err == nil || !strings.Contains(err.Error()+out, tc.want) {
			t.Errorf("%s: token import = %v %q; want an error with %q", tc.name, err, out, tc.want)
		}
		if strings.Contains(err.Error()+out, "MTIzNDU2") {
			t.Errorf("%s: the error shows the seed", tc.name)
		}
	}
	if out, _ := runCmd(t, dir, "", "token", "list"); strings.Contains(out, "987654321") {
		t.Fatalf("a refused import stored a token: %s", out)
	}

	out, err := runCmd(t, dir, "", "token", "import", figure6, "--psk-hex", figure6PSK)
	if err != nil || !strings.Contains(out, "imported hotp token 987654321") {
		t.Fatalf("token import = %v %q", err, out)
	}
	if out, err := runCmd(t, dir, "", "token", "assign", "987654321", "--user", "alice", "--code", "00000000"); err == nil {
		t.Errorf("token assign with a wrong code succeeded: %s", out)
	}
	if out, err := runCmd(t, dir, "", "token", "assign", "987654321", "--user", "alice", "--code", figure6Code(0)); err != nil {
		t.Fatalf("token assign: %v %s", err, out)
	}
	out, _ = runCmd(t, dir, "", "token", "list")
	if !strings.Contains(out, "987654321") || !strings.Contains(out, "alice") {
		t.Errorf("token list = %q; want 987654321 assigned to alice", out)
	}

	base := startServer(t, dir)
	login := func(code string) (int, map[string]any) {
		status, body, _ := postJSON(t, base+"/api/v1/login", "", map[string]string{"username": "alice", "password": "correct horse battery staple"})
		methods, _ := body["methods"].([]any)
		if status != 200 || body["state"] != "mfa_required" || len(methods) == 0 || methods[0] != "totp" {
			t.Fatalf("login = %d %v; want mfa_required offering totp", status, body)
		}
		status, body, _ = postJSON(t, base+"/api/v1/login/mfa", body["session_token"].(string), map[string]string{"method": "totp", "code": code})
		return status, body
	}
	if status, body := login(figure6Code(1)); status != 200 || body["state"] != "authenticated" || body["aal"] != 2.0 {
		t.Errorf("login/mfa with the token's next code = %d %v; want 200 authenticated at AAL2", status, body)
	}
	if status, body := login(figure6Code(1)); status != 401 || body["error"] != "invalid_code" {
		t.Errorf("login/mfa replaying the code = %d %v; want 401 invalid_code", status, body)
	}
	if status, _ := login(figure6Code(5)); status != 200 {
		t.Errorf("login/mfa with a code 4 presses ahead = %d, want 200", status)
	}

	out, err = runCmd(t, dir, "", "audit", "export")
	if err != nil || !strings.Contains(out, `"action":"hardware_token.imported"`) || !strings.Contains(out, `"action":"hardware_token.assigned"`) {
		t.Errorf("audit export lacks the token events: %v", err)
	}
	if strings.Contains(out, figure6Code(0)) || strings.Contains(out, "MTIzNDU2") {
		t.Errorf("audit export holds a code or the seed")
	}
	if out, err := runCmd(t, dir, "", "audit", "verify"); err != nil || !strings.HasPrefix(out, "ok: ") {
		t.Errorf("audit verify = %v %q", err, out)
	}
	if out, err := runCmd(t, dir, "", "keys", "rotate"); err != nil || !strings.Contains(out, "re-encrypted 2 secrets") {
		t.Errorf("keys rotate = %v %q; want the factor and the token row re-encrypted", err, out)
	}
}
