package loadtest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"sync"
	"time"

	"github.com/ordergate/ordergate/internal/auth/webauthn/webauthntest"
)

// keyUser is a provisioned user with a software security key.
type keyUser struct {
	name, password string
	key            *webauthntest.Authenticator
	busy           bool
}

// keyLogins runs the WebAuthn login scenario over a pool of users. A key
// has no time steps: a user is only kept from two logins at once, since
// the signature counter must rise from one assertion to the next.
type keyLogins struct {
	r     *runner
	mu    sync.Mutex
	wake  *sync.Cond
	users []*keyUser
}

// origin is the origin a browser would report for base: ordergate names
// a loopback address localhost, since an IP address cannot be a relying
// party ID.
func origin(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	host, port := u.Hostname(), u.Port()
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
		host = "localhost"
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	}
	return u.Scheme + "://" + host
}

// setupKeyLogins provisions n users, each registering a software key
// through the API.
func (r *runner) setupKeyLogins(ctx context.Context, n int) (*keyLogins, error) {
	users, err := provisionAll(n, func(i int) (*keyUser, error) {
		return r.provisionKey(ctx, fmt.Sprintf("load-%s-key%d", r.runID, i))
	})
	if err != nil {
		return nil, err
	}
	kl := &keyLogins{r: r, users: users}
	kl.wake = sync.NewCond(&kl.mu)
	return kl, nil
}

// provisionKey creates a user and registers a software security key.
func (r *runner) provisionKey(ctx context.Context, name string) (*keyUser, error) {
	base := r.cfg.URLs[0]
	u := &keyUser{name: name, password: newPassword(),
		key: &webauthntest.Authenticator{Origin: origin(base), UserVerified: true}}
	if err := r.cfg.Provisioner.AddUser(ctx, u.name, u.password, []string{"clerk"}); err != nil {
		return nil, err
	}
	a, err := r.send(ctx, "", "POST", base+"/api/v1/login", "", jsonBody(map[string]string{"username": u.name, "password": u.password}), nil, 200)
	if err != nil {
		return nil, err
	}
	token := a.str("session_token")
	_, opts, err := r.sendAt(ctx, "", time.Now(), "POST", base+"/api/v1/me/factors/webauthn/begin", token, nil, nil, 200)
	if err != nil {
		return nil, err
	}
	cred, err := u.key.Create(opts)
	if err != nil {
		return nil, fmt.Errorf("register a key for %s: %w", name, err)
	}
	if _, err := r.send(ctx, "", "POST", base+"/api/v1/me/factors/webauthn/finish", token, cred, nil, 201); err != nil {
		return nil, err
	}
	return u, nil
}

func (kl *keyLogins) take(ctx context.Context) (*keyUser, error) {
	kl.mu.Lock()
	defer kl.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, u := range kl.users {
			if !u.busy {
				u.busy = true
				return u, nil
			}
		}
		stop := context.AfterFunc(ctx, func() {
			kl.mu.Lock()
			kl.wake.Broadcast()
			kl.mu.Unlock()
		})
		kl.wake.Wait()
		stop()
	}
}

func (kl *keyLogins) release(u *keyUser) {
	kl.mu.Lock()
	u.busy = false
	kl.wake.Broadcast()
	kl.mu.Unlock()
}

// login runs the password step and the security-key step of one login;
// the second factor's time is that of begin and finish together.
func (kl *keyLogins) login(ctx context.Context) error {
	u, err := kl.take(ctx)
	if err != nil {
		return err
	}
	defer kl.release(u)
	r := kl.r
	token, err := r.passwordStep(ctx, u.name, u.password)
	if err != nil {
		return err
	}
	start := time.Now()
	_, opts, err := r.sendAt(context.WithValue(ctx, partialKey{}, true), StepSecondFactor, start, "POST",
		r.base()+"/api/v1/login/webauthn/begin", token, nil, nil, 200)
	if err != nil {
		return err
	}
	assertion, err := u.key.Get(opts)
	if err != nil {
		r.rec.record(StepSecondFactor, time.Since(start), "authenticator error")
		return errFailed
	}
	_, _, err = r.sendAt(ctx, StepSecondFactor, start, "POST", r.base()+"/api/v1/login/webauthn/finish", token, assertion, nil, 200)
	return err
}
