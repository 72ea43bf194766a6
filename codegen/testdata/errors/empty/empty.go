package empty

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Empty

type Empty interface{}
