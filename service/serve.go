package service

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/dialtone-dev/dialtone"
	"github.com/dialtone-dev/dialtone/internal/wire"
	"github.com/nats-io/nats.go"
)

// lookup finds the endpoint a request is for: by subject for an endpoint
// subscription, by the subject after the prefix for _DT.<svc>.all.> and
// _DT.<svc>.<id>.>. rest is the subject it looked up, pattern how the request
// came.
func (s *Service) lookup(m *nats.Msg, direct bool) (ep *endpoint, rest string, pattern dialtone.Pattern) {
	rest, pattern = m.Subject, dialtone.PatternBalanced
	switch {
	case direct:
		rest, pattern = strings.TrimPrefix(rest, s.directPrefix), dialtone.PatternDirect
	case m.Sub == s.allSub:
		rest, pattern = strings.TrimPrefix(rest, s.allPrefix), dialtone.PatternLowestLatency
	}
	return (*s.bySubject.Load())[rest], rest, pattern
}

// serve runs the endpoint's chain for m on the calling worker, which holds a
// slot. The slot is given back before the reply goes out, so a caller that got
// its answer and probes availability at once finds the slot free.
func (ep *endpoint) serve(m *nats.Msg, pattern dialtone.Pattern) {
	s := ep.s
	start := time.Now()
	req := dialtone.Request{Spec: ep.spec, Pattern: pattern, Instance: s.id, Header: m.Header, Data: m.Data}
	if ep.decode != nil {
		req.Msg = ep.decode(m.Header, m.Data)
	}
	resp, err := ep.chain(s.baseCtx, req)

	took := time.Since(start)
	ep.numRequests.Add(1)
	ep.procNanos.Add(int64(took))
	ep.latency.record(s.started, start, took)
	s.inFlight.Add(-1)
	<-s.sem

	if err != nil {
		ep.failed(err)
		s.replyError(m, err)
		return
	}
	if m.Reply == "" {
		return
	}
	var perr error
	if resp.Header == nil {
		perr = s.nc.Publish(m.Reply, resp.Data)
	} else {
		perr = s.nc.PublishMsg(&nats.Msg{Subject: m.Reply, Data: resp.Data, Header: resp.Header})
	}
	if perr != nil {
		ep.replyFailed(m, resp, perr)
	}
}

// failed records a request that failed: the endpoint's error count and last
// error. (Its span and metrics are the interceptors'.)
func (ep *endpoint) failed(err error) {
	ep.numErrors.Add(1)
	msg := err.Error()
	ep.lastError.Store(&msg)
}

// fitReply is the step inside every interceptor of an endpoint: it runs the
// handler and refuses a reply the bus cannot carry (larger than its
// max_payload) with CodeResourceExhausted naming both sizes, so the caller
// learns at once instead of waiting for its deadline, and the interceptors
// (tracing, metrics, logging) see the failure. It is logged at Warn and the
// error handler sees it.
func (ep *endpoint) fitReply(invoke dialtone.UnaryFunc) dialtone.UnaryFunc {
	return func(ctx context.Context, req dialtone.Request) (dialtone.Response, error) {
		resp, err := invoke(ctx, req)
		if err != nil {
			return resp, err
		}
		s := ep.s
		size := len(resp.Data) + headerSize(resp.Header)
		if limit := s.nc.MaxPayload(); int64(size) > limit && limit > 0 {
			err := dialtone.Errorf(dialtone.CodeResourceExhausted, "service %s: %s: reply of %s bytes exceeds the bus's max_payload of %s",
				s.cfg.Name, ep.name, thousands(int64(size)), thousands(limit))
			s.opts.logger.Warn("service: reply not sent", "service", s.cfg.Name, "endpoint", ep.name, "subject", arrivalSubject(req), "err", err.Error())
			s.reportError(ctx, ErrorEvent{Endpoint: ep.name, Subject: arrivalSubject(req), Err: err})
			return dialtone.Response{}, err
		}
		return resp, nil
	}
}

// replyFailed handles a reply the connection refused to send although it fit
// (the connection is closed or its buffer full, or the bus's max_payload
// shrank): the caller is left without an answer, or, for a reply that no
// longer fits, gets ResourceExhausted. Either way the endpoint counts an error,
// it is logged at Warn and the error handler sees it.
func (ep *endpoint) replyFailed(m *nats.Msg, resp dialtone.Response, perr error) {
	s := ep.s
	var err *dialtone.Error
	if errors.Is(perr, nats.ErrMaxPayload) {
		size := len(resp.Data) + headerSize(resp.Header)
		err = dialtone.Errorf(dialtone.CodeResourceExhausted, "service %s: %s: reply of %s bytes exceeds the bus's max_payload of %s",
			s.cfg.Name, ep.name, thousands(int64(size)), thousands(s.nc.MaxPayload()))
		s.replyError(m, err)
	} else {
		err = dialtone.Errorf(dialtone.CodeUnavailable, "service %s: %s: reply not sent: %w", s.cfg.Name, ep.name, perr)
	}
	ep.failed(err)
	s.opts.logger.Warn("service: reply not sent", "service", s.cfg.Name, "endpoint", ep.name, "subject", m.Subject, "err", err.Error())
	s.reportError(s.baseCtx, ErrorEvent{Endpoint: ep.name, Subject: m.Subject, Err: err})
}

// arrivalSubject is the subject req arrived on: the endpoint's, or its
// lowest-latency or direct form.
func arrivalSubject(req dialtone.Request) string {
	switch req.Pattern {
	case dialtone.PatternLowestLatency:
		return wire.AllSubject(req.Spec.Service, req.Spec.Subject)
	case dialtone.PatternDirect:
		return wire.DirectSubject(req.Spec.Service, req.Instance, req.Spec.Subject)
	}
	return req.Spec.Subject
}

// reportError hands ev to the error handler, if there is one.
func (s *Service) reportError(ctx context.Context, ev ErrorEvent) {
	if s.opts.onError != nil {
		s.opts.onError(ctx, ev)
	}
}

// headerSize is the length of h as nats.go writes it on the wire.
func headerSize(h nats.Header) int {
	if len(h) == 0 {
		return 0
	}
	n := len("NATS/1.0\r\n\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(": ") + len(v) + len("\r\n")
		}
	}
	return n
}

// thousands formats n with commas between groups of three digits: 1,048,576.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
