package storetest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/audit"
	"github.com/ordergate/ordergate/internal/auth"
	"github.com/ordergate/ordergate/internal/intake"
	"github.com/ordergate/ordergate/internal/sqlstore"
)

// The administration store: the users list with its filters and cursor,
// four-eyes role requests, one-time invitation and password-reset links
// (spent once, even when two accepts race), and disabling that ends the
// user's sessions and links at once.

func testAdmin(t *testing.T, open Opener) {
	t.Run("QueryUsers", func(t *testing.T) { testQueryUsers(t, open(t)) })
	t.Run("RoleRequests", func(t *testing.T) { testRoleRequests(t, open(t)) })
	t.Run("Invitation", func(t *testing.T) { testInvitation(t, open(t)) })
	t.Run("InvitationConcurrentAccept", func(t *testing.T) { testInvitationRace(t, open(t)) })
	t.Run("PasswordResetLink", func(t *testing.T) { testPasswordResetLink(t, open(t)) })
	t.Run("DisableRevokes", func(t *testing.T) { testDisableRevokes(t, open(t)) })
	t.Run("SourceCredentials", func(t *testing.T) { testSourceCredentials(t, open(t)) })
}

var adminActor = ordergate.Actor{Kind: ordergate.ActorUser, ID: "usr_admin", Name: "admin"}

// adminEvent is an audit event of action about subject.
func adminEvent(action, subject string) audit.Event {
	return audit.Event{Action: action, Outcome: audit.OutcomeOK, Actor: adminActor, SubjectID: subject}
}

