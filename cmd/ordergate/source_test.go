package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestSourceAddAndIntake(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args   []string
		stdin  string
		prefix string
	}{
		{[]string{"--channel", "shopify", "--name", "main-shop", "--secret-stdin"}, "shop-secret\n", "shop-secret"},
		{[]string{"--channel", "csv", "--name", "uploads"}, "", "ogk_src_"},
	}
	secrets := map[string]string{}
	for _, tc := range cases {
		out, err := runCmd(t, dir, tc.stdin, append([]string{"source", "add"}, tc.args...)...)
		if err != nil {
			t.Fatalf("source add %v: %v: %s", tc.args, err, out)
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(out), &got); err != nil || got["id"] == "" || !strings.HasPrefix(got["secret"], tc.prefix) {
			t.Fatalf("source add %v printed %q; want id and a secret starting %q", tc.args, out, tc.prefix)
		}
		secrets[got["channel"]] = got["secret"]
	}
	if out, err := runCmd(t, dir, "", "source", "add", "--channel", "csv", "--name", "uploads"); err == nil {
		t.Errorf("source add with a taken name succeeded: %s", out)
	}
	if out, err := runCmd(t, dir, "", "source", "add", "--channel", "ebay", "--name", "x"); err == nil {
		t.Errorf("source add for an unknown channel succeeded: %s", out)
	}

	base := startServer(t, dir)
	body, err := os.ReadFile("../../internal/intake/shopify/testdata/python-order.json")
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, []byte(secrets["shopify"]))
	m.Write(body)
	req, _ := http.NewRequest("POST", base+"/api/v1/intake/shopify", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(m.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("signed Shopify delivery to the served binary = %d, want 201", resp.StatusCode)
	}
}
