package generator

import (
	"fmt"
	"go/token"
	"strings"
)

// A Diagnostic is one problem with the input, at a position in it.
type Diagnostic struct {
	Pos token.Position // Filename is as the generator was given it (relative to Dir when it was relative)
	Msg string
}

func (d Diagnostic) String() string {
	if !d.Pos.IsValid() {
		if d.Pos.Filename != "" {
			return d.Pos.Filename + ": " + d.Msg
		}
		return d.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", d.Pos.Filename, d.Pos.Line, d.Pos.Column, d.Msg)
}

// Diagnostics are every problem found in one run; it is the error Generate returns
// when the input is bad. Its Error text has one "file:line:col: message" per line,
// like the Go compiler's.
type Diagnostics []Diagnostic

func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}
