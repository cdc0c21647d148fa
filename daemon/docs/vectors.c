/*
 * vectors.c - embedding vectors: their little-endian float32 BLOB form,
 * normalisation and cosine similarity, the k nearest rows of a matrix by
 * a bounded heap, and reciprocal rank fusion (Cormack et al., 2009) of
 * the lexical and the vector rankings. See vectors.h for the contracts.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vectors.h"

/* ================================================================ storage */

void vec_encode(const float *v, size_t dim, unsigned char *out)
{
	size_t i;
	uint32_t u;

	for (i = 0; i < dim; i++) {
		memcpy(&u, &v[i], sizeof u);
		out[4 * i] = (unsigned char)(u & 0xff);
		out[4 * i + 1] = (unsigned char)((u >> 8) & 0xff);
		out[4 * i + 2] = (unsigned char)((u >> 16) & 0xff);
		out[4 * i + 3] = (unsigned char)(u >> 24);
	}
}

int vec_decode(const void *blob, size_t len, float *out, size_t dim)
{
	const unsigned char *b = blob;
	size_t i;
	uint32_t u;

	if (len != VEC_BYTES(dim) || (len && !blob))
		return -EINVAL;
	for (i = 0; i < dim; i++) {
		u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
		    (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
		memcpy(&out[i], &u, sizeof u);
		if (!isfinite(out[i]))
			return -EINVAL;
	}
	return 0;
}

/* ============================================================= arithmetic */

/* Eight independent partial sums: the loop pipelines (and vectorises)
 * without reassociating anything, so the result is the same on every
 * call for the same inputs. */
#define LANES 8

/* *ab = a.b and *bb = b.b, in this one fixed order of operations. */
static void dot2(const float *a, const float *b, size_t dim, double *ab, double *bb)
{
	float sab[LANES] = {0}, sbb[LANES] = {0};
	double tab = 0, tbb = 0;
	size_t i, j, body = dim - dim % LANES;

	for (i = 0; i < body; i += LANES)
		for (j = 0; j < LANES; j++) {
			sab[j] += a[i + j] * b[i + j];
			sbb[j] += b[i + j] * b[i + j];
		}
	for (j = 0; j < LANES; j++) {
		tab += sab[j];
		tbb += sbb[j];
	}
	for (; i < dim; i++) {
		tab += (double)a[i] * b[i];
		tbb += (double)b[i] * b[i];
	}
	*ab = tab;
	*bb = tbb;
}

/* The cosine from a.b, a.a and b.b; 0 when a length is zero. */
static float cosine_of(double ab, double aa, double bb)
{
	double c;

	if (!(aa > 0) || !(bb > 0))
		return 0;
	c = ab / sqrt(aa * bb);
	if (c > 1)
		c = 1;
	else if (c < -1)
		c = -1;
	return (float)c;
}

int vec_normalize(float *v, size_t dim)
{
	double ab, norm;
	size_t i;

	dot2(v, v, dim, &ab, &norm);
	norm = sqrt(norm);
	if (!(norm > 0) || !isfinite(norm))
		return -EDOM;
	for (i = 0; i < dim; i++)
		v[i] = (float)(v[i] / norm);
	return 0;
}

float vec_cosine(const float *a, const float *b, size_t dim)
{
	double ab, aa, bb, unused;

	dot2(a, a, dim, &unused, &aa);
	dot2(a, b, dim, &ab, &bb);
	return cosine_of(ab, aa, bb);
}

/* ================================================================== top k */

/* x ranks below y: lower score, or the same score and a later row. */
static bool worse(const struct vec_hit *x, const struct vec_hit *y)
{
	return x->score < y->score || (x->score == y->score && x->row > y->row);
}

/* Restore the heap (worst at h[0]) below index i. */
static void sift_down(struct vec_hit *h, size_t n, size_t i)
{
	struct vec_hit t;
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && worse(&h[c + 1], &h[c]))
			c++;
		if (!worse(&h[c], &h[i]))
			return;
		t = h[i];
		h[i] = h[c];
		h[c] = t;
		i = c;
	}
}

