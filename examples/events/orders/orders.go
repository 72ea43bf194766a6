// Package orders declares the events the orders service publishes. `go generate`
// writes events_dialtone.go beside it: the topics, a publisher
// (NewEventsPublisher) and the registration of consumers (RegisterEvents).
package orders

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Events -service orders

// Events are what the orders service publishes.
type Events interface {
	// OrderPlaced is published once an order is placed.
	OrderPlaced(ctx context.Context, ev *OrderPlaced) error
}

// OrderPlaced says an order was placed.
type OrderPlaced struct {
	ID       int    `json:"id" validate:"required"`
	Customer string `json:"customer" validate:"required,email"`
	Total    int64  `json:"total" validate:"min=0"` // in cents
}
