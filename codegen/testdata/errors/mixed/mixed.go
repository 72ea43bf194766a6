package mixed

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Orders

// Orders mixes an endpoint and an event handler.
type Orders interface {
	Place(ctx context.Context, req *Order) (*Receipt, error)
	OrderPlaced(ctx context.Context, ev *Order) error
}

type Order struct{ ID string }

type Receipt struct{ ID string }
