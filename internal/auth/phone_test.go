package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/auth"
)

// TestCreateUserPhone: a pre-registered phone is stored in E.164, so
// vouching and notifications text the number SMS enrollment compares
// with; a malformed one is refused naming the field.
func TestCreateUserPhone(t *testing.T) {
	svc, _, _ := webauthnService(t)
	tests := []struct {
		name, phone string
		want        string
		wantCode    string
	}{
		{"none", "", "", ""},
		{"spaces and brackets", "+1 (415) 555-0100", "+14155550100", ""},
		{"landline", "+442071838750", "", ordergate.EINVALID},
		{"mobile UK", "+44 7911 123456", "+447911123456", ""},
		{"text", "call me", "", ordergate.EINVALID},
		{"no country", "4155550100", "", ordergate.EINVALID},
		{"too short", "+1415555", "", ordergate.EINVALID},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := svc.CreateUser(context.Background(), ordergate.SystemActor, auth.NewUser{
				Username: "phone" + string(rune('a'+i)), Password: "a long passphrase for phones", Phone: tt.phone, Roles: []string{auth.RoleClerk}})
			if tt.wantCode != "" {
				if got := ordergate.ErrorCode(err); got != tt.wantCode {
					t.Fatalf("CreateUser(phone %q) error = %v, want %s", tt.phone, err, tt.wantCode)
				}
				var e *ordergate.Error
				if !errors.As(err, &e) || e.Fields["phone"] == "" {
					t.Errorf("CreateUser(phone %q) = %v, want the field phone named", tt.phone, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("CreateUser(phone %q) = %v", tt.phone, err)
			}
			if u.Phone != tt.want {
				t.Errorf("CreateUser(phone %q).Phone = %q, want %q", tt.phone, u.Phone, tt.want)
			}
			stored, err := svc.Store.UserByID(context.Background(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Phone != tt.want {
				t.Errorf("stored phone = %q, want %q", stored.Phone, tt.want)
			}
		})
	}
}