// actionsAbout returns the audited actions about subject, oldest first.
func actionsAbout(t *testing.T, db *sqlstore.DB, subject string) string {
	t.Helper()
	evs, err := db.AuditEvents(ctx, audit.Filter{SubjectID: subject, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		out = append(out, evs[i].Action)
	}
	return strings.Join(out, " ")
}

// newSession stores an active session of userID named by token.
func newSession(t *testing.T, db *sqlstore.DB, userID, token string) *auth.Session {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	s := &auth.Session{ID: auth.HashToken(token), UserID: userID, State: auth.StateActive, CSRFToken: "c",
		Auth:      ordergate.AuthContext{AAL: ordergate.AAL1, AMR: []string{"pwd"}, AuthTime: now},
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	return s
}

func testQueryUsers(t *testing.T, db *sqlstore.DB) {
	for _, u := range []struct {
		name, email string
		roles       []string
	}{
		{"amy", "Amy@Example.com", []string{"admin"}},
		{"bert", "bert@example.com", []string{"clerk"}},
		{"cleo_x", "", []string{"clerk", "approver"}},
		{"dora", "dora%50@example.com", []string{"auditor"}},
		{"eli", "", []string{"clerk"}},
	} {
		nu := &auth.User{Username: u.name, PasswordHash: "$argon2id$x", Email: u.email, Roles: u.roles, Groups: []string{"finance"}}
		if u.name == "bert" || u.name == "eli" {
			nu.Groups = []string{"warehouse"}
		}
		if err := db.CreateUser(ctx, nu); err != nil {
			t.Fatal(err)
		}
		switch u.name {
		case "amy":
			db.CreateFactor(ctx, &auth.Factor{UserID: nu.ID, Type: "totp", Name: "app", Secret: []byte("s"), Confirmed: true})
			db.CreateFactor(ctx, &auth.Factor{UserID: nu.ID, Type: "sms", Name: "phone", Secret: []byte("s"), Confirmed: true})
		case "bert":
			// An unconfirmed factor does not count as enrolled.
			db.CreateFactor(ctx, &auth.Factor{UserID: nu.ID, Type: "totp", Name: "app", Secret: []byte("s")})
		case "eli":
			if err := db.SetUserDisabled(ctx, nu.ID, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	yes, no := true, false
	tests := []struct {
		name string
		q    auth.UserQuery
		want string
	}{
		{"all", auth.UserQuery{}, "amy bert cleo_x dora eli"},
		{"role", auth.UserQuery{Role: "clerk"}, "bert cleo_x eli"},
		{"group", auth.UserQuery{Group: "warehouse"}, "bert eli"},
		{"enrolled", auth.UserQuery{MFA: "enrolled"}, "amy"},
		{"not enrolled", auth.UserQuery{MFA: "none"}, "bert cleo_x dora eli"},
		{"disabled", auth.UserQuery{Disabled: &yes}, "eli"},
		{"enabled clerks", auth.UserQuery{Disabled: &no, Role: "clerk"}, "bert cleo_x"},
		{"text in e-mail ignores case", auth.UserQuery{Text: "amy@example"}, "amy"},
		{"underscore is literal", auth.UserQuery{Text: "o_"}, "cleo_x"},
		{"percent is literal", auth.UserQuery{Text: "%50"}, "dora"},
		{"no match", auth.UserQuery{Text: "zzz"}, ""},
		{"first page", auth.UserQuery{Limit: 2}, "amy bert"},
		{"after cursor", auth.UserQuery{After: "bert", Limit: 2}, "cleo_x dora"},
		{"last page", auth.UserQuery{After: "dora", Limit: 2}, "eli"},
		{"cursor with filter", auth.UserQuery{After: "bert", Role: "clerk"}, "cleo_x eli"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := db.QueryUsers(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range rows {
				names = append(names, e.User.Username)
			}
			if got := strings.Join(names, " "); got != tt.want {
				t.Errorf("QueryUsers(%+v) = %q, want %q", tt.q, got, tt.want)
			}
		})
	}
	rows, _ := db.QueryUsers(ctx, auth.UserQuery{Text: "amy"})
	if len(rows) != 1 || strings.Join(rows[0].Factors, ",") != "sms,totp" || strings.Join(rows[0].User.Roles, ",") != "admin" ||
		strings.Join(rows[0].User.Groups, ",") != "finance" {
		t.Errorf("QueryUsers(amy) = %+v; want factors sms,totp, roles admin, groups finance", rows)
	}
}

func testRoleRequests(t *testing.T, db *sqlstore.DB) {
	ann := newUser(t, db, "ann", "admin")
	ben := newUser(t, db, "ben", "admin")
	una := newUser(t, db, "una", "clerk")
	now := time.Now().UTC().Truncate(time.Microsecond)
	r := &auth.RoleRequest{UserID: una.ID, Roles: []string{"admin", "clerk"}, Groups: []string{"ops"}, RequestedBy: ann.ID,
		Status: auth.RoleRequestPending, CreatedAt: now, ExpiresAt: now.Add(auth.RoleRequestTTL)}
	if err := db.CreateRoleRequest(ctx, r, adminEvent("roles.change_requested", una.ID)); err != nil {
		t.Fatal(err)
	}
	if r.ID == "" {
		t.Fatal("CreateRoleRequest left the ID empty")
	}
	if err := db.CreateRoleRequest(ctx, &auth.RoleRequest{UserID: "usr_nope", RequestedBy: ann.ID, Status: auth.RoleRequestPending,
		CreatedAt: now, ExpiresAt: now}); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("CreateRoleRequest(unknown user) code = %q, want %q", ordergate.ErrorCode(err), ordergate.ENOTFOUND)
	}
	got, err := db.RoleRequest(ctx, r.ID)
	if err != nil || got.UserID != una.ID || strings.Join(got.Roles, ",") != "admin,clerk" || got.Status != auth.RoleRequestPending ||
		!got.ExpiresAt.Equal(r.ExpiresAt) {
		t.Fatalf("RoleRequest = %+v, %v", got, err)
	}
	if _, err := db.RoleRequest(ctx, "rrq_nope"); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("RoleRequest(unknown) code = %q, want %q", ordergate.ErrorCode(err), ordergate.ENOTFOUND)
	}
	if l, err := db.RoleRequests(ctx, una.ID, auth.RoleRequestPending); err != nil || len(l) != 1 || l[0].ID != r.ID {
		t.Errorf("RoleRequests(una, pending) = %v, %v; want the request", l, err)
	}
	if l, _ := db.RoleRequests(ctx, ben.ID, ""); len(l) != 0 {
		t.Errorf("RoleRequests(ben) = %v, want none", l)
	}

	// Four eyes: neither the requester nor the user concerned can approve,
	// nor anyone after the request expired; the refusals change nothing.
	for _, tt := range []struct {
		name, approver string
		at             time.Time
	}{
		{"requester", ann.ID, now},
		{"user concerned", una.ID, now},
		{"after expiry", ben.ID, r.ExpiresAt},
		{"unknown request", ben.ID, now},
	} {
		id := r.ID
		if tt.name == "unknown request" {
			id = "rrq_nope"
		}
		if err := db.ApproveRoleRequest(ctx, id, tt.approver, tt.at); ordergate.ErrorCode(err) != ordergate.ECONFLICT {
			t.Errorf("ApproveRoleRequest by %s: code %q, want %q", tt.name, ordergate.ErrorCode(err), ordergate.ECONFLICT)
		}
	}
	if u, _ := db.UserByID(ctx, una.ID); strings.Join(u.Roles, ",") != "clerk" {
		t.Fatalf("roles after refused approvals = %v, want [clerk]", u.Roles)
	}

	// Two administrators approving at once: exactly one succeeds.
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- db.ApproveRoleRequest(ctx, r.ID, ben.ID, now, adminEvent("roles.approved", una.ID))
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch ordergate.ErrorCode(err) {
		case "":
			ok++
		case ordergate.ECONFLICT:
		default:
			t.Errorf("concurrent ApproveRoleRequest: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent approvals succeeded, want 1", ok)
	}
	u, _ := db.UserByID(ctx, una.ID)
	if strings.Join(u.Roles, ",") != "admin,clerk" || strings.Join(u.Groups, ",") != "ops" {
		t.Errorf("after approval roles %v groups %v, want [admin clerk] [ops]", u.Roles, u.Groups)
	}
	got, _ = db.RoleRequest(ctx, r.ID)
	if got.Status != auth.RoleRequestApproved || got.ApprovedBy != ben.ID || !got.ApprovedAt.Equal(now) {
		t.Errorf("approved request = %+v", got)
	}
	if l, _ := db.RoleRequests(ctx, "", auth.RoleRequestPending); len(l) != 0 {
		t.Errorf("pending requests after approval = %v, want none", l)
	}
	if got, want := actionsAbout(t, db, una.ID), "user.created roles.change_requested roles.approved"; got != want {
		t.Errorf("audited actions = %q, want %q", got, want)
	}
	if err := db.SetMemberships(ctx, "usr_nope", []string{"clerk"}, nil); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("SetMemberships(unknown) code = %q, want %q", ordergate.ErrorCode(err), ordergate.ENOTFOUND)
	}
}

// invite stores a new user invited with token, with a link expiring at
// expires.
func invite(t *testing.T, db *sqlstore.DB, name, token string, expires time.Time, req *auth.RoleRequest) (*auth.User, *auth.AccountLink) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	u := &auth.User{Username: name, PasswordHash: "$argon2id$unknown", Email: name + "@example.com", Roles: []string{"clerk"}}
	l := &auth.AccountLink{Kind: auth.LinkInvitation, TokenHash: auth.HashToken(token), CreatedBy: adminActor.ID, CreatedAt: now, ExpiresAt: expires}
	if err := db.CreateInvitation(ctx, u, l, req, adminEvent("user.invited", "")); err != nil {
		t.Fatalf("CreateInvitation(%s): %v", name, err)
	}
	return u, l
}

func testInvitation(t *testing.T, db *sqlstore.DB) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	req := &auth.RoleRequest{Roles: []string{"approver", "clerk"}, RequestedBy: adminActor.ID, Status: auth.RoleRequestPending,
		CreatedAt: now, ExpiresAt: now.Add(auth.RoleRequestTTL)}
	u, l := invite(t, db, "ivy", "ivy-token", now.Add(auth.InvitationTTL), req)
	if u.ID == "" || l.ID == "" || l.UserID != u.ID || req.UserID != u.ID || req.ID == "" {
		t.Fatalf("CreateInvitation left IDs unset: user %q link %+v request %+v", u.ID, l, req)
	}
	stored, err := db.UserByUsername(ctx, "ivy")
	if err != nil || stored.Email != "ivy@example.com" || strings.Join(stored.Roles, ",") != "clerk" {
		t.Fatalf("invited user = %+v, %v", stored, err)
	}
	dup := &auth.User{Username: "ivy", PasswordHash: "x", Roles: []string{"clerk"}}
	dupLink := &auth.AccountLink{Kind: auth.LinkInvitation, TokenHash: auth.HashToken("other"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateInvitation(ctx, dup, dupLink, nil); ordergate.ErrorCode(err) != ordergate.ECONFLICT {
		t.Errorf("CreateInvitation(taken username) code = %q, want %q", ordergate.ErrorCode(err), ordergate.ECONFLICT)
	}
	if _, err := db.AccountLink(ctx, auth.HashToken("other")); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("the refused invitation's link was stored: %v", err)
	}
	got, err := db.AccountLink(ctx, auth.HashToken("ivy-token"))
	if err != nil || got.ID != l.ID || got.Kind != auth.LinkInvitation || got.UserID != u.ID || !got.UsedAt.IsZero() || !got.ExpiresAt.Equal(l.ExpiresAt) {
		t.Fatalf("AccountLink = %+v, %v", got, err)
	}
	if _, err := db.AccountLink(ctx, auth.HashToken("nope")); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("AccountLink(unknown) code = %q, want %q", ordergate.ErrorCode(err), ordergate.ENOTFOUND)
	}

	old := newSession(t, db, u.ID, "ivy-old")
	sess := newSession(t, db, u.ID, "ivy-placeholder")
	db.DeleteUserSessions(ctx, u.ID, old.ID)
	sess.ID = auth.HashToken("ivy-new")
	if err := db.UseAccountLink(ctx, l.TokenHash, "$argon2id$chosen", sess, adminEvent("invitation.accepted", u.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SessionByID(ctx, old.ID); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("UseAccountLink kept an earlier session")
	}
	if _, err := db.SessionByID(ctx, sess.ID); err != nil {
		t.Errorf("UseAccountLink did not store the new session: %v", err)
	}
	if stored, _ := db.UserByID(ctx, u.ID); stored.PasswordHash != "$argon2id$chosen" {
		t.Errorf("password hash = %q after accepting", stored.PasswordHash)
	}
	if got, _ := db.AccountLink(ctx, l.TokenHash); got.UsedAt.IsZero() {
		t.Errorf("link not marked used")
	}
	if err := db.UseAccountLink(ctx, l.TokenHash, "$argon2id$again", nil); ordergate.ErrorCode(err) != ordergate.ECONFLICT {
		t.Errorf("second UseAccountLink code = %q, want %q", ordergate.ErrorCode(err), ordergate.ECONFLICT)
	}
	if stored, _ := db.UserByID(ctx, u.ID); stored.PasswordHash != "$argon2id$chosen" {
		t.Errorf("a used link changed the password to %q", stored.PasswordHash)
	}

	late, ll := invite(t, db, "lou", "lou-token", now.Add(-time.Second), nil)
	if err := db.UseAccountLink(ctx, ll.TokenHash, "$argon2id$late", nil); ordergate.ErrorCode(err) != ordergate.ECONFLICT {
		t.Errorf("UseAccountLink(expired) code = %q, want %q", ordergate.ErrorCode(err), ordergate.ECONFLICT)
	}
	if stored, _ := db.UserByID(ctx, late.ID); stored.PasswordHash != "$argon2id$unknown" {
		t.Errorf("an expired link changed the password to %q", stored.PasswordHash)
	}
	if got, want := actionsAbout(t, db, u.ID), "user.invited invitation.accepted"; got != want {
		t.Errorf("audited actions = %q, want %q", got, want)
	}
}

// testInvitationRace accepts one invitation from many goroutines at once:
// exactly one wins, and only its session exists afterwards.
func testInvitationRace(t *testing.T, db *sqlstore.DB) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	u, l := invite(t, db, "rae", "rae-token", now.Add(auth.InvitationTTL), nil)
	const n = 8
	type result struct {
		i   int
		err error
	}
	results := make(chan result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess := &auth.Session{ID: auth.HashToken("rae-" + string(rune('a'+i))), UserID: u.ID, State: auth.StateEnrollment, CSRFToken: "c",
				CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
			err := db.UseAccountLink(ctx, l.TokenHash, "$argon2id$"+string(rune('a'+i)), sess, adminEvent("invitation.accepted", u.ID))
			results <- result{i, err}
		}()
	}
	wg.Wait()
	close(results)
	winner := -1
	for r := range results {
		switch ordergate.ErrorCode(r.err) {
		case "":
			if winner >= 0 {
				t.Errorf("accepts %d and %d both succeeded", winner, r.i)
			}
			winner = r.i
		case ordergate.ECONFLICT:
		default:
			t.Errorf("concurrent UseAccountLink: %v", r.err)
		}
	}
	if winner < 0 {
		t.Fatal("no accept succeeded")
	}
	sessions, err := db.UserSessions(ctx, u.ID)
	if err != nil || len(sessions) != 1 || sessions[0].ID != auth.HashToken("rae-"+string(rune('a'+winner))) {
		t.Errorf("sessions after the race = %d (%v), want only the winner's", len(sessions), err)
	}
	if stored, _ := db.UserByID(ctx, u.ID); stored.PasswordHash != "$argon2id$"+string(rune('a'+winner)) {
		t.Errorf("password hash = %q, want the winner's", stored.PasswordHash)
	}
	if got, want := actionsAbout(t, db, u.ID), "user.invited invitation.accepted"; got != want {
		t.Errorf("audited actions = %q, want %q (one accept)", got, want)
	}
}

