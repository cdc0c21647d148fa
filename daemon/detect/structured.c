/*
 * structured.c - errors reported already parsed (IPython's ename, evalue
 * and traceback), as sent by the IPython hook with source.error.
 *
 * Exception and message are taken as given. Frames and chain are read from
 * the traceback lines by the same state machine that reads a source's
 * output, so the structured report of an error and the parsed text of the
 * same error have the same frames, and so the same signature. The lines may
 * be IPython's coloured entries (joined with "\n" when displayed) or
 * traceback.format_exception() strings (each ending in "\n"); both are
 * joined into one text and cut at newlines.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "detect_internal.h"
#include "linebuf.h"
#include "python_frames.h"
#include "strbuf.h"

#define STRUCTURED_TEXT_MAX (320 * 1024)

/* What the state machine hands out: we keep the last error. */
static void keep_last(void *ud, dr_error *e)
{
	dr_error **last = ud;

	dr_error_free(*last);
	*last = e;
}

struct reader {
	void *tb;                /* python.traceback state, owned */
	dr_error *parsed;        /* last error it emitted, owned */
	dr_strbuf text, raw;     /* the whole traceback */
	dr_error *fallback;      /* frames read line by line, owned */
	char *scratch;           /* rendering buffer, owned */
	size_t scratch_cap;
	int rc;
};

/* Without an error from the state machine (a traceback missing its last
 * line), frames still count: keep those after the last header. */
static void fallback_frame(struct reader *r, const dr_line *l)
{
	struct pyf_frame pf;
	size_t len;
	const char *name;
	dr_frame *grown;

	if (pyf_cpython_header(l->text, l->text_len, &len) ||
	    pyf_ipython_header(l->text, l->text_len, &name, &len)) {
		while (r->fallback->nframes > 0) {
			r->fallback->nframes--;
			free(r->fallback->frames[r->fallback->nframes].file);
			free(r->fallback->frames[r->fallback->nframes].func);
		}
		return;
	}
	if (!pyf_parse_frame(l->text, l->text_len, true, &pf) || r->fallback->nframes >= 200)
		return;
	grown = realloc(r->fallback->frames, (r->fallback->nframes + 1) * sizeof(*grown));
	if (!grown) {
		r->rc = -ENOMEM;
		return;
	}
	r->fallback->frames = grown;
	if (pyf_frame_to_dr(&pf, &grown[r->fallback->nframes]) < 0)
		r->rc = -ENOMEM;
	else
		r->fallback->nframes++;
}

static void read_line(struct reader *r, const char *raw, size_t n)
{
	dr_line l;
	char *grown;

	if (n > 0 && raw[n - 1] == '\r')
		n--;
	if (n + 1 > r->scratch_cap) {
		grown = realloc(r->scratch, n + 1);
		if (!grown) {
			r->rc = -ENOMEM;
			return;
		}
		r->scratch = grown;
		r->scratch_cap = n + 1;
	}
	l.raw = raw;
	l.raw_len = n;
	l.text = r->scratch;
	l.text_len = dr_render_line(raw, n, r->scratch);
	if (dr__python_traceback_ops.line(r->tb, &l, false, keep_last, &r->parsed) < 0)
		r->rc = -ENOMEM;
	fallback_frame(r, &l);
	/* A traceback longer than the cap is cut; frames are still read. */
	dr_strbuf_add_line(&r->text, l.text, l.text_len);
	dr_strbuf_add_line(&r->raw, l.raw, l.raw_len);
}

/* Feed every line of the entries, as one text. */
static void read_traceback(struct reader *r, const char *const *tb, size_t n)
{
	const char *p, *nl;
	size_t i;

	for (i = 0; i < n && r->rc == 0; i++) {
		if (!tb[i])
			continue;
		for (p = tb[i]; *p; p = nl + 1) {
			nl = strchr(p, '\n');
			if (!nl) {
				read_line(r, p, strlen(p));
				break;
			}
			read_line(r, p, (size_t)(nl - p));
		}
	}
	dr__python_traceback_ops.flush(r->tb, keep_last, &r->parsed);
}

/* Give e the exception and message as reported, and the text. */
static dr_error *finish(struct reader *r, dr_error *e, const char *ename, const char *evalue)
{
	char *detector = strdup("python.structured"), *exc = strdup(ename);
	char *msg = strdup(evalue), *text = dr_strbuf_dup(&r->text);
	char *raw = dr_strbuf_dup(&r->raw);

	if (!detector || !exc || !msg || !text || !raw) {
		free(detector);
		free(exc);
		free(msg);
		free(text);
		free(raw);
		return NULL;
	}
	free(e->detector);
	free(e->exception);
	free(e->message);
	free(e->text);
	free(e->raw);
	e->detector = detector;
	e->exception = exc;
	e->message = msg;
	e->text = text;
	e->raw = raw;
	return e;
}

dr_error *dr_error_from_structured(const char *ename, const char *evalue,
                                   const char *const *traceback, size_t n)
{
	struct reader r = { 0 };
	dr_error *e = NULL;

	ename = ename ? ename : "";
	evalue = evalue ? evalue : "";
	dr_strbuf_init(&r.text, STRUCTURED_TEXT_MAX);
	dr_strbuf_init(&r.raw, STRUCTURED_TEXT_MAX);
	r.tb = dr__python_traceback_ops.create(NULL);
	r.fallback = dr__error_new("python.structured", ename, evalue);
	if (!r.tb || !r.fallback)
		goto out;
	if (traceback)
		read_traceback(&r, traceback, n);
	if (r.rc < 0)
		goto out;
	if (r.parsed) {
		e = r.parsed;
		r.parsed = NULL;
	} else {
		e = r.fallback;
		r.fallback = NULL;
	}
	if (!finish(&r, e, ename, evalue)) {
		dr_error_free(e);
		e = NULL;
	}
out:
	if (r.tb)
		dr__python_traceback_ops.destroy(r.tb);
	dr_error_free(r.parsed);
	dr_error_free(r.fallback);
	dr_strbuf_free(&r.text);
	dr_strbuf_free(&r.raw);
	free(r.scratch);
	return e;
}
