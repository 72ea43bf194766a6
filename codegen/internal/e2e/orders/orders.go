// Package orders is an end-to-end test of the generator's events: an interface of
// event handlers, its publisher and the registration of an implementation.
package orders

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Events -service orders

// Events are what the orders service publishes.
type Events interface {
	// OrderPlaced is published once an order is paid for.
	OrderPlaced(ctx context.Context, ev *OrderPlaced) error
	// OrderCancelled is published when a customer cancels.
	//dialtone:subject orders.v2.cancelled
	OrderCancelled(ctx context.Context, ev *OrderCancelled) error
}

// OrderPlaced says an order was placed and paid.
type OrderPlaced struct {
	ID    string `json:"id" validate:"required"`
	Total int64  `json:"total" validate:"min=0"` // in cents
}

// OrderCancelled says an order was cancelled.
type OrderCancelled struct {
	ID     string `json:"id" validate:"required"`
	Reason string `json:"reason,omitempty"`
}
