/*
 * python_traceback.c - the "python.traceback" detector.
 *
 * A streaming state machine over lines (the ANSI-stripped text; the raw
 * line is kept for display). One function per state:
 *
 *   IDLE     looking for a start: "Traceback (most recent call last):"
 *            (maybe after a stream prefix such as "web-1  | "), an exception
 *            group header, IPython's "Name   Traceback (most recent call
 *            last)" (maybe after a line of dashes), or the SyntaxError shape
 *            that has no header ('  File "x.py", line 3' with no function).
 *   DASHES   saw IPython's dashes line; the header must follow.
 *   BODY     CPython frames, source lines, caret markers, "[Previous line
 *            repeated N more times]" - until the exception line.
 *   IPYTHON  IPython/Jupyter frames ("Cell In[3], line 5", "File p.py:12,
 *            in f(x)", "<ipython-input-1-ab> in <module>"), numbered code
 *            lines and blank lines - until a line starting with the header's
 *            exception name.
 *   SYNTAX   the headerless SyntaxError shape: code and caret lines, then a
 *            SyntaxError/IndentationError/TabError line.
 *   MESSAGE  the exception line was read. The error is complete but held:
 *            the message may go on (below), and a chain marker may follow.
 *            The next line that is none of these emits the error; so does
 *            flush() (the end of the source, or sources.settle_ms of quiet).
 *   CHAIN    a chain marker was read; the next traceback (or bare
 *            exception line) becomes the last link of the same error.
 *
 * Python prints an exception's message verbatim, so a message with newlines
 * goes on over the lines after the exception line, unindented (Ray's
 * OutOfMemoryError and ActorDiedError, pydantic's ValidationError, a
 * user's formatted ValueError), and nothing in such a line tells it from
 * what the program prints next ("retrying with defaults"). So the message
 * takes:
 *   - indented lines (Ray prints a remote traceback there, ActorDiedError
 *     its tab-indented fields), but not a progress bar ("  5%|▌ | 1/20");
 *   - unindented lines only with a reason to expect them: the exception
 *     comes from a library known for multi-line messages (Ray: "ray.*",
 *     "Ray*", or raised from the ray package; pydantic), or the message so
 *     far ends with ':' and so announces more ("Invalid config:");
 *   - and then only lines that look like nothing else: not a traceback
 *     header, chain marker or exception line, not a log record, prompt,
 *     other stream's prefixed output, progress bar or tool status line
 *     (line_kinds.h); up to MSG_LINES_MAX lines and MSG_BYTES_MAX bytes;
 *   - across one blank line in a Ray message, which has paragraphs
 *     (OwnerDiedError, the OOM killer's "Refer to the documentation ...");
 *     any other blank line ends the message.
 * Lines are only ever joined while the error is held, so a continuation
 * that comes after sources.settle_ms of quiet is not joined. How bytes
 * were split into reads plays no part: a rule on "the lines of the same
 * read" would make detection depend on pipe timing (a long message is cut
 * across reads, the program's next line often shares one). Output taken
 * into a message by mistake costs little: the signature compares only the
 * message's first line.
 *
 * A chained traceback is one error: exception and message of the last
 * link, frames of the last traceback, the earlier links in `chain`. Output
 * printed by other threads into the middle of a traceback (a stray line) is
 * passed over, up to STRAYS_MAX in a row.
 *
 * Memory is bounded per source: frames keep the first FRAMES_HEAD and the
 * last FRAMES_TAIL (the omitted count goes to extra.frames_omitted), text
 * stops taking bulk lines at TEXT_SOFT (an omission note marks the gap) but
 * still takes exception lines and markers up to TEXT_HARD. Each line costs
 * time linear in its length.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect_internal.h"
#include "line_kinds.h"
#include "python_frames.h"
#include "strbuf.h"

#define FRAMES_HEAD 100
#define FRAMES_TAIL 100
#define CHAIN_MAX 32
#define TEXT_SOFT (256 * 1024)
#define TEXT_HARD (TEXT_SOFT + 64 * 1024)
#define MESSAGE_MAX (128 * 1024)
#define STRAYS_MAX 20
#define MSG_LINES_MAX 40            /* unindented lines continuing a message */
#define MSG_BYTES_MAX (16 * 1024)   /* and their bytes */

enum tb_state { S_IDLE, S_DASHES, S_BODY, S_IPYTHON, S_SYNTAX, S_MESSAGE, S_CHAIN };

