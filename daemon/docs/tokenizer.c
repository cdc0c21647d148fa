/*
 * tokenizer.c - the "doctor" FTS5 tokenizer (see tokenizer.h): SQLite's
 * unicode61 with '.' and '_' as token characters, so that identifiers come
 * through whole, and a splitter that adds their parts.
 *
 * unicode61 folds the token (lower case, diacritics removed); the original
 * text at the token's offsets still has its case, which is where camelCase
 * boundaries are read from. The two have the same length exactly when the
 * token is ASCII; otherwise only '.' and '_' split it.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

/* unicode61's settings: diacritics folded the thorough way (2: also on
 * code points that carry more than one), and identifier punctuation kept
 * inside tokens. Arguments given in the table's tokenize= option come
 * after these and may override them. */
static const char *const base_args[] = {
	"remove_diacritics", "2", "tokenchars", "._",
};
#define NBASE_ARGS (int)(sizeof(base_args) / sizeof(base_args[0]))

/* What was registered: the API to find unicode61 with. Owned by SQLite
 * (freed by reg_destroy when the connection closes). */
struct registration {
	fts5_api *api;               /* borrowed from the connection */
};

/* One instance: unicode61 underneath. */
struct doctor_tok {
	fts5_tokenizer base;         /* unicode61's methods */
	Fts5Tokenizer *inst;         /* unicode61's instance; owned */
};

/* ------------------------------------------------------------ splitting */

typedef int (*emit_fn)(void *ctx, int tflags, const char *tok, int ntok, int start, int end);

/* One token of unicode61 on its way out. */
struct split {
	emit_fn emit;
	void *emit_ctx;
	const char *text;            /* the text being tokenized; borrowed */
	bool query;                  /* FTS5_TOKENIZE_QUERY: wholes only */
};

static bool is_sep(char c)
{
	return c == '.' || c == '_';
}

