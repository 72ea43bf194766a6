// Package shared has types that several endpoints share: each JSON Schema is written
// once, to a constant named after its type, and types that would give two constants
// the same name (the same name in two packages, two instances of a generic type) get
// distinct ones.
package shared

import (
	"context"

	"github.com/dialtone-dev/dialtone/codegen/testdata/golden/shared/legacy"
)

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Store

// Store keeps items.
type Store interface {
	// Put stores an item.
	Put(ctx context.Context, req *Item) (*Ack, error)

	// Delete removes an item: its response is Put's, its request Get's.
	Delete(ctx context.Context, req *Key) (*Ack, error)

	// Get returns an item: its response is Put's request.
	Get(ctx context.Context, req *Key) (*Item, error)

	// Import stores an item of the legacy store, a type named Item too.
	Import(ctx context.Context, req *legacy.Item) (*Ack, error)

	// List pages through the items whose keys it is given.
	List(ctx context.Context, req *Page[Key]) (*Page[Item], error)
}

// Key names an item.
type Key struct {
	ID string `json:"id" validate:"required"`
}

// Item is a stored item.
type Item struct {
	Key
	Value string `json:"value"`
}

// Ack confirms a change.
type Ack struct {
	Version int64 `json:"version"`
}

// Page is a page of anything.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}
