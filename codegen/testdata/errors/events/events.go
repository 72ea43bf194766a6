package events

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Bad -service orders

type Bad interface {
	NoContext(name string, ev *Placed) error
	OneParam(ctx context.Context) error
	ValueEvent(ctx context.Context, ev Placed) error
	PointerToMap(ctx context.Context, ev *Map) error
	NotError(ctx context.Context, ev *Placed) string
	Unexported(ctx context.Context, ev *lower) error
	private(ctx context.Context, ev *Placed) error
	//dialtone:subject orders.*
	Wildcard(ctx context.Context, ev *Placed) error
	//dialtone:subject orders.Fine
	SameSubject(ctx context.Context, ev *Placed) error
	Fine(ctx context.Context, ev *Placed) error
	WithChan(ctx context.Context, ev *Chan) error
}

type Placed struct{ ID string }

type Map map[string]string

type lower struct{ C string }

type Chan struct{ C chan int }
