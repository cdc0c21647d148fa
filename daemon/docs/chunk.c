/*
 * chunk.c - a document cut into chunks for retrieval.
 *
 * A unit is a section's run of blocks (CHUNK_SECTION) or a single block
 * (CHUNK_PARAGRAPH); units never share a chunk, so a chunk never crosses a
 * section. Within a unit, blocks are packed ("\n\n" between them) up to
 * max_chars. A prose block longer than that is cut at the last paragraph
 * break, else line break, else space that fits, else at a character
 * boundary. A code block is never cut: one longer than max_chars becomes
 * a chunk of its own, the only kind of chunk over the limit. When a unit
 * goes on into a new chunk, that chunk starts with up to `overlap` chars
 * (from a word start) of the previous one, if they fit beside what follows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "docs_internal.h"

#define DEFAULT_MAX_CHARS 1500

struct packer {
	struct doc_chunk *chunks;       /* owned until handed out */
	size_t n, cap;
	size_t max, overlap;
	struct strbuf cur;       /* the chunk being filled */
	int section;
	size_t start, end;
	bool has_code;
	bool fresh;              /* cur holds no piece yet (maybe an overlap) */
	bool unit_emitted;       /* the current unit already gave a chunk */
};

static int emit(struct packer *p)
{
	struct doc_chunk *c;

	if (p->fresh)
		return 0;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct doc_chunk *grown = realloc(p->chunks, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		p->chunks = grown;
		p->cap = cap;
	}
	c = &p->chunks[p->n];
	if (!(c->text = sb_take(&p->cur, false)))
		return -ENOMEM;
	p->n++;
	c->section = p->section;
	c->start = p->start;
	c->end = p->end;
	c->has_code = p->has_code;
	p->has_code = false;
	p->fresh = true;
	p->unit_emitted = true;
	return 0;
}

/* The last up to `overlap` bytes of s, from a word start when one is
 * there and never inside a UTF-8 sequence. */
static const char *overlap_tail(const char *s, size_t overlap)
{
	size_t len = strlen(s);
	const char *t = s + (len > overlap ? len - overlap : 0), *space;

	if (t == s)
		return t;
	space = strpbrk(t, " \n\t");
	if (space && space[1])
		return space + 1;
	while (*t && ((unsigned char)*t & 0xC0) == 0x80)
		t++;
	return t;
}

/* Add one piece (a whole block or a cut of one) to the current chunk,
 * emitting first if it would not fit. */
static int add_piece(struct packer *p, const char *text, size_t len, bool code,
		     size_t start, size_t end)
{
	const char *tail;
	int rc;

	if (!p->fresh && p->cur.len + 2 + len > p->max && (rc = emit(p)) < 0)
		return rc;
	if (p->fresh) {
		tail = p->unit_emitted && p->overlap ?
			overlap_tail(p->chunks[p->n - 1].text, p->overlap) : "";
		if (*tail && strlen(tail) + 1 + len <= p->max &&
		    (sb_add(&p->cur, tail, strlen(tail)) < 0 || sb_add(&p->cur, "\n", 1) < 0))
			return -ENOMEM;
		p->start = start;
		p->end = end;
	} else {
		if (sb_add(&p->cur, "\n\n", 2) < 0)
			return -ENOMEM;
		p->start = start < p->start ? start : p->start;
		p->end = end > p->end ? end : p->end;
	}
	p->fresh = false;
	p->has_code |= code;
	return sb_add(&p->cur, text, len);
}

/* Where to cut s (len > limit): after the last paragraph break, line
 * break or space within limit, else at a character boundary. */
static size_t cut_point(const char *s, size_t limit)
{
	static const char *const seps[] = { "\n\n", "\n", " " };
	size_t i, k, cut;

	for (k = 0; k < 3; k++)
		for (i = limit; i > 0; i--)
			if (strncmp(s + i, seps[k], strlen(seps[k])) == 0)
				return i;
	cut = limit;
	while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	if (cut == 0) /* a limit smaller than one character */
		for (cut = 1; ((unsigned char)s[cut] & 0xC0) == 0x80; cut++)
			;
	return cut;
}

/* A prose block over the limit, cut into pieces. */
static int add_long_prose(struct packer *p, const doc_block *b, size_t limit)
{
	const char *s = b->text;
	size_t len = strlen(s), cut, piece;
	int rc;

	while (len > 0) {
		cut = len > limit ? cut_point(s, limit) : len;
		piece = cut;
		while (piece > 0 && strchr(" \t\n", s[piece - 1]))
			piece--;
		if (piece && (rc = add_piece(p, s, piece, false, b->start, b->end)) < 0)
			return rc;
		s += cut;
		len -= cut;
		while (len > 0 && strchr(" \t\n", *s))
			s++, len--;
	}
	return 0;
}

/* Blocks [from, to) as one unit. */
static int add_unit(struct packer *p, const doc *d, size_t from, size_t to)
{
	size_t i, len, ovl = p->overlap < p->max / 2 ? p->overlap : p->max / 2;
	size_t limit = p->max > ovl + 1 ? p->max - ovl - 1 : 1;
	int rc = 0;

	p->section = d->blocks[from].section;
	p->unit_emitted = false;
	for (i = from; i < to && rc == 0; i++) {
		const doc_block *b = &d->blocks[i];

		len = strlen(b->text);
		if (b->code || len <= p->max)
			rc = add_piece(p, b->text, len, b->code, b->start, b->end);
		else
			rc = add_long_prose(p, b, limit);
	}
	return rc < 0 ? rc : emit(p);
}

int doc_chunk(const doc *d, const struct chunk_options *opt, struct doc_chunk **out, size_t *n)
{
	struct packer p = { .fresh = true };
	size_t from = 0, to;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return -EINVAL;
	p.max = opt && opt->max_chars ? opt->max_chars : DEFAULT_MAX_CHARS;
	p.overlap = opt ? opt->overlap : 0;
	while (from < d->nblocks && rc == 0) {
		to = from + 1;
		while ((!opt || opt->strategy == CHUNK_SECTION) && to < d->nblocks &&
		       d->blocks[to].section == d->blocks[from].section)
			to++;
		rc = add_unit(&p, d, from, to);
		from = to;
	}
	sb_release(&p.cur);
	if (rc < 0) {
		doc_chunks_free(p.chunks, p.n);
		return rc;
	}
	*out = p.chunks;
	*n = p.n;
	return 0;
}

void doc_chunks_free(struct doc_chunk *c, size_t n)
{
	size_t i;

	for (i = 0; c && i < n; i++)
		free(c[i].text);
	free(c);
}
