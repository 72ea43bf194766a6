package server

import (
	"strings"
	"testing"
)

// conn is the CONNECT most cases start with: quiet, so only errors are answered.
const conn = "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n"

// TestWireMalformed runs malformed and odd client input against busd and
// nats-server v2.15.2 and asserts the same bytes back and the same decision to
// close or keep the connection.
func TestWireMalformed(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []wireCase{
		// Unknown and stray input.
		{name: "unknown op", in: conn + "FOO bar\r\n"},
		{name: "blank line", in: conn + "\r\n"},
		{name: "bare LF", in: conn + "\n"},
		{name: "spaces line", in: conn + "   \r\n"},
		{name: "tab line", in: conn + "\t\r\n"},
		{name: "leading space before op", in: conn + " PING\r\n"},
		{name: "NUL", in: conn + "\x00\r\n"},
		{name: "NUL before op", in: conn + "\x00PING\r\n"},
		{name: "prefix of op", in: conn + "P\r\n"},
		{name: "PIN", in: conn + "PIN\r\n"},
		{name: "PINGX", in: conn + "PINGX\r\n"},
		{name: "MSG from client", in: conn + "MSG foo 1 2\r\nhi\r\n"},
		{name: "HMSG from client", in: conn + "HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"},
		{name: "route op RS+", in: conn + "RS+ foo\r\n"},
		{name: "leaf op LS+", in: conn + "LS+ foo\r\n"},
		{name: "account op A+", in: conn + "A+ foo\r\n"},
		{name: "CONNECTX", in: conn + "CONNECTX {}\r\n"},
		{name: "PUBX", in: conn + "PUBX foo 1\r\nx\r\n"},
		{name: "SUBX", in: conn + "SUBX foo 1\r\n"},
		{name: "UNSUBX", in: conn + "UNSUBX 1\r\n"},

		// PING / PONG / +OK.
		{name: "PING", in: conn + "PING\r\n"},
		{name: "PING lower", in: conn + "ping\r\n"},
		{name: "PING mixed", in: conn + "pInG\r\n"},
		{name: "PING arg", in: conn + "PING x\r\n"},
		{name: "PING trailing space", in: conn + "PING \r\n"},
		{name: "PING tab", in: conn + "PING\t\r\n"},
		{name: "PING LF only", in: conn + "PING\n"},
		{name: "PING CR CR LF", in: conn + "PING\r\r\n"},
		{name: "PONG", in: conn + "PONG\r\n"},
		{name: "PONG arg", in: conn + "PONG x\r\n"},
		{name: "+OK", in: conn + "+OK\r\n"},
		{name: "+OK arg", in: conn + "+OK x\r\n"},
		{name: "+O", in: conn + "+O\r\n"},
		{name: "-ERR", in: conn + "-ERR 'x'\r\n"},
		{name: "-ERR bare", in: conn + "-ERR\r\n"},
		{name: "INFO", in: conn + "INFO {}\r\n"},
		{name: "INFO bare", in: conn + "INFO\r\n"},
		{name: "INFO not JSON", in: conn + "INFO x\r\n"},

		// PUB.
		{name: "PUB no args", in: conn + "PUB\r\n"},
		{name: "PUB space only", in: conn + "PUB \r\n"},
		{name: "PUB subject only", in: conn + "PUB foo\r\n"},
		{name: "PUB non-numeric size", in: conn + "PUB foo bar\r\n"},
		{name: "PUB negative size", in: conn + "PUB foo -1\r\n"},
		{name: "PUB plus size", in: conn + "PUB foo +2\r\nhi\r\n"},
		{name: "PUB overflowing size", in: conn + "PUB foo 99999999999999999999\r\n"},
		{name: "PUB ten digit size", in: conn + "PUB foo 1000000000\r\n"},
		{name: "PUB over max payload", in: conn + "PUB foo 1048577\r\n"},
		{name: "PUB extra arg", in: conn + "PUB foo bar baz 1\r\nx\r\n"},
		{name: "PUB lower", in: conn + "pub foo 2\r\nhi\r\n"},
		{name: "PUB leading zero", in: conn + "PUB foo 02\r\nhi\r\n"},
		{name: "PUB empty payload", in: conn + "PUB foo 0\r\n\r\n"},
		{name: "PUB runs of spaces", in: conn + "PUB  foo   2\r\nhi\r\n"},
		{name: "PUB tabs", in: conn + "PUB\tfoo\t2\r\nhi\r\n"},
		{name: "PUB trailing space", in: conn + "PUB foo 2 \r\nhi\r\n"},
		{name: "PUB LF only", in: conn + "PUB foo 2\nhi\r\n"},
		{name: "PUB payload longer than size", in: conn + "PUB foo 1\r\nhi\r\n"},
		{name: "PUB payload shorter than size", in: conn + "PUB foo 3\r\nhi\r\n\r\n"},
		{name: "PUB payload LF only", in: conn + "PUB foo 2\r\nhi\n\n"},
		{name: "PUB wildcard subject", in: conn + "PUB foo.* 2\r\nhi\r\n"},
		{name: "PUB wildcard pedantic", in: "CONNECT {\"verbose\":false,\"pedantic\":true}\r\nPUB foo.* 2\r\nhi\r\n"},
		{name: "PUB empty token", in: conn + "PUB foo..bar 2\r\nhi\r\n"},
		{name: "PUB NUL in subject", in: conn + "PUB fo\x00o 2\r\nhi\r\n"},
		{name: "PUB NUL in payload", in: conn + "PUB foo 2\r\n\x00\x00\r\n"},
		{name: "PUB reply", in: conn + "PUB foo bar 2\r\nhi\r\n"},

		// HPUB.
		{name: "HPUB no args", in: conn + "HPUB\r\n"},
		{name: "HPUB subject only", in: conn + "HPUB foo\r\n"},
		{name: "HPUB one size", in: conn + "HPUB foo 12\r\n"},
		{name: "HPUB header over total", in: conn + "HPUB foo 14 12\r\n"},
		{name: "HPUB negative header", in: conn + "HPUB foo -1 12\r\n"},
		{name: "HPUB non-numeric header", in: conn + "HPUB foo x 12\r\n"},
		{name: "HPUB extra arg", in: conn + "HPUB foo r 12 14 x\r\n"},
		{name: "HPUB valid", in: conn + "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"},
		{name: "HPUB lower", in: conn + "hpub foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"},
		{name: "HPUB header without NATS/1.0", in: conn + "HPUB foo 3 5\r\nabchi\r\n"},
		{name: "HPUB without headers in CONNECT", in: "CONNECT {\"verbose\":false}\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"},
		{name: "HPUB over max payload", in: conn + "HPUB foo 12 1048577\r\n"},

		// SUB.
		{name: "SUB no args", in: conn + "SUB\r\n"},
		{name: "SUB space only", in: conn + "SUB \r\n"},
		{name: "SUB subject only", in: conn + "SUB foo\r\n"},
		{name: "SUB extra arg", in: conn + "SUB foo q 1 x\r\n"},
		{name: "SUB lower", in: conn + "sub foo 1\r\n"},
		{name: "SUB empty token", in: conn + "SUB foo..bar 1\r\n"},
		{name: "SUB leading dot", in: conn + "SUB .foo 1\r\n"},
		{name: "SUB fwc not last", in: conn + "SUB >.foo 1\r\n"},
		{name: "SUB partial wildcard token", in: conn + "SUB foo.b* 1\r\n"},
		{name: "SUB queue wildcard", in: conn + "SUB foo q.* 1\r\n"},
		{name: "SUB duplicate sid", in: conn + "SUB foo 1\r\nSUB bar 1\r\n"},
		{name: "SUB NUL in subject", in: conn + "SUB fo\x00o 1\r\n"},
		{name: "SUB tabs", in: conn + "SUB\tfoo\t1\r\n"},
		{name: "SUB non-numeric sid", in: conn + "SUB foo abc\r\n"},

		// UNSUB.
		{name: "UNSUB no args", in: conn + "UNSUB\r\n"},
		{name: "UNSUB space only", in: conn + "UNSUB \r\n"},
		{name: "UNSUB unknown sid", in: conn + "UNSUB 99\r\n"},
		{name: "UNSUB non-numeric max", in: conn + "SUB foo 1\r\nUNSUB 1 x\r\n"},
		{name: "UNSUB negative max", in: conn + "SUB foo 1\r\nUNSUB 1 -1\r\n"},
		{name: "UNSUB zero max", in: conn + "SUB foo 1\r\nUNSUB 1 0\r\n"},
		{name: "UNSUB overflowing max", in: conn + "SUB foo 1\r\nUNSUB 1 99999999999999999999\r\n"},
		{name: "UNSUB extra arg", in: conn + "SUB foo 1\r\nUNSUB 1 2 3\r\n"},
		{name: "UNSUB lower", in: conn + "SUB foo 1\r\nunsub 1\r\n"},

		// CONNECT.
		{name: "CONNECT bare", in: "CONNECT\r\n"},
		{name: "CONNECT space only", in: "CONNECT \r\n"},
		{name: "CONNECT empty object", in: "CONNECT {}\r\n"},
		{name: "CONNECT broken JSON", in: "CONNECT {\r\n"},
		{name: "CONNECT array", in: "CONNECT []\r\n"},
		{name: "CONNECT trailing garbage", in: "CONNECT {} x\r\n"},
		{name: "CONNECT wrong type", in: "CONNECT {\"verbose\":\"yes\"}\r\n"},
		{name: "CONNECT protocol 2", in: "CONNECT {\"protocol\":2}\r\n"},
		{name: "CONNECT protocol -1", in: "CONNECT {\"protocol\":-1}\r\n"},
		{name: "CONNECT no_responders without headers", in: "CONNECT {\"no_responders\":true}\r\n"},
		{name: "CONNECT lower", in: "connect {}\r\n"},
		{name: "CONNECT twice", in: conn + conn},
		{name: "CONNECT long name within limit", in: "CONNECT {\"verbose\":false,\"name\":\"" + long(4000) + "\"}\r\n"},
		{name: "CONNECT 8 KiB name", in: "CONNECT {\"verbose\":false,\"name\":\"" + long(8192) + "\"}\r\n"},
		{name: "CONNECT NUL", in: "CONNECT {\"name\":\"\x00\"}\r\n"},

		// No CONNECT at all (telnet use): verbose and pedantic by default.
		{name: "no CONNECT PING", in: "PING\r\n"},
		{name: "no CONNECT SUB", in: "SUB foo 1\r\n"},
		{name: "no CONNECT PUB wildcard", in: "PUB foo.* 2\r\nhi\r\n"},

		// max_control_line.
		{name: "SUB line over limit", in: conn + "SUB " + long(5000) + " 1\r\n"},
		{name: "PUB line over limit", in: conn + "PUB " + long(5000) + " 2\r\nhi\r\n"},
		{name: "UNSUB line over limit", in: conn + "UNSUB " + long(5000) + "\r\n"},
		{name: "PING line over limit", in: conn + "PING " + long(5000) + "\r\n"},
		{name: "-ERR line over limit", in: conn + "-ERR '" + long(5000) + "'\r\n"},
		{name: "INFO line over limit", in: conn + "INFO {\"x\":\"" + long(5000) + "\"}\r\n"},
		{name: "SUB line at limit", in: conn + "SUB " + long(4094) + " 1\r\n"},
		{name: "SUB line one over limit", in: conn + "SUB " + long(4095) + " 1\r\n"},
		{name: "SUB line at limit without CR", in: conn + "SUB " + long(4095) + " 1\n"},
		{name: "PUB line at limit", in: conn + "PUB " + long(4094) + " 2\r\nhi\r\n"},
		{name: "CONNECT line at limit", in: "CONNECT {\"verbose\":false,\"name\":\"" + long(4096-31) + "\"}\r\nPING\r\n"},
		{name: "CONNECT line one over limit", in: "CONNECT {\"verbose\":false,\"name\":\"" + long(4096-30) + "\"}\r\nPING\r\n"},
		{name: "PING junk over limit", in: conn + "PING " + long(100000) + "\r\n"},
		{name: "configured limit", cfg: wireConfig{maxControlLine: 64}, in: conn[:0] + "CONNECT {}\r\nSUB " + long(100) + " 1\r\n"},
		{name: "partial SUB line", noProbe: true, in: conn + "SUB " + long(5000)},
		{name: "partial CONNECT line", noProbe: true, in: "CONNECT {\"name\":\"" + long(5000)},
		{name: "partial PUB line", noProbe: true, in: conn + "PUB " + long(5000)},

		{name: "partial UNSUB line", noProbe: true, in: conn + "UNSUB " + long(5000)},
		{name: "partial HPUB line", noProbe: true, in: conn + "HPUB " + long(5000)},
		{name: "partial -ERR line", noProbe: true, in: conn + "-ERR " + long(5000)},
		{name: "partial INFO line", noProbe: true, in: conn + "INFO " + long(5000)},
		{name: "partial CONNECT ending in CR", noProbe: true, in: "CONNECT {\"name\":\"" + long(5000) + "\r"},

		// Where an argument line starts and ends.
		{name: "SUB argument starts with LF", in: conn + "SUB \nfoo 1\r\nPUB foo 1\r\nx\r\n"},
		{name: "PUB argument starts with CR", in: conn + "PUB \r\n"},
		{name: "CONNECT argument starts with LF", in: "CONNECT\n{\"verbose\":false}\r\nPING\r\n"},
		{name: "CONNECT tab", in: "CONNECT\t{\"verbose\":false}\r\nPING\r\n"},
		{name: "CR inside SUB line", in: conn + "SUB foo\r 1\r\nPUB foo 1\r\nx\r\n"},
		{name: "UNSUB tab", in: conn + "SUB foo 1\r\nUNSUB\t1\r\nPUB foo 1\r\nx\r\n"},

		// Mixed case for every op.
		{name: "mixed case ops", in: "CoNnEcT {\"verbose\":false,\"headers\":true}\r\nsUb foo 1\r\npUb foo 1\r\nx\r\nhPuB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nUnSuB 1\r\npInG\r\nPoNg\r\n+ok\r\n"},
		{name: "-err lower", in: conn + "-err 'x'\r\n"},
		{name: "info lower", in: conn + "info {}\r\n"},

		// Sizes that lie, and what happens to the subscription.
		{name: "PUB size larger than payload", in: conn + "PUB foo 5\r\nhi\r\n"},
		{name: "HPUB payload longer than size", in: conn + "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhixx\r\n"},
		{name: "HPUB zero sizes", in: conn + "SUB foo 1\r\nHPUB foo 0 0\r\n\r\n"},
		{name: "HPUB header not NATS/1.0", in: conn + "SUB foo 1\r\nHPUB foo 2 4\r\nabcd\r\n"},
		{name: "PUB nine digit size over max payload", in: conn + "PUB foo 999999999\r\n"},
		{name: "PUB at max payload", in: conn + "SUB foo 1\r\nPUB foo 1048576\r\n" + long(1048576) + "\r\n"},
		{name: "UNSUB non-numeric max removes", in: conn + "SUB foo 1\r\nUNSUB 1 x\r\nPUB foo 1\r\nx\r\n"},
		{name: "UNSUB max 1", in: conn + "SUB foo 1\r\nUNSUB 1 1\r\nPUB foo 1\r\nx\r\nPUB foo 1\r\ny\r\n"},
		{name: "pedantic invalid subject still delivered", in: "CONNECT {\"verbose\":false,\"pedantic\":true}\r\nSUB foo.* 1\r\nPUB foo.* 1\r\nx\r\n"},
		{
			name: "pedantic invalid subject with a bad payload end",
			in:   "CONNECT {\"verbose\":false,\"pedantic\":true}\r\nPUB foo.* 2\r\nhi!!",
			differs: "busd checks a pedantic client's publish subject when the message is complete, " +
				"with the message, not when its PUB line is read: the parser stays free of client state " +
				"and PUB costs no extra call. Only a message whose payload is then malformed shows it: " +
				"nats-server has already sent 'Invalid Publish Subject', busd has not; both close.",
			busd: wireResult{out: "-ERR 'Unknown Protocol Operation'\r\n", closed: true},
		},
		{name: "verbose session", in: "CONNECT {\"verbose\":true}\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\nUNSUB 1\r\nUNSUB 1\r\nPING\r\nPING\r\n"},

		// Auth configured.
		{name: "auth blank line first", cfg: wireConfig{auth: true}, in: "\r\n"},
		{name: "auth lower connect", cfg: wireConfig{auth: true}, in: "connect {\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}\r\nPING\r\n"},
		{name: "auth no credentials", cfg: wireConfig{auth: true}, in: "CONNECT {}\r\n"},
		{name: "auth CONNECTX", cfg: wireConfig{auth: true}, in: "CONNECTX {}\r\n"},
		{name: "auth PING first", cfg: wireConfig{auth: true}, in: "PING\r\n"},
		{name: "auth SUB first", cfg: wireConfig{auth: true}, in: "SUB foo 1\r\n"},
		{name: "auth unknown op first", cfg: wireConfig{auth: true}, in: "FOO\r\n"},
		{name: "auth wrong password", cfg: wireConfig{auth: true}, in: "CONNECT {\"user\":\"u\",\"pass\":\"x\"}\r\n"},
		{name: "auth right password", cfg: wireConfig{auth: true}, in: "CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}\r\nPING\r\n"},
		{name: "auth broken CONNECT", cfg: wireConfig{auth: true}, in: "CONNECT {\r\n"},
		{name: "auth CONNECT over limit", cfg: wireConfig{auth: true}, in: "CONNECT {\"user\":\"u\",\"pass\":\"p\",\"name\":\"" + long(8192) + "\"}\r\n"},
		{name: "auth partial CONNECT", cfg: wireConfig{auth: true}, noProbe: true, in: "CONNECT {\"name\":\"" + long(5000)},
	}
	runWireCases(t, cases)
}
