package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/order"
)

// The administration API's read side: the audit browser and its chain
// check, the effective policy, and the dashboard figures.

// auditFilter reads the audit browser's filters: actor (a user ID or a
// username), action, order_id, subject, since (RFC 3339 or a date),
// cursor (the previous page's next) and limit.
func (s *Server) auditFilter(ctx context.Context, r *http.Request) (audit.Filter, error) {
	v := r.URL.Query()
	f := audit.Filter{Action: v.Get("action"), OrderID: v.Get("order_id"), SubjectID: v.Get("subject")}
	if a := strings.TrimSpace(v.Get("actor")); a != "" {
		f.ActorID = a
		if !strings.HasPrefix(a, "usr_") {
			u, err := s.Auth.Store.UserByUsername(ctx, strings.ToLower(a))
			switch {
			case ordergate.ErrorCode(err) == ordergate.ENOTFOUND:
				f.ActorID = "usr_unknown"
			case err != nil:
				return f, err
			default:
				f.ActorID = u.ID
			}
		}
	}
	var err error
	if f.Since, err = querySince(v, time.Time{}); err != nil {
		return f, err
	}
	if c := v.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 1 {
			return f, ordergate.FieldError(ordergate.EINVALID, "cursor", "must be the next value of the previous page")
		}
		f.Before = n
	}
	f.Limit, err = queryLimit(v, 100, 1000)
	return f, err
}

// auditPage returns one page of events and the next cursor ("" at the end).
func (s *Server) auditPage(ctx context.Context, actor ordergate.Actor, f audit.Filter) ([]audit.Event, string, error) {
	want := f.Limit
	f.Limit++
	evs, err := s.Auth.AuditEvents(ctx, actor, f)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(evs) > want {
		evs = evs[:want]
		next = strconv.FormatInt(evs[want-1].Seq, 10)
	}
	if evs == nil {
		evs = []audit.Event{}
	}
	return evs, next, nil
}

func (s *Server) handleAdminAudit(w http.ResponseWriter, r *http.Request, ss *session) {
	f, err := s.auditFilter(r.Context(), r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	evs, next, err := s.auditPage(r.Context(), auth.UserActor(ss.user, ss.sess), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs, "next": next})
}

