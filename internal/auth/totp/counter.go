package totp

// CounterCode returns the RFC 4226 HOTP value of secret at counter, made
// with p's algorithm and digits (p.Period is not used), or "" when those
// are unsupported. It is the one HMAC truncation ordergate has: the hotp
// package for event-based hardware tokens builds on it.
func CounterCode(secret []byte, counter uint64, p Params) string {
	if p.newHash() == nil || (p.Digits != 6 && p.Digits != 8) {
		return ""
	}
	return hotp(secret, counter, p)
}
