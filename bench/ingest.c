/*
 * ingest.c - how fast doctord takes in output, measured against a reader that
 * does nothing but read.
 *
 * One payload (a training script's log: progress bars redrawn with \r, ANSI
 * colours, a traceback that recurs every ~2000 lines and three distinct ones)
 * is generated in memory before anything is timed. Each run then sends it
 * three ways over a Unix socket, timing from the first payload byte to the
 * receiver's acknowledgement:
 *
 *   baseline  a child process (this program re-executed with --reader) that
 *             read()s into 64 KiB and discards, then writes one byte back;
 *   raw       a fresh doctord, a source opened with "raw": true, the bytes as
 *             they are, EOF, until the source.closed notification;
 *   json      the same doctord, a JSON-mode source, the payload as
 *             source.write notifications of ~16 KiB of text each (encoded
 *             before timing), then source.close, until its reply.
 *
 * raw/baseline is the price of doctord's line assembly, detection and store
 * over the bare socket; json/raw adds the cost of the protocol. Memory is
 * the daemon's VmRSS when it first sits idle and after the runs, next to the
 * baseline reader's for scale. The incidents doctord reports must not be
 * zero: a daemon that skipped detection would look fast and prove nothing.
 *
 * Every child is tracked and killed on any failure, and the temporary
 * directory (sockets, databases) is removed on every exit path.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench_util.h"

#define MIB (1024.0 * 1024.0)
#define READ_CHUNK (64 * 1024)          /* the baseline reader's buffer */
#define JSON_TEXT_CHUNK (16 * 1024)     /* payload text per source.write */
#define MAX_RUNS 100
#define MAX_MIB 4096
#define DISTINCT_RARE 3                 /* tracebacks that occur once each */

enum mode { MODE_BASELINE, MODE_RAW, MODE_JSON, N_MODES };
static const char *const mode_names[N_MODES] = { "baseline", "raw", "json" };

struct options {
	const char *doctord;    /* borrowed from argv */
	const char *reader;     /* internal: act as the baseline reader on this path */
	unsigned mib;
	unsigned runs;
	bool json;
	bool baseline_only;
};

/* A growable byte buffer; p is owned. */
struct buf {
	char *p;
	size_t len, cap;
};

struct payload {
	struct buf bytes;
	size_t lines;           /* newline-terminated lines */
	size_t tracebacks;      /* all of them, recurring and rare */
	size_t distinct;        /* incidents a correct detector makes of them */
	double generated_in;    /* seconds */
};

struct run_result {
	double seconds[N_MODES];
	size_t incidents[N_MODES];      /* as reported by doctord (raw, json) */
	size_t json_wire_bytes;         /* the payload as source.write messages */
	long reader_idle_kib, reader_after_kib;
	long daemon_idle_kib, daemon_after_kib;
};



static int buf_reserve(struct buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int buf_add(struct buf *b, const char *s, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -ENOMEM;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

__attribute__((format(printf, 2, 3)))
static int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (int attempt = 0; attempt < 2; attempt++) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -EINVAL;
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return 0;
		}
		if (buf_reserve(b, (size_t)n + 1) < 0)
			return -ENOMEM;
	}
	return -ENOMEM;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------ payload
 *
 * A deterministic generator (fixed seed), so every run and every machine
 * sends the same bytes.
 */

struct gen {
	struct buf *out;        /* borrowed */
	uint64_t rng;
	size_t lines;
	size_t next_recurring;  /* line count at which the recurring traceback comes */
	size_t recurring, rare;
	double clock;           /* seconds since the script started */
	unsigned epoch, step;
};

static uint64_t rnd_next(struct gen *g)
{
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 2685821657736338717ULL;
}

/* Uniform in [lo, hi]. */
static unsigned rnd(struct gen *g, unsigned lo, unsigned hi)
{
	return lo + (unsigned)(rnd_next(g) % ((uint64_t)hi - lo + 1));
}

static double rnd_unit(struct gen *g)
{
	return (double)(rnd_next(g) >> 11) * 0x1.0p-53;
}

/* "INFO  2024-05-14 09:12:33,120 " with the level coloured like Python's
 * coloured logging handlers do. */
static int gen_prefix(struct gen *g, const char *colour, const char *level)
{
	unsigned t, ms;

	g->clock += rnd(g, 1, 40) / 1000.0;
	t = (unsigned)g->clock;
	ms = (unsigned)((g->clock - t) * 1000);
	return buf_printf(g->out, "%s%-5s\x1b[0m 2024-05-14 %02u:%02u:%02u,%03u ", colour, level,
	                  (9 + t / 3600) % 24, t / 60 % 60, t % 60, ms);
}

