package bustest_test

import (
	"fmt"
	"time"

	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/nats-io/nats.go"
)

func ExampleServe() {
	url, shutdown := bustest.Serve()
	defer shutdown()
	nc, err := nats.Connect(url)
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	if _, err := nc.Subscribe("echo", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		panic(err)
	}
	m, err := nc.Request("echo", []byte("hello bus"), time.Second)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(m.Data))
	// Output: hello bus
}
