// Package shop is an end-to-end test service for the generator: nested, optional and
// time-typed fields, a subject override, an error path and an endpoint that says
// which instance answered (to check the call patterns).
package shop

import (
	"context"
	"time"
)

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Shop

// Shop takes orders.
type Shop interface {
	// PlaceOrder stores an order and returns its receipt.
	PlaceOrder(ctx context.Context, req *Order) (*Receipt, error)

	// GetOrder returns a stored order, or not_found.
	//dialtone:subject shop.orders.get
	GetOrder(ctx context.Context, req *OrderRef) (*Order, error)

	// Whoami says which instance answered.
	Whoami(ctx context.Context, req *Empty) (*Instance, error)
}

// Order is an order.
type Order struct {
	ID       string            `json:"id" validate:"required"`
	Customer Customer          `json:"customer"`
	Lines    []Line            `json:"lines" validate:"required,min=1,dive"`
	Ship     *Address          `json:"ship,omitempty"`
	Notes    map[string]string `json:"notes,omitempty"`
	Placed   time.Time         `json:"placed"`
	Gift     bool              `json:"gift,omitempty"`
}

// Customer places orders.
type Customer struct {
	Name  string `json:"name" validate:"required"`
	Email string `json:"email" validate:"required,email"`
}

// Line is one item of an order.
type Line struct {
	SKU   string  `json:"sku" validate:"required"`
	Qty   int     `json:"qty" validate:"gte=1"`
	Price float64 `json:"price"`
}

// Address is where an order goes.
type Address struct {
	Street  string `json:"street"`
	Country string `json:"country" validate:"len=2"`
}

// Receipt confirms an order.
type Receipt struct {
	ID    string  `json:"id"`
	Total float64 `json:"total"`
}

// OrderRef names an order.
type OrderRef struct {
	ID string `json:"id" validate:"required"`
}

// Empty is no input.
type Empty struct{}

// Instance identifies a service instance.
type Instance struct {
	ID string `json:"id"`
}
