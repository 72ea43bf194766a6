package server

// Reloading accounts. Everything about accounts can change on reload except
// which account is the system account: accounts come and go, users move
// between them, exports and imports are re-installed. Clients whose user is
// gone or now belongs to another account are closed with 'Authorization
// Violation' by the auth re-check (reload.go) and reconnect into their new
// account. Requests in flight through an import keep their reply mapping.

import (
	"errors"
	"fmt"
)

// checkAccountsReload checks that o's accounts can replace the running ones.
func (s *Server) checkAccountsReload(o *Options) error {
	if err := validateAccounts(o); err != nil {
		return err
	}
	want := o.SystemAccount
	if want == "" {
		want = DefaultSystemAccount
	}
	if have := s.systemAccount().name; want != have {
		return fmt.Errorf("system_account cannot change on reload (from %q to %q): restart busd to change it", have, want)
	}
	return nil
}

// validateAccounts reports the accounts problems of o as one error.
func validateAccounts(o *Options) error {
	var errs []error
	for _, p := range checkAccounts(o) {
		errs = append(errs, errors.New(p.msg))
	}
	return errors.Join(errs...)
}

// applyAccounts installs o's accounts; the caller then re-checks clients.
func (s *Server) applyAccounts(o *Options) {
	prev := s.accounts()
	s.installAccounts(o, s.buildAccounts(o, prev), prev)
}
