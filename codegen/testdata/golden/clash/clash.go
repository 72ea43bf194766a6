// Package service declares names the generated file would import under (rpc,
// service, errors, context), so the generated imports are renamed, and the name the
// schema constant of Message would have, so that is numbered. Message is the request
// and the response of Echo: its schema is written once.
package service

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Echo -output echo_gen.go

// Echo echoes.
type Echo interface {
	Echo(ctx context.Context, req *Message) (*Message, error)
}

// Message is what is echoed.
type Message struct {
	Text string `json:"text"`
}

var rpc, errors = 1, 2

func service() {}

type context2 struct{}

var context3 = context.Background

var echoMessageSchema = "declared by the package"
