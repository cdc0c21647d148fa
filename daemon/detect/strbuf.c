/*
 * strbuf.c - growable byte strings with a size limit (see strbuf.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

void dr_strbuf_init(dr_strbuf *b, size_t limit)
{
	b->s = NULL;
	b->len = b->cap = 0;
	b->limit = limit;
}

int dr_strbuf_add(dr_strbuf *b, const char *p, size_t n)
{
	size_t ncap, i;
	char *ns;

	if (n > b->limit - b->len)
		return -ENOSPC;
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 64;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		ns = realloc(b->s, ncap);
		if (!ns)
			return -ENOMEM;
		b->s = ns;
		b->cap = ncap;
	}
	for (i = 0; i < n; i++)
		b->s[b->len + i] = p[i] ? p[i] : '?';
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

int dr_strbuf_add_line(dr_strbuf *b, const char *p, size_t n)
{
	int rc;

	if (b->len == 0)
		return dr_strbuf_add(b, p, n);
	if (n + 1 > b->limit - b->len)
		return -ENOSPC;
	rc = dr_strbuf_add(b, "\n", 1);
	if (rc < 0)
		return rc;
	return dr_strbuf_add(b, p, n);
}

char *dr_strbuf_dup(const dr_strbuf *b)
{
	char *s = malloc(b->len + 1);

	if (!s)
		return NULL;
	if (b->len)
		memcpy(s, b->s, b->len);
	s[b->len] = '\0';
	return s;
}

void dr_strbuf_reset(dr_strbuf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

void dr_strbuf_free(dr_strbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}
