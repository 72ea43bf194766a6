package greeter_test

import (
	"context"
	"fmt"

	"github.com/dialtone-dev/dialtone/examples/hello/greeter"
)

// The implementation is plain Go: tests call it directly, no bus needed.
func ExampleServer_SayHello() {
	var g greeter.Greeter = greeter.Server{}
	reply, err := g.SayHello(context.Background(), &greeter.HelloRequest{Name: "Ada"})
	fmt.Println(reply.Message, err)
	// Output:
	// Hello, Ada! <nil>
}
