// Package catalog exercises the JSON Schema derivation: every kind of field the
// generator supports, types from other packages, a recursive type, a generic type, a
// subject override and a -service name.
package catalog

import (
	"context"
	"encoding/json"
	"net/netip"
	"time"

	"github.com/dialtone-dev/dialtone/codegen/testdata/golden/catalog/money"
)

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Catalog -service shop-catalog

// Catalog is a product catalog.
type Catalog interface {
	// Get returns one product.
	//
	// It fails with not_found when there is no such product.
	Get(ctx context.Context, req *GetRequest) (*Product, error)

	// Search pages through products.
	//dialtone:subject shop.v2.search
	Search(context.Context, *SearchRequest) (*Page[Product], error)

	Tree(ctx context.Context, req *GetRequest) (*Category, error)

	// Embedded interfaces add their methods, here with another package's types.
	money.Pricer
}

// GetRequest names a product.
type GetRequest struct {
	ID string `json:"id" validate:"required,uuid"`
}

// Status is a product's state; it encodes as text.
type Status int

func (s Status) MarshalText() ([]byte, error) { return []byte("active"), nil }

// Audit is embedded: its fields are promoted into the JSON object.
type Audit struct {
	Created time.Time  `json:"created"`
	Updated *time.Time `json:"updated,omitempty"`
}

// Product is one product.
type Product struct {
	Audit
	ID      string            `json:"id"`
	Name    string            `json:"name" validate:"required,min=1,max=200"`
	Price   money.Amount      `json:"price"`
	Tags    []string          `json:"tags,omitempty" validate:"max=10,dive,min=1"`
	Attrs   map[string]string `json:"attrs,omitempty"`
	Stock   map[int]uint32    `json:"stock,omitzero"`
	Image   []byte            `json:"image,omitempty"`
	Digest  [4]uint8          `json:"digest"`
	Status  Status            `json:"status" validate:"required"`
	Grade   string            `json:"grade" validate:"oneof=a b c"`
	Rating  float64           `json:"rating" validate:"gte=0,lte=5"`
	Count   int               `json:"count,string"`
	TTL     time.Duration     `json:"ttl"`
	Extra   json.RawMessage   `json:"extra,omitempty"`
	Origin  netip.Addr        `json:"origin"`
	Contact *Contact          `json:"contact,omitempty"`
	Secret  string            `json:"-"`
	NoTag   bool
	private int
}

// Contact is a nested struct behind a pointer.
type Contact struct {
	Email string `json:"email" validate:"required,email"`
	URL   string `json:"url,omitempty" validate:"omitempty,url"`
}

// SearchRequest is a query.
type SearchRequest struct {
	Query  string `json:"query"`
	Limit  int    `json:"limit,omitempty" validate:"omitempty,gt=0,lt=1000"`
	Cursor string `json:"cursor,omitempty"`
}

// Page is a page of results of any item type.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// Category is recursive: it contains itself.
type Category struct {
	Name     string     `json:"name"`
	Children []Category `json:"children,omitempty"`
	Featured *Featured  `json:"featured,omitempty"`
}

// Featured refers back to itself too.
type Featured struct {
	Product Product   `json:"product"`
	Next    *Featured `json:"next,omitempty"`
}
