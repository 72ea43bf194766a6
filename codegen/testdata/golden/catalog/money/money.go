// Package money is a type from another package used by the catalog service.
package money

import "context"

// Amount is an amount of money in minor units.
type Amount struct {
	Currency string `json:"currency" validate:"required,len=3"`
	Minor    int64  `json:"minor"`
}

// Pricer is a service interface of its own, embedded in catalog.Catalog: its method
// becomes an endpoint of the catalog, with types from this package.
type Pricer interface {
	// Convert converts an amount to another currency.
	Convert(ctx context.Context, req *ConvertRequest) (*Amount, error)
}

// ConvertRequest asks for a conversion.
type ConvertRequest struct {
	From Amount `json:"from"`
	To   string `json:"to" validate:"required,len=3"`
}
