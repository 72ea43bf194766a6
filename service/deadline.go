package service

import (
	"context"
	"sync"
	"time"
)

// deadlineCtx is the context a handler gets from the Deadline interceptor: its
// parent with the caller's deadline. context.WithDeadline would start a timer and
// allocate four objects per request, although most handlers never wait on
// Done; deadlineCtx reports the deadline at once and starts the timer (a real
// context.WithDeadline below it) only the first time someone asks for Done. Err
// is right either way: past the deadline it is DeadlineExceeded.
type deadlineCtx struct {
	context.Context // the parent
	deadline        time.Time

	mu     sync.Mutex
	armed  context.Context // the parent with a timer, once Done was asked for
	cancel context.CancelFunc
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *deadlineCtx) arm() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.armed == nil {
		c.armed, c.cancel = context.WithDeadline(c.Context, c.deadline)
	}
	return c.armed
}

func (c *deadlineCtx) Done() <-chan struct{} { return c.arm().Done() }

func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	armed := c.armed
	c.mu.Unlock()
	if armed != nil {
		return armed.Err()
	}
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// Value answers from the armed context once there is one, so that
// context.Cause sees why it ended.
func (c *deadlineCtx) Value(key any) any {
	c.mu.Lock()
	armed := c.armed
	c.mu.Unlock()
	if armed != nil {
		return armed.Value(key)
	}
	return c.Context.Value(key)
}

// release stops the timer, if one was started. The request is over. A nil c
// has nothing to release.
func (c *deadlineCtx) release() {
	if c == nil {
		return
	}
	c.mu.Lock()
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// withDeadline returns parent bounded by d from now, and the deadlineCtx to
// release when the request is over (nil when there is none: a parent whose own
// deadline comes first is returned as it is).
func withDeadline(parent context.Context, d time.Duration) (context.Context, *deadlineCtx) {
	deadline := time.Now().Add(d)
	if pd, ok := parent.Deadline(); ok && !pd.After(deadline) {
		return parent, nil
	}
	c := &deadlineCtx{Context: parent, deadline: deadline}
	return c, c
}
