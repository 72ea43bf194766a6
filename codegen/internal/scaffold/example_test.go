package scaffold_test

import (
	"fmt"

	"github.com/dialtone-dev/dialtone/codegen/internal/scaffold"
)

// The service name decides the package and interface names of a new service.
func ExampleProject() {
	p, err := scaffold.Project(scaffold.Options{Module: "example.com/shop", Name: "order-book"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Module, p.Package, p.Interface, p.Service)
	// Output:
	// example.com/shop orderbook OrderBook order-book
}
