/*
 * compat.c checks that the official NATS C client (libnats 3.x) works against
 * the server at NATS_URL. compat/compat_test.go builds it with
 *
 *     gcc compat/c/compat.c -lnats -lpthread -o compat-c
 *
 * and runs it against busd and against nats-server, the reference, so every
 * check is known to hold there too.
 *
 * It prints one line per check, "ok <name>" or "FAIL <name>: <why>", and exits
 * 0 only when every check passed. Messages from one connection reach another in
 * the order they were published, so the checks wait for a sentinel message (or
 * a flush) instead of sleeping to decide that nothing else will arrive.
 */
#include <nats/nats.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_MS 5000 /* longest wait for any one message or reply */
#define MIB (1024 * 1024)

static const char *url;
static char why[1024]; /* why the current check failed */

/* fail records why the current check failed and returns 1. */
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return 1;
}

/* nfail records a failed libnats call with its status and the library's detail. */
static int nfail(const char *what, natsStatus s)
{
    const char *detail = nats_GetLastError(NULL);
    return fail("%s: %s (%d)%s%s", what, natsStatus_GetText(s), (int) s,
                detail && *detail ? ": " : "", detail ? detail : "");
}

#define TRY(what, call)                          \
    do {                                         \
        natsStatus s_ = (call);                  \
        if (s_ != NATS_OK) return nfail(what, s_); \
    } while (0)

static natsStatus open_conn(natsConnection **nc, const char *name)
{
    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK) s = natsOptions_SetURL(o, url);
    if (s == NATS_OK) s = natsOptions_SetName(o, name);
    if (s == NATS_OK) s = natsOptions_SetAllowReconnect(o, false);
    if (s == NATS_OK) s = natsOptions_SetTimeout(o, 3000);
    if (s == NATS_OK) s = natsConnection_Connect(nc, o);
    natsOptions_Destroy(o);
    return s;
}

/* expect_next reads the next message of sub and compares its subject and data. */
static int expect_next(natsSubscription *sub, const char *subj, const char *data)
{
    natsMsg *m = NULL;
    natsStatus s = natsSubscription_NextMsg(&m, sub, WAIT_MS);
    if (s != NATS_OK) return nfail(subj ? subj : data, s);
    int bad = 0;
    if (subj && strcmp(natsMsg_GetSubject(m), subj) != 0)
        bad = fail("got subject %s, want %s", natsMsg_GetSubject(m), subj);
    else if (data && (natsMsg_GetDataLength(m) != (int) strlen(data) ||
                      memcmp(natsMsg_GetData(m), data, strlen(data)) != 0))
        bad = fail("got data %.*s, want %s", natsMsg_GetDataLength(m), natsMsg_GetData(m), data);
    natsMsg_Destroy(m);
    return bad;
}

static natsConnection *pub, *sub; /* shared by the simpler checks */

static int check_connect(char *note)
{
    (void) note;
    TRY("connect pub", open_conn(&pub, "compat-c-pub"));
    TRY("connect sub", open_conn(&sub, "compat-c-sub"));
    TRY("header support", natsConnection_HasHeaderSupport(pub));
    return 0;
}

static int check_max_payload(char *note)
{
    int64_t mp = natsConnection_GetMaxPayload(pub);
    sprintf(note, "max_payload=%lld", (long long) mp);
    if (mp < MIB) return fail("max_payload=%lld, want at least %d", (long long) mp, MIB);
    return 0;
}

static int check_flush(char *note)
{
    /* A connection's own messages come back before the PONG that ends its flush. */
    (void) note;
    natsSubscription *s = NULL;
    TRY("subscribe", natsConnection_SubscribeSync(&s, pub, "compat.flush"));
    for (int i = 0; i < 1000; i++) TRY("publish", natsConnection_PublishString(pub, "compat.flush", "x"));
    TRY("flush", natsConnection_FlushTimeout(pub, WAIT_MS));
    int msgs = 0, bytes = 0;
    TRY("pending", natsSubscription_GetPending(s, &msgs, &bytes));
    natsSubscription_Destroy(s);
    if (msgs != 1000) return fail("%d of 1000 own messages delivered before the flush returned", msgs);
    return 0;
}

