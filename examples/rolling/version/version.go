// Package version declares the service of the rolling deploy example: it answers
// with the version of the instance that served the call, so the client sees the
// deploy roll from one version to the next.
package version

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Versioner -service version

// Versioner reports its version.
type Versioner interface {
	// Get echoes the request's sequence number with the serving instance's version.
	Get(ctx context.Context, req *GetRequest) (*GetReply, error)
}

// GetRequest is one call of the client's loop.
type GetRequest struct {
	Seq int `json:"seq"`
}

// GetReply says which version served a call.
type GetReply struct {
	Seq     int    `json:"seq"`
	Version string `json:"version"`
}
