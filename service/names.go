package service

import (
	"fmt"
	"strings"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/wire"
)

func checkName(kind, s string) error {
	if !wire.ValidName(s) {
		return dialtone.Errorf(dialtone.CodeInvalidArgument,
			"service: invalid %s name %q: use letters, digits, '_' and '-' only (it becomes a subject token)", kind, s)
	}
	return nil
}

// checkSubject validates a literal NATS subject: non-empty tokens separated by
// dots, no whitespace or control characters and no wildcards.
func checkSubject(kind, s string) error {
	if p := wire.SubjectProblem(s); p != "" {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "service: invalid %s %q: %s", kind, s, p)
	}
	return nil
}

// checkQueue validates a queue group name: like a subject, without wildcards.
func checkQueue(s string) error { return checkSubject("queue group", s) }

// checkSemver validates a semantic version (https://semver.org): MAJOR.MINOR.PATCH
// with optional -prerelease and +build parts.
func checkSemver(v string) error {
	bad := func(why string) error {
		return dialtone.Errorf(dialtone.CodeInvalidArgument, "service: invalid version %q: %s (want semver like 1.2.3)", v, why)
	}
	core, build, hasBuild := strings.Cut(v, "+")
	core, pre, hasPre := strings.Cut(core, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return bad("need three numbers")
	}
	for _, p := range parts {
		if !numericID(p) {
			return bad(fmt.Sprintf("%q is not a number without leading zeros", p))
		}
	}
	if hasPre {
		for _, id := range strings.Split(pre, ".") {
			if !alnumID(id) || (allDigits(id) && !numericID(id)) {
				return bad(fmt.Sprintf("bad pre-release identifier %q", id))
			}
		}
	}
	if hasBuild {
		for _, id := range strings.Split(build, ".") {
			if !alnumID(id) {
				return bad(fmt.Sprintf("bad build identifier %q", id))
			}
		}
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func numericID(s string) bool { return allDigits(s) && (s == "0" || s[0] != '0') }

func alnumID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