static int check_pubsub(char *note)
{
    (void) note;
    natsSubscription *s = NULL;
    const char *want[] = {"one", "two", "three"};
    TRY("subscribe", natsConnection_SubscribeSync(&s, sub, "compat.ps"));
    TRY("flush", natsConnection_FlushTimeout(sub, WAIT_MS));
    for (int i = 0; i < 3; i++) TRY("publish", natsConnection_PublishString(pub, "compat.ps", want[i]));
    int bad = 0;
    for (int i = 0; i < 3 && !bad; i++) bad = expect_next(s, "compat.ps", want[i]);
    natsSubscription_Destroy(s);
    return bad;
}

/* wildcard subscribes to pattern, publishes every subject in order and expects
 * exactly the matching ones; non-matching subjects come first, so a wrong
 * delivery would be read before the right ones. */
static int wildcard(const char *pattern, const char **pubs, int npubs, const char **want, int nwant)
{
    natsSubscription *s = NULL;
    TRY("subscribe", natsConnection_SubscribeSync(&s, sub, pattern));
    TRY("flush", natsConnection_FlushTimeout(sub, WAIT_MS));
    for (int i = 0; i < npubs; i++) TRY("publish", natsConnection_PublishString(pub, pubs[i], pubs[i]));
    int bad = 0;
    for (int i = 0; i < nwant && !bad; i++) bad = expect_next(s, want[i], want[i]);
    natsSubscription_Destroy(s);
    return bad;
}

static int check_wildcard_star(char *note)
{
    (void) note;
    const char *pubs[] = {"compat.wc.a.b", "compat.wc", "compat.wc.x", "compat.wc.y"};
    const char *want[] = {"compat.wc.x", "compat.wc.y"};
    return wildcard("compat.wc.*", pubs, 4, want, 2);
}

static int check_wildcard_gt(char *note)
{
    (void) note;
    const char *pubs[] = {"compat.fw", "compat.other.a", "compat.fw.a", "compat.fw.a.b.c"};
    const char *want[] = {"compat.fw.a", "compat.fw.a.b.c"};
    return wildcard("compat.fw.>", pubs, 4, want, 2);
}

#define QN 200

static int check_queue(char *note)
{
    /* Two members on two connections; each also has a plain subscription to a
     * sentinel published last: once both read it, every queue message has been
     * queued to its member, so the pending counts are final. */
    natsConnection *m[2] = {NULL, NULL};
    natsSubscription *q[2] = {NULL, NULL}, *done[2] = {NULL, NULL};
    int seen[QN] = {0}, got[2] = {0, 0};
    int bad = 0;
    for (int i = 0; i < 2 && !bad; i++) {
        natsStatus s = open_conn(&m[i], i == 0 ? "compat-c-q1" : "compat-c-q2");
        if (s == NATS_OK) s = natsConnection_QueueSubscribeSync(&q[i], m[i], "compat.q", "workers");
        if (s == NATS_OK) s = natsConnection_SubscribeSync(&done[i], m[i], "compat.q.done");
        if (s == NATS_OK) s = natsConnection_FlushTimeout(m[i], WAIT_MS);
        if (s != NATS_OK) bad = nfail("member", s);
    }
    for (int i = 0; i < QN && !bad; i++) {
        char buf[16];
        snprintf(buf, sizeof(buf), "%d", i);
        natsStatus s = natsConnection_PublishString(pub, "compat.q", buf);
        if (s != NATS_OK) bad = nfail("publish", s);
    }
    if (!bad) {
        natsStatus s = natsConnection_PublishString(pub, "compat.q.done", "");
        if (s != NATS_OK) bad = nfail("publish sentinel", s);
    }
    for (int i = 0; i < 2 && !bad; i++) bad = expect_next(done[i], "compat.q.done", NULL);
    for (int i = 0; i < 2 && !bad; i++) {
        int msgs = 0, bytes = 0;
        natsStatus s = natsSubscription_GetPending(q[i], &msgs, &bytes);
        if (s != NATS_OK) { bad = nfail("pending", s); break; }
        for (int k = 0; k < msgs && !bad; k++) {
            natsMsg *msg = NULL;
            s = natsSubscription_NextMsg(&msg, q[i], WAIT_MS);
            if (s != NATS_OK) { bad = nfail("next", s); break; }
            int n = atoi(natsMsg_GetData(msg));
            if (n >= 0 && n < QN) seen[n]++;
            got[i]++;
            natsMsg_Destroy(msg);
        }
    }
    for (int i = 0; i < QN && !bad; i++)
        if (seen[i] != 1) bad = fail("message %d delivered %d times to the group", i, seen[i]);
    if (!bad && got[0] + got[1] != QN) bad = fail("group received %d messages, want %d", got[0] + got[1], QN);
    if (!bad && (got[0] == 0 || got[1] == 0)) bad = fail("one member got everything (%d/%d)", got[0], got[1]);
    sprintf(note, "split %d/%d", got[0], got[1]);
    for (int i = 0; i < 2; i++) {
        natsSubscription_Destroy(q[i]);
        natsSubscription_Destroy(done[i]);
        natsConnection_Destroy(m[i]);
    }
    return bad;
}