// handleAdminAuditExport streams the filtered events, newest first, as
// JSON lines (format=jsonl, the default) or CSV (format=csv), up to 100 000.
func (s *Server) handleAdminAuditExport(w http.ResponseWriter, r *http.Request, ss *session) {
	f, err := s.auditFilter(r.Context(), r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "jsonl"
	}
	if format != "jsonl" && format != "csv" {
		s.writeError(w, r, ordergate.FieldError(ordergate.EINVALID, "format", "must be jsonl or csv"))
		return
	}
	actor := auth.UserActor(ss.user, ss.sess)
	f.Limit = 1000
	first, next, err := s.auditPage(r.Context(), actor, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="ordergate-audit.`+format+`"`)
	var write func(audit.Event) error
	var flush func()
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		cw := csv.NewWriter(w)
		cw.Write([]string{"seq", "at", "action", "outcome", "actor_id", "actor_name", "aal", "amr", "client_ip", "subject_id", "order_id", "data"})
		write = func(e audit.Event) error {
			data, _ := json.Marshal(e.Data)
			return cw.Write([]string{strconv.FormatInt(e.Seq, 10), e.At.Format(time.RFC3339Nano), e.Action, e.Outcome,
				e.Actor.ID, e.Actor.Name, strconv.Itoa(int(e.Actor.Auth.AAL)), strings.Join(e.Actor.Auth.AMR, " "),
				e.Actor.Auth.ClientIP, e.SubjectID, e.OrderID, string(data)})
		}
		flush = cw.Flush
	} else {
		w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
		enc := json.NewEncoder(w)
		write = func(e audit.Event) error { return enc.Encode(e) }
		flush = func() {}
	}
	page := first
	for n := 0; n < 100; n++ {
		for _, e := range page {
			if err := write(e); err != nil {
				return
			}
		}
		if next == "" {
			break
		}
		f.Before, _ = strconv.ParseInt(next, 10, 64)
		if page, next, err = s.auditPage(r.Context(), actor, f); err != nil {
			s.Log.Error("audit export", "err", err)
			break
		}
	}
	flush()
}

func (s *Server) handleAdminAuditVerify(w http.ResponseWriter, r *http.Request, ss *session) {
	res, err := s.verifyAudit(r.Context(), auth.UserActor(ss.user, ss.sess))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res.OK {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "events": res.Events})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": false, "broken_at": res.BrokenAt, "events": res.Events})
}

// verifyAudit runs the same check as "ordergate audit verify" and records
// that it ran, and its result, in the log it checked.
func (s *Server) verifyAudit(ctx context.Context, actor ordergate.Actor) (audit.Result, error) {
	if !actor.HasRole(auth.RoleAdmin) && !actor.HasRole(auth.RoleAuditor) {
		return audit.Result{}, ordergate.Errorf(ordergate.EFORBIDDEN, "this needs the role admin or auditor")
	}
	if s.Chain == nil {
		return audit.Result{}, ordergate.Errorf(ordergate.EUNAVAILABLE, "audit verification is not configured")
	}
	res, err := s.Chain.VerifyStore(ctx, s.Auth.Store)
	if err != nil {
		return audit.Result{}, err
	}
	outcome := audit.OutcomeOK
	if !res.OK {
		outcome = audit.OutcomeFailed
		s.Log.Error("audit chain broken", "event", "audit.verify_failed", "broken_at", res.BrokenAt, "user_id", actor.ID)
	}
	ev := audit.Event{At: s.Clock.Now(), Action: "audit.verified", Outcome: outcome, Actor: actor,
		Data: map[string]any{"events": res.Events, "broken_at": res.BrokenAt}}
	if err := s.Auth.Store.AppendAudit(ctx, ev); err != nil {
		return audit.Result{}, err
	}
	return res, nil
}

// policyView is the effective policy of GET /api/v1/admin/policy: the
// second-factor policy with the users it affects, and the configured
// approval rules, risk thresholds and remembered devices.
func (s *Server) policyView(ctx context.Context, actor ordergate.Actor) (map[string]any, error) {
	rep, err := s.Auth.PolicyReport(ctx, actor)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"mfa": rep, "approvals": []any{}, "risk": nil, "remember_device": nil, "trusted_proxies": []string{}}
	if c := s.Config; c != nil {
		approvals := []map[string]any{}
		for _, a := range c.Approvals {
			approvals = append(approvals, map[string]any{"action": a.Action, "above": a.Above, "methods": nonNilStrings(a.Methods),
				"max_age": a.MaxAge.String(), "approvers": a.Approvers})
		}
		out["approvals"] = approvals
		out["risk"] = map[string]any{"geoip": c.Risk.GeoIPPath != "", "impossible_travel_kmh": c.Risk.ImpossibleTravelKMH,
			"thresholds": map[string]int{"mfa": c.Risk.Thresholds.MFA, "phishing_resistant": c.Risk.Thresholds.PhishingResistant,
				"deny": c.Risk.Thresholds.Deny}}
		out["remember_device"] = map[string]any{"roles": nonNilStrings(c.RememberDevice.Roles), "days": c.RememberDevice.Days}
		out["trusted_proxies"] = nonNilStrings(c.TrustedProxies)
		out["sms_provider"] = c.SMS.Provider
	}
	return out, nil
}

func (s *Server) handleAdminPolicy(w http.ResponseWriter, r *http.Request, ss *session) {
	out, err := s.policyView(r.Context(), auth.UserActor(ss.user, ss.sess))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// LoginLatencyTarget is the most the second factor may add to a login.
const LoginLatencyTarget = 2 * time.Second

// latencyJSON is the second factor's server time from the login histogram.
type latencyJSON struct {
	Count         uint64  `json:"count"`
	AverageSecond float64 `json:"average_seconds"`
	P95Seconds    float64 `json:"p95_seconds"`
	TargetSeconds float64 `json:"target_seconds"`
	WithinTarget  bool    `json:"within_target"`
}

// secondFactorLatency reads ordergate_login_step_seconds{step="second_factor"}
// across outcomes: the average, and the p95 interpolated within its bucket.
func (s *Server) secondFactorLatency() (latencyJSON, error) {
	out := latencyJSON{TargetSeconds: LoginLatencyTarget.Seconds(), WithinTarget: true}
	mfs, err := s.Metrics.Registry.Gather()
	if err != nil {
		return out, err
	}
	var sum float64
	buckets := map[float64]uint64{}
	var bounds []float64
	for _, mf := range mfs {
		if mf.GetName() != "ordergate_login_step_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			step := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "step" {
					step = l.GetValue()
				}
			}
			if step != "second_factor" {
				continue
			}
			h := m.GetHistogram()
			out.Count += h.GetSampleCount()
			sum += h.GetSampleSum()
			for _, b := range h.GetBucket() {
				if _, ok := buckets[b.GetUpperBound()]; !ok {
					bounds = append(bounds, b.GetUpperBound())
				}
				buckets[b.GetUpperBound()] += b.GetCumulativeCount()
			}
		}
	}
	if out.Count == 0 {
		return out, nil
	}
	out.AverageSecond = sum / float64(out.Count)
	rank := math.Ceil(0.95 * float64(out.Count))
	lower, below := 0.0, uint64(0)
	out.P95Seconds = math.Inf(1)
	for _, ub := range bounds {
		c := buckets[ub]
		if float64(c) >= rank {
			out.P95Seconds = lower + (ub-lower)*(rank-float64(below))/float64(max(c-below, 1))
			break
		}
		lower, below = ub, c
	}
	if math.IsInf(out.P95Seconds, 1) {
		out.P95Seconds = lower // beyond the last bucket: at least this
		out.WithinTarget = false
	} else {
		out.WithinTarget = out.P95Seconds <= out.TargetSeconds
	}
	return out, nil
}

// quarterStart is the first instant of t's calendar quarter, in UTC.
func quarterStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), (t.Month()-1)/3*3+1, 1, 0, 0, 0, 0, time.UTC)
}

// dashboard gathers the dashboard figures.
func (s *Server) dashboard(ctx context.Context, actor ordergate.Actor) (map[string]any, error) {
	if !actor.HasRole(auth.RoleAdmin) && !actor.HasRole(auth.RoleAuditor) {
		return nil, ordergate.Errorf(ordergate.EFORBIDDEN, "this needs the role admin or auditor")
	}
	rep, err := s.Auth.Adoption(ctx)
	if err != nil {
		return nil, err
	}
	since := quarterStart(s.Clock.Now())
	counts, err := s.Auth.SecurityEvents(ctx, actor, since)
	if err != nil {
		return nil, err
	}
	failedLogins, total := 0, 0
	for _, c := range counts {
		total += c.Count
		if strings.HasPrefix(c.Action, "login") && c.Outcome != audit.OutcomeOK {
			failedLogins += c.Count
		}
	}
	incidentsThisQuarter, err := s.Auth.IncidentsThisQuarter(ctx, actor)
	if err != nil {
		return nil, err
	}
	lat, err := s.secondFactorLatency()
	if err != nil {
		return nil, err
	}
	roles := map[string]any{}
	for _, ra := range rep.Roles {
		roles[ra.Role] = ra
	}
	out := map[string]any{
		"adoption": map[string]any{"overall": rep.Overall, "roles": roles, "trend": rep.Trend, "target_percent": auth.AdoptionTarget,
			"past_deadline_users": rep.PastDeadline},
		"security_events": map[string]any{"since": since, "total": total, "failed_logins": failedLogins,
			"by_action": counts},
		"incidents_this_quarter":   map[string]any{"count": incidentsThisQuarter, "target": auth.IncidentTarget},
		"second_factor_latency":    lat,
		"orders_awaiting_approval": nil,
	}
	if s.orders != nil {
		n, err := s.countOrders(ctx, order.StatusPendingApproval)
		if err != nil {
			return nil, err
		}
		out["orders_awaiting_approval"] = n
	}
	return out, nil
}

// countOrders counts orders in status, up to 10 000.
func (s *Server) countOrders(ctx context.Context, status order.Status) (int, error) {
	n, cursor := 0, ""
	for range 20 {
		list, next, err := s.orders.orders.List(ctx, order.Filter{Status: status, Cursor: cursor, Limit: 500})
		if err != nil {
			return 0, err
		}
		n += len(list)
		if next == "" {
			break
		}
		cursor = next
	}
	return n, nil
}

func (s *Server) handleAdminDashboard(w http.ResponseWriter, r *http.Request, ss *session) {
	out, err := s.dashboard(r.Context(), auth.UserActor(ss.user, ss.sess))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