static int gen_step_line(struct gen *g)
{
	double loss = 2.5 / (1.0 + g->step / 400.0) + rnd_unit(g) * 0.05;
	int rc;

	g->step++;
	if (g->step % 5000 == 0)
		g->epoch++;
	if ((rc = gen_prefix(g, "\x1b[32m", "INFO")) < 0)
		return rc;
	rc = buf_printf(g->out, "[train.py:214] epoch %u step %u/5000 loss=%.4f lr=%.2e grad_norm=%.3f",
	                g->epoch, g->step % 5000, loss, 3e-4 * (1.0 - (g->step % 5000) / 5000.0),
	                0.5 + rnd_unit(g) * 2.0);
	if (rc == 0 && rnd(g, 0, 2) == 0)
		rc = buf_printf(g->out, " tok/s=%.1f mem=%.2fGiB", 28000 + rnd_unit(g) * 4000,
		                17.0 + rnd_unit(g));
	return rc < 0 ? rc : buf_add(g->out, "\n", 1);
}

static int gen_debug_line(struct gen *g)
{
	int rc = gen_prefix(g, "\x1b[2m", "DEBUG");

	if (rc < 0)
		return rc;
	return buf_printf(g->out, "[dataloader.py:77] worker %u prefetched batch %u in %.1f ms (queue %u/8)\n",
	                  rnd(g, 0, 7), g->step + rnd(g, 1, 8), 2.0 + rnd_unit(g) * 40.0, rnd(g, 0, 8));
}

/* None of these lines is indented: right after a traceback, doctord reads an
 * indented line as more of the exception's message (multi-line messages,
 * Ray's remote tracebacks), which would split the recurring incident. */
static int gen_short_line(struct gen *g)
{
	switch (rnd(g, 0, 4)) {
	case 0:
		return buf_add(g->out, "\n", 1);
	case 1:
		return buf_printf(g->out, "Saving checkpoint to checkpoints/epoch_%03u_step_%06u.pt\n",
		                  g->epoch, g->step);
	case 2:
		return buf_printf(g->out, "Checkpoint saved (%.2f GiB)\n", 1.5 + rnd_unit(g));
	case 3:
		return buf_add(g->out, "=> running validation\n", 22);
	default:
		return buf_printf(g->out, "val/acc@1 %.3f\n", 0.6 + rnd_unit(g) * 0.3);
	}
}

/* A metrics dump: one long line, 100 to 1000 bytes. */
static int gen_metrics_line(struct gen *g)
{
	unsigned classes = rnd(g, 5, 120);
	int rc = buf_printf(g->out, "{\"epoch\": %u, \"step\": %u, \"split\": \"val\", \"loss\": %.4f, "
	                    "\"per_class_acc\": [", g->epoch, g->step, rnd_unit(g));

	for (unsigned i = 0; rc == 0 && i < classes; i++)
		rc = buf_printf(g->out, "%s%.3f", i ? ", " : "", rnd_unit(g));
	return rc < 0 ? rc : buf_add(g->out, "]}\n", 3);
}

/* One redraw of a tqdm bar: "\rEpoch 3:  45%|████▌     | 450/1000 [...]". */
static int gen_bar_frame(struct gen *g, unsigned n, unsigned total, double elapsed)
{
	static const char *const partial[8] = { " ", "▏", "▎", "▍", "▌", "▋", "▊", "▉" };
	unsigned eighths = n * 80 / total, i;
	double rate = n / (elapsed > 0 ? elapsed : 1);
	unsigned left = rate > 0 ? (unsigned)((total - n) / rate) : 0;
	int rc = buf_printf(g->out, "\rEpoch %u: %3u%%|", g->epoch, n * 100 / total);

	for (i = 0; rc == 0 && i < eighths / 8; i++)
		rc = buf_add(g->out, "█", strlen("█"));
	if (rc == 0 && i < 10)
		rc = buf_printf(g->out, "%s%*s", partial[eighths % 8], (int)(9 - i), "");
	if (rc < 0)
		return rc;
	return buf_printf(g->out, "| %u/%u [%02u:%02u<%02u:%02u, %.2fit/s, loss=%.3f]", n, total,
	                  (unsigned)elapsed / 60, (unsigned)elapsed % 60, left / 60, left % 60, rate,
	                  rnd_unit(g));
}

