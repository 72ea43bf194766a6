// Package orderevents declares the events of the orders service: an interface of
// event handlers, with two events sharing a payload type and a subject override.
package orderevents

import (
	"context"
	"time"
)

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type OrderEvents -service orders

// OrderEvents are the events the orders service publishes.
type OrderEvents interface {
	// OrderPlaced is published once an order is paid for.
	OrderPlaced(ctx context.Context, ev *OrderPlaced) error
	//dialtone:subject orders.v2.cancelled
	OrderCancelled(ctx context.Context, ev *OrderChanged) error
	OrderShipped(ctx context.Context, ev *OrderChanged) error
}

// OrderPlaced says an order was placed and paid.
type OrderPlaced struct {
	ID     string    `json:"id" validate:"required"`
	Total  int64     `json:"total" validate:"min=0"` // in cents
	Placed time.Time `json:"placed"`
}

// OrderChanged says an order changed state.
type OrderChanged struct {
	ID     string `json:"id" validate:"required"`
	Reason string `json:"reason,omitempty"`
}
