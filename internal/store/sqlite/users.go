package sqlite

import (
	"context"

	"github.com/authz/authz/internal/store"
)

const userCols = `id, username, email, first_name, last_name, password_hash, enabled,
	otp_required, role, created_at, updated_at, last_login_at, must_change_password, locale`

func scanUser(sc scanner) (*store.User, error) {
	var u store.User
	err := sc.Scan(&u.ID, &u.Username, &u.Email, &u.FirstName, &u.LastName, &u.PasswordHash, &u.Enabled,
		&u.OTPRequired, &u.Role, microTime{&u.CreatedAt}, microTime{&u.UpdatedAt}, microTime{&u.LastLoginAt}, &u.MustChangePassword, &u.Locale)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// CreateUser stores u; a taken ID, username or e-mail is store.ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	_, err := s.writer(ctx).ExecContext(ctx, `INSERT INTO users (`+userCols+`) VALUES (`+placeholders(14)+`)`,
		u.ID, u.Username, u.Email, u.FirstName, u.LastName, u.PasswordHash, u.Enabled,
		u.OTPRequired, u.Role, micro(u.CreatedAt), micro(u.UpdatedAt), micro(u.LastLoginAt), u.MustChangePassword, u.Locale)
	return wrap(err, "create user %q", u.Username)
}

// GetUser returns the user with id.
func (s *Store) GetUser(ctx context.Context, id string) (*store.User, error) {
	u, err := scanUser(s.reader(ctx).QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	return u, wrap(err, "get user %q", id)
}

// GetUserByUsername returns the user whose username equals name ignoring case.
func (s *Store) GetUserByUsername(ctx context.Context, name string) (*store.User, error) {
	// lower(username) matches the unique index's expression, so it is used.
	u, err := scanUser(s.reader(ctx).QueryRowContext(ctx,
		`SELECT `+userCols+` FROM users WHERE lower(username) = lower(?)`, name))
	return u, wrap(err, "get user by username %q", name)
}

// GetUserByEmail returns the user whose e-mail equals email ignoring case.
// The empty address belongs to nobody.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*store.User, error) {
	if email == "" {
		return nil, wrap(store.ErrNotFound, "get user by empty e-mail")
	}
	// The email <> '' term lets SQLite use the partial unique index.
	u, err := scanUser(s.reader(ctx).QueryRowContext(ctx,
		`SELECT `+userCols+` FROM users WHERE lower(email) = lower(?) AND email <> ''`, email))
	return u, wrap(err, "get user by e-mail %q", email)
}

// UpdateUser writes every field of u but ID and CreatedAt.
func (s *Store) UpdateUser(ctx context.Context, u *store.User) error {
	err := exactlyOne(s.writer(ctx).ExecContext(ctx, `UPDATE users SET username = ?, email = ?,
		first_name = ?, last_name = ?, password_hash = ?, enabled = ?, otp_required = ?, role = ?,
		updated_at = ?, last_login_at = ?, must_change_password = ?, locale = ? WHERE id = ?`,
		u.Username, u.Email, u.FirstName, u.LastName, u.PasswordHash, u.Enabled, u.OTPRequired, u.Role,
		micro(u.UpdatedAt), micro(u.LastLoginAt), u.MustChangePassword, u.Locale, u.ID))
	return wrap(err, "update user %q", u.ID)
}

// DeleteUser deletes the user; foreign keys take their sessions, OTP
// credential, action tokens, links and consents with them.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	err := exactlyOne(s.writer(ctx).ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id))
	return wrap(err, "delete user %q", id)
}

// ListUsers returns one page of users ordered by username, and the number of
// users matching f.Query. The query is matched literally, ignoring ASCII case.
func (s *Store) ListUsers(ctx context.Context, f store.UserFilter) ([]*store.User, int, error) {
	var w where
	if f.Query != "" {
		w.add(`(username LIKE ?1 ESCAPE '\' OR email LIKE ?1 ESCAPE '\'
			OR first_name LIKE ?1 ESCAPE '\' OR last_name LIKE ?1 ESCAPE '\')`, likeContains(f.Query))
	}
	q := s.reader(ctx)
	var total int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM users`+w.String(), w.args...).Scan(&total); err != nil {
		return nil, 0, wrap(err, "count users")
	}
	limit, offset := page(f.Limit, f.Offset)
	users, err := collect(scanUser)(q.QueryContext(ctx, `SELECT `+userCols+` FROM users`+w.String()+
		` ORDER BY lower(username), username LIMIT ? OFFSET ?`, append(w.args, limit, offset)...))
	return users, total, wrap(err, "list users")
}

// CountOTP implements store.Store.
func (s *Store) CountOTP(ctx context.Context) (required, enrolled int, err error) {
	err = s.reader(ctx).QueryRowContext(ctx, `SELECT count(*), count(c.user_id)
		FROM users u LEFT JOIN otp_credentials c ON c.user_id = u.id WHERE u.otp_required`).Scan(&required, &enrolled)
	return required, enrolled, wrap(err, "count OTP users")
}

// CountUsers returns how many users have role, or how many users there are
// when role is empty.
func (s *Store) CountUsers(ctx context.Context, role string) (int, error) {
	var n int
	err := s.reader(ctx).QueryRowContext(ctx,
		`SELECT count(*) FROM users WHERE ? = '' OR role = ?`, role, role).Scan(&n)
	return n, wrap(err, "count users with role %q", role)
}