func testPasswordResetLink(t *testing.T, db *sqlstore.DB) {
	u := newUser(t, db, "pat", "clerk")
	now := time.Now().UTC().Truncate(time.Microsecond)
	link := func(token string) *auth.AccountLink {
		return &auth.AccountLink{Kind: auth.LinkPasswordReset, UserID: u.ID, TokenHash: auth.HashToken(token), CreatedBy: adminActor.ID,
			CreatedAt: now, ExpiresAt: now.Add(auth.PasswordResetTTL)}
	}
	first := link("pat-1")
	if err := db.CreateAccountLink(ctx, first, adminEvent("password.reset_issued", u.ID)); err != nil {
		t.Fatal(err)
	}
	second := link("pat-2")
	if err := db.CreateAccountLink(ctx, second, adminEvent("password.reset_issued", u.ID)); err != nil {
		t.Fatal(err)
	}
	if first.ID == "" || first.ID == second.ID {
		t.Errorf("link IDs %q and %q, want two new ones", first.ID, second.ID)
	}
	if _, err := db.AccountLink(ctx, first.TokenHash); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("a newer reset link did not replace the unused older one: %v", err)
	}
	bad := link("nobody")
	bad.UserID = "usr_nope"
	if err := db.CreateAccountLink(ctx, bad); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("CreateAccountLink(unknown user) code = %q, want %q", ordergate.ErrorCode(err), ordergate.ENOTFOUND)
	}
	s1 := newSession(t, db, u.ID, "pat-s1")
	s2 := newSession(t, db, u.ID, "pat-s2")
	if err := db.UseAccountLink(ctx, second.TokenHash, "$argon2id$reset", nil, adminEvent("password.reset", u.ID)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*auth.Session{s1, s2} {
		if _, err := db.SessionByID(ctx, s.ID); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
			t.Errorf("a session outlived the password reset")
		}
	}
	if err := db.UseAccountLink(ctx, second.TokenHash, "$argon2id$twice", nil); ordergate.ErrorCode(err) != ordergate.ECONFLICT {
		t.Errorf("second use of a reset link: code %q, want %q", ordergate.ErrorCode(err), ordergate.ECONFLICT)
	}

	// SetPassword keeps the session that changed the password.
	keep := newSession(t, db, u.ID, "pat-keep")
	other := newSession(t, db, u.ID, "pat-other")
	if err := db.SetPassword(ctx, u.ID, "$argon2id$changed", keep.ID, adminEvent("password.changed", u.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SessionByID(ctx, keep.ID); err != nil {
		t.Errorf("SetPassword ended the kept session: %v", err)
	}
	if _, err := db.SessionByID(ctx, other.ID); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("SetPassword kept another session")
	}
	if err := db.SetPassword(ctx, "usr_nope", "x", ""); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("SetPassword(unknown) code = %q, want %q", ordergate.ErrorCode(err), ordergate.ENOTFOUND)
	}
	want := "user.created password.reset_issued password.reset_issued password.reset password.changed"
	if got := actionsAbout(t, db, u.ID); got != want {
		t.Errorf("audited actions = %q, want %q", got, want)
	}
}