static bool is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool is_lower_or_digit(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Whether a part of an ASCII identifier ends before orig[i] (0 < i): a
 * case change fooBar, or the last capital of a run followed by lower case
 * (HTTPServer: before 'S'). */
static bool camel_break(const char *orig, size_t i, size_t n)
{
	if (!is_upper(orig[i]))
		return false;
	if (is_lower_or_digit(orig[i - 1]))
		return true;
	return is_upper(orig[i - 1]) && i + 1 < n && orig[i + 1] >= 'a' && orig[i + 1] <= 'z';
}

/* State while the parts of one identifier are emitted. */
struct parts {
	struct split *s;
	const char *tok;             /* folded whole; borrowed */
	int ntok, start, end;        /* its length and offsets in the text */
	const char *orig;            /* the original at the same offsets when
	                                ASCII (same length), else NULL */
	bool first;                  /* no part emitted yet */
	int rc;
};

/* Emit tok[from..to) as one part, then, when it is the identifier's first,
 * the whole colocated, and when it is its segment's first, the segment
 * (seg[0..nseg)) colocated unless it is the same as the whole or part. */
static void emit_part(struct parts *p, int from, int to, int seg, int seg_end, bool seg_first)
{
	int s = p->orig ? p->start + from : p->start;
	int e = p->orig ? p->start + to : p->end;
	bool whole_is_seg = seg == 0 && seg_end == p->ntok;

	if (p->rc != SQLITE_OK || to <= from)
		return;
	p->rc = p->s->emit(p->s->emit_ctx, 0, p->tok + from, to - from, s, e);
	if (p->rc == SQLITE_OK && p->first && to - from != p->ntok)
		p->rc = p->s->emit(p->s->emit_ctx, FTS5_TOKEN_COLOCATED, p->tok, p->ntok,
				   p->start, p->end);
	p->first = false;
	if (p->rc == SQLITE_OK && seg_first && !whole_is_seg && to - from != seg_end - seg)
		p->rc = p->s->emit(p->s->emit_ctx, FTS5_TOKEN_COLOCATED, p->tok + seg,
				   seg_end - seg, p->orig ? p->start + seg : p->start,
				   p->orig ? p->start + seg_end : p->end);
}

/* The parts of segment tok[seg..seg_end) (between dots): split at runs of
 * '_' and, for ASCII, at case changes. */
static void emit_segment(struct parts *p, int seg, int seg_end)
{
	bool seg_first = true;
	int i = seg, from;

	while (i < seg_end && p->rc == SQLITE_OK) {
		while (i < seg_end && p->tok[i] == '_')
			i++;
		from = i;
		while (i < seg_end && p->tok[i] != '_') {
			i++;
			if (p->orig && i < seg_end && p->tok[i] != '_' &&
			    camel_break(p->orig, (size_t)i, (size_t)p->ntok))
				break;
		}
		if (i > from) {
			emit_part(p, from, i, seg, seg_end, seg_first);
			seg_first = false;
		}
	}
}

static bool needs_split(const char *tok, int n, const char *orig)
{
	int i;

	for (i = 0; i < n; i++)
		if (is_sep(tok[i]) || (orig && i > 0 && camel_break(orig, (size_t)i, (size_t)n)))
			return true;
	return false;
}

static bool ascii_span(const char *s, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/* unicode61's token callback. */
static int on_token(void *ctx, int tflags, const char *tok, int ntok, int start, int end)
{
	struct split *s = ctx;
	struct parts p = { .s = s, .first = true, .rc = SQLITE_OK };
	int i, seg;

	/* Dots at the edges are sentence punctuation ("see ray.init."). The
	 * original has the same dots there, so the offsets move with them. */
	while (ntok > 0 && tok[0] == '.') {
		tok++;
		ntok--;
		start++;
	}
	while (ntok > 0 && tok[ntok - 1] == '.') {
		ntok--;
		end--;
	}
	for (i = 0; i < ntok && is_sep(tok[i]); i++)
		;
	if (i == ntok)
		return SQLITE_OK;   /* only punctuation: no token */
	if (end - start == ntok && ascii_span(s->text + start, ntok))
		p.orig = s->text + start;
	if (s->query || !needs_split(tok, ntok, p.orig))
		return s->emit(s->emit_ctx, tflags, tok, ntok, start, end);
	p.tok = tok;
	p.ntok = ntok;
	p.start = start;
	p.end = end;
	for (seg = 0; seg < ntok && p.rc == SQLITE_OK; seg = i + 1) {
		for (i = seg; i < ntok && tok[i] != '.'; i++)
			;
		emit_segment(&p, seg, i);
	}
	return p.rc;
}

/* ------------------------------------------------------------ FTS5 methods */

static int tok_create(void *ud, const char **args, int nargs, Fts5Tokenizer **out)
{
	struct registration *reg = ud;
	struct doctor_tok *t;
	const char **all;
	void *u61_ud = NULL;
	int rc, i;

	*out = NULL;
	if (nargs < 0 || nargs > 64)
		return SQLITE_ERROR;
	t = calloc(1, sizeof(*t));
	all = calloc((size_t)(NBASE_ARGS + nargs), sizeof(*all));
	if (!t || !all) {
		free(t);
		free(all);
		return SQLITE_NOMEM;
	}
	for (i = 0; i < NBASE_ARGS; i++)
		all[i] = base_args[i];
	for (i = 0; i < nargs; i++)
		all[NBASE_ARGS + i] = args[i];
	rc = reg->api->xFindTokenizer(reg->api, "unicode61", &u61_ud, &t->base);
	if (rc == SQLITE_OK)
		rc = t->base.xCreate(u61_ud, all, NBASE_ARGS + nargs, &t->inst);
	free(all);
	if (rc != SQLITE_OK) {
		free(t);
		return rc;
	}
	*out = (Fts5Tokenizer *)t;
	return SQLITE_OK;
}

static void tok_delete(Fts5Tokenizer *p)
{
	struct doctor_tok *t = (struct doctor_tok *)p;

	if (!t)
		return;
	t->base.xDelete(t->inst);
	free(t);
}

static int tok_tokenize(Fts5Tokenizer *p, void *ctx, int flags, const char *text, int len,
			int (*token)(void *, int, const char *, int, int, int))
{
	struct doctor_tok *t = (struct doctor_tok *)p;
	struct split s = {
		.emit = token, .emit_ctx = ctx, .text = text,
		.query = (flags & FTS5_TOKENIZE_QUERY) != 0,
	};

	return t->base.xTokenize(t->inst, &s, flags, text, len, on_token);
}

static void reg_destroy(void *p)
{
	free(p);
}

int docs_fts5_api(sqlite3 *db, fts5_api **out)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	*out = NULL;
	rc = sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return rc == SQLITE_NOMEM ? -ENOMEM : -ENOTSUP;
	sqlite3_bind_pointer(stmt, 1, out, "fts5_api_ptr", NULL);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
	return *out && (*out)->iVersion >= 2 ? 0 : -ENOTSUP;
}

int docs_tokenizer_register(sqlite3 *db)
{
	fts5_tokenizer methods = { tok_create, tok_delete, tok_tokenize };
	struct registration *reg;
	fts5_api *api;
	int rc;

	rc = docs_fts5_api(db, &api);
	if (rc < 0)
		return rc;
	reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	reg->api = api;
	/* On failure SQLite has already called reg_destroy(reg). */
	rc = api->xCreateTokenizer(api, DOCS_TOKENIZER_NAME, reg, &methods, reg_destroy);
	if (rc != SQLITE_OK)
		return rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
	return 0;
}

/* ------------------------------------------------------------ direct use */

struct docs_tokenizer {
	fts5_tokenizer methods;      /* the registered tokenizer's */
	Fts5Tokenizer *inst;         /* owned */
};

struct direct {
	docs_token_fn fn;
	void *ud;
	int stopped;                 /* the callback's non-zero value */
};

static int on_direct(void *ctx, int tflags, const char *tok, int ntok, int start, int end)
{
	struct direct *d = ctx;

	d->stopped = d->fn(d->ud, tok, (size_t)ntok, (size_t)start, (size_t)end,
			   (tflags & FTS5_TOKEN_COLOCATED) != 0);
	return d->stopped ? SQLITE_DONE : SQLITE_OK;
}

/* Split spec at spaces into words[0..*n): newly allocated copy in *buf. */
static int split_spec(const char *spec, char **buf, const char *words[], int max, int *n)
{
	char *p, *save = NULL;

	*n = 0;
	if (!(*buf = strdup(spec ? spec : "")))
		return -ENOMEM;
	for (p = strtok_r(*buf, " \t", &save); p && *n < max; p = strtok_r(NULL, " \t", &save))
		words[(*n)++] = p;
	return *n ? 0 : -EINVAL;
}

int docs_tokenizer_new(sqlite3 *db, const char *spec, docs_tokenizer **out)
{
	const char *words[16];
	docs_tokenizer *t = NULL;
	char *buf = NULL;
	void *ud = NULL;
	fts5_api *api;
	int rc, n;

	*out = NULL;
	rc = split_spec(spec, &buf, words, 16, &n);
	if (rc == 0)
		rc = docs_fts5_api(db, &api);
	if (rc == 0 && !(t = calloc(1, sizeof(*t))))
		rc = -ENOMEM;
	if (rc < 0) {
		free(buf);
		return rc;
	}
	rc = api->xFindTokenizer(api, words[0], &ud, &t->methods);
	if (rc == SQLITE_OK)
		rc = t->methods.xCreate(ud, words + 1, n - 1, &t->inst);
	free(buf);
	if (rc != SQLITE_OK) {
		free(t);
		return rc == SQLITE_NOMEM ? -ENOMEM : rc == SQLITE_ERROR ? -ENOENT : -EIO;
	}
	*out = t;
	return 0;
}

void docs_tokenizer_free(docs_tokenizer *t)
{
	if (!t)
		return;
	t->methods.xDelete(t->inst);
	free(t);
}

int docs_tokenize(docs_tokenizer *t, const char *text, size_t len, bool query,
		  docs_token_fn fn, void *ud)
{
	struct direct d = { fn, ud, 0 };
	int rc;

	if (len > INT_MAX)
		len = INT_MAX;
	rc = t->methods.xTokenize(t->inst, &d, query ? FTS5_TOKENIZE_QUERY : FTS5_TOKENIZE_DOCUMENT,
				  text ? text : "", (int)len, on_direct);
	if (d.stopped)
		return d.stopped;
	if (rc != SQLITE_OK && rc != SQLITE_DONE)
		return rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
	return 0;
}