/* echo replies with the request's data in upper case. */
static void echo(natsConnection *nc, natsSubscription *s, natsMsg *msg, void *closure)
{
    (void) s; (void) closure;
    char buf[64];
    int n = natsMsg_GetDataLength(msg);
    if (n >= (int) sizeof(buf)) n = sizeof(buf) - 1;
    for (int i = 0; i < n; i++) {
        char c = natsMsg_GetData(msg)[i];
        buf[i] = (c >= 'a' && c <= 'z') ? (char) (c - 'a' + 'A') : c;
    }
    if (natsMsg_GetReply(msg)) natsConnection_Publish(nc, natsMsg_GetReply(msg), buf, n);
    natsMsg_Destroy(msg);
}

static int check_request(char *note)
{
    (void) note;
    natsSubscription *s = NULL;
    TRY("subscribe", natsConnection_Subscribe(&s, sub, "compat.echo", echo, NULL));
    TRY("flush", natsConnection_FlushTimeout(sub, WAIT_MS));
    int bad = 0;
    for (int i = 0; i < 10 && !bad; i++) {
        char req[32], want[32];
        snprintf(req, sizeof(req), "word%d", i);
        snprintf(want, sizeof(want), "WORD%d", i);
        natsMsg *r = NULL;
        natsStatus st = natsConnection_Request(&r, pub, "compat.echo", req, (int) strlen(req), WAIT_MS);
        if (st != NATS_OK) { bad = nfail("request", st); break; }
        if (natsMsg_GetDataLength(r) != (int) strlen(want) || memcmp(natsMsg_GetData(r), want, strlen(want)) != 0)
            bad = fail("reply %d is %.*s, want %s", i, natsMsg_GetDataLength(r), natsMsg_GetData(r), want);
        natsMsg_Destroy(r);
    }
    natsSubscription_Destroy(s);
    return bad;
}

/* echo_headers replies with the request's data and headers plus X-Replied. */
static void echo_headers(natsConnection *nc, natsSubscription *s, natsMsg *msg, void *closure)
{
    (void) s; (void) closure;
    natsMsg *r = NULL;
    const char *reply = natsMsg_GetReply(msg);
    if (reply && natsMsg_Create(&r, reply, NULL, natsMsg_GetData(msg), natsMsg_GetDataLength(msg)) == NATS_OK) {
        const char **keys = NULL;
        int nkeys = 0;
        if (natsMsgHeader_Keys(msg, &keys, &nkeys) == NATS_OK) {
            for (int k = 0; k < nkeys; k++) {
                const char **vals = NULL;
                int nvals = 0;
                if (natsMsgHeader_Values(msg, keys[k], &vals, &nvals) != NATS_OK) continue;
                for (int v = 0; v < nvals; v++) natsMsgHeader_Add(r, keys[k], vals[v]);
                free((void *) vals);
            }
            free((void *) keys);
        }
        natsMsgHeader_Set(r, "X-Replied", "yes");
        natsConnection_PublishMsg(nc, r);
        natsMsg_Destroy(r);
    }
    natsMsg_Destroy(msg);
}

