/*
 * sse.c - an incremental parser of text/event-stream (Server-Sent Events,
 * the WHATWG rules), as OpenAI-compatible servers stream Chat Completions.
 *
 * Bytes arrive in any pieces: a line may be split across feeds, and so may
 * a "\r\n" pair. Each line is a field ("data", "event"; "id" and "retry"
 * are ignored), a comment (":..."), or empty (dispatch the event). One
 * refinement: llama.cpp's server reports a failure during a stream as a
 * non-standard "error: {...}" line; that field is dispatched at once as an
 * event named "error" so its text is not lost.
 *
 * Memory is bounded: a line, or an event's joined data, longer than
 * max_line bytes stops the parse with -EMSGSIZE, and every later call
 * returns the same error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "llm_wire.h"

#define SSE_DEFAULT_MAX_LINE ((size_t)1 << 20)
#define SSE_EVENT_NAME_MAX 64

struct llm_sse {
	size_t max_line;
	llm_sse_event_fn fn;
	void *ud;
	char *line;                 /* the partial line carried between feeds */
	size_t line_len, line_cap;
	char *data;                 /* the event's data lines joined with \n */
	size_t data_len, data_cap;
	char event[SSE_EVENT_NAME_MAX + 1];
	bool after_cr;              /* the last byte seen was \r: skip one \n */
	bool started;               /* past a possible byte order mark */
	unsigned bom_seen;          /* bytes of that mark matched so far */
	int err;                    /* sticky: the error that stopped the parse */
};

int llm_sse_new(size_t max_line, llm_sse_event_fn fn, void *ud, struct llm_sse **out)
{
	struct llm_sse *p;

	*out = NULL;
	if (!fn)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->max_line = max_line ? max_line : SSE_DEFAULT_MAX_LINE;
	p->fn = fn;
	p->ud = ud;
	*out = p;
	return 0;
}

void llm_sse_free(struct llm_sse *p)
{
	if (!p)
		return;
	free(p->line);
	free(p->data);
	free(p);
}

/* Make room for `need` bytes plus a NUL in *buf. */
static int reserve(char **buf, size_t *cap, size_t need)
{
	size_t ncap;
	char *nbuf;

	if (need + 1 <= *cap)
		return 0;
	ncap = *cap ? *cap : 256;
	while (ncap < need + 1)
		ncap *= 2;
	nbuf = realloc(*buf, ncap);
	if (!nbuf)
		return -ENOMEM;
	*buf = nbuf;
	*cap = ncap;
	return 0;
}

/* Hand the event to the callback and start the next one. */
static int dispatch(struct llm_sse *p)
{
	int rc = 0;

	if (p->data_len > 0) {
		p->data_len--;          /* the last line's \n */
		p->data[p->data_len] = '\0';
		rc = p->fn(p->ud, p->event, p->data, p->data_len);
	}
	p->data_len = 0;
	p->event[0] = '\0';
	return rc;
}

static int append_data(struct llm_sse *p, const char *value, size_t len)
{
	int rc;

	if (p->data_len + len + 1 > p->max_line)
		return -EMSGSIZE;
	rc = reserve(&p->data, &p->data_cap, p->data_len + len + 1);
	if (rc < 0)
		return rc;
	memcpy(p->data + p->data_len, value, len);
	p->data_len += len;
	p->data[p->data_len++] = '\n';
	p->data[p->data_len] = '\0';
	return 0;
}

/* Dispatch llama.cpp's "error:" field alone, as an event named "error";
 * the event being gathered, if any, is unaffected. */
static int error_field(struct llm_sse *p, const char *value, size_t len)
{
	char *copy = malloc(len + 1);
	int rc;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, value, len);
	copy[len] = '\0';
	rc = p->fn(p->ud, "error", copy, len);
	free(copy);
	return rc;
}

