package event_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dialtone-dev/dialtone/event"
	"github.com/dialtone-dev/dialtone/internal/bustest"
	"github.com/dialtone-dev/dialtone/service"
)

// A billing service handles each OrderPlaced event the orders service publishes.
func Example() {
	url, shutdown := bustest.Serve()
	defer shutdown()
	nc, err := nats.Connect(url)
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	ctx := context.Background()

	orderPlaced := event.NewTopic[OrderPlaced](event.Spec{Subject: "orders.OrderPlaced"})

	billing, err := service.New(nc, service.Config{Name: "billing", Version: "1.0.0"})
	if err != nil {
		panic(err)
	}
	handled := make(chan struct{})
	err = event.Subscribe(billing, orderPlaced, func(ctx context.Context, ev *OrderPlaced) error {
		fmt.Printf("billing: charge %d for order %s\n", ev.Total, ev.ID)
		close(handled)
		return nil
	})
	if err != nil {
		panic(err)
	}
	if err := billing.Start(ctx); err != nil {
		panic(err)
	}
	defer billing.Stop(ctx)

	pub := event.NewPublisher(nc)
	if err := event.Publish(ctx, pub, orderPlaced, &OrderPlaced{ID: "o-1", Total: 4200}); err != nil {
		panic(err)
	}
	select {
	case <-handled:
	case <-time.After(10 * time.Second):
		fmt.Println("the event was not handled within 10s")
	}
	// Output: billing: charge 4200 for order o-1
}

// Broadcast gives each event to every instance: here both instances of a cache
// drop the entry.
func ExampleBroadcast() {
	url, shutdown := bustest.Serve()
	defer shutdown()
	nc, err := nats.Connect(url)
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	ctx := context.Background()

	type PriceChanged struct {
		SKU string `json:"sku"`
	}
	priceChanged := event.NewTopic[PriceChanged](event.Spec{Subject: "catalog.PriceChanged"})

	var mu sync.Mutex
	var lines []string
	var wg sync.WaitGroup
	wg.Add(2)
	for _, name := range []string{"cache-1", "cache-2"} {
		inst, err := service.New(nc, service.Config{Name: "cache", Version: "1.0.0"})
		if err != nil {
			panic(err)
		}
		err = event.Subscribe(inst, priceChanged, func(ctx context.Context, ev *PriceChanged) error {
			mu.Lock()
			lines = append(lines, name+" drops "+ev.SKU)
			mu.Unlock()
			wg.Done()
			return nil
		}, event.Broadcast())
		if err != nil {
			panic(err)
		}
		if err := inst.Start(ctx); err != nil {
			panic(err)
		}
		defer inst.Stop(ctx)
	}

	if err := event.Publish(ctx, event.NewPublisher(nc), priceChanged, &PriceChanged{SKU: "sku-42"}); err != nil {
		panic(err)
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		fmt.Println("not every instance handled the event within 10s")
	}
	mu.Lock()
	defer mu.Unlock()
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// cache-1 drops sku-42
	// cache-2 drops sku-42
}
