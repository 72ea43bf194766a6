package shop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/rpc"
	"github.com/dialtone-dev/dialtone/service"
)

// store implements Shop in memory.
type store struct {
	id     string // instance id, filled in once the service exists
	mu     sync.Mutex
	orders map[string]Order
}

func (s *store) PlaceOrder(ctx context.Context, o *Order) (*Receipt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders[o.ID] = *o
	var total float64
	for _, l := range o.Lines {
		total += float64(l.Qty) * l.Price
	}
	return &Receipt{ID: o.ID, Total: total}, nil
}

func (s *store) GetOrder(ctx context.Context, ref *OrderRef) (*Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[ref.ID]
	if !ok {
		return nil, dialtone.Errorf(dialtone.CodeNotFound, "no order %s", ref.ID)
	}
	return &o, nil
}

func (s *store) Whoami(ctx context.Context, _ *Empty) (*Instance, error) {
	return &Instance{ID: s.id}, nil
}

// startShop runs one instance of the shop on its own connection.
func startShop(t *testing.T, url string) (*service.Service, *store) {
	t.Helper()
	svc, err := service.New(bustest.Connect(t, url), service.Config{Name: ShopServiceName, Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	impl := &store{id: svc.ID(), orders: map[string]Order{}}
	if err := RegisterShop(svc, impl); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })
	return svc, impl
}

func sampleOrder() *Order {
	return &Order{
		ID:       "o-1",
		Customer: Customer{Name: "Ada", Email: "ada@example.com"},
		Lines:    []Line{{SKU: "tea", Qty: 2, Price: 3.5}, {SKU: "cup", Qty: 1, Price: 9}},
		Ship:     &Address{Street: "1 Loop Rd", Country: "GB"},
		Notes:    map[string]string{"door": "blue"},
		Placed:   time.Date(2026, 11, 21, 10, 0, 0, 123000000, time.UTC),
		Gift:     true,
	}
}

