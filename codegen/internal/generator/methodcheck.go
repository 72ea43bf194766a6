package generator

import (
	"go/token"
	"go/types"
	"strings"

	"github.com/dialtone-dev/dialtone/internal/wire"
)

// methodCheck collects the errors of one interface method, endpoint or event
// handler; ok stays true while there are none.
type methodCheck struct {
	g    *gen
	m    *types.Func
	ok   bool
	errs int
}

// bad reports a problem with the method, at pos or else at the method.
func (c *methodCheck) bad(pos token.Pos, format string, args ...any) {
	if !pos.IsValid() {
		pos = c.m.Pos()
	}
	c.g.errorf(pos, "method %s: "+format, append([]any{c.m.Name()}, args...)...)
	c.ok = false
	c.errs++
}

// checkMethod runs the checks endpoints and event handlers share: the method
// is exported under a valid name, and its parameters are (ctx context.Context,
// x *Message). iface and role name the interface and what its methods are
// ("a service interface", "endpoint": "an" fits both); param names the second parameter ("the
// request"); want is the signature wanted, for the messages. It returns the
// method's signature, nil when it does not compile (the package's type errors
// say why), and msgOK when the second parameter is a valid message type.
func (g *gen) checkMethod(c *methodCheck, iface, role, param, want string) (sig *types.Signature, msgOK bool) {
	m := c.m
	if !m.Exported() {
		c.bad(m.Pos(), "unexported; every method of %s is an %s and must be exported", iface, role)
	} else if !wire.ValidName(m.Name()) {
		c.bad(m.Pos(), "%s names are ASCII letters, digits, '_' and '-' only", role)
	}
	sig = m.Type().(*types.Signature)
	if strings.Contains(types.TypeString(sig, nil), "invalid type") {
		g.invalid = true
		return nil, false
	}
	params := sig.Params()
	switch {
	case sig.Variadic():
		c.bad(params.At(params.Len()-1).Pos(), "variadic parameters are not supported; %s", want)
	case params.Len() != 2:
		c.bad(m.Pos(), "has %s; %s", plural(params.Len(), "parameter"), want)
	default:
		if t := params.At(0).Type(); !isNamed(t, "context", "Context") {
			g.noteInvalid(t)
			c.bad(params.At(0).Pos(), "first parameter is %s; it must be context.Context (%s)", g.typeString(t), want)
		}
		before := c.errs
		g.messageType(params.At(1).Type(), params.At(1).Pos(), "second parameter ("+param+")", want, c.bad)
		msgOK = c.errs == before
	}
	return sig, msgOK
}