/* A progress bar redrawn 8 to 30 times on one physical line. */
static int gen_progress(struct gen *g)
{
	unsigned total = rnd(g, 2, 20) * 50, frames = rnd(g, 8, 30);
	double elapsed = 0;
	int rc = 0;

	for (unsigned f = 0; rc == 0 && f <= frames; f++) {
		rc = gen_bar_frame(g, total * f / frames, total, elapsed);
		elapsed += 0.1 + rnd_unit(g) * 0.3;
	}
	return rc < 0 ? rc : buf_add(g->out, "\n", 1);
}

/* A Python warning: looks like an error to a careless detector, is none. */
static int gen_warning(struct gen *g)
{
	static const char text[] =
		"/usr/lib/python3/dist-packages/torch/optim/lr_scheduler.py:139: UserWarning: "
		"Detected call of `lr_scheduler.step()` before `optimizer.step()`. In PyTorch 1.1.0 "
		"and later, you should call them in the opposite order.\n"
		"  warnings.warn(\"Detected call of `lr_scheduler.step()` before `optimizer.step()`. \"\n";

	return buf_add(g->out, text, sizeof text - 1);
}

/* The recurring error: a caught, logged decode failure. Only the object
 * address in the message varies, which signatures normalise away. */
static int gen_recurring(struct gen *g)
{
	int rc = gen_prefix(g, "\x1b[31m", "ERROR");

	if (rc == 0)
		rc = buf_printf(g->out, "[dataset.py:96] sample %u could not be decoded, skipping it\n",
		                rnd(g, 0, 1200000));
	if (rc == 0)
		rc = buf_printf(g->out,
			"Traceback (most recent call last):\n"
			"  File \"/home/ana/proj/data/dataset.py\", line 91, in __getitem__\n"
			"    image = Image.open(io.BytesIO(blob)).convert(\"RGB\")\n"
			"            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
			"  File \"/usr/lib/python3/dist-packages/PIL/Image.py\", line 3339, in open\n"
			"    raise UnidentifiedImageError(msg)\n"
			"PIL.UnidentifiedImageError: cannot identify image file "
			"<_io.BytesIO object at 0x7f%010llx>\n",
			(unsigned long long)(rnd_next(g) & 0xffffffffffULL));
	return rc;
}

static int gen_rare_chained(struct gen *g)
{
	static const char text[] =
		"Traceback (most recent call last):\n"
		"  File \"/home/ana/proj/data/vocab.py\", line 41, in lookup\n"
		"    return self.index[token]\n"
		"           ~~~~~~~~~~^^^^^^^\n"
		"KeyError: '<unk>'\n"
		"\n"
		"During handling of the above exception, another exception occurred:\n"
		"\n"
		"Traceback (most recent call last):\n"
		"  File \"/home/ana/proj/train.py\", line 131, in collate\n"
		"    ids = [vocab.lookup(t) for t in tokens]\n"
		"  File \"/home/ana/proj/data/vocab.py\", line 43, in lookup\n"
		"    raise ValueError(f\"token {token!r} not in vocabulary and no <unk> entry\")\n"
		"ValueError: token '<unk>' not in vocabulary and no <unk> entry\n";

	return buf_add(g->out, text, sizeof text - 1);
}

/* Python 3.13 colours its tracebacks. */
static int gen_rare_coloured(struct gen *g)
{
	static const char text[] =
		"Traceback (most recent call last):\n"
		"  File \x1b[35m\"/home/ana/proj/train.py\"\x1b[0m, line \x1b[35m150\x1b[0m, in \x1b[35mtrain_step\x1b[0m\n"
		"    \x1b[31mloss = model(**batch).loss\x1b[0m\n"
		"  File \x1b[35m\"/usr/lib/python3/dist-packages/torch/nn/modules/module.py\"\x1b[0m, line \x1b[35m1739\x1b[0m, in \x1b[35m_wrapped_call_impl\x1b[0m\n"
		"    return \x1b[31mself._call_impl\x1b[0m\x1b[1;31m(*args, **kwargs)\x1b[0m\n"
		"\x1b[1;35mtorch.OutOfMemoryError\x1b[0m: \x1b[35mCUDA out of memory. Tried to allocate 2.00 GiB. "
		"GPU 0 has a total capacity of 23.65 GiB of which 1.12 GiB is free.\x1b[0m\n";

	return buf_add(g->out, text, sizeof text - 1);
}

