/*
 * linebuf.c - per-source line assembly and terminal rendering.
 *
 * Bytes arrive in pieces of any size. dr_linebuf_feed() keeps the partial
 * line between calls and hands out each complete line twice: as received
 * (raw) and as a terminal would show it (text). The result never depends on
 * how the bytes were split: a "\r" at the end of one feed is held back
 * (pending_cr) until the next byte tells whether it was half of a "\r\n".
 *
 * Rendering (dr_render_line) models one terminal row:
 *   - printable bytes overwrite the cell under the cursor (UTF-8 sequences
 *     are one cell), so "50%\r100%" shows "100%";
 *   - "\r" moves the cursor to column 0, "\b" one cell left;
 *   - CSI sequences are removed; the few that edit a row are applied
 *     (K erase in line, G column, C forward, D back); OSC/DCS/APC/PM/SOS
 *     strings and two-byte escapes are removed;
 *   - other control bytes are dropped, tabs kept.
 * The row is a gap buffer in the caller's output array: cells left of the
 * cursor sit at the start, cells right of it at the end. Moving the cursor
 * home costs what was written since, so a line renders in linear time.
 * The output never exceeds the input: every cell comes from at least one
 * input byte, and erased cells only become blanks where input stood.
 *
 * A line that grows past max_line is cut. Before cutting, a progress bar
 * redrawn with "\r" (tqdm, pip) is compacted: everything before its last
 * "\r" is replaced by its rendering, which shows the same.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linebuf.h"

#define LINEBUF_DEFAULT_MAX (64 * 1024)

/* ------------------------------------------------------------------ */
/* Terminal row (gap buffer)                                           */

struct row {
	char *cells;    /* out, room for `size` bytes */
	size_t size;
	size_t left;    /* bytes left of the cursor: cells[0..left) */
	size_t right;   /* start of bytes right of the cursor: cells[right..size) */
	size_t col;     /* cursor column, in cells */
};

/* Length of the UTF-8 sequence a lead byte announces; 1 for anything that
 * is not a valid lead so stray bytes still make one cell each. */
static size_t utf8_seq_len(unsigned char c)
{
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 1;
}

static bool utf8_is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/* Size of the cell starting at p (at most avail bytes). */
static size_t cell_len(const char *p, size_t avail)
{
	size_t want = utf8_seq_len((unsigned char)p[0]), n = 1;

	while (n < want && n < avail && utf8_is_cont((unsigned char)p[n]))
		n++;
	return n;
}

/* Move one cell from the right of the cursor to its left. */
static bool row_forward(struct row *r)
{
	size_t n;

	if (r->right == r->size)
		return false;
	n = cell_len(r->cells + r->right, r->size - r->right);
	memmove(r->cells + r->left, r->cells + r->right, n);
	r->left += n;
	r->right += n;
	r->col++;
	return true;
}

/* Move one cell from the left of the cursor to its right. */
static bool row_back(struct row *r)
{
	size_t start;

	if (r->left == 0)
		return false;
	/* A cell is a lead byte and up to 3 continuation bytes. */
	start = r->left - 1;
	while (start > 0 && r->left - start < 4 &&
	       utf8_is_cont((unsigned char)r->cells[start]))
		start--;
	if (cell_len(r->cells + start, r->left - start) != r->left - start)
		start = r->left - 1; /* stray continuation byte: a cell alone */
	r->right -= r->left - start;
	memmove(r->cells + r->right, r->cells + start, r->left - start);
	r->left = start;
	r->col--;
	return true;
}

/* "\r": all cells go right of the cursor. */
static void row_home(struct row *r)
{
	r->right -= r->left;
	memmove(r->cells + r->right, r->cells, r->left);
	r->left = 0;
	r->col = 0;
}

/* Write one cell (n bytes) at the cursor, replacing the cell under it. */
static void row_put(struct row *r, const char *p, size_t n)
{
	if (r->right < r->size)
		r->right += cell_len(r->cells + r->right, r->size - r->right);
	/* Room is guaranteed: the row holds no more bytes than were read. */
	memcpy(r->cells + r->left, p, n);
	r->left += n;
	r->col++;
}

/* CSI K: 0 erases to the end, 1 to the start, 2 the whole row. Erased cells
 * left of the cursor become blanks so the cursor column stays right. */
static void row_erase(struct row *r, unsigned mode)
{
	if (mode == 0 || mode == 2)
		r->right = r->size;
	if (mode == 1 || mode == 2) {
		memset(r->cells, ' ', r->col);
		r->left = r->col;
	}
}

