/*
 * ring.c - bounded ring of recent lines (see ring.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

int ring_init(ring *r, size_t cap)
{
	memset(r, 0, sizeof *r);
	if (cap == 0)
		return 0;
	r->lines = calloc(cap, sizeof *r->lines);
	if (!r->lines)
		return -ENOMEM;
	r->cap = cap;
	return 0;
}

int ring_push(ring *r, const char *line, size_t len)
{
	char *copy;

	if (r->cap == 0)
		return 0;
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, line, len);
	copy[len] = '\0';
	free(r->lines[r->next]);
	r->lines[r->next] = copy;
	r->next = (r->next + 1) % r->cap;
	if (r->count < r->cap)
		r->count++;
	return 0;
}

const char *ring_newest(const ring *r, size_t i)
{
	if (i >= r->count)
		return NULL;
	return r->lines[(r->next + r->cap - 1 - i) % r->cap];
}

char *ring_join(const ring *r, size_t max)
{
	return ring_join_before(r, max, 0);
}

char *ring_join_before(const ring *r, size_t max, size_t skip)
{
	size_t avail = r->count > skip ? r->count - skip : 0;
	size_t n = avail < max ? avail : max;
	size_t first = (r->next + r->cap - skip - n) % (r->cap ? r->cap : 1);
	size_t total = 1, i, off = 0;
	char *out;

	for (i = 0; i < n; i++)
		total += strlen(r->lines[(first + i) % r->cap]) + 1;
	out = malloc(total);
	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		const char *l = r->lines[(first + i) % r->cap];
		size_t len = strlen(l);
		memcpy(out + off, l, len);
		off += len;
		if (i + 1 < n)
			out[off++] = '\n';
	}
	out[off] = '\0';
	return out;
}

void ring_free(ring *r)
{
	for (size_t i = 0; i < r->cap; i++)
		free(r->lines[i]);
	free(r->lines);
	memset(r, 0, sizeof *r);
}
