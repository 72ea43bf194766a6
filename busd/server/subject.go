package server

// Subject rules (the NATS ones):
//
//   - a subject is one or more tokens separated by '.';
//   - no token may be empty, so "", ".a", "a." and "a..b" are all invalid;
//   - a token that is exactly "*" matches any single token, and a token that is
//     exactly ">" matches one or more tokens and may only be the last token;
//     "*" or ">" inside a longer token ("foo*", "f>o") is an ordinary character;
//   - whitespace (space, tab, CR, LF, form feed) is never allowed anywhere,
//     since the protocol uses it to separate arguments.
//
// These helpers work on byte slices straight out of the read buffer and never
// allocate.

// Wildcard and separator bytes of the subject syntax.
const (
	subjSep = '.' // token separator
	subjPWC = '*' // partial wildcard: exactly one token
	subjFWC = '>' // full wildcard: one or more trailing tokens
)

// validSubject reports whether subj is a valid subscription subject. Wildcard
// tokens are allowed; ">" only as the last token.
func validSubject(subj []byte) bool {
	return checkSubject(subj, false)
}

// validLiteralSubject reports whether subj is a valid subject without wildcard
// tokens, i.e. one a message can be published to under strict (pedantic) rules.
func validLiteralSubject(subj []byte) bool {
	return checkSubject(subj, true)
}

// subjectHasWildcard reports whether any token of subj is exactly "*" or ">".
// It does not validate subj.
func subjectHasWildcard(subj []byte) bool {
	start := 0
	for i := 0; i <= len(subj); i++ {
		if i < len(subj) && subj[i] != subjSep {
			continue
		}
		if i-start == 1 && (subj[start] == subjPWC || subj[start] == subjFWC) {
			return true
		}
		start = i + 1
	}
	return false
}

// checkSubject validates subj in a single pass. With literal set, wildcard
// tokens make the subject invalid.
func checkSubject(subj []byte, literal bool) bool {
	if len(subj) == 0 {
		return false
	}
	start := 0
	for i := 0; i <= len(subj); i++ {
		if i < len(subj) {
			switch subj[i] {
			case ' ', '\t', '\r', '\n', '\f':
				return false
			case subjSep:
			default:
				continue
			}
		}
		// subj[start:i] is a complete token.
		switch i - start {
		case 0:
			return false
		case 1:
			switch subj[start] {
			case subjPWC:
				if literal {
					return false
				}
			case subjFWC:
				if literal || i != len(subj) {
					return false
				}
			}
		}
		start = i + 1
	}
	return true
}

// isPWCToken reports whether tok is the single-token wildcard "*".
func isPWCToken(tok []byte) bool { return len(tok) == 1 && tok[0] == subjPWC }

// isFWCToken reports whether tok is the multi-token wildcard ">".
func isFWCToken(tok []byte) bool { return len(tok) == 1 && tok[0] == subjFWC }
