package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/store"
)

// maxSubjectLen bounds an upstream subject; OIDC caps "sub" at 255 ASCII
// characters.
const maxSubjectLen = 255

// Identities returns the upstream identities linked to user id.
func (s *Service) Identities(ctx context.Context, id string) ([]*store.FederatedIdentity, error) {
	if _, err := s.Store.GetUser(ctx, id); err != nil {
		return nil, missing(err, msgUserNotFound)
	}
	ids, err := s.Store.ListFederatedIdentities(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("admin: list identities of %s: %w", id, err)
	}
	return ids, nil
}

// LinkIdentity links the subject of provider alias to user id, so that the
// user can sign in there even under the "existing" policy.
func (s *Service) LinkIdentity(ctx context.Context, a Actor, id, alias, subject string) (*store.FederatedIdentity, error) {
	if subject == "" || !validText(subject, maxSubjectLen) {
		return nil, invalid("subject", msgSubjectInvalid)
	}
	fi := &store.FederatedIdentity{ProviderAlias: alias, Subject: subject, UserID: id}
	err := s.write(ctx, func(ctx context.Context) error {
		if _, err := s.Store.GetUser(ctx, id); err != nil {
			return missing(err, msgUserNotFound)
		}
		if _, err := s.Store.GetProvider(ctx, alias); errors.Is(err, store.ErrNotFound) {
			return invalid("provider", msgProviderNotFound)
		} else if err != nil {
			return fmt.Errorf("admin: load provider %q: %w", alias, err)
		}
		if _, err := s.Store.GetFederatedIdentity(ctx, alias, subject); err == nil {
			return conflict("subject", msgIdentityTaken)
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("admin: look up identity: %w", err)
		}
		fi.CreatedAt = s.now()
		if err := s.Store.CreateFederatedIdentity(ctx, fi); err != nil {
			return fmt.Errorf("admin: link identity: %w", err)
		}
		return s.record(ctx, a, event{typ: audit.FederationLinked, userID: id, detail: "provider=" + alias + " subject=" + subject})
	})
	if errors.Is(err, store.ErrConflict) {
		// Linked by a concurrent request between check and insert.
		return nil, conflict("subject", msgIdentityTaken)
	}
	if err != nil {
		return nil, err
	}
	return fi, nil
}

// UnlinkIdentity removes the link of the subject of provider alias from user
// id; the user can no longer sign in through it.
func (s *Service) UnlinkIdentity(ctx context.Context, a Actor, id, alias, subject string) error {
	return s.write(ctx, func(ctx context.Context) error {
		if _, err := s.Store.GetUser(ctx, id); err != nil {
			return missing(err, msgUserNotFound)
		}
		fi, err := s.Store.GetFederatedIdentity(ctx, alias, subject)
		if errors.Is(err, store.ErrNotFound) || (err == nil && fi.UserID != id) {
			// Another user's link is not this page's to remove.
			return notFound(msgNoIdentity)
		}
		if err != nil {
			return fmt.Errorf("admin: look up identity: %w", err)
		}
		if err := s.Store.DeleteFederatedIdentity(ctx, alias, subject); err != nil {
			return fmt.Errorf("admin: unlink identity: %w", err)
		}
		return s.record(ctx, a, event{typ: audit.FederationUnlinked, userID: id, detail: "provider=" + alias + " subject=" + subject})
	})
}