static void sift_up(struct vec_hit *h, size_t i)
{
	struct vec_hit t;
	size_t p;

	while (i > 0) {
		p = (i - 1) / 2;
		if (!worse(&h[i], &h[p]))
			return;
		t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

int vec_top_k(const float *matrix, size_t rows, size_t dim, const float *query,
	      size_t k, struct vec_hit *out, size_t *n)
{
	struct vec_hit cand, t;
	double qq, rr, qr, unused;
	size_t r, m = 0, i;

	*n = 0;
	if (dim == 0 || (rows && (!matrix || !query)) || (k && !out))
		return -EINVAL;
	if (k == 0 || rows == 0)
		return 0;
	dot2(query, query, dim, &unused, &qq);
	if (!(qq > 0) || !isfinite(qq))
		return 0;
	for (r = 0; r < rows; r++) {
		dot2(query, matrix + r * dim, dim, &qr, &rr);
		if (!(rr > 0) || !isfinite(rr) || !isfinite(qr))
			continue;
		cand.row = r;
		cand.score = cosine_of(qr, qq, rr);
		if (m < k) {
			out[m] = cand;
			sift_up(out, m++);
		} else if (worse(&out[0], &cand)) {
			out[0] = cand;
			sift_down(out, m, 0);
		}
	}
	/* Heap sort: move the worst to the end until the best is first. */
	for (i = m; i > 1; i--) {
		t = out[0];
		out[0] = out[i - 1];
		out[i - 1] = t;
		sift_down(out, i - 1, 0);
	}
	*n = m;
	return 0;
}

/* ================================================================= matrix */

int vec_matrix_init(struct vec_matrix *m, size_t dim)
{
	memset(m, 0, sizeof *m);
	if (dim == 0 || dim > SIZE_MAX / 4 / sizeof(float))
		return -EINVAL;
	m->dim = dim;
	return 0;
}

int vec_matrix_append(struct vec_matrix *m, int64_t id, const void *blob, size_t len)
{
	size_t cap;
	float *data;
	int64_t *ids;
	int rc;

	if (len != VEC_BYTES(m->dim))
		return -EINVAL;
	if (m->rows == m->cap) {
		cap = m->cap ? m->cap * 2 : 256;
		if (cap > SIZE_MAX / sizeof(float) / m->dim)
			return -ENOMEM;
		data = realloc(m->data, cap * m->dim * sizeof(float));
		if (!data)
			return -ENOMEM;
		m->data = data;
		ids = realloc(m->ids, cap * sizeof(int64_t));
		if (!ids)
			return -ENOMEM;
		m->ids = ids;
		m->cap = cap;
	}
	rc = vec_decode(blob, len, m->data + m->rows * m->dim, m->dim);
	if (rc < 0)
		return rc;
	m->ids[m->rows++] = id;
	return 0;
}

void vec_matrix_release(struct vec_matrix *m)
{
	free(m->data);
	free(m->ids);
	m->data = NULL;
	m->ids = NULL;
	m->rows = m->cap = 0;
}

/* ======================================================= rank fusion */

/* One appearance of an id in a list. */
struct appearance {
	int64_t id;
	uint32_t list, rank;   /* rank 1-based */
};

/* One fused id, with its rank in every list (UINT32_MAX: absent). */
struct fused {
	int64_t id;
	double score;
	const uint32_t *ranks; /* nlists entries; borrowed from the table */
	size_t nlists;
};

static int by_id_list_rank(const void *pa, const void *pb)
{
	const struct appearance *a = pa, *b = pb;

	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	if (a->list != b->list)
		return a->list < b->list ? -1 : 1;
	return a->rank < b->rank ? -1 : a->rank > b->rank;
}

static int by_score(const void *pa, const void *pb)
{
	const struct fused *a = pa, *b = pb;
	size_t l;

	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	for (l = 0; l < a->nlists; l++)
		if (a->ranks[l] != b->ranks[l])
			return a->ranks[l] < b->ranks[l] ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

int rrf_fuse(const struct rrf_list *lists, size_t nlists, unsigned rrf_k,
	     struct rrf_hit **out, size_t *n)
{
	struct appearance *app = NULL;
	struct fused *f = NULL;
	uint32_t *ranks = NULL;
	struct rrf_hit *hits = NULL;
	size_t total = 0, napp = 0, nf = 0, l, i, j, r;
	int rc = -ENOMEM;

	*out = NULL;
	*n = 0;
	for (l = 0; l < nlists; l++) {
		if (lists[l].n && !lists[l].ids)
			return -EINVAL;
		if (lists[l].n > UINT32_MAX - 1 || total > SIZE_MAX / sizeof *app - lists[l].n)
			return -EOVERFLOW;
		total += lists[l].n;
	}
	if (nlists > UINT32_MAX || total == 0)
		return 0;
	if (!(app = malloc(total * sizeof *app)))
		goto out;
	for (l = 0; l < nlists; l++)
		for (r = 0; r < lists[l].n; r++)
			app[napp++] = (struct appearance){ lists[l].ids[r], (uint32_t)l,
							   (uint32_t)r + 1 };
	qsort(app, napp, sizeof *app, by_id_list_rank);

	/* At most total distinct ids; their ranks in a total x nlists table. */
	if (nlists > SIZE_MAX / sizeof *ranks / total ||
	    !(f = malloc(total * sizeof *f)) ||
	    !(ranks = malloc(total * nlists * sizeof *ranks)) ||
	    !(hits = malloc(total * sizeof *hits)))
		goto out;
	for (i = 0; i < napp; i = j) {
		uint32_t *row = ranks + nf * nlists;

		for (l = 0; l < nlists; l++)
			row[l] = UINT32_MAX;
		/* Sorted by list then rank: the first of each list is its best. */
		for (j = i; j < napp && app[j].id == app[i].id; j++)
			if (row[app[j].list] == UINT32_MAX)
				row[app[j].list] = app[j].rank;
		f[nf] = (struct fused){ app[i].id, 0.0, row, nlists };
		for (l = 0; l < nlists; l++)
			if (row[l] != UINT32_MAX)
				f[nf].score += 1.0 / ((double)rrf_k + (double)row[l]);
		nf++;
	}
	qsort(f, nf, sizeof *f, by_score);
	for (i = 0; i < nf; i++)
		hits[i] = (struct rrf_hit){ f[i].id, f[i].score };
	*out = hits;
	*n = nf;
	hits = NULL;
	rc = 0;
out:
	free(app);
	free(f);
	free(ranks);
	free(hits);
	return rc;
}
