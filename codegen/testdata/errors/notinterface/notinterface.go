package notinterface

//go:generate go run github.com/dialtone-dev/dialtone/codegen -type Greeter

type Greeter struct {
	Name string
}