/* Frames of the current traceback: a head kept whole, a ring for the tail. */
struct framevec {
	dr_frame head[FRAMES_HEAD];
	size_t nhead;
	dr_frame tail[FRAMES_TAIL];
	size_t ntail, tail0;
	size_t omitted;
};

struct tb {
	enum tb_state state;

	/* How the lines of the current traceback are laid out. */
	char prefix[PYF_PREFIX_MAX + 1];  /* stream prefix of every line */
	size_t prefix_len;
	bool group;                       /* exception group: "  | " gutter */
	size_t group_base;                /* column of the gutter */
	char ipy_name[PYF_NAME_MAX + 1];  /* IPython header's exception */
	size_t ipy_name_len;
	bool after_content;  /* the last line was a frame or source line */
	bool had_content;    /* some frame or source line was read */
	unsigned strays;     /* stray lines in a row */
	unsigned blanks;     /* blank lines not yet added to the text */
	bool msg_open;       /* further lines may still extend the message */
	bool msg_nested;     /* the message holds a traceback (Ray) */
	bool msg_multiline;  /* from a library known for multi-line messages */
	unsigned msg_lines;  /* unindented lines added to the message */
	size_t msg_bytes;    /* and their bytes */

	/* The error being assembled. */
	struct framevec frames;
	char *chain[CHAIN_MAX];
	size_t nchain, chain_omitted;
	char *exception;                  /* owned */
	dr_strbuf message;
	dr_strbuf text, raw;
	size_t omitted_lines;             /* lines left out of text since the last note */

	/* In IDLE: the last non-blank line if it was an exception line, for
	 * an exception printed without traceback before a chain marker. */
	dr_strbuf last_text, last_raw;
};

/* A line as the current traceback sees it: without the stream prefix and
 * the group gutter. NESTED lines belong to a sub-exception of a group. */
struct view {
	const char *s;
	size_t n;
	bool nested;
};

static int idle_line(struct tb *t, const dr_line *l, bool claimed,
                     dr_emit_fn emit, void *ud);

/* ------------------------------------------------------------------ */
/* Frames                                                              */

static void frame_clear(dr_frame *f)
{
	free(f->file);
	free(f->func);
	memset(f, 0, sizeof(*f));
}

static int frames_add(struct framevec *fv, const struct pyf_frame *pf)
{
	dr_frame *slot;

	if (fv->nhead < FRAMES_HEAD) {
		slot = &fv->head[fv->nhead];
	} else if (fv->ntail < FRAMES_TAIL) {
		slot = &fv->tail[(fv->tail0 + fv->ntail) % FRAMES_TAIL];
	} else {
		/* Drop the oldest of the tail; the newest frames matter most. */
		slot = &fv->tail[fv->tail0];
		frame_clear(slot);
		fv->tail0 = (fv->tail0 + 1) % FRAMES_TAIL;
		fv->ntail--;
		fv->omitted++;
	}
	if (pyf_frame_to_dr(pf, slot) < 0)
		return -ENOMEM;
	if (fv->nhead < FRAMES_HEAD)
		fv->nhead++;
	else
		fv->ntail++;
	return 0;
}

static dr_frame *frames_last(struct framevec *fv)
{
	if (fv->ntail)
		return &fv->tail[(fv->tail0 + fv->ntail - 1) % FRAMES_TAIL];
	return fv->nhead ? &fv->head[fv->nhead - 1] : NULL;
}

static void frames_clear(struct framevec *fv)
{
	size_t i;

	for (i = 0; i < fv->nhead; i++)
		frame_clear(&fv->head[i]);
	for (i = 0; i < fv->ntail; i++)
		frame_clear(&fv->tail[(fv->tail0 + i) % FRAMES_TAIL]);
	fv->nhead = fv->ntail = fv->tail0 = fv->omitted = 0;
}