static int gen_rare_import(struct gen *g)
{
	static const char text[] =
		"=> evaluating BLEU\n"
		"Traceback (most recent call last):\n"
		"  File \"/home/ana/proj/eval.py\", line 12, in <module>\n"
		"    import sacrebleu\n"
		"ModuleNotFoundError: No module named 'sacrebleu'\n";

	return buf_add(g->out, text, sizeof text - 1);
}

static int gen_ordinary(struct gen *g)
{
	unsigned r = rnd(g, 0, 999);

	if (r < 600)
		return gen_step_line(g);
	if (r < 850)
		return gen_debug_line(g);
	if (r < 940)
		return gen_short_line(g);
	if (r < 970)
		return gen_metrics_line(g);
	if (r < 999)
		return gen_progress(g);
	return rnd(g, 0, 4) == 0 ? gen_warning(g) : gen_step_line(g);
}

static size_t count_newlines(const char *p, size_t n)
{
	size_t count = 0;
	const char *nl;

	while (n > 0 && (nl = memchr(p, '\n', n))) {
		count++;
		n -= (size_t)(nl + 1 - p);
		p = nl + 1;
	}
	return count;
}

/* Append the next piece: a rare traceback once the output passes 1/4, 2/4
 * and 3/4 of target, the recurring one every 1500-2500 lines, else a line. */
static int gen_next(struct gen *g, size_t target)
{
	static int (*const rare[DISTINCT_RARE])(struct gen *) = {
		gen_rare_chained, gen_rare_coloured, gen_rare_import,
	};
	size_t before = g->out->len;
	int rc;

	if (g->rare < DISTINCT_RARE && before >= target / (DISTINCT_RARE + 1) * (g->rare + 1)) {
		rc = rare[g->rare++](g);
	} else if (g->lines >= g->next_recurring) {
		rc = gen_recurring(g);
		g->recurring++;
		g->next_recurring = g->lines + rnd(g, 1500, 2500);
	} else {
		rc = gen_ordinary(g);
	}
	g->lines += count_newlines(g->out->p + before, g->out->len - before);
	return rc;
}

/* Fill p with about mib MiB of log, ending at a line end. */
static int payload_generate(unsigned mib, struct payload *p)
{
	size_t target = (size_t)mib * 1024 * 1024;
	struct gen g = { .out = &p->bytes, .rng = 0x9e3779b97f4a7c15ULL, .next_recurring = 1000,
	                 .epoch = 1 };
	double t0 = now();
	int rc;

	if (buf_reserve(&p->bytes, target + 64 * 1024) < 0)
		return fail(-ENOMEM, "out of memory for a %u MiB payload", mib);
	while (p->bytes.len < target)
		if ((rc = gen_next(&g, target)) < 0)
			return fail(rc, "generating the payload: %s", strerror(-rc));
	p->lines = g.lines;
	p->tracebacks = g.recurring + g.rare;
	p->distinct = (g.recurring > 0) + g.rare;
	p->generated_in = now() - t0;
	return 0;
}



/* Open a source on c (request id 1) and return its id. */
static int rpc_open_source(struct peer *c, bool raw, json_int_t *sid)
{
	json_t *result = NULL;
	char line[256];
	int rc;

	snprintf(line, sizeof line,
	         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"source.open\",\"params\":"
	         "{\"kind\":\"command\",\"name\":\"python train.py (bench %s)\"%s}}\n",
	         raw ? "raw" : "json", raw ? ",\"raw\":true" : "");
	if ((rc = peer_send(c, line, strlen(line))) < 0 || (rc = rpc_await(c, 1, NULL, &result)) < 0)
		return rc;
	*sid = json_integer_value(json_object_get(result, "source"));
	json_decref(result);
	return *sid > 0 ? 0 : fail(-EPROTO, "source.open returned no source id");
}

/* Append msg (stolen) as one compact line. */
static int append_json_line(struct buf *out, json_t *msg)
{
	size_t n = msg ? json_dumpb(msg, NULL, 0, JSON_COMPACT) : 0;
	int rc = 0;

	if (n == 0)
		rc = fail(-ENOMEM, "cannot encode a message");
	else if (buf_reserve(out, n + 1) < 0)
		rc = fail(-ENOMEM, "out of memory encoding the payload");
	else {
		json_dumpb(msg, out->p + out->len, n, JSON_COMPACT);
		out->len += n;
		out->p[out->len++] = '\n';
	}
	json_decref(msg);
	return rc;
}

/* Up to JSON_TEXT_CHUNK bytes of text, never splitting a UTF-8 sequence
 * (a JSON string must be valid UTF-8). */