/* Cursor to column `col` (0-based), never past the written cells. */
static void row_seek(struct row *r, size_t col)
{
	while (r->col > col && row_back(r))
		;
	while (r->col < col && row_forward(r))
		;
}

/* ------------------------------------------------------------------ */
/* Escape sequences                                                    */

/* Apply the CSI sequence in[0..len) (after "ESC ["), if it edits the row. */
static void apply_csi(struct row *r, const char *params, size_t plen, char final)
{
	unsigned long n = 0;
	bool have = false;
	size_t i;

	for (i = 0; i < plen; i++) {
		if (params[i] < '0' || params[i] > '9')
			return; /* private or multi-parameter: not a row edit we model */
		if (n < 100000)
			n = n * 10 + (unsigned long)(params[i] - '0');
		have = true;
	}
	switch (final) {
	case 'K':
		if (n <= 2)
			row_erase(r, (unsigned)n);
		break;
	case 'G':
		row_seek(r, have && n > 0 ? n - 1 : 0);
		break;
	case 'C':
		row_seek(r, r->col + (have && n > 0 ? n : 1));
		break;
	case 'D': {
		size_t back = have && n > 0 ? n : 1;
		row_seek(r, back > r->col ? 0 : r->col - back);
		break;
	}
	default:
		break;
	}
}

/* Skip a string sequence (OSC, DCS, ...) starting after its introducer.
 * It ends at BEL or ST (ESC \); unterminated, it runs to the end of line. */
static size_t skip_string_seq(const char *in, size_t i, size_t len)
{
	while (i < len) {
		if (in[i] == '\a')
			return i + 1;
		if (in[i] == '\033' && i + 1 < len && in[i + 1] == '\\')
			return i + 2;
		i++;
	}
	return len;
}

/* Handle the escape sequence at in[i] == ESC; returns the index after it. */
static size_t render_escape(struct row *r, const char *in, size_t i, size_t len)
{
	size_t p0, p1;

	i++;
	if (i >= len)
		return len;
	switch (in[i]) {
	case '[':
		p0 = ++i;
		while (i < len && (unsigned char)in[i] >= 0x30 && (unsigned char)in[i] <= 0x3f)
			i++;
		p1 = i;
		while (i < len && (unsigned char)in[i] >= 0x20 && (unsigned char)in[i] <= 0x2f)
			i++;
		if (i >= len)
			return len;
		if ((unsigned char)in[i] >= 0x40 && (unsigned char)in[i] <= 0x7e) {
			if (p1 == i) /* no intermediates */
				apply_csi(r, in + p0, p1 - p0, in[i]);
			return i + 1;
		}
		return i; /* malformed: drop what was read, keep the byte */
	case ']': case 'P': case 'X': case '^': case '_':
		return skip_string_seq(in, i + 1, len);
	default:
		/* nF escapes: intermediates then one final byte (ESC ( B, ESC 7). */
		while (i < len && (unsigned char)in[i] >= 0x20 && (unsigned char)in[i] <= 0x2f)
			i++;
		if (i < len && (unsigned char)in[i] >= 0x30 && (unsigned char)in[i] <= 0x7e)
			i++;
		return i;
	}
}

size_t dr_render_line(const char *in, size_t len, char *out)
{
	struct row r = { .cells = out, .size = len, .left = 0, .right = len, .col = 0 };
	size_t i = 0, n;
	unsigned char c;

	while (i < len) {
		c = (unsigned char)in[i];
		if (c == '\033') {
			i = render_escape(&r, in, i, len);
		} else if (c == '\r') {
			row_home(&r);
			i++;
		} else if (c == '\b') {
			row_back(&r);
			i++;
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			i++;
		} else {
			n = cell_len(in + i, len - i);
			row_put(&r, in + i, n);
			i += n;
		}
	}
	/* Close the gap. */
	memmove(out + r.left, out + r.right, len - r.right);
	n = r.left + (len - r.right);
	out[n] = '\0';
	return n;
}

/* ------------------------------------------------------------------ */
/* Line assembly                                                       */

int dr_linebuf_init(dr_linebuf *lb, size_t max_line)
{
	memset(lb, 0, sizeof(*lb));
	lb->max_line = max_line ? max_line : LINEBUF_DEFAULT_MAX;
	return 0;
}

void dr_linebuf_free(dr_linebuf *lb)
{
	free(lb->buf);
	free(lb->scratch);
	memset(lb, 0, sizeof(*lb));
}

