// Package money is a type from another package used by the catalog service.
package money

// Amount is an amount of money in minor units.
type Amount struct {
	Currency string `json:"currency" validate:"required,len=3"`
	Minor    int64  `json:"minor"`
}
