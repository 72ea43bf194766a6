// Package squarer declares the service of the workers example: a job any instance can
// do, so instances share the load through the endpoint's queue group.
package squarer

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Squarer

// Squarer squares numbers, slowly enough that the work is worth spreading.
type Squarer interface {
	// Square returns N*N and which worker computed it.
	Square(ctx context.Context, req *SquareRequest) (*SquareReply, error)
}

// SquareRequest is one job.
type SquareRequest struct {
	N int `json:"n" validate:"gte=0,lte=1000000"`
}

// SquareReply is a job's result.
type SquareReply struct {
	Result int    `json:"result"`
	Worker string `json:"worker"`
}
