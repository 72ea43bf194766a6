package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// benchImportsConf: SVC serves "svc.echo" to its own clients and, through an
// import, to CLI's.
const benchImportsConf = `
accounts {
  SVC: {
    users: [ {user: svc, password: pw} ]
    exports: [ {service: "svc.echo"} ]
  }
  CLI: {
    users: [ {user: cli, password: pw} ]
    imports: [ {service: {account: SVC, subject: "svc.echo"}} ]
  }
}
`

// BenchmarkServiceCall measures a request and its reply through nats.go, on
// busd and on nats-server: from a requester in the responder's own account
// (same), and from one in another account through a service import
// (import). sequential is one request at a time (the round trip); parallel
// keeps 16 in flight (the throughput).
func BenchmarkServiceCall(b *testing.B) {
	for _, start := range []func(testing.TB, string) *accServer{accBusd, accNats} {
		srv := start(b, benchImportsConf)
		resp, err := nats.Connect(srv.url("svc", "pw"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(resp.Close)
		if _, err := resp.Subscribe("svc.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
			b.Fatal(err)
		}
		if err := resp.Flush(); err != nil {
			b.Fatal(err)
		}
		for _, from := range []string{"same", "import"} {
			user := "svc"
			if from == "import" {
				user = "cli"
			}
			nc, err := nats.Connect(srv.url(user, "pw"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(nc.Close)
			payload := []byte("0123456789abcdef")
			b.Run(fmt.Sprintf("%s/%s/sequential", srv.kind, from), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := nc.Request("svc.echo", payload, 5*time.Second); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("%s/%s/parallel", srv.kind, from), func(b *testing.B) {
				b.SetParallelism(8) // 16 requesters on 2 cores
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := nc.Request("svc.echo", payload, 5*time.Second); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