/* Make room for `need` bytes plus a NUL in *p (capacity *cap). */
static int grow(char **p, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 128;
	char *np;

	if (need + 1 <= *cap)
		return 0;
	while (ncap < need + 1)
		ncap *= 2;
	np = realloc(*p, ncap);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

/* Hand buf[0..len) out as one line and keep nothing. */
/* True if a terminal shows these bytes as they are: no control byte but
 * tab (ESC, "\r" and "\b" are control bytes), so rendering is a copy. Most
 * log lines are plain; this keeps them off the terminal model. */
static bool plain_line(const char *p, size_t len)
{
	const unsigned char *u = (const unsigned char *)p;

	for (size_t i = 0; i < len; i++)
		if ((u[i] < 0x20 && u[i] != '\t') || u[i] == 0x7f)
			return false;
	return true;
}

static int emit_line(dr_linebuf *lb, size_t len, dr_line_cb cb, void *ud)
{
	dr_line line;
	int rc;

	rc = grow(&lb->scratch, &lb->scratch_cap, len);
	if (rc < 0)
		return rc;
	if (lb->buf)
		lb->buf[len] = '\0';
	line.raw = lb->buf ? lb->buf : "";
	line.raw_len = len;
	line.text = lb->scratch;
	if (plain_line(line.raw, len)) {
		memcpy(lb->scratch, line.raw, len);
		lb->scratch[len] = '\0';
		line.text_len = len;
	} else {
		line.text_len = dr_render_line(line.raw, len, lb->scratch);
	}
	cb(ud, &line);
	return 0;
}

/* The partial line is full: replace the part before its last "\r" by its
 * rendering if that frees room, else hand out max_line bytes as a line. */
static int make_room(dr_linebuf *lb, dr_line_cb cb, void *ud)
{
	size_t head = lb->len, shown;
	int rc;

	while (head > 0 && lb->buf[head - 1] != '\r')
		head--;
	if (head > 1) {
		head--; /* the bytes before the last "\r" */
		rc = grow(&lb->scratch, &lb->scratch_cap, head);
		if (rc < 0)
			return rc;
		shown = dr_render_line(lb->buf, head, lb->scratch);
		if (shown < head) {
			memcpy(lb->buf, lb->scratch, shown);
			memmove(lb->buf + shown, lb->buf + head, lb->len - head);
			lb->len -= head - shown;
			return 0;
		}
	}
	rc = emit_line(lb, lb->len, cb, ud);
	lb->len = 0;
	return rc;
}

/* Append bytes that hold no "\n" to the partial line, cutting as needed. */
static int append(dr_linebuf *lb, const char *p, size_t n, dr_line_cb cb, void *ud)
{
	size_t take;
	int rc;

	while (n > 0) {
		if (lb->len == lb->max_line) {
			rc = make_room(lb, cb, ud);
			if (rc < 0)
				return rc;
		}
		take = lb->max_line - lb->len;
		if (take > n)
			take = n;
		rc = grow(&lb->buf, &lb->cap, lb->len + take);
		if (rc < 0)
			return rc;
		memcpy(lb->buf + lb->len, p, take);
		lb->len += take;
		p += take;
		n -= take;
	}
	return 0;
}

/* A "\r" held back at the end of the previous feed was not followed by
 * "\n": it is part of the line. */
static int settle_cr(dr_linebuf *lb, dr_line_cb cb, void *ud)
{
	if (!lb->pending_cr)
		return 0;
	lb->pending_cr = 0;
	return append(lb, "\r", 1, cb, ud);
}

int dr_linebuf_feed(dr_linebuf *lb, const char *data, size_t len, dr_line_cb cb, void *ud)
{
	const char *end = data + len, *p = data, *stop;
	int rc = 0;

	while (p < end) {
		if (*p == '\n') {
			lb->pending_cr = 0; /* "\r\n" is one end of line */
			rc = emit_line(lb, lb->len, cb, ud);
			lb->len = 0;
			p++;
		} else if (*p == '\r') {
			rc = settle_cr(lb, cb, ud);
			lb->pending_cr = 1;
			p++;
		} else {
			rc = settle_cr(lb, cb, ud);
			if (rc < 0)
				break;
			for (stop = p; stop < end && *stop != '\n' && *stop != '\r'; stop++)
				;
			rc = append(lb, p, (size_t)(stop - p), cb, ud);
			p = stop;
		}
		if (rc < 0)
			break;
	}
	return rc;
}

int dr_linebuf_flush(dr_linebuf *lb, dr_line_cb cb, void *ud)
{
	int rc;

	/* A final "\r" is taken as the end of the line it closes. */
	lb->pending_cr = 0;
	if (lb->len == 0)
		return 0;
	rc = emit_line(lb, lb->len, cb, ud);
	lb->len = 0;
	return rc;
}
