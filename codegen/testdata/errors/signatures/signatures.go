package signatures

import "context"

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Bad

type Bad interface {
	NoContext(name string, req *Req) (*Resp, error)
	OneParam(ctx context.Context) (*Resp, error)
	ThreeResults(ctx context.Context, req *Req) (*Resp, int, error)
	NotError(ctx context.Context, req *Req) (*Resp, string)
	ValueRequest(ctx context.Context, req Req) (*Resp, error)
	PointerToMap(ctx context.Context, req *Map) (*Resp, error)
	Variadic(ctx context.Context, reqs ...*Req) (*Resp, error)
	Unexported(ctx context.Context, req *lower) (*Resp, error)
	private(ctx context.Context, req *Req) (*Resp, error)
	Fine(ctx context.Context, req *Req) (*Resp, error)
}

type Req struct{ A string }

type Resp struct{ B string }

type Map map[string]string

type lower struct{ C string }
