package service

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDeadlineCtx(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()
	type key struct{}
	parent = context.WithValue(parent, key{}, "v")

	ctx, release := withDeadline(parent, 30*time.Millisecond)
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > 30*time.Millisecond || time.Until(d) < 20*time.Millisecond {
		t.Fatalf("deadline %v %v", d, ok)
	}
	if ctx.Err() != nil || ctx.Value(key{}) != "v" {
		t.Fatal("a fresh context is done or lost its values")
	}
	if ctx.(*deadlineCtx).armed != nil {
		t.Fatal("armed before anyone asked for Done")
	}
	<-ctx.Done() // arms, then ends at the deadline
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		t.Fatalf("err %v, cause %v", ctx.Err(), context.Cause(ctx))
	}
	release.release()

	// Past the deadline without Done: Err says so all the same.
	ctx, release = withDeadline(parent, time.Millisecond)
	time.Sleep(2 * time.Millisecond) // the deadline passes; nothing is waited on
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("err %v", ctx.Err())
	}
	select {
	case <-ctx.Done():
	default:
		t.Fatal("Done not closed after the deadline")
	}
	release.release()

	// The parent's cancel reaches it, armed or not.
	ctx, release = withDeadline(parent, time.Hour)
	defer release.release()
	child, cancelChild := context.WithCancel(ctx) // arms through Done
	defer cancelChild()
	cancelParent()
	<-child.Done()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("err %v after the parent was canceled", ctx.Err())
	}

	// A parent with an earlier deadline is kept as it is.
	early, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if got, _ := withDeadline(early, time.Hour); got != early {
		t.Fatal("a later deadline replaced an earlier one")
	}
}
