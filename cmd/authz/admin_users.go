package main

import (
	"context"
	"flag"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/admin/api"
	"github.com/authz/authz/internal/store"
)

var userColumns = []string{"id", "username", "email", "role", "enabled", "otp_state", "recovery_codes_left"}

var userCommands = []adminCommand{
	{"user", "list", bindUserList},
	{"user", "get", bindUserByID(func(ctx context.Context, svc *admin.Service, info *admin.UserInfo) (any, error) {
		return api.UserView(info), nil
	})},
	{"user", "create", bindUserCreate},
	{"user", "update", bindUserUpdate},
	{"user", "delete", bindUserByID(func(ctx context.Context, svc *admin.Service, info *admin.UserInfo) (any, error) {
		if err := svc.DeleteUser(ctx, admin.Actor{}, info.ID); err != nil {
			return nil, err
		}
		return map[string]string{"deleted": info.ID, "username": info.Username}, nil
	})},
	{"user", "reset-otp", bindUserByID(func(ctx context.Context, svc *admin.Service, info *admin.UserInfo) (any, error) {
		removed, err := svc.ResetOTP(ctx, admin.Actor{}, info.ID)
		if err != nil {
			return nil, err
		}
		return map[string]any{"id": info.ID, "username": info.Username, "authenticator_removed": removed}, nil
	})},
	{"user", "void-recovery-codes", bindUserByID(func(ctx context.Context, svc *admin.Service, info *admin.UserInfo) (any, error) {
		n, err := svc.VoidRecoveryCodes(ctx, admin.Actor{}, info.ID)
		if err != nil {
			return nil, err
		}
		return map[string]any{"id": info.ID, "username": info.Username, "voided": n}, nil
	})},
}

func bindUserList(fs *flag.FlagSet) adminRun {
	q := fs.String("q", "", "start of the username or e-mail (case-insensitive)")
	cursor, limit := pagingFlags(fs)
	return func(ctx context.Context, svc *admin.Service, _ map[string]bool) (any, error) {
		pg, err := page(*cursor, *limit)
		if err != nil {
			return nil, err
		}
		users, next, err := svc.ListUsers(ctx, *q, pg)
		if err != nil {
			return nil, err
		}
		out := newList(pg, next, userColumns)
		for _, u := range users {
			out.Items = append(out.Items, api.UserView(u))
		}
		return out, nil
	}
}

// bindUserByID binds --id (a user ID or username) for run.
func bindUserByID(run func(context.Context, *admin.Service, *admin.UserInfo) (any, error)) func(*flag.FlagSet) adminRun {
	return func(fs *flag.FlagSet) adminRun {
		id := fs.String("id", "", "user ID or username")
		return func(ctx context.Context, svc *admin.Service, set map[string]bool) (any, error) {
			if err := required(set, "id"); err != nil {
				return nil, err
			}
			info, err := svc.FindUser(ctx, *id)
			if err != nil {
				return nil, err
			}
			return run(ctx, svc, info)
		}
	}
}

// userFlags binds the user fields.
type userFlags struct {
	username, email, firstName, lastName, role strFlag
	otp, enabled                               boolFlag
}

func bindUserFields(fs *flag.FlagSet) *userFlags {
	return &userFlags{
		username:  strFlag{"username", fs.String("username", "", "username")},
		email:     strFlag{"email", fs.String("email", "", "e-mail address (receives the set-up link)")},
		firstName: strFlag{"first-name", fs.String("first-name", "", "first name")},
		lastName:  strFlag{"last-name", fs.String("last-name", "", "last name")},
		role:      strFlag{"role", fs.String("role", store.RoleUser, "admin or user")},
		otp:       boolFlag{"otp-required", fs.Bool("otp-required", false, "OTP Configured: the user must use an authenticator app")},
		enabled:   boolFlag{"enabled", fs.Bool("enabled", true, "the user may sign in")},
	}
}

func (f *userFlags) patch(set map[string]bool) admin.UserPatch {
	return admin.UserPatch{Username: f.username.patch(set), Email: f.email.patch(set), FirstName: f.firstName.patch(set),
		LastName: f.lastName.patch(set), Role: f.role.patch(set), OTPRequired: f.otp.patch(set), Enabled: f.enabled.patch(set)}
}

func bindUserCreate(fs *flag.FlagSet) adminRun {
	f := bindUserFields(fs)
	return func(ctx context.Context, svc *admin.Service, set map[string]bool) (any, error) {
		u, sent, err := svc.CreateUser(ctx, admin.Actor{}, f.patch(set))
		if err != nil {
			return nil, err
		}
		info, err := svc.GetUser(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		return api.CreatedUserView(info, sent), nil
	}
}

func bindUserUpdate(fs *flag.FlagSet) adminRun {
	id := fs.String("id", "", "user ID or username")
	f := bindUserFields(fs)
	return func(ctx context.Context, svc *admin.Service, set map[string]bool) (any, error) {
		if err := required(set, "id"); err != nil {
			return nil, err
		}
		info, err := svc.FindUser(ctx, *id)
		if err != nil {
			return nil, err
		}
		if _, err := svc.UpdateUser(ctx, admin.Actor{}, info.ID, f.patch(set)); err != nil {
			return nil, err
		}
		if info, err = svc.GetUser(ctx, info.ID); err != nil {
			return nil, err
		}
		return api.UserView(info), nil
	}
}
