package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/store"
)

const userCols = `id, username, email, first_name, last_name, password_hash, enabled,
	otp_required, role, created_at, updated_at, last_login_at, must_change_password, locale`

func scanUser(row pgx.Row) (*store.User, error) {
	var u store.User
	err := row.Scan(&u.ID, &u.Username, &u.Email, &u.FirstName, &u.LastName, &u.PasswordHash,
		&u.Enabled, &u.OTPRequired, &u.Role,
		tsDst{&u.CreatedAt}, tsDst{&u.UpdatedAt}, tsDst{&u.LastLoginAt}, &u.MustChangePassword, &u.Locale)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// CreateUser stores u; ErrConflict when its ID, username or e-mail is taken.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO users (`+userCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		u.ID, u.Username, u.Email, u.FirstName, u.LastName, u.PasswordHash, u.Enabled,
		u.OTPRequired, u.Role, ts(u.CreatedAt), ts(u.UpdatedAt), ts(u.LastLoginAt), u.MustChangePassword, u.Locale)
	if err != nil {
		return wrapf(err, "create user %q", u.Username)
	}
	return nil
}

// GetUser returns the user with id.
func (s *Store) GetUser(ctx context.Context, id string) (*store.User, error) {
	u, err := scanUser(s.q(ctx).QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	if err != nil {
		return nil, wrapf(err, "get user %q", id)
	}
	return u, nil
}

// GetUserByUsername finds a user by username, ignoring case.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (*store.User, error) {
	u, err := scanUser(s.q(ctx).QueryRow(ctx,
		`SELECT `+userCols+` FROM users WHERE lower(username) = lower($1)`, username))
	if err != nil {
		return nil, wrapf(err, "get user by username %q", username)
	}
	return u, nil
}

// GetUserByEmail finds a user by e-mail address, ignoring case. An empty address
// matches nobody, although many users have none.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*store.User, error) {
	// The email <> '' condition also lets the planner use the partial index.
	u, err := scanUser(s.q(ctx).QueryRow(ctx,
		`SELECT `+userCols+` FROM users WHERE lower(email) = lower($1) AND email <> ''`, email))
	if err != nil {
		return nil, wrapf(err, "get user by email %q", email)
	}
	return u, nil
}

// UpdateUser writes every field of u but ID and CreatedAt.
func (s *Store) UpdateUser(ctx context.Context, u *store.User) error {
	err := execOne(ctx, s.q(ctx), `UPDATE users SET username = $2, email = $3,
		first_name = $4, last_name = $5, password_hash = $6, enabled = $7,
		otp_required = $8, role = $9, updated_at = $10, last_login_at = $11,
		must_change_password = $12, locale = $13
		WHERE id = $1`,
		u.ID, u.Username, u.Email, u.FirstName, u.LastName, u.PasswordHash, u.Enabled,
		u.OTPRequired, u.Role, ts(u.UpdatedAt), ts(u.LastLoginAt), u.MustChangePassword, u.Locale)
	if err != nil {
		return wrapf(err, "update user %q", u.ID)
	}
	return nil
}

// DeleteUser deletes the user and, through the foreign keys, everything that
// belongs to them.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	if err := execOne(ctx, s.q(ctx), `DELETE FROM users WHERE id = $1`, id); err != nil {
		return wrapf(err, "delete user %q", id)
	}
	return nil
}

// userQuery is the WHERE clause of ListUsers. strpos instead of LIKE spares
// escaping % and _ in what an administrator typed.
const userQuery = ` WHERE $1 = '' OR strpos(lower(username), lower($1)) > 0
	OR strpos(lower(email), lower($1)) > 0 OR strpos(lower(first_name), lower($1)) > 0
	OR strpos(lower(last_name), lower($1)) > 0`

// ListUsers returns one page of users ordered by username, and how many match.
func (s *Store) ListUsers(ctx context.Context, f store.UserFilter) ([]*store.User, int, error) {
	offset, limit := pageLimit(f.Offset, f.Limit)
	q := s.q(ctx)
	var total int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM users`+userQuery, f.Query).Scan(&total); err != nil {
		return nil, 0, wrapf(err, "count users")
	}
	users, err := queryList(ctx, q, scanUser, `SELECT `+userCols+` FROM users`+userQuery+`
		ORDER BY lower(username), username LIMIT $2 OFFSET $3`, f.Query, limit, offset)
	if err != nil {
		return nil, 0, wrapf(err, "list users")
	}
	return users, total, nil
}

// CountOTP implements store.Store.
func (s *Store) CountOTP(ctx context.Context) (required, enrolled int, err error) {
	err = s.q(ctx).QueryRow(ctx, `SELECT count(*), count(c.user_id)
		FROM users u LEFT JOIN otp_credentials c ON c.user_id = u.id WHERE u.otp_required`).Scan(&required, &enrolled)
	if err != nil {
		return 0, 0, wrapf(err, "count OTP users")
	}
	return required, enrolled, nil
}

// CountUsers counts the users with role, or all users when role is empty.
func (s *Store) CountUsers(ctx context.Context, role string) (int, error) {
	var n int
	err := s.q(ctx).QueryRow(ctx,
		`SELECT count(*) FROM users WHERE $1 = '' OR role = $1`, role).Scan(&n)
	if err != nil {
		return 0, wrapf(err, "count users with role %q", role)
	}
	return n, nil
}