/* Move the frames into e (outermost first); fv is left empty. */
static int frames_export(struct framevec *fv, dr_error *e)
{
	size_t n = fv->nhead + fv->ntail, i;

	if (n == 0)
		return 0;
	e->frames = calloc(n, sizeof(*e->frames));
	if (!e->frames)
		return -ENOMEM;
	for (i = 0; i < fv->nhead; i++)
		e->frames[i] = fv->head[i];
	for (i = 0; i < fv->ntail; i++)
		e->frames[fv->nhead + i] = fv->tail[(fv->tail0 + i) % FRAMES_TAIL];
	e->nframes = n;
	fv->nhead = fv->ntail = fv->tail0 = 0;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Text of the error                                                   */

/* Add one line to text and raw, both or neither. Bulk lines (frames,
 * source) stop at TEXT_SOFT; essential ones (headers, exception lines,
 * markers) go on to TEXT_HARD. */
static int add_text(struct tb *t, const char *ts, size_t tn, const char *rs,
                    size_t rn, bool essential)
{
	size_t limit = essential ? TEXT_HARD : TEXT_SOFT;
	char note[64];
	int rc, k;

	if (t->text.len + tn + 1 > limit || t->raw.len + rn + 1 > limit) {
		t->omitted_lines++;
		return 0;
	}
	if (t->omitted_lines) {
		k = snprintf(note, sizeof(note), "[... %zu lines omitted ...]", t->omitted_lines);
		if (dr_strbuf_add_line(&t->text, note, (size_t)k) == -ENOMEM ||
		    dr_strbuf_add_line(&t->raw, note, (size_t)k) == -ENOMEM)
			return -ENOMEM;
		t->omitted_lines = 0;
	}
	rc = dr_strbuf_add_line(&t->text, ts, tn);
	if (rc == 0)
		rc = dr_strbuf_add_line(&t->raw, rs, rn);
	return rc == -ENOSPC ? 0 : rc;
}

/* Add the pending blank lines, then the line. Returns DR_CLAIMED or
 * -ENOMEM, so state functions can return it directly. */
static int add_line(struct tb *t, const dr_line *l, bool essential)
{
	int rc = 0;

	for (; t->blanks > 0 && rc == 0; t->blanks--)
		rc = add_text(t, "", 0, "", 0, essential);
	if (rc == 0)
		rc = add_text(t, l->text, l->text_len, l->raw, l->raw_len, essential);
	return rc < 0 ? rc : DR_CLAIMED;
}

/* ------------------------------------------------------------------ */
/* Error assembly                                                      */

static void layout_reset(struct tb *t)
{
	t->prefix_len = 0;
	t->prefix[0] = '\0';
	t->group = false;
	t->group_base = 0;
	t->ipy_name_len = 0;
	t->after_content = t->had_content = false;
	t->strays = 0;
	t->blanks = 0;
	t->msg_open = t->msg_nested = t->msg_multiline = false;
	t->msg_lines = 0;
	t->msg_bytes = 0;
}

/* Forget the error being assembled and return to IDLE. */
static void error_reset(struct tb *t)
{
	size_t i;

	frames_clear(&t->frames);
	for (i = 0; i < t->nchain; i++)
		free(t->chain[i]);
	t->nchain = t->chain_omitted = 0;
	free(t->exception);
	t->exception = NULL;
	dr_strbuf_reset(&t->message);
	dr_strbuf_reset(&t->text);
	dr_strbuf_reset(&t->raw);
	t->omitted_lines = 0;
	layout_reset(t);
	t->state = S_IDLE;
}

/* Append up to the buffer's limit (a message is cut rather than lost). */
static int add_cut(dr_strbuf *b, const char *s, size_t n)
{
	size_t room = b->limit - b->len;

	return dr_strbuf_add(b, s, n < room ? n : room);
}

static bool has_prefix(const char *s, size_t n, const char *lit)
{
	size_t k = strlen(lit);

	return n >= k && memcmp(s, lit, k) == 0;
}

/* Does the exception come from a library whose messages run over several
 * lines? Ray's ("ray.exceptions.OwnerDiedError"; IPython prints bare
 * names: "RayTaskError(ValueError)", or "OutOfMemoryError" raised in
 * ray/_private/worker.py) and pydantic's ValidationError. */
static bool multiline_library(struct tb *t, const char *name, size_t n)
{
	const dr_frame *last = frames_last(&t->frames);

	if (has_prefix(name, n, "ray.") || has_prefix(name, n, "pydantic") ||
	    (has_prefix(name, n, "Ray") && n > 3 && name[3] >= 'A' && name[3] <= 'Z'))
		return true;
	return last && last->file && strstr(last->file, "packages/ray/") != NULL;
}

/* The exception line x starts the error's last link. */
static int set_exception(struct tb *t, const struct pyf_exception *x)
{
	free(t->exception);
	t->exception = dr__strndup(x->name, x->name_len);
	if (!t->exception)
		return -ENOMEM;
	dr_strbuf_reset(&t->message);
	t->msg_open = true;
	t->msg_nested = false;
	t->msg_multiline = multiline_library(t, x->name, x->name_len);
	t->msg_lines = 0;
	t->msg_bytes = 0;
	return add_cut(&t->message, x->message, x->message_len);
}

/* A line after the exception line continues the message, after the blank
 * lines read since the last one. */
static int continue_message(struct tb *t, const struct view *v)
{
	unsigned i;
	int rc = 0;

	for (i = 0; i <= t->blanks && rc == 0; i++)
		if (t->message.len < t->message.limit)
			rc = add_cut(&t->message, "\n", 1);
	if (rc == 0 && t->message.len < t->message.limit)
		rc = add_cut(&t->message, v->s, v->n);
	return rc;
}

/* Could the unindented line v be more of the message, or is it the next
 * thing printed (see the top of the file)? */
static bool message_goes_on(const struct tb *t, const struct view *v)
{
	struct pyf_exception x;
	const char *name;
	size_t len;

	if (t->msg_lines >= MSG_LINES_MAX || t->msg_bytes + v->n > MSG_BYTES_MAX)
		return false;
	if (!t->msg_multiline && t->msg_lines == 0 &&
	    (t->message.len == 0 || t->message.s[t->message.len - 1] != ':'))
		return false; /* nothing announced more */
	if (pyf_cpython_header(v->s, v->n, &len) || pyf_group_header(v->s, v->n, &len) ||
	    pyf_ipython_header(v->s, v->n, &name, &len) || pyf_is_dashes(v->s, v->n))
		return false;
	if (pyf_parse_exception(v->s, v->n, &x) && x.strength == 2)
		return false;
	return lk_classify(v->s, v->n) == LK_NONE;
}

/* The current link becomes an earlier one: "Type: message" into chain. */
static int push_chain(struct tb *t)
{
	const char *exc = t->exception ? t->exception : "";
	size_t n = strlen(exc), m = t->message.len;
	char *entry;

	frames_clear(&t->frames);
	if (t->nchain == CHAIN_MAX) {
		t->chain_omitted++;
		return 0;
	}
	entry = malloc(n + 2 + m + 1);
	if (!entry)
		return -ENOMEM;
	memcpy(entry, exc, n);
	if (m) {
		memcpy(entry + n, ": ", 2);
		memcpy(entry + n + 2, t->message.s, m);
		n += 2 + m;
	}
	entry[n] = '\0';
	t->chain[t->nchain++] = entry;
	free(t->exception);
	t->exception = NULL;
	dr_strbuf_reset(&t->message);
	return 0;
}

static int set_extra(dr_error *e, const char *key, size_t value)
{
	if (!e->extra) {
		e->extra = json_object();
		if (!e->extra)
			return -ENOMEM;
	}
	return json_object_set_new(e->extra, key, json_integer((json_int_t)value)) < 0 ? -ENOMEM : 0;
}

static int export_chain(struct tb *t, dr_error *e)
{
	if (t->nchain) {
		e->chain = calloc(t->nchain, sizeof(*e->chain));
		if (!e->chain)
			return -ENOMEM;
		memcpy(e->chain, t->chain, t->nchain * sizeof(*e->chain));
		e->nchain = t->nchain;
		t->nchain = 0;
	}
	if (t->chain_omitted)
		return set_extra(e, "chain_omitted", t->chain_omitted);
	return 0;
}

static dr_error *build_error(struct tb *t)
{
	dr_error *e;

	if (t->omitted_lines && add_text(t, "", 0, "", 0, true) < 0)
		return NULL; /* writes the omission note */
	e = dr__error_new("python.traceback", t->exception ? t->exception : "",
	                  t->message.s);
	if (!e)
		return NULL;
	free(e->text);
	free(e->raw);
	e->text = dr_strbuf_dup(&t->text);
	e->raw = dr_strbuf_dup(&t->raw);
	if (!e->text || !e->raw)
		goto fail;
	if (t->frames.omitted && set_extra(e, "frames_omitted", t->frames.omitted) < 0)
		goto fail;
	if (frames_export(&t->frames, e) < 0 || export_chain(t, e) < 0)
		goto fail;
	return e;
fail:
	dr_error_free(e);
	return NULL;
}

/* Hand the complete error out and return to IDLE. */
static int emit_error(struct tb *t, dr_emit_fn emit, void *ud)
{
	dr_error *e = build_error(t);

	error_reset(t);
	if (!e)
		return -ENOMEM;
	emit(ud, e);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Line views and openers                                              */

static bool is_indented(const struct view *v)
{
	return v->n > 0 && (v->s[0] == ' ' || v->s[0] == '\t');
}

/* False if the line lacks the traceback's stream prefix. */
static bool line_view(const struct tb *t, const dr_line *l, struct view *v)
{
	const char *s = l->text;
	size_t n = l->text_len, i, p = t->prefix_len;

	if (p) {
		if (n >= p && memcmp(s, t->prefix, p) == 0) {
			s += p;
			n -= p;
		} else if (pyf_rtrim_len(s, n) == pyf_rtrim_len(t->prefix, p) &&
		           memcmp(s, t->prefix, pyf_rtrim_len(s, n)) == 0) {
			n = 0; /* the prefix alone, its trailing blank trimmed */
		} else {
			return false;
		}
	}
	v->nested = false;
	i = t->group_base;
	if (t->group && n > i && pyf_is_blank(s, i)) {
		if (s[i] == '|') {
			i++;
			if (i < n && s[i] == ' ')
				i++;
			s += i;
			n -= i;
		} else {
			while (i < n && s[i] == ' ')
				i++;
			v->nested = i < n && (s[i] == '|' || s[i] == '+');
		}
	}
	v->s = s;
	v->n = n;
	return true;
}

enum opener { OPEN_NONE, OPEN_CPYTHON, OPEN_GROUP, OPEN_IPYTHON };

/* Does the line open a traceback? *len: prefix, gutter column or name length. */
static enum opener opener_of(const dr_line *l, size_t *len, const char **name)
{
	if (pyf_group_header(l->text, l->text_len, len))
		return OPEN_GROUP;
	if (pyf_cpython_header(l->text, l->text_len, len))
		return OPEN_CPYTHON;
	if (pyf_ipython_header(l->text, l->text_len, name, len))
		return OPEN_IPYTHON;
	return OPEN_NONE;
}

/* Start reading a traceback body (the error may already hold earlier
 * links of a chain, or IPython's dashes line). */
static int open_traceback(struct tb *t, const dr_line *l, enum opener kind,
                          size_t len, const char *name)
{
	unsigned blanks = t->blanks; /* between a chain marker and this header */

	layout_reset(t);
	t->blanks = blanks;
	switch (kind) {
	case OPEN_GROUP:
		t->group = true;
		t->group_base = len;
		t->state = S_BODY;
		break;
	case OPEN_CPYTHON:
		memcpy(t->prefix, l->text, len);
		t->prefix[len] = '\0';
		t->prefix_len = len;
		t->state = S_BODY;
		break;
	case OPEN_IPYTHON:
		memcpy(t->ipy_name, name, len);
		t->ipy_name[len] = '\0';
		t->ipy_name_len = len;
		t->state = S_IPYTHON;
		break;
	case OPEN_NONE:
		break;
	}
	return add_line(t, l, true);
}

/* A line that is not part of the traceback being read. */
static int stray(struct tb *t, const dr_line *l, bool claimed,
                 dr_emit_fn emit, void *ud)
{
	t->after_content = false;
	t->blanks = 0;
	if (++t->strays <= STRAYS_MAX)
		return DR_PASS;
	error_reset(t); /* no traceback goes on that long with others' output */
	return idle_line(t, l, claimed, emit, ud);
}

/* A new traceback starts before the last one ended: the last one was cut
 * short (the process died printing it), so drop it. */
static int restart(struct tb *t, const dr_line *l, bool claimed,
                   dr_emit_fn emit, void *ud)
{
	error_reset(t);
	return idle_line(t, l, claimed, emit, ud);
}

/* ------------------------------------------------------------------ */
/* States                                                              */

static void forget_last(struct tb *t)
{
	dr_strbuf_reset(&t->last_text);
	dr_strbuf_reset(&t->last_raw);
	t->blanks = 0;
}

/* Remember an exception line printed without traceback: a chain marker
 * may follow ("raise A from B" where B was never raised). */
static int remember_last(struct tb *t, const dr_line *l)
{
	struct pyf_exception x;
	int rc;

	forget_last(t);
	if (!pyf_parse_exception(l->text, l->text_len, &x) || x.strength < 2)
		return 0;
	rc = dr_strbuf_add(&t->last_text, l->text, l->text_len);
	if (rc == 0)
		rc = dr_strbuf_add(&t->last_raw, l->raw, l->raw_len);
	if (rc == -ENOSPC)
		forget_last(t);
	return rc == -ENOSPC ? 0 : rc;
}

/* IDLE saw a chain marker right after a remembered exception line. */
static int open_chain_from_last(struct tb *t, const dr_line *l)
{
	struct pyf_exception x;
	unsigned blanks = t->blanks;
	int rc;

	pyf_parse_exception(t->last_text.s, t->last_text.len, &x);
	rc = set_exception(t, &x);
	if (rc == 0)
		rc = add_text(t, t->last_text.s, t->last_text.len,
		              t->last_raw.s, t->last_raw.len, true);
	forget_last(t);
	if (rc < 0)
		return rc;
	t->blanks = blanks;
	t->state = S_CHAIN;
	return add_line(t, l, true);
}

static int idle_line(struct tb *t, const dr_line *l, bool claimed,
                     dr_emit_fn emit, void *ud)
{
	struct view v = { l->text, l->text_len, false };
	struct pyf_frame pf;
	enum opener kind;
	const char *name = NULL;
	size_t len = 0;

	if (claimed) {
		forget_last(t);
		return DR_PASS;
	}
	kind = opener_of(l, &len, &name);
	if (kind != OPEN_NONE) {
		forget_last(t);
		return open_traceback(t, l, kind, len, name);
	}
	if (pyf_is_dashes(v.s, v.n)) {
		forget_last(t);
		t->state = S_DASHES;
		return add_line(t, l, true);
	}
	if (is_indented(&v) && pyf_parse_frame(v.s, v.n, false, &pf) && pf.bare) {
		forget_last(t);
		t->state = S_SYNTAX;
		pf.func = NULL; /* where the syntax is wrong, not a call */
		if (frames_add(&t->frames, &pf) < 0)
			return -ENOMEM;
		return add_line(t, l, true);
	}
	if (pyf_chain_marker(v.s, v.n) && t->last_text.len)
		return open_chain_from_last(t, l);
	if (pyf_is_blank(v.s, v.n)) {
		if (t->last_text.len)
			t->blanks++;
		return DR_PASS;
	}
	return remember_last(t, l);
}

static int dashes_line(struct tb *t, const dr_line *l, bool claimed,
                       dr_emit_fn emit, void *ud)
{
	enum opener kind;
	const char *name = NULL;
	size_t len = 0;

	kind = claimed ? OPEN_NONE : opener_of(l, &len, &name);
	if (kind == OPEN_IPYTHON)
		return open_traceback(t, l, kind, len, name);
	return restart(t, l, claimed, emit, ud);
}

static int body_line(struct tb *t, const dr_line *l, bool claimed,
                     dr_emit_fn emit, void *ud)
{
	struct pyf_exception x;
	struct pyf_frame pf;
	struct view v;
	const char *name;
	size_t len;
	int rc;

	/* What looked like a stream prefix on the header is not on the
	 * first frame: it was ordinary text printed before the header. */
	if (t->prefix_len && !t->had_content &&
	    (l->text_len < t->prefix_len || memcmp(l->text, t->prefix, t->prefix_len) != 0) &&
	    l->text_len > 0 && (l->text[0] == ' ' || l->text[0] == '\t') &&
	    pyf_parse_frame(l->text, l->text_len, false, &pf))
		t->prefix_len = 0;
	if (claimed || !line_view(t, l, &v))
		return stray(t, l, claimed, emit, ud);
	if (v.nested)
		return add_line(t, l, false);
	if (pyf_is_blank(v.s, v.n)) {
		t->blanks++; /* IPython's plain tracebacks space their frames */
		return DR_CLAIMED;
	}
	if (opener_of(l, &len, &name) != OPEN_NONE)
		return restart(t, l, claimed, emit, ud);
	if (is_indented(&v)) {
		if (pyf_parse_frame(v.s, v.n, false, &pf) && frames_add(&t->frames, &pf) < 0)
			return -ENOMEM;
		t->after_content = t->had_content = true;
		t->strays = 0;
		return add_line(t, l, false);
	}
	/* Python prints at least one frame before the exception line. A
	 * CamelCase name that is not an exception by its form ("Boom: x")
	 * must come right after the frames and carry a colon, so that the
	 * shell's "Killed" does not end a traceback cut short. */
	if (t->had_content && pyf_parse_exception(v.s, v.n, &x) &&
	    (x.strength == 2 || (x.strength == 1 && x.has_colon && t->after_content))) {
		rc = set_exception(t, &x);
		if (rc < 0)
			return rc;
		t->state = S_MESSAGE;
		return add_line(t, l, true);
	}
	return stray(t, l, claimed, emit, ud);
}

/* IPython's traceback ends at the header's exception name, plain or
 * qualified ("KeyError: 'a'", "pandas.errors.ParserError: ..."). */
static bool ipython_end(const struct tb *t, const struct view *v, struct pyf_exception *x)
{
	size_t n = t->ipy_name_len;

	if (!pyf_parse_exception(v->s, v->n, x) || x->name_len < n)
		return false;
	if (memcmp(x->name + x->name_len - n, t->ipy_name, n) != 0)
		return false;
	return x->name_len == n || x->name[x->name_len - n - 1] == '.';
}

static int ipython_line(struct tb *t, const dr_line *l, bool claimed,
                        dr_emit_fn emit, void *ud)
{
	struct pyf_exception x;
	struct pyf_frame pf;
	struct view v;
	dr_frame *last;
	const char *name;
	size_t len;
	int lineno, rc;
	bool current;

	if (claimed || !line_view(t, l, &v))
		return stray(t, l, claimed, emit, ud);
	if (pyf_is_blank(v.s, v.n)) {
		t->blanks++;
		return DR_CLAIMED;
	}
	if (ipython_end(t, &v, &x)) {
		rc = set_exception(t, &x);
		if (rc < 0)
			return rc;
		t->state = S_MESSAGE;
		return add_line(t, l, true);
	}
	if (opener_of(l, &len, &name) != OPEN_NONE)
		return restart(t, l, claimed, emit, ud);
	if (pyf_parse_frame(v.s, v.n, true, &pf)) {
		if (frames_add(&t->frames, &pf) < 0)
			return -ENOMEM;
	} else if (pyf_parse_code_line(v.s, v.n, &lineno, &current)) {
		/* IPython 7 frames name no line: the arrow shows it. */
		last = frames_last(&t->frames);
		if (current && last && last->line == 0)
			last->line = lineno;
	} else if (!is_indented(&v)) {
		return stray(t, l, claimed, emit, ud);
	}
	t->strays = 0;
	return add_line(t, l, false);
}

static int syntax_line(struct tb *t, const dr_line *l, bool claimed,
                       dr_emit_fn emit, void *ud)
{
	struct pyf_exception x;
	struct view v;
	int rc;

	if (claimed || !line_view(t, l, &v))
		return restart(t, l, claimed, emit, ud);
	if (is_indented(&v) && !pyf_is_blank(v.s, v.n))
		return add_line(t, l, false);
	if (pyf_parse_exception(v.s, v.n, &x) && pyf_is_syntax_error(x.name, x.name_len)) {
		rc = set_exception(t, &x);
		if (rc < 0)
			return rc;
		t->state = S_MESSAGE;
		return add_line(t, l, true);
	}
	return restart(t, l, claimed, emit, ud);
}

/* Emit the held error, then read the line afresh. */
static int finish(struct tb *t, const dr_line *l, bool claimed,
                  dr_emit_fn emit, void *ud)
{
	int rc = emit_error(t, emit, ud);

	if (rc < 0)
		return rc;
	return idle_line(t, l, claimed, emit, ud);
}

static int message_line(struct tb *t, const dr_line *l, bool claimed,
                        dr_emit_fn emit, void *ud)
{
	struct pyf_exception x;
	struct pyf_frame pf;
	struct view v;
	int rc;

	if (claimed || !line_view(t, l, &v))
		return finish(t, l, claimed, emit, ud);
	if (v.nested) { /* a group's sub-exceptions */
		t->msg_open = false;
		return add_line(t, l, false);
	}
	if (pyf_is_blank(v.s, v.n)) {
		t->blanks++;
		if (!t->msg_multiline || t->blanks > 1)
			t->msg_open = false;
		return DR_CLAIMED;
	}
	if (pyf_chain_marker(v.s, v.n)) {
		t->state = S_CHAIN;
		return add_line(t, l, true);
	}
	if (!t->msg_open || lk_classify(v.s, v.n) == LK_PROGRESS)
		return finish(t, l, claimed, emit, ud); /* tqdm pads its bars with blanks */
	if (is_indented(&v) ||
	    (t->msg_nested && pyf_parse_exception(v.s, v.n, &x) && x.strength == 2)) {
		if (is_indented(&v) && pyf_parse_frame(v.s, v.n, false, &pf))
			t->msg_nested = true;
	} else if (message_goes_on(t, &v)) {
		t->msg_lines++;
		t->msg_bytes += v.n;
	} else {
		return finish(t, l, claimed, emit, ud);
	}
	rc = continue_message(t, &v);
	if (rc < 0)
		return rc;
	return add_line(t, l, true);
}

static int chain_line(struct tb *t, const dr_line *l, bool claimed,
                      dr_emit_fn emit, void *ud)
{
	struct pyf_exception x;
	struct view v;
	enum opener kind;
	const char *name = NULL;
	size_t len = 0;
	int rc;

	if (claimed || !line_view(t, l, &v))
		return finish(t, l, claimed, emit, ud);
	if (pyf_is_blank(v.s, v.n)) {
		t->blanks++;
		return DR_CLAIMED;
	}
	kind = opener_of(l, &len, &name);
	if (kind != OPEN_NONE) {
		rc = push_chain(t);
		return rc < 0 ? rc : open_traceback(t, l, kind, len, name);
	}
	if (pyf_parse_exception(v.s, v.n, &x) && x.strength == 2) {
		/* A link printed without traceback (it was never raised). */
		rc = push_chain(t);
		if (rc == 0)
			rc = set_exception(t, &x);
		if (rc < 0)
			return rc;
		t->state = S_MESSAGE;
		return add_line(t, l, true);
	}
	return finish(t, l, claimed, emit, ud);
}

/* ------------------------------------------------------------------ */
/* Detector ops                                                        */

static void *tb_create(void *config)
{
	struct tb *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->state = S_IDLE;
	dr_strbuf_init(&t->message, MESSAGE_MAX);
	dr_strbuf_init(&t->text, TEXT_HARD);
	dr_strbuf_init(&t->raw, TEXT_HARD);
	dr_strbuf_init(&t->last_text, MESSAGE_MAX);
	dr_strbuf_init(&t->last_raw, MESSAGE_MAX);
	return t;
}

static int tb_line(void *state, const dr_line *l, bool claimed,
                   dr_emit_fn emit, void *ud)
{
	struct tb *t = state;
	int rc = DR_PASS;

	switch (t->state) {
	case S_IDLE:    rc = idle_line(t, l, claimed, emit, ud); break;
	case S_DASHES:  rc = dashes_line(t, l, claimed, emit, ud); break;
	case S_BODY:    rc = body_line(t, l, claimed, emit, ud); break;
	case S_IPYTHON: rc = ipython_line(t, l, claimed, emit, ud); break;
	case S_SYNTAX:  rc = syntax_line(t, l, claimed, emit, ud); break;
	case S_MESSAGE: rc = message_line(t, l, claimed, emit, ud); break;
	case S_CHAIN:   rc = chain_line(t, l, claimed, emit, ud); break;
	}
	if (rc < 0)
		error_reset(t); /* out of memory: this error is lost, not the next */
	return rc;
}

/* Only a complete error is held back for the settle timer; a traceback
 * still missing its exception line waits for more output. */
static bool tb_pending(void *state)
{
	const struct tb *t = state;

	return t->state == S_MESSAGE || t->state == S_CHAIN;
}

static void tb_flush(void *state, dr_emit_fn emit, void *ud)
{
	struct tb *t = state;

	if (tb_pending(t))
		emit_error(t, emit, ud);
}

static void tb_destroy(void *state)
{
	struct tb *t = state;

	if (!t)
		return;
	error_reset(t);
	dr_strbuf_free(&t->message);
	dr_strbuf_free(&t->text);
	dr_strbuf_free(&t->raw);
	dr_strbuf_free(&t->last_text);
	dr_strbuf_free(&t->last_raw);
	free(t);
}

const dr_detector_ops dr__python_traceback_ops = {
	.name = "python.traceback",
	.create = tb_create,
	.line = tb_line,
	.flush = tb_flush,
	.pending = tb_pending,
	.destroy = tb_destroy,
};