static size_t text_chunk_len(const char *p, size_t avail)
{
	size_t n = avail < JSON_TEXT_CHUNK ? avail : JSON_TEXT_CHUNK;

	while (n < avail && n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* The payload as source.write notifications for sid, then source.close
 * (id 2): newline-separated messages appended to out. */
static int encode_writes(const struct payload *p, json_int_t sid, struct buf *out)
{
	const char *text = p->bytes.p;
	size_t off = 0;
	int rc;

	while (off < p->bytes.len) {
		size_t n = text_chunk_len(text + off, p->bytes.len - off);
		json_t *msg = json_pack("{s:s, s:s, s:{s:I, s:s%}}", "jsonrpc", "2.0",
		                        "method", "source.write", "params", "source", sid,
		                        "text", text + off, n);
		if ((rc = append_json_line(out, msg)) < 0)
			return rc;
		off += n;
	}
	return append_json_line(out, json_pack("{s:s, s:i, s:s, s:{s:I}}", "jsonrpc", "2.0",
	                                       "id", 2, "method", "source.close",
	                                       "params", "source", sid));
}

/* ------------------------------------------------------------ modes */

/* Internal mode (--reader PATH): the baseline. Accept one connection, read
 * and discard until EOF, answer one byte, wait for the sender to close. */
static int reader_main(const char *path)
{
	static char chunk[READ_CHUNK];
	struct sockaddr_un sa;
	int lfd = -1, fd = -1, rc = 0;
	ssize_t n;

	if ((rc = unix_address(path, &sa)) < 0)
		return rc;
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 1) < 0 ||
	    (fd = accept(lfd, NULL, NULL)) < 0) {
		rc = fail(-errno, "reader: %s: %s", path, strerror(errno));
		goto out;
	}
	while ((n = read(fd, chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR))
		;
	if (n < 0 || write(fd, "k", 1) != 1) {
		rc = fail(-errno, "reader: %s", strerror(errno));
		goto out;
	}
	/* Stay alive (the sender reads our RSS now) until the sender closes:
	 * read() keeps seeing its earlier EOF, but only a full close raises
	 * POLLHUP on a Unix socket. */
	while (poll(&(struct pollfd){ .fd = fd }, 1, IO_TIMEOUT_MS) < 0 && errno == EINTR)
		;
out:
	if (fd >= 0)
		close(fd);
	if (lfd >= 0)
		close(lfd);
	return rc;
}

/* Time sending the payload to a reader that discards it. */
static int run_baseline(const char *dir, const struct payload *p, struct run_result *r)
{
	char path[PATH_LEN];
	char *argv[] = { "ingest-reader", "--reader", path, NULL };
	struct peer c = { .fd = -1 };
	pid_t pid = 0;
	double t0;
	int rc;

	snprintf(path, sizeof path, "%s/reader.sock", dir);
	if ((rc = spawn("/proc/self/exe", argv, NULL, NULL, &pid)) < 0 ||
	    (rc = wait_listening(pid, "the baseline reader", path)) < 0 ||
	    (rc = rss_kib(pid, &r->reader_idle_kib)) < 0 || (rc = peer_connect(&c, path)) < 0)
		goto out;
	t0 = now();
	if ((rc = peer_send(&c, p->bytes.p, p->bytes.len)) < 0)
		goto out;
	shutdown(c.fd, SHUT_WR);
	while (c.inlen == 0 && !c.eof) {
		short revents;
		if ((rc = peer_wait(&c, POLLIN, &revents)) < 0 || (rc = peer_fill(&c)) < 0)
			goto out;
	}
	r->seconds[MODE_BASELINE] = now() - t0;
	if (c.inlen == 0) {
		rc = fail(-EPIPE, "the baseline reader closed without answering");
		goto out;
	}
	rc = rss_kib(pid, &r->reader_after_kib);
out:
	peer_close(&c);
	if (rc == 0)
		rc = child_wait_exit(pid, "the baseline reader", STOP_TIMEOUT_MS);
	return rc;
}

/* Time a raw-mode source: payload bytes, EOF, until source.closed. */
static int run_raw(const char *socket_path, const struct payload *p, struct run_result *r)
{
	struct peer c = { .fd = -1 };
	json_t *params = NULL;
	json_int_t sid;
	double t0;
	int rc;

	if ((rc = peer_connect(&c, socket_path)) < 0 || (rc = rpc_open_source(&c, true, &sid)) < 0)
		goto out;
	t0 = now();
	if ((rc = peer_send(&c, p->bytes.p, p->bytes.len)) < 0)
		goto out;
	if (shutdown(c.fd, SHUT_WR) < 0) {
		rc = fail(-errno, "shutdown: %s", strerror(errno));
		goto out;
	}
	if ((rc = rpc_await(&c, 0, "source.closed", &params)) < 0)
		goto out;
	r->seconds[MODE_RAW] = now() - t0;
	r->incidents[MODE_RAW] = json_array_size(json_object_get(params, "incidents"));
	rc = peer_drain(&c);
out:
	json_decref(params);
	peer_close(&c);
	return rc;
}

/* Time a JSON-mode source: source.write notifications, then source.close. */
static int run_json(const char *socket_path, const struct payload *p, struct run_result *r)
{
	struct peer c = { .fd = -1 };
	struct buf msgs = { 0 };
	json_t *result = NULL;
	json_int_t sid;
	double t0;
	int rc;

	if ((rc = peer_connect(&c, socket_path)) < 0 || (rc = rpc_open_source(&c, false, &sid)) < 0 ||
	    (rc = encode_writes(p, sid, &msgs)) < 0)
		goto out;
	t0 = now();
	if ((rc = peer_send(&c, msgs.p, msgs.len)) < 0 || (rc = rpc_await(&c, 2, NULL, &result)) < 0)
		goto out;
	r->seconds[MODE_JSON] = now() - t0;
	r->incidents[MODE_JSON] = json_array_size(json_object_get(result, "incidents"));
	r->json_wire_bytes = msgs.len;
out:
	json_decref(result);
	buf_free(&msgs);
	peer_close(&c);
	return rc;
}


static int check_incidents(const struct payload *p, const struct run_result *r, enum mode m)
{
	if (r->incidents[m] == 0)
		return fail(-EPROTO, "doctord reported no incident in %s mode although the payload "
		            "holds %zu tracebacks: detection did not run, the figures mean nothing",
		            mode_names[m], p->tracebacks);
	if (r->incidents[m] != p->distinct)
		fprintf(stderr, "ingest: warning: %s mode: doctord reported %zu incidents, the payload "
		        "holds %zu distinct errors\n", mode_names[m], r->incidents[m], p->distinct);
	return 0;
}

static int run_daemon_modes(const struct options *o, const char *dir, const struct payload *p,
                            struct run_result *r)
{
	char socket_path[PATH_LEN];
	pid_t pid = 0;
	int rc;

	snprintf(socket_path, sizeof socket_path, "%s/s.sock", dir);
	if ((rc = daemon_start(o->doctord, dir, NULL, &pid)) < 0 ||
	    (rc = rss_kib(pid, &r->daemon_idle_kib)) < 0 ||
	    (rc = run_raw(socket_path, p, r)) < 0 || (rc = run_json(socket_path, p, r)) < 0 ||
	    (rc = rss_kib(pid, &r->daemon_after_kib)) < 0 || (rc = daemon_stop(pid)) < 0)
		return rc;
	if ((rc = check_incidents(p, r, MODE_RAW)) < 0 || (rc = check_incidents(p, r, MODE_JSON)) < 0)
		return rc;
	return 0;
}

static double mib_per_s(const struct payload *p, double seconds)
{
	return seconds > 0 ? p->bytes.len / MIB / seconds : 0;
}

/* One run in its own directory tmp/N, removed after a success. */
static int run_once(const struct options *o, const char *tmp, unsigned n,
                    const struct payload *p, struct run_result *r)
{
	char dir[DIR_LEN];
	int rc;

	snprintf(dir, sizeof dir, "%s/%u", tmp, n);
	if (mkdir(dir, 0700) < 0)
		return fail(-errno, "mkdir %s: %s", dir, strerror(errno));
	rc = run_baseline(dir, p, r);
	if (rc == 0 && !o->baseline_only)
		rc = run_daemon_modes(o, dir, p, r);
	if (rc < 0)
		return rc;      /* main kills the children, then removes tmp */
	remove_tree(dir);
	fprintf(stderr, "run %u/%u: baseline %.0f MiB/s", n, o->runs,
	        mib_per_s(p, r->seconds[MODE_BASELINE]));
	if (!o->baseline_only)
		fprintf(stderr, ", raw %.0f MiB/s, json %.0f MiB/s", mib_per_s(p, r->seconds[MODE_RAW]),
		        mib_per_s(p, r->seconds[MODE_JSON]));
	fputc('\n', stderr);
	return 0;
}

/* ------------------------------------------------------------ report */


/* Median of n values (n <= MAX_RUNS); values are not modified. */
static double median(const double *values, unsigned n)
{
	double sorted[MAX_RUNS];

	memcpy(sorted, values, n * sizeof *values);
	qsort(sorted, n, sizeof *sorted, compare_doubles);
	return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/* The per-run figures the report needs, gathered as doubles. */
struct summary {
	double rate[N_MODES][MAX_RUNS];         /* MiB/s */
	double rate_median[N_MODES];
	double reader_idle, reader_after, daemon_idle, daemon_after;  /* KiB, medians */
	size_t incidents[N_MODES];              /* the lowest over the runs */
	double wire_ratio;                      /* JSON-mode bytes sent per payload byte */
};

static void summarize(const struct options *o, const struct payload *p,
                      const struct run_result *r, struct summary *s)
{
	double kib[4][MAX_RUNS];

	memset(s, 0, sizeof *s);
	for (unsigned i = 0; i < o->runs; i++) {
		for (int m = 0; m < N_MODES; m++) {
			s->rate[m][i] = mib_per_s(p, r[i].seconds[m]);
			if (i == 0 || r[i].incidents[m] < s->incidents[m])
				s->incidents[m] = r[i].incidents[m];
		}
		kib[0][i] = r[i].reader_idle_kib;
		kib[1][i] = r[i].reader_after_kib;
		kib[2][i] = r[i].daemon_idle_kib;
		kib[3][i] = r[i].daemon_after_kib;
	}
	for (int m = 0; m < N_MODES; m++)
		s->rate_median[m] = median(s->rate[m], o->runs);
	s->reader_idle = median(kib[0], o->runs);
	s->reader_after = median(kib[1], o->runs);
	s->daemon_idle = median(kib[2], o->runs);
	s->daemon_after = median(kib[3], o->runs);
	s->wire_ratio = (double)r[0].json_wire_bytes / p->bytes.len;
}

static void print_rates(const struct options *o, const struct summary *s, enum mode m)
{
	printf(" (runs:");
	for (unsigned i = 0; i < o->runs; i++)
		printf(" %.0f", s->rate[m][i]);
	printf(")");
}

static void report_text(const struct options *o, const struct payload *p, const struct summary *s)
{
	double base = s->rate_median[MODE_BASELINE];

	printf("payload: %.1f MiB, %zu lines, %zu tracebacks (%zu distinct errors), generated in %.2f s\n",
	       p->bytes.len / MIB, p->lines, p->tracebacks, p->distinct, p->generated_in);
	printf("median of %u run%s\n", o->runs, o->runs == 1 ? "" : "s");
	printf("baseline (read and discard): %.0f MiB/s", base);
	print_rates(o, s, MODE_BASELINE);
	printf("\n");
	if (o->baseline_only) {
		printf("baseline reader RSS: %.1f MiB idle, %.1f MiB after its run\n",
		       s->reader_idle / 1024, s->reader_after / 1024);
		return;
	}
	for (int m = MODE_RAW; m <= MODE_JSON; m++) {
		printf("%s mode: %.0f MiB/s, %.2fx baseline", mode_names[m], s->rate_median[m],
		       base > 0 ? s->rate_median[m] / base : 0);
		print_rates(o, s, m);
		printf(", %zu incidents (%zu expected)", s->incidents[m], p->distinct);
		if (m == MODE_JSON)
			printf(", %.2fx the payload's bytes on the wire", s->wire_ratio);
		printf("\n");
	}
	printf("idle RSS: %.1f MiB (%.1f times the baseline reader's %.1f MiB)\n",
	       s->daemon_idle / 1024, s->daemon_idle / s->reader_idle, s->reader_idle / 1024);
	printf("RSS after ingest: %.1f MiB (%.1f times the baseline reader's %.1f MiB after its run)\n",
	       s->daemon_after / 1024, s->daemon_after / s->reader_after, s->reader_after / 1024);
}

static json_t *mode_json(const struct options *o, const struct summary *s, enum mode m)
{
	json_t *runs = json_array();
	double base = s->rate_median[MODE_BASELINE];

	for (unsigned i = 0; i < o->runs; i++)
		json_array_append_new(runs, json_real(s->rate[m][i]));
	if (m == MODE_BASELINE)
		return json_pack("{s:f, s:o}", "mib_per_s", s->rate_median[m], "runs", runs);
	return json_pack("{s:f, s:o, s:f, s:I}", "mib_per_s", s->rate_median[m], "runs", runs,
	                 "ratio", base > 0 ? s->rate_median[m] / base : 0.0,
	                 "incidents", (json_int_t)s->incidents[m]);
}

static int report_json(const struct options *o, const struct payload *p, const struct summary *s)
{
	json_t *doc = json_pack("{s:{s:I, s:I, s:I, s:I}, s:i, s:o, s:{s:f, s:f}}",
		"payload", "bytes", (json_int_t)p->bytes.len, "lines", (json_int_t)p->lines,
		"tracebacks", (json_int_t)p->tracebacks, "distinct_errors", (json_int_t)p->distinct,
		"runs", (int)o->runs, "baseline", mode_json(o, s, MODE_BASELINE),
		"rss_kib", "reader_idle", s->reader_idle, "reader_after", s->reader_after);
	int rc = 0;

	if (doc && !o->baseline_only) {
		json_object_set_new(doc, "raw", mode_json(o, s, MODE_RAW));
		json_object_set_new(doc, "json", mode_json(o, s, MODE_JSON));
		json_object_set_new(json_object_get(doc, "json"), "wire_ratio", json_real(s->wire_ratio));
		json_object_set_new(json_object_get(doc, "rss_kib"), "daemon_idle",
		                    json_real(s->daemon_idle));
		json_object_set_new(json_object_get(doc, "rss_kib"), "daemon_after",
		                    json_real(s->daemon_after));
	}
	if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2)) < 0)
		rc = fail(-ENOMEM, "cannot write the JSON report");
	else
		putchar('\n');
	json_decref(doc);
	return rc;
}