static int check_headers(char *note)
{
    /* A request carries multi-value headers to the responder, which sends them
     * back with one of its own; both directions are compared. */
    (void) note;
    natsSubscription *s = NULL;
    natsMsg *req = NULL, *r = NULL;
    TRY("subscribe", natsConnection_Subscribe(&s, sub, "compat.hdr", echo_headers, NULL));
    TRY("flush", natsConnection_FlushTimeout(sub, WAIT_MS));
    TRY("create", natsMsg_Create(&req, "compat.hdr", NULL, "body", 4));
    TRY("add", natsMsgHeader_Add(req, "X-Multi", "a"));
    TRY("add", natsMsgHeader_Add(req, "X-Multi", "b c"));
    TRY("add", natsMsgHeader_Add(req, "X-Multi", "d"));
    TRY("set", natsMsgHeader_Set(req, "X-One", "1"));
    natsStatus st = natsConnection_RequestMsg(&r, pub, req, WAIT_MS);
    natsMsg_Destroy(req);
    natsSubscription_Destroy(s);
    if (st != NATS_OK) return nfail("request", st);

    int bad = 0;
    const char **vals = NULL, *v = NULL;
    int n = 0;
    st = natsMsgHeader_Values(r, "X-Multi", &vals, &n);
    if (st != NATS_OK) bad = nfail("X-Multi", st);
    else if (n != 3 || strcmp(vals[0], "a") || strcmp(vals[1], "b c") || strcmp(vals[2], "d"))
        bad = fail("X-Multi has %d values: %s, ...", n, n > 0 ? vals[0] : "");
    free((void *) vals);
    if (!bad && (st = natsMsgHeader_Get(r, "X-One", &v)) != NATS_OK) bad = nfail("X-One", st);
    else if (!bad && strcmp(v, "1") != 0) bad = fail("X-One=%s", v);
    if (!bad && (st = natsMsgHeader_Get(r, "X-Replied", &v)) != NATS_OK) bad = nfail("X-Replied", st);
    else if (!bad && strcmp(v, "yes") != 0) bad = fail("X-Replied=%s", v);
    if (!bad && (natsMsg_GetDataLength(r) != 4 || memcmp(natsMsg_GetData(r), "body", 4) != 0))
        bad = fail("body=%.*s", natsMsg_GetDataLength(r), natsMsg_GetData(r));
    natsMsg_Destroy(r);
    return bad;
}

static int check_no_responders(char *note)
{
    /* The server must answer at once with a 503 status; a timeout is a failure. */
    natsMsg *r = NULL;
    int64_t t0 = nats_Now();
    natsStatus st = natsConnection_RequestString(&r, pub, "compat.nobody.home", "?", 4000);
    int64_t ms = nats_Now() - t0;
    natsMsg_Destroy(r);
    sprintf(note, "%lldms", (long long) ms);
    if (st == NATS_OK) return fail("request to a subject with no subscribers succeeded");
    if (st != NATS_NO_RESPONDERS)
        return fail("status %s (%d), want NATS_NO_RESPONDERS", natsStatus_GetText(st), (int) st);
    if (ms >= 2000) return fail("no-responders took %lldms", (long long) ms);
    return 0;
}

static int check_big(char *note)
{
    (void) note;
    char *big = malloc(MIB);
    if (!big) return fail("out of memory");
    for (int i = 0; i < MIB; i++) big[i] = (char) ((i * 31 + 7) & 0xff);
    natsSubscription *s = NULL;
    natsMsg *m = NULL;
    int bad = 0;
    natsStatus st = natsConnection_SubscribeSync(&s, sub, "compat.big");
    if (st == NATS_OK) st = natsConnection_FlushTimeout(sub, WAIT_MS);
    if (st == NATS_OK) st = natsConnection_Publish(pub, "compat.big", big, MIB);
    if (st == NATS_OK) st = natsSubscription_NextMsg(&m, s, WAIT_MS);
    if (st != NATS_OK) bad = nfail("1 MiB round trip", st);
    else if (natsMsg_GetDataLength(m) != MIB) bad = fail("got %d bytes, want %d", natsMsg_GetDataLength(m), MIB);
    else if (memcmp(natsMsg_GetData(m), big, MIB) != 0) bad = fail("payload differs");
    natsMsg_Destroy(m);
    natsSubscription_Destroy(s);
    free(big);
    return bad;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int drained_msgs;
static int drain_closed;

static void count(natsConnection *nc, natsSubscription *s, natsMsg *msg, void *closure)
{
    (void) nc; (void) s; (void) closure;
    pthread_mutex_lock(&mu);
    drained_msgs++;
    pthread_mutex_unlock(&mu);
    natsMsg_Destroy(msg);
}

static void on_closed(natsConnection *nc, void *closure)
{
    (void) nc; (void) closure;
    pthread_mutex_lock(&mu);
    drain_closed = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&mu);
}

