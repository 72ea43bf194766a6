package event

import (
	"reflect"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/wire"
)

// Spec names an event without its Go type: what PublishRaw and SubscribeRaw take
// and what a Topic carries.
type Spec struct {
	// Name names the event in heartbeats, $SRV.INFO and $SRV.STATS and names the
	// consumer of a subscription, [A-Za-z0-9_-]+, e.g. "OrderPlaced".
	Name string
	// Subject is where the event is published, e.g. "orders.OrderPlaced". A
	// subscription (SubscribeRaw) may use the wildcards '*' and a last '>'.
	Subject string
	// Schema is the JSON Schema of the payload, optional. Services list it in
	// $SRV.INFO for the events they publish and consume.
	Schema string
}

// Topic is an event with the Go type of its payload, so that Publish and
// Subscribe infer it and an event of the wrong type does not compile:
//
//	var orderPlaced = event.NewTopic[OrderPlaced](event.Spec{Subject: "orders.OrderPlaced"})
//	err := event.Publish(ctx, pub, orderPlaced, &OrderPlaced{ID: "o-1"})
//
// Generated code has a function per event that returns its Topic. A Topic is a
// small value; copy it freely.
type Topic[T any] struct {
	spec Spec
	err  error // what is wrong with spec, found once by NewTopic
}

// NewTopic returns the Topic that spec names, with payload type T. An empty
// spec.Name is T's type name. The spec is checked here and the problem, if any,
// returned by every Publish and Subscribe on the topic: the subject must be
// literal (no wildcards) and the name [A-Za-z0-9_-]+.
func NewTopic[T any](spec Spec) Topic[T] {
	if spec.Name == "" {
		spec.Name = reflect.TypeFor[T]().Name()
	}
	return Topic[T]{spec: spec, err: spec.check(false)}
}

// Spec returns the name, subject and schema of the topic.
func (t Topic[T]) Spec() Spec { return t.spec }

// String returns the topic's subject.
func (t Topic[T]) String() string { return t.spec.Subject }

// check reports a spec that cannot be published (filter false) or subscribed to
// (filter true, which allows wildcards).
func (s Spec) check(filter bool) error {
	if !wire.ValidName(s.Name) {
		return dialtone.Errorf(dialtone.CodeInvalidArgument,
			"event: invalid event name %q for subject %q: use letters, digits, '_' and '-' only", s.Name, s.Subject)
	}
	if filter {
		if p := wire.FilterProblem(s.Subject); p != "" {
			return dialtone.Errorf(dialtone.CodeInvalidArgument, "event %s: invalid subject %q: %s", s.Name, s.Subject, p)
		}
		return nil
	}
	if p := wire.SubjectProblem(s.Subject); p != "" {
		return dialtone.Errorf(dialtone.CodeInvalidArgument,
			"event %s: invalid subject %q: %s; an event is published on a literal subject (SubscribeRaw subscribes to wildcards)", s.Name, s.Subject, p)
	}
	return nil
}
