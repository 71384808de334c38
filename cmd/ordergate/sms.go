package main

import (
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/config"
	"github.com/ordergate/ordergate/internal/smsgateway"
	"github.com/ordergate/ordergate/internal/sqlite"
)

// notifyInterval is how often pending notifications are dispatched.
const notifyInterval = 10 * time.Second

// newRecovery wires SMS codes, factor resets and notifications. Outbox
// files go beside a SQLite database (else beside the master key file). The
// Twilio auth token is kept sealed with the master key from here on: a
// plain-text token in the file is sealed at once and dropped from cfg.
func newRecovery(st *store, cfg *config.Config, db string, pub *url.URL, log *slog.Logger) (*auth.Recovery, error) {
	dir := filepath.Dir(st.keyFile)
	if path, ok := sqlite.IsPath(db); ok {
		dir = filepath.Dir(path)
	}
	clock := ordergate.SystemClock{}
	r := &auth.Recovery{
		Store:      st,
		CodeKey:    st.keys.DeriveKey("sms-codes"),
		Host:       pub.Hostname(),
		PublicURL:  pub.String(),
		Notices:    smsgateway.NewOutbox(filepath.Join(dir, "notifications-outbox.jsonl"), clock),
		SendLimits: nil,
	}
	for _, l := range cfg.SMS.SendLimits {
		r.SendLimits = append(r.SendLimits, auth.SendLimit{Max: l.Max, Window: l.Window.Duration})
	}
	switch cfg.SMS.Provider {
	case "twilio":
		tw := cfg.SMS.Twilio
		var sealed []byte
		if strings.HasPrefix(tw.AuthToken, "v1:") {
			sealed = []byte(tw.AuthToken)
			if _, err := st.keys.Open(sealed, []byte(smsgateway.TokenAAD)); err != nil {
				return nil, fmt.Errorf("config: sms.twilio.auth_token: sealed value does not open with this master key")
			}
		} else {
			var err error
			if sealed, err = st.keys.Seal([]byte(tw.AuthToken), []byte(smsgateway.TokenAAD)); err != nil {
				return nil, err
			}
			log.Warn("the Twilio auth token is in plain text in the configuration file; it is held sealed in memory, but keep the file private",
				"event", "config.plaintext_secret", "key", "sms.twilio.auth_token")
		}
		cfg.SMS.Twilio.AuthToken = ""
		client := smsgateway.NewTwilio(tw.BaseURL, tw.LookupBaseURL, tw.AccountSID, tw.From, sealed, st.keys)
		r.SMS = client
		if cfg.SMS.SIMSwap.Enabled {
			r.SIMSwap = client
			r.SIMSwapWindow = time.Duration(cfg.SMS.SIMSwap.Days) * 24 * time.Hour
		}
	default:
		r.SMS = smsgateway.NewOutbox(filepath.Join(dir, "sms-outbox.jsonl"), clock)
	}
	return r, nil
}