/* ------------------------------------------------------------ main */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ingest --doctord PATH [--mib N] [--runs N] [--json]\n"
		"       ingest --baseline-only [--mib N] [--runs N] [--json]\n"
		"Measure doctord's ingest throughput over its Unix socket (raw and JSON\n"
		"modes) against a plain read-and-discard reader, and its memory.\n"
		"\n"
		"  --doctord PATH    the doctord binary to start (one fresh daemon per run)\n"
		"  --mib N           payload size in MiB (default 64, at most %d)\n"
		"  --runs N          runs; medians are reported (default 3, at most %d)\n"
		"  --json            print the results as JSON\n"
		"  --baseline-only   measure only the baseline reader (no doctord needed)\n"
		"  -h, --help        show this help\n"
		"Temporary files go under $TMPDIR (default /tmp). See bench/README.md.\n",
		MAX_MIB, MAX_RUNS);
}


static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "doctord", required_argument, NULL, 'd' },
		{ "mib", required_argument, NULL, 'm' },
		{ "runs", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "baseline-only", no_argument, NULL, 'b' },
		{ "reader", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, rc = 0;

	while (rc == 0 && (ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': o->doctord = optarg; break;
		case 'm': rc = parse_count("--mib", optarg, 1, MAX_MIB, &o->mib); break;
		case 'r': rc = parse_count("--runs", optarg, 1, MAX_RUNS, &o->runs); break;
		case 'j': o->json = true; break;
		case 'b': o->baseline_only = true; break;
		case 'R': o->reader = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (rc < 0)
		return rc;
	if (optind < argc)
		return fail(-EINVAL, "unexpected argument '%s' (see --help)", argv[optind]);
	if (!o->reader && !o->baseline_only && !o->doctord)
		return fail(-EINVAL, "--doctord PATH is required (or --baseline-only)");
	if (o->doctord && !o->baseline_only && access(o->doctord, X_OK) < 0)
		return fail(-errno, "--doctord %s: %s", o->doctord, strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .mib = 64, .runs = 3 };
	struct payload p = { 0 };
	struct run_result *results = NULL;
	struct summary *s = NULL;
	char tmp[TMP_LEN] = "";
	int status = 1;

	bench_name = "ingest";
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (o.reader)
		return reader_main(o.reader) < 0 ? 1 : 0;
	install_signals();
	results = calloc(o.runs, sizeof *results);
	s = calloc(1, sizeof *s);
	if (!results || !s) {
		fail(-ENOMEM, "out of memory");
		goto out;
	}
	if (make_tmpdir(tmp) < 0 || payload_generate(o.mib, &p) < 0)
		goto out;
	for (unsigned i = 0; i < o.runs; i++)
		if (run_once(&o, tmp, i + 1, &p, &results[i]) < 0)
			goto out;
	summarize(&o, &p, results, s);
	if (o.json && report_json(&o, &p, s) < 0)
		goto out;
	if (!o.json)
		report_text(&o, &p, s);
	status = 0;
out:
	children_kill();
	if (tmp[0])
		remove_tree(tmp);
	buf_free(&p.bytes);
	free(results);
	free(s);
	return status;
}