func testDisableRevokes(t *testing.T, db *sqlstore.DB) {
	u := newUser(t, db, "dan", "clerk")
	keep := newUser(t, db, "kim", "clerk")
	now := time.Now().UTC().Truncate(time.Microsecond)
	s1 := newSession(t, db, u.ID, "dan-1")
	s2 := newSession(t, db, u.ID, "dan-2")
	other := newSession(t, db, keep.ID, "kim-1")
	l := &auth.AccountLink{Kind: auth.LinkPasswordReset, UserID: u.ID, TokenHash: auth.HashToken("dan-reset"), CreatedAt: now,
		ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateAccountLink(ctx, l); err != nil {
		t.Fatal(err)
	}
	if err := db.SetUserDisabled(ctx, u.ID, true, adminEvent("user.disabled", u.ID)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*auth.Session{s1, s2} {
		if _, err := db.SessionByID(ctx, s.ID); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
			t.Errorf("a session of the disabled user survived")
		}
	}
	if _, err := db.SessionByID(ctx, other.ID); err != nil {
		t.Errorf("disabling dan ended kim's session: %v", err)
	}
	if err := db.UseAccountLink(ctx, l.TokenHash, "$argon2id$x", nil); ordergate.ErrorCode(err) == "" {
		t.Errorf("a reset link of the disabled user still works")
	}
	if got, _ := db.UserByID(ctx, u.ID); !got.Disabled {
		t.Errorf("user not disabled")
	}
	if err := db.SetUserDisabled(ctx, u.ID, false, adminEvent("user.enabled", u.ID)); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.UserByID(ctx, u.ID); got.Disabled {
		t.Errorf("user still disabled after enabling")
	}
	if err := db.SetUserDisabled(ctx, "usr_nope", true); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
		t.Errorf("SetUserDisabled(unknown) code = %q, want %q", ordergate.ErrorCode(err), ordergate.ENOTFOUND)
	}
	if got, want := actionsAbout(t, db, u.ID), "user.created user.disabled user.enabled"; got != want {
		t.Errorf("audited actions = %q, want %q", got, want)
	}
}

