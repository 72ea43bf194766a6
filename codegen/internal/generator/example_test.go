package generator_test

import (
	"fmt"
	"strings"

	"github.com/dialtone-dev/dialtone/codegen/internal/generator"
)

// Generate turns the Greeter interface of a package into its client and server
// wiring; these are the functions it declares.
func ExampleGenerate() {
	res, err := generator.Generate(generator.Config{Dir: "../../testdata/golden/greeter", Type: "Greeter"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, line := range strings.Split(string(res.Source), "\n") {
		if strings.HasPrefix(line, "func ") {
			fmt.Println(strings.TrimSuffix(line, " {"))
		}
	}
	// Output:
	// func GreeterSayHelloEndpoint() rpc.Endpoint[HelloRequest, HelloReply]
	// func NewGreeterClient(c *rpc.Client) *GreeterClient
	// func (c *GreeterClient) SayHello(ctx context.Context, req *HelloRequest) (*HelloReply, error)
	// func RegisterGreeter(r service.Registrar, impl Greeter, opts ...service.EndpointOption) error
}

// A bad interface is reported with the position of each problem.
func ExampleDiagnostics() {
	_, err := generator.Generate(generator.Config{Dir: "../../testdata/errors/notinterface", Type: "Greeter"})
	fmt.Println(err)
	// Output:
	// ../../testdata/errors/notinterface/notinterface.go:5:6: -type Greeter: Greeter is a struct type, not an interface
}