// The generated client and registration work together over every bus backend: typed
// values make the round trip, errors keep their codes, and the patterns are chosen
// per call through the context.
func TestGeneratedServiceEndToEnd(t *testing.T) {
	for _, b := range bustest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			urls := b.Start(t)
			ctx := t.Context()
			one, _ := startShop(t, urls[0])
			two, _ := startShop(t, urls[len(urls)-1])
			// On a cluster, interest in two's subjects reaches the client's node a moment
			// after two starts; calls that find no responder yet are retried.
			retry := rpc.Retry(rpc.RetryPolicy{MaxAttempts: 20, MaxBackoff: 100 * time.Millisecond})
			var shop Shop = NewShopClient(rpc.NewClient(bustest.Connect(t, urls[0]), rpc.WithDefaultCallOptions(retry)))

			// PlaceOrder lands on one instance; GetOrder may land on the other, so
			// ask the first instance directly for what it stored.
			order := sampleOrder()
			r, err := shop.PlaceOrder(rpc.WithCallOptions(ctx, rpc.Direct(one.ID())), order)
			if err != nil {
				t.Fatal(err)
			}
			if r.ID != "o-1" || r.Total != 16 {
				t.Errorf("receipt = %+v", r)
			}
			got, err := shop.GetOrder(rpc.WithCallOptions(ctx, rpc.Direct(one.ID())), &OrderRef{ID: "o-1"})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, order) {
				t.Errorf("GetOrder = %+v, want %+v", got, order)
			}
			_, err = shop.GetOrder(rpc.WithCallOptions(ctx, rpc.Direct(two.ID())), &OrderRef{ID: "o-1"})
			if !errors.Is(err, dialtone.ErrNotFound) {
				t.Errorf("GetOrder on the other instance: %v, want not_found", err)
			}

			// Direct reaches the instance named; the other patterns reach one of them.
			for _, tc := range []struct {
				name string
				opt  rpc.CallOption
				want []string
			}{
				{"direct", rpc.Direct(two.ID()), []string{two.ID()}},
				{"balanced", rpc.Balanced(), []string{one.ID(), two.ID()}},
				{"lowest-latency", rpc.LowestLatency(), []string{one.ID(), two.ID()}},
				{"available", rpc.Available(), []string{one.ID(), two.ID()}},
			} {
				who, err := shop.Whoami(rpc.WithCallOptions(ctx, tc.opt), &Empty{})
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if !contains(tc.want, who.ID) {
					t.Errorf("%s: answered by %s, want one of %v", tc.name, who.ID, tc.want)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The bus-level contract of the generated registration, seen by a client that is not
// the generated one (another language, `nats req`): subjects, server-side
// validation, and the schemas in $SRV.INFO.
func TestGeneratedServiceOnTheWire(t *testing.T) {
	url := bustest.Busd(t)
	svc, _ := startShop(t, url)
	nc := bustest.Connect(t, url)

	request := func(subject string, body any) *nats.Msg {
		t.Helper()
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		m, err := nc.Request(subject, data, 5*time.Second)
		if err != nil {
			t.Fatalf("request %s: %v", subject, err)
		}
		return m
	}

	// The overridden subject is the one served.
	if ShopGetOrderSubject != "shop.orders.get" || ShopPlaceOrderSubject != "shop.PlaceOrder" {
		t.Fatalf("subjects %q %q", ShopGetOrderSubject, ShopPlaceOrderSubject)
	}
	m := request("shop.orders.get", OrderRef{ID: "nope"})
	if e := dialtone.ErrorFromHeader(m.Header); e == nil || e.Code() != dialtone.CodeNotFound {
		t.Errorf("GetOrder(nope) over the wire: %v, want not_found", e)
	}

	// The service validates what it receives, whoever sent it.
	m = request(ShopPlaceOrderSubject, map[string]any{"id": "x", "lines": []any{}})
	e := dialtone.ErrorFromHeader(m.Header)
	if e == nil || e.Code() != dialtone.CodeInvalidArgument {
		t.Fatalf("invalid order over the wire: %v, want invalid_argument", e)
	}
	if fields, _ := e.Details()["fields"].(map[string]any); fields["lines"] != "min" || fields["customer.email"] != "required" {
		t.Errorf("invalid order: details %v", e.Details())
	}

	// $SRV.INFO lists every endpoint with its subject, queue group and schemas.
	m = request("$SRV.INFO."+ShopServiceName+"."+svc.ID(), nil)
	var info service.Info
	if err := json.Unmarshal(m.Data, &info); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		subject string
		schemas [2]string
	}{
		"PlaceOrder": {ShopPlaceOrderSubject, [2]string{shopOrderSchema, shopReceiptSchema}},
		"GetOrder":   {ShopGetOrderSubject, [2]string{shopOrderRefSchema, shopOrderSchema}},
		"Whoami":     {ShopWhoamiSubject, [2]string{shopEmptySchema, shopInstanceSchema}},
	}
	if len(info.Endpoints) != len(want) {
		t.Fatalf("INFO endpoints: %+v", info.Endpoints)
	}
	for _, ep := range info.Endpoints {
		w, ok := want[ep.Name]
		if !ok || ep.Subject != w.subject || ep.QueueGroup != ShopServiceName {
			t.Errorf("INFO endpoint %+v, want subject %s in queue group %s", ep, w.subject, ShopServiceName)
		}
		if ep.Metadata[service.MetadataRequestSchema] != w.schemas[0] || ep.Metadata[service.MetadataResponseSchema] != w.schemas[1] {
			t.Errorf("INFO endpoint %s: schemas in metadata differ from the generated ones", ep.Name)
		}
	}

	// The published request schema says what the validation enforces.
	var schema struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal([]byte(shopOrderSchema), &schema); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(schema.Required) != "[id customer lines placed]" {
		t.Errorf("PlaceOrder request schema: required %v", schema.Required)
	}
	if string(schema.Properties["placed"]) == "" || !json.Valid(schema.Properties["placed"]) {
		t.Errorf("PlaceOrder request schema: placed = %s", schema.Properties["placed"])
	}
}

// The interface is the seam: code that takes a Shop runs on a fake as it does on the
// generated client, and RegisterShop serves any implementation.
func TestClientAndFakeAreInterchangeable(t *testing.T) {
	total := func(ctx context.Context, s Shop) (float64, error) {
		r, err := s.PlaceOrder(ctx, sampleOrder())
		if err != nil {
			return 0, err
		}
		return r.Total, nil
	}
	fake := &store{orders: map[string]Order{}}
	if got, err := total(t.Context(), fake); err != nil || got != 16 {
		t.Errorf("fake: %v, %v", got, err)
	}
	url := bustest.Busd(t)
	startShop(t, url)
	if got, err := total(t.Context(), NewShopClient(rpc.NewClient(bustest.Connect(t, url)))); err != nil || got != 16 {
		t.Errorf("client: %v, %v", got, err)
	}

	svc, err := service.New(bustest.Connect(t, url), service.Config{Name: ShopServiceName, Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := RegisterShop(svc, nil); err == nil {
		t.Error("RegisterShop(svc, nil) succeeded")
	}
}

// RegisterShop takes a service.Registrar: mounted in a group, the endpoints keep
// the subjects the generated client calls and take the group's queue group, and
// the options given apply to every endpoint. A service of another name is
// refused, because the client addresses the service by its name.
func TestRegisterInGroup(t *testing.T) {
	url := bustest.Busd(t)
	nc := bustest.Connect(t, url)
	svc, err := service.New(nc, service.Config{Name: ShopServiceName, Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	impl := &store{id: svc.ID(), orders: map[string]Order{}}
	group := svc.AddGroup("v1", service.WithQueueGroup("shop-v1"))
	if err := RegisterShop(group, impl, service.WithMetadata(map[string]string{"tier": "gold"})); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })
	info := svc.Info()
	if len(info.Endpoints) != 3 {
		t.Fatalf("endpoints = %+v", info.Endpoints)
	}
	for _, ep := range info.Endpoints {
		if ep.QueueGroup != "shop-v1" || ep.Metadata["tier"] != "gold" || ep.Metadata[service.MetadataRequestSchema] == "" {
			t.Errorf("endpoint %s: queue %q, metadata %v", ep.Name, ep.QueueGroup, ep.Metadata)
		}
	}
	if info.Endpoints[0].Subject != ShopPlaceOrderSubject {
		t.Errorf("subject %q, want %q", info.Endpoints[0].Subject, ShopPlaceOrderSubject)
	}
	client := NewShopClient(rpc.NewClient(nc))
	for _, opt := range []rpc.CallOption{rpc.Balanced(), rpc.LowestLatency(), rpc.Available(), rpc.Direct(svc.ID())} {
		if who, err := client.Whoami(rpc.WithCallOptions(t.Context(), opt), &Empty{}); err != nil || who.ID != svc.ID() {
			t.Fatalf("Whoami: %+v %v", who, err)
		}
	}

	other, err := service.New(nc, service.Config{Name: "warehouse", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	err = RegisterShop(other.AddGroup("shop"), impl)
	if dialtone.CodeOf(err) != dialtone.CodeInvalidArgument || len(other.Info().Endpoints) != 0 {
		t.Fatalf("RegisterShop into service warehouse: %v, endpoints %v", err, other.Info().Endpoints)
	}
	t.Log(err)
	if err := RegisterShop(svc, nil); dialtone.CodeOf(err) != dialtone.CodeInvalidArgument {
		t.Fatalf("RegisterShop(nil impl) = %v", err)
	}
}