#define DN 100

static int check_drain(char *note)
{
    /* Messages already on their way when drain starts are all handled, then the
     * connection closes. */
    (void) note;
    natsOptions *o = NULL;
    natsConnection *nc = NULL;
    natsSubscription *s = NULL;
    TRY("options", natsOptions_Create(&o));
    natsStatus st = natsOptions_SetURL(o, url);
    if (st == NATS_OK) st = natsOptions_SetAllowReconnect(o, false);
    if (st == NATS_OK) st = natsOptions_SetClosedCB(o, on_closed, NULL);
    if (st == NATS_OK) st = natsConnection_Connect(&nc, o);
    natsOptions_Destroy(o);
    if (st != NATS_OK) return nfail("connect", st);
    int bad = 0;
    st = natsConnection_Subscribe(&s, nc, "compat.drain", count, NULL);
    if (st == NATS_OK) st = natsConnection_FlushTimeout(nc, WAIT_MS);
    for (int i = 0; i < DN && st == NATS_OK; i++) st = natsConnection_PublishString(pub, "compat.drain", "x");
    if (st == NATS_OK) st = natsConnection_FlushTimeout(pub, WAIT_MS);
    if (st == NATS_OK) st = natsConnection_DrainTimeout(nc, WAIT_MS);
    if (st != NATS_OK) bad = nfail("drain", st);

    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&mu);
    int rc = 0;
    while (!bad && !drain_closed && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&cond, &mu, &until);
    int closed = drain_closed, n = drained_msgs;
    pthread_mutex_unlock(&mu);
    if (!bad && !closed) bad = fail("connection not closed %dms after drain started", WAIT_MS);
    if (!bad && n != DN) bad = fail("%d of %d messages handled by the drained subscription", n, DN);
    if (!bad && !natsConnection_IsClosed(nc)) bad = fail("closed callback ran but the connection is not closed");
    natsSubscription_Destroy(s);
    natsConnection_Destroy(nc);
    return bad;
}

struct check {
    const char *name;
    int (*fn)(char *note);
};

int main(void)
{
    url = getenv("NATS_URL");
    if (!url || !*url) {
        fprintf(stderr, "compat.c: NATS_URL is not set\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct check checks[] = {
        {"connect", check_connect},
        {"max_payload", check_max_payload},
        {"flush", check_flush},
        {"pubsub", check_pubsub},
        {"wildcard *", check_wildcard_star},
        {"wildcard >", check_wildcard_gt},
        {"queue group", check_queue},
        {"request/reply", check_request},
        {"headers", check_headers},
        {"no responders", check_no_responders},
        {"1 MiB message", check_big},
        {"drain", check_drain},
    };
    int n = (int) (sizeof(checks) / sizeof(checks[0])), failed = 0;
    for (int i = 0; i < n; i++) {
        char note[128] = "";
        why[0] = 0;
        if (checks[i].fn(note) == 0) {
            printf(note[0] ? "ok %s (%s)\n" : "ok %s\n", checks[i].name, note);
            continue;
        }
        failed++;
        printf("FAIL %s: %s\n", checks[i].name, why);
        if (i == 0) break; /* nothing else can run without a connection */
    }
    natsConnection_Destroy(pub);
    natsConnection_Destroy(sub);
    nats_CloseAndWait(2000);
    if (failed) printf("FAIL %d of %d checks\n", failed, n);
    else printf("PASS %d checks\n", n);
    return failed ? 1 : 0;
}