/* One complete line, without its terminator. */
static int process_line(struct llm_sse *p, const char *line, size_t len)
{
	const char *colon, *value;
	size_t name_len, value_len;

	if (len == 0)
		return dispatch(p);
	if (line[0] == ':')
		return 0;
	colon = memchr(line, ':', len);
	name_len = colon ? (size_t)(colon - line) : len;
	value = colon ? colon + 1 : line + len;
	value_len = len - (size_t)(value - line);
	if (value_len > 0 && value[0] == ' ') {
		value++;
		value_len--;
	}
	if (name_len == 4 && memcmp(line, "data", 4) == 0)
		return append_data(p, value, value_len);
	if (name_len == 5 && memcmp(line, "event", 5) == 0) {
		if (value_len > SSE_EVENT_NAME_MAX)
			value_len = SSE_EVENT_NAME_MAX;
		memcpy(p->event, value, value_len);
		p->event[value_len] = '\0';
		return 0;
	}
	if (name_len == 5 && memcmp(line, "error", 5) == 0 && value_len > 0)
		return error_field(p, value, value_len);
	return 0;                   /* id, retry, unknown fields */
}

/* The end of a line was found at buf[0..len): complete it with what was
 * carried over from earlier feeds, if anything. */
static int end_line(struct llm_sse *p, const char *buf, size_t len)
{
	size_t total = p->line_len + len;
	int rc;

	if (p->line_len == 0)
		return len > p->max_line ? -EMSGSIZE : process_line(p, buf, len);
	if (total > p->max_line)
		return -EMSGSIZE;
	rc = reserve(&p->line, &p->line_cap, total);
	if (rc < 0)
		return rc;
	memcpy(p->line + p->line_len, buf, len);
	p->line_len = 0;
	return process_line(p, p->line, total);
}

/* Keep an unterminated tail for the next feed. */
static int carry(struct llm_sse *p, const char *buf, size_t len)
{
	int rc;

	if (p->line_len + len > p->max_line)
		return -EMSGSIZE;
	rc = reserve(&p->line, &p->line_cap, p->line_len + len);
	if (rc < 0)
		return rc;
	memcpy(p->line + p->line_len, buf, len);
	p->line_len += len;
	return 0;
}

/* Skip a UTF-8 byte order mark opening the stream, even when it arrives
 * split; *used is how many bytes of buf it took. Bytes that began like a
 * mark but were not one are kept as the start of the first line. */
static int skip_bom(struct llm_sse *p, const char *buf, size_t len, size_t *used)
{
	static const char bom[3] = { '\xef', '\xbb', '\xbf' };

	*used = 0;
	while (*used < len && p->bom_seen < 3 && buf[*used] == bom[p->bom_seen]) {
		p->bom_seen++;
		(*used)++;
	}
	if (p->bom_seen == 3) {
		p->started = true;
	} else if (*used < len) {
		p->started = true;
		if (p->bom_seen > 0)
			return carry(p, bom, p->bom_seen);
	}
	return 0;
}

static int feed(struct llm_sse *p, const char *buf, size_t len)
{
	size_t start = 0, i;
	int rc;

	if (!p->started) {
		rc = skip_bom(p, buf, len, &start);
		if (rc < 0)
			return rc;
	}
	if (p->after_cr && start < len) {
		/* a \r ended the previous piece: this \n completes the pair */
		p->after_cr = false;
		if (buf[start] == '\n')
			start++;
	}
	for (i = start; i < len; i++) {
		char c = buf[i];

		if (c != '\n' && c != '\r')
			continue;
		rc = end_line(p, buf + start, i - start);
		if (rc != 0)
			return rc;
		if (c == '\r' && i + 1 < len && buf[i + 1] == '\n')
			i++;
		else if (c == '\r' && i + 1 == len)
			p->after_cr = true;
		start = i + 1;
	}
	return start < len ? carry(p, buf + start, len - start) : 0;
}

int llm_sse_feed(struct llm_sse *p, const char *buf, size_t len)
{
	if (p->err == 0 && len > 0)
		p->err = feed(p, buf, len);
	return p->err;
}

int llm_sse_finish(struct llm_sse *p)
{
	if (p->err != 0)
		return p->err;
	if (p->line_len > 0) {
		size_t n = p->line_len;

		p->line_len = 0;
		p->err = process_line(p, p->line, n);
	}
	if (p->err == 0)
		p->err = dispatch(p);
	return p->err;
}
