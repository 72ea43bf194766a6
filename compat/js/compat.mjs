// compat.mjs checks that the official nats.js client (npm "nats", v2) works
// against the server at NATS_URL. compat/compat_test.go runs it against busd and
// against nats-server, the reference, so every check is known to hold there too.
//
// It prints one line per check, "ok <name>" or "FAIL <name>: <why>", and exits 0
// only when every check passed. Messages from one connection reach another in
// the order they were published, so the checks wait for a sentinel message (or a
// flush) instead of sleeping to decide that nothing else will arrive.
//
//	NATS_URL=nats://127.0.0.1:4222 node compat/js/compat.mjs

import { connect, headers, StringCodec, ErrorCode } from "nats";

const url = process.env.NATS_URL;
if (!url) {
  console.error("compat.mjs: NATS_URL is not set");
  process.exit(2);
}

const sc = StringCodec();
const CHECK_MS = 5000; // a check that takes longer than this failed
const MiB = 1024 * 1024;

// The whole run is bounded even if a check hangs in a way its own timer misses.
setTimeout(() => {
  console.log("FAIL run: did not finish in 30s");
  process.exit(3);
}, 30000).unref();

const conns = [];
async function open(name) {
  const nc = await connect({ servers: url, name: `compat-js-${name}`, reconnect: false, timeout: 3000 });
  conns.push(nc);
  return nc;
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

function withTimeout(p, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms}ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

// collect resolves with the first n messages of sub (their subject and data).
async function collect(sub, n) {
  const got = [];
  if (n === 0) return got;
  for await (const m of sub) {
    got.push({ subject: m.subject, data: sc.decode(m.data) });
    if (got.length === n) break;
  }
  return got;
}

const checks = [];
function check(name, fn) {
  checks.push({ name, fn });
}

let pub, sub; // two connections shared by the simpler checks

check("connect", async () => {
  pub = await open("pub");
  sub = await open("sub");
  assert(pub.info && typeof pub.info.server_id === "string", "no server INFO on the connection");
  assert(pub.info.headers === true, `server INFO headers=${pub.info.headers}, want true`);
});

check("max_payload", async () => {
  const mp = pub.info.max_payload;
  assert(Number.isInteger(mp) && mp > 0, `max_payload=${mp}`);
  assert(mp >= MiB, `max_payload=${mp}, want at least ${MiB} for the 1 MiB check`);
  return `max_payload=${mp}`;
});

check("flush", async () => {
  // A connection's own messages come back before the PONG that ends its flush.
  const nc = await open("flush");
  let n = 0;
  nc.subscribe("compat.flush", { callback: () => n++ });
  for (let i = 0; i < 1000; i++) nc.publish("compat.flush", sc.encode(String(i)));
  await nc.flush();
  assert(n === 1000, `${n} of 1000 own messages delivered before the flush returned`);
});

check("pubsub", async () => {
  const s = sub.subscribe("compat.ps");
  await sub.flush();
  const want = ["one", "two", "three"];
  for (const w of want) pub.publish("compat.ps", sc.encode(w));
  const got = await collect(s, want.length);
  assert(JSON.stringify(got.map((m) => m.data)) === JSON.stringify(want), `got ${JSON.stringify(got)}`);
  s.unsubscribe();
});

check("wildcard *", async () => {
  const s = sub.subscribe("compat.wc.*");
  await sub.flush();
  // The first two must not match; had they been delivered they would come first.
  for (const subj of ["compat.wc.a.b", "compat.wc", "compat.wc.x", "compat.wc.y"]) {
    pub.publish(subj, sc.encode(subj));
  }
  const got = (await collect(s, 2)).map((m) => m.subject);
  assert(JSON.stringify(got) === JSON.stringify(["compat.wc.x", "compat.wc.y"]), `got ${JSON.stringify(got)}`);
  s.unsubscribe();
});

check("wildcard >", async () => {
  const s = sub.subscribe("compat.fw.>");
  await sub.flush();
  for (const subj of ["compat.fw", "compat.other.a", "compat.fw.a", "compat.fw.a.b.c"]) {
    pub.publish(subj, sc.encode(subj));
  }
  const got = (await collect(s, 2)).map((m) => m.subject);
  assert(JSON.stringify(got) === JSON.stringify(["compat.fw.a", "compat.fw.a.b.c"]), `got ${JSON.stringify(got)}`);
  s.unsubscribe();
});

check("queue group", async () => {
  // Two members on two connections; each also has a plain subscription to a
  // sentinel published last, so once both saw it no queue message is in flight.
  const N = 200;
  const members = [await open("q1"), await open("q2")];
  const seen = [new Map(), new Map()];
  const done = members.map(
    (nc, i) =>
      new Promise((resolve) => {
        nc.subscribe("compat.q", {
          queue: "workers",
          callback: (_, m) => {
            const k = sc.decode(m.data);
            seen[i].set(k, (seen[i].get(k) ?? 0) + 1);
          },
        });
        nc.subscribe("compat.q.done", { callback: () => resolve() });
      }),
  );
  await Promise.all(members.map((nc) => nc.flush()));
  for (let i = 0; i < N; i++) pub.publish("compat.q", sc.encode(String(i)));
  pub.publish("compat.q.done");
  await Promise.all(done);
  for (let i = 0; i < N; i++) {
    const k = String(i);
    const c = (seen[0].get(k) ?? 0) + (seen[1].get(k) ?? 0);
    assert(c === 1, `message ${k} delivered ${c} times to the group`);
  }
  const total = seen[0].size + seen[1].size;
  assert(total === N, `group received ${total} distinct messages, want ${N}`);
  assert(seen[0].size > 0 && seen[1].size > 0, `one member got everything (${seen[0].size}/${seen[1].size})`);
  return `split ${seen[0].size}/${seen[1].size}`;
});

check("request/reply", async () => {
  const srv = sub.subscribe("compat.echo", {
    callback: (_, m) => m.respond(sc.encode(sc.decode(m.data).toUpperCase())),
  });
  await sub.flush();
  const words = Array.from({ length: 10 }, (_, i) => `word${i}`);
  const replies = await Promise.all(words.map((w) => pub.request("compat.echo", sc.encode(w), { timeout: 3000 })));
  replies.forEach((r, i) => {
    const got = sc.decode(r.data);
    assert(got === words[i].toUpperCase(), `reply ${i} is ${JSON.stringify(got)}`);
  });
  srv.unsubscribe();
});

check("headers", async () => {
  // A request carries multi-value headers to the responder, which sends them back
  // with one of its own; both directions are compared.
  const srv = sub.subscribe("compat.hdr", {
    callback: (_, m) => {
      const h = headers();
      if (m.headers) for (const [k, vs] of m.headers) for (const v of vs) h.append(k, v);
      h.set("X-Replied", "yes");
      m.respond(m.data, { headers: h });
    },
  });
  await sub.flush();
  const h = headers();
  h.append("X-Multi", "a");
  h.append("X-Multi", "b c");
  h.append("X-Multi", "d");
  h.set("X-One", "1");
  const r = await pub.request("compat.hdr", sc.encode("body"), { headers: h, timeout: 3000 });
  assert(r.headers, "reply has no headers");
  const multi = r.headers.values("X-Multi");
  assert(JSON.stringify(multi) === JSON.stringify(["a", "b c", "d"]), `X-Multi=${JSON.stringify(multi)}`);
  assert(r.headers.get("X-One") === "1", `X-One=${JSON.stringify(r.headers.get("X-One"))}`);
  assert(r.headers.get("X-Replied") === "yes", `X-Replied=${JSON.stringify(r.headers.get("X-Replied"))}`);
  assert(sc.decode(r.data) === "body", `body=${JSON.stringify(sc.decode(r.data))}`);
  srv.unsubscribe();
});

check("no responders", async () => {
  // The server must answer at once with a 503 status; a timeout is a failure.
  const t0 = Date.now();
  let err;
  try {
    await pub.request("compat.nobody.home", sc.encode("?"), { timeout: 4000 });
  } catch (e) {
    err = e;
  }
  const ms = Date.now() - t0;
  assert(err, "request to a subject with no subscribers succeeded");
  assert(err.code === ErrorCode.NoResponders, `error code ${JSON.stringify(err.code)} (${err.message}), want "503"`);
  assert(ms < 2000, `no-responders took ${ms}ms`);
  return `${ms}ms`;
});

check("1 MiB message", async () => {
  const big = new Uint8Array(MiB);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
  const s = sub.subscribe("compat.big", { max: 1 });
  await sub.flush();
  pub.publish("compat.big", big);
  let got;
  for await (const m of s) got = m.data;
  assert(got, "no message");
  assert(got.length === big.length, `got ${got.length} bytes, want ${big.length}`);
  for (let i = 0; i < big.length; i++) {
    if (got[i] !== big[i]) throw new Error(`byte ${i} differs`);
  }
});

check("drain", async () => {
  // Messages already on their way when drain starts are all handled, then the
  // connection closes cleanly.
  const N = 100;
  const nc = await open("drain");
  let n = 0;
  nc.subscribe("compat.drain", {
    callback: () => {
      n++;
    },
  });
  await nc.flush();
  for (let i = 0; i < N; i++) pub.publish("compat.drain", sc.encode(String(i)));
  await pub.flush();
  await nc.drain();
  assert(nc.isClosed(), "connection not closed after drain");
  const err = await nc.closed();
  assert(!err, `closed with error: ${err}`);
  assert(n === N, `${n} of ${N} messages handled by the drained subscription`);
});

let failed = 0;
for (const { name, fn } of checks) {
  try {
    const note = await withTimeout(fn(), CHECK_MS, name);
    console.log(note ? `ok ${name} (${note})` : `ok ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.message ? e.message : e}`);
    if (name === "connect") break; // nothing else can run
  }
}

await Promise.allSettled(conns.filter((nc) => !nc.isClosed()).map((nc) => nc.close()));
console.log(failed === 0 ? `PASS ${checks.length} checks` : `FAIL ${failed} of ${checks.length} checks`);
process.exit(failed === 0 ? 0 : 1);
