package main

import "testing"

func TestDefaultPublicURL(t *testing.T) {
	cases := []struct{ addr, want string }{
		{"127.0.0.1:8080", "http://localhost:8080"},
		{"[::1]:9000", "http://localhost:9000"},
		{"localhost:8080", "http://localhost:8080"},
		{"0.0.0.0:8080", "http://0.0.0.0:8080"},
		{"10.1.2.3:80", "http://10.1.2.3:80"},
	}
	for _, tc := range cases {
		if got := defaultPublicURL(tc.addr); got != tc.want {
			t.Errorf("defaultPublicURL(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}
