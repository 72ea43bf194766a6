package events

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Bad -service orders

// Bad has an event handler that is wrong twice over: unexported, and its event
// is not a pointer. Both are reported (an earlier error once made the second
// check's failure go unnoticed and the generator panic).
type Bad interface {
	placed(ctx context.Context, ev Placed) error
	Fine(ctx context.Context, ev *Placed) error
}

type Placed struct{ ID string }