// testSourceCredentials rotates and revokes an intake source's
// credential: the change and its audit event in one transaction, a
// revoked source refusing both.
func testSourceCredentials(t *testing.T, db *sqlstore.DB) {
	src := &intake.Source{Channel: "amazon", Name: "eu", SecretHash: "old"}
	if err := db.CreateSource(ctx, src, adminEvent("source.created", "")); err != nil {
		t.Fatal(err)
	}
	if err := db.SetSourceSecret(ctx, src.ID, "new", nil, adminEvent("source.rotated", "")); err != nil {
		t.Fatal(err)
	}
	got, err := db.SourceByID(ctx, src.ID)
	if err != nil || got.SecretHash != "new" || got.Revoked {
		t.Fatalf("after SetSourceSecret: %+v, %v", got, err)
	}
	hook := &intake.Source{Channel: "shopify", Name: "shop", SealedSecret: []byte("sealed-old")}
	if err := db.CreateSource(ctx, hook, adminEvent("source.created", "")); err != nil {
		t.Fatal(err)
	}
	if err := db.SetSourceSecret(ctx, hook.ID, "", []byte("sealed-new"), adminEvent("source.rotated", "")); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.SourceByID(ctx, hook.ID); string(got.SealedSecret) != "sealed-new" || got.SecretHash != "" {
		t.Errorf("webhook source after SetSourceSecret = %+v", got)
	}
	if err := db.RevokeSource(ctx, src.ID, adminEvent("source.revoked", "")); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.SourceByID(ctx, src.ID); !got.Revoked {
		t.Errorf("source not revoked")
	}
	if l, _ := db.SourcesByChannel(ctx, "amazon"); len(l) != 0 {
		t.Errorf("SourcesByChannel lists a revoked source: %v", l)
	}
	for _, tt := range []struct {
		name string
		do   func(id string) error
		id   string
		want string
	}{
		{"rotate revoked", func(id string) error { return db.SetSourceSecret(ctx, id, "x", nil, adminEvent("source.rotated", "")) }, src.ID, ordergate.ECONFLICT},
		{"revoke twice", func(id string) error { return db.RevokeSource(ctx, id, adminEvent("source.revoked", "")) }, src.ID, ordergate.ECONFLICT},
		{"rotate unknown", func(id string) error { return db.SetSourceSecret(ctx, id, "x", nil, adminEvent("source.rotated", "")) }, "src_nope", ordergate.ENOTFOUND},
		{"revoke unknown", func(id string) error { return db.RevokeSource(ctx, id, adminEvent("source.revoked", "")) }, "src_nope", ordergate.ENOTFOUND},
	} {
		if err := tt.do(tt.id); ordergate.ErrorCode(err) != tt.want {
			t.Errorf("%s: code %q, want %q", tt.name, ordergate.ErrorCode(err), tt.want)
		}
	}
	if got, _ := db.SourceByID(ctx, src.ID); got.SecretHash != "new" {
		t.Errorf("a refused rotation changed the hash to %q", got.SecretHash)
	}
	evs, err := db.AuditEvents(ctx, audit.Filter{Action: "source.rotated", Limit: 10})
	if err != nil || len(evs) != 2 {
		t.Errorf("source.rotated events = %d, %v; want 2 (refusals write none)", len(evs), err)
	}
}
