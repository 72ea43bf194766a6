package unsupported

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Jobs

type Jobs interface {
	Submit(ctx context.Context, req *Job) (*Ack, error)
}

type Job struct {
	Name     string           `json:"name"`
	Done     chan bool        `json:"done"`
	Callback func() error     `json:"callback"`
	Payload  interface{}      `json:"payload"`
	Any      map[string]any   `json:"any"`
	Z        complex128       `json:"z"`
	ByPoint  map[Point]string `json:"by_point"`
	Skipped  chan int         `json:"-"`
	hidden   func()
}

type Point struct{ X, Y int }

type Ack struct {
	Err error `json:"err"`
}
