// Package quote declares the service of the latency example: a price quote, cheap and
// idempotent, so it may be asked of every instance at once.
package quote

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Quoter -service quote

// Quoter quotes prices.
type Quoter interface {
	// Quote returns the price of a symbol and which instance answered.
	Quote(ctx context.Context, req *QuoteRequest) (*QuoteReply, error)
}

// QuoteRequest names a symbol.
type QuoteRequest struct {
	Symbol string `json:"symbol" validate:"required,alpha,max=8"`
}

// QuoteReply is a quote.
type QuoteReply struct {
	Symbol   string `json:"symbol"`
	Cents    int64  `json:"cents"`
	Instance string `json:"instance"`
}
