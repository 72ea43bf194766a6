package subjectclash

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Store

type Store interface {
	Get(ctx context.Context, req *Req) (*Req, error)

	// Fetch is Get under another name.
	//dialtone:subject store.Get
	Fetch(ctx context.Context, req *Req) (*Req, error)

	//dialtone:subject store.*
	Wild(ctx context.Context, req *Req) (*Req, error)

	//dialtone:queue workers
	Typo(ctx context.Context, req *Req) (*Req, error)
}

type Req struct{}
