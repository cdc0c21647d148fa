/*
 * test_vectors.c - the vector arithmetic of dense retrieval: the BLOB
 * layout byte by byte, normalisation, cosine, top-k against a full sort,
 * the growable matrix, and reciprocal rank fusion with exact scores and
 * tie order, plus a comparison with a naive fusion on random lists.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "tap.h"
#include "vectors.h"

/* ---- storage */

static void test_blob(void)
{
	const float v[3] = { 1.0f, -2.0f, 0.0f };
	const unsigned char want[12] = { 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0,
					 0x00, 0x00, 0x00, 0x00 };
	unsigned char blob[12], bad[8];
	float back[3] = { 9, 9, 9 }, two[2];

	vec_encode(v, 3, blob);
	tap_ok(memcmp(blob, want, sizeof want) == 0, "encode: little-endian float32, in order");
	tap_is_int(vec_decode(blob, sizeof blob, back, 3), 0, "decode a stored vector");
	tap_ok(memcmp(back, v, sizeof v) == 0, "decode gives the same bits back");
	tap_is_int(vec_decode(blob, 11, back, 3), -EINVAL, "decode: a short BLOB is EINVAL");
	tap_is_int(vec_decode(blob, sizeof blob, back, 2), -EINVAL,
		   "decode: a BLOB of another dimension is EINVAL");
	memcpy(bad, "\x00\x00\xc0\x7f\x00\x00\x80\x3f", 8);   /* NaN, 1 */
	tap_is_int(vec_decode(bad, 8, two, 2), -EINVAL, "decode: NaN is EINVAL");
	memcpy(bad, "\x00\x00\x80\x3f\x00\x00\x80\xff", 8);   /* 1, -inf */
	tap_is_int(vec_decode(bad, 8, two, 2), -EINVAL, "decode: infinity is EINVAL");
	tap_is_int(VEC_BYTES(1536), 6144, "VEC_BYTES is 4 bytes a component");
}

/* ---- arithmetic */

static void test_arithmetic(void)
{
	float v[2] = { 3, 4 }, z[3] = { 0, 0, 0 };
	const float a[3] = { 1, 2, 3 }, b[3] = { 4, 5, 6 }, x[2] = { 1, 0 }, y[2] = { 0, 1 },
		    nx[2] = { -1, 0 }, d[2] = { 1, 1 }, d2[2] = { 2, 2 };

	tap_is_int(vec_normalize(v, 2), 0, "normalise (3, 4)");
	tap_ok(v[0] == 0.6f && v[1] == 0.8f, "(3, 4) becomes (0.6, 0.8) exactly");
	tap_is_int(vec_normalize(z, 3), -EDOM, "a zero vector cannot be normalised");
	tap_ok(z[0] == 0 && z[1] == 0 && z[2] == 0, "and is left alone");

	tap_ok(vec_cosine(x, y, 2) == 0.0f, "cosine of orthogonal vectors is 0");
	tap_ok(vec_cosine(x, nx, 2) == -1.0f, "cosine of opposite vectors is -1");
	tap_ok(vec_cosine(d, d2, 2) == 1.0f, "cosine ignores length");
	tap_ok(vec_cosine(a, b, 3) == (float)(32.0 / sqrt(14.0 * 77.0)),
	       "cosine((1,2,3), (4,5,6)) = 32 / sqrt(14 * 77)");
	tap_ok(vec_cosine(z, a, 3) == 0.0f && vec_cosine(a, z, 3) == 0.0f,
	       "cosine with a zero vector is 0");
}

/* ---- top k */

static void test_top_k_small(void)
{
	/* query (1, 0): rows 0 and 4 score 1 (a tie: row order), row 2 the
	 * cosine of 45 degrees, row 1 zero, row 5 -1; row 3 has no length. */
	const float m[6 * 2] = { 1, 0, 0, 1, 1, 1, 0, 0, 2, 0, -1, 0 };
	const float q[2] = { 1, 0 }, zero[2] = { 0, 0 };
	const size_t want_rows[5] = { 0, 4, 2, 1, 5 };
	const float want_scores[5] = { 1.0f, 1.0f, (float)(1.0 / sqrt(2.0)), 0.0f, -1.0f };
	struct vec_hit h[10];
	size_t n = 99, i;
	bool same = true;

	tap_is_int(vec_top_k(m, 6, 2, q, 3, h, &n), 0, "top 3 of 6 rows");
	tap_is_int(n, 3, "three hits");
	tap_ok(n == 3 && h[0].row == 0 && h[1].row == 4 && h[2].row == 2,
	       "best first, a tie in row order: rows 0, 4, 2");
	tap_ok(h[0].score == 1.0f && h[2].score == want_scores[2], "with their cosines");

	tap_is_int(vec_top_k(m, 6, 2, q, 10, h, &n), 0, "k larger than the matrix");
	tap_is_int(n, 5, "every row with a length, not the zero row");
	for (i = 0; i < 5 && n == 5; i++)
		same = same && h[i].row == want_rows[i] && h[i].score == want_scores[i];
	tap_ok(n == 5 && same, "rows 0, 4, 2, 1, 5 with scores 1, 1, 0.7071, 0, -1");

	tap_ok(vec_top_k(m, 6, 2, q, 0, h, &n) == 0 && n == 0, "k = 0: nothing");
	tap_ok(vec_top_k(m, 6, 2, zero, 3, h, &n) == 0 && n == 0,
	       "a query of length zero matches nothing");
	tap_ok(vec_top_k(m, 0, 2, q, 3, h, &n) == 0 && n == 0, "an empty matrix: nothing");
	tap_is_int(vec_top_k(m, 6, 0, q, 3, h, &n), -EINVAL, "dimension 0 is EINVAL");
}

static uint32_t rng_state = 12345;

static uint32_t rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

static float rnd_float(void)
{
	return (float)(rng() % 2001) / 1000.0f - 1.0f;   /* -1..1 in steps of 0.001 */
}

static int by_score_then_row(const void *pa, const void *pb)
{
	const struct vec_hit *a = pa, *b = pb;

	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return a->row < b->row ? -1 : a->row > b->row;
}

/* Top k of a random matrix (dimension 37: not a multiple of the 8 lanes,
 * and many tied scores from duplicated rows) against a full sort of
 * vec_cosine. */
static void test_top_k_random(void)
{
	enum { ROWS = 1000, DIM = 37 };
	static float m[ROWS * DIM];
	static struct vec_hit ref[ROWS], got[ROWS];
	float q[DIM];
	size_t r, j, n, k;
	const size_t ks[4] = { 1, 10, 999, ROWS };
	bool same;

	for (j = 0; j < ROWS * DIM; j++)
		m[j] = rnd_float();
	for (r = 0; r < ROWS; r += 7)      /* ties: copies of row 3 */
		memcpy(m + r * DIM, m + 3 * DIM, sizeof(float) * DIM);
	for (j = 0; j < DIM; j++)
		q[j] = rnd_float();
	for (r = 0; r < ROWS; r++)
		ref[r] = (struct vec_hit){ r, vec_cosine(q, m + r * DIM, DIM) };
	qsort(ref, ROWS, sizeof *ref, by_score_then_row);
	for (k = 0; k < 4; k++) {
		same = vec_top_k(m, ROWS, DIM, q, ks[k], got, &n) == 0 && n == ks[k];
		for (j = 0; same && j < n; j++)
			same = got[j].row == ref[j].row && got[j].score == ref[j].score;
		tap_ok(same, "top %zu of %d random rows equals the full sort", ks[k], ROWS);
	}
}

static void test_matrix(void)
{
	struct vec_matrix m;
	unsigned char blob[12];
	float v[3];
	size_t i;
	bool ok = true;

	tap_is_int(vec_matrix_init(&m, 0), -EINVAL, "a matrix of dimension 0 is EINVAL");
	tap_is_int(vec_matrix_init(&m, 3), 0, "a matrix of dimension 3");
	for (i = 0; i < 300 && ok; i++) {
		v[0] = (float)i, v[1] = -(float)i, v[2] = 0.5f;
		vec_encode(v, 3, blob);
		ok = vec_matrix_append(&m, 1000 + (int64_t)i, blob, sizeof blob) == 0;
	}
	tap_ok(ok && m.rows == 300, "300 rows appended (growing past the first 256)");
	for (i = 0; i < 300 && ok; i++)
		ok = m.ids[i] == 1000 + (int64_t)i && m.data[i * 3] == (float)i &&
		     m.data[i * 3 + 1] == -(float)i && m.data[i * 3 + 2] == 0.5f;
	tap_ok(ok, "each row holds its vector and its id");
	tap_is_int(vec_matrix_append(&m, 1, blob, 8), -EINVAL, "a BLOB of another dimension");
	memcpy(blob + 4, "\x00\x00\xc0\x7f", 4);
	tap_is_int(vec_matrix_append(&m, 1, blob, sizeof blob), -EINVAL, "a BLOB holding NaN");
	tap_is_int(m.rows, 300, "neither was added");
	vec_matrix_release(&m);
	tap_ok(m.rows == 0 && m.data == NULL && m.dim == 3, "released: empty, dimension kept");
}

/* ---- reciprocal rank fusion */

static void test_rrf_exact(void)
{
	const int64_t a[] = { 10, 20, 30 }, b[] = { 30, 10, 40 };
	const struct rrf_list two[2] = { { a, 3 }, { b, 3 } };
	const int64_t c[] = { 1, 2 }, d[] = { 3, 4 };
	const struct rrf_list disjoint[2] = { { c, 2 }, { d, 2 } };
	const int64_t e[] = { 5, 6 }, f[] = { 6, 5 };
	const struct rrf_list swapped[2] = { { e, 2 }, { f, 2 } };
	const int64_t dup[] = { 7, 8, 7 };
	const struct rrf_list dups[1] = { { dup, 3 } };
	const struct rrf_list empty[2] = { { NULL, 0 }, { NULL, 0 } };
	struct rrf_hit *h;
	size_t n;

	tap_is_int(rrf_fuse(two, 2, 60, &h, &n), 0, "fuse BM25 [10 20 30] and vectors [30 10 40]");
	tap_is_int(n, 4, "four distinct ids");
	if (n == 4) {
		tap_ok(h[0].id == 10 && h[1].id == 30 && h[2].id == 20 && h[3].id == 40,
		       "order 10, 30, 20, 40");
		tap_ok(h[0].score == 0.0 + 1.0 / 61 + 1.0 / 62, "score(10) = 1/61 + 1/62");
		tap_ok(h[1].score == 0.0 + 1.0 / 63 + 1.0 / 61, "score(30) = 1/63 + 1/61");
		tap_ok(h[2].score == 1.0 / 62, "score(20) = 1/62");
		tap_ok(h[3].score == 1.0 / 63, "score(40) = 1/63");
	}
	free(h);

	tap_is_int(rrf_fuse(disjoint, 2, 60, &h, &n), 0, "fuse disjoint lists [1 2], [3 4]");
	tap_ok(n == 4 && h[0].id == 1 && h[1].id == 3 && h[2].id == 2 && h[3].id == 4,
	       "equal scores: the id in the first list first (1, 3, 2, 4)");
	tap_ok(n == 4 && h[0].score == h[1].score && h[0].score == 1.0 / 61,
	       "1 and 3 both score 1/61");
	free(h);

	tap_is_int(rrf_fuse(swapped, 2, 60, &h, &n), 0, "fuse [5 6] and [6 5]");
	tap_ok(n == 2 && h[0].id == 5 && h[1].id == 6 && h[0].score == h[1].score,
	       "a tie is decided by the rank in the first list");
	free(h);

	tap_is_int(rrf_fuse(dups, 1, 0, &h, &n), 0, "a list repeating an id, rrf_k 0");
	tap_ok(n == 2 && h[0].id == 7 && h[0].score == 1.0 && h[1].id == 8 && h[1].score == 0.5,
	       "the id counts once, at its best rank: 7 -> 1, 8 -> 1/2");
	free(h);

	tap_ok(rrf_fuse(empty, 2, 60, &h, &n) == 0 && n == 0 && h == NULL,
	       "empty lists fuse to nothing");
	tap_ok(rrf_fuse(NULL, 0, 60, &h, &n) == 0 && n == 0 && h == NULL, "no lists: nothing");
}

/* Naive fusion: for each candidate id, its score summed list by list. */
static double naive_score(const struct rrf_list *l, size_t nl, unsigned k, int64_t id)
{
	double s = 0.0;
	size_t i, r;

	for (i = 0; i < nl; i++)
		for (r = 0; r < l[i].n; r++)
			if (l[i].ids[r] == id) {
				s += 1.0 / ((double)k + (double)(r + 1));
				break;
			}
	return s;
}

static size_t naive_rank(const struct rrf_list *l, int64_t id)
{
	size_t r;

	for (r = 0; r < l->n; r++)
		if (l->ids[r] == id)
			return r + 1;
	return SIZE_MAX;
}

static void test_rrf_random(void)
{
	enum { LISTS = 3, LEN = 50, SPAN = 80 };
	int64_t ids[LISTS][LEN];
	struct rrf_list l[LISTS];
	struct rrf_hit *h;
	size_t n, i, j, distinct = 0;
	bool seen[SPAN] = { false }, ok = true;

	for (i = 0; i < LISTS; i++) {
		for (j = 0; j < LEN; j++) {
			ids[i][j] = (int64_t)(rng() % SPAN) - 20;   /* negative ids too */
			if (!seen[ids[i][j] + 20]) {
				seen[ids[i][j] + 20] = true;
				distinct++;
			}
		}
		l[i] = (struct rrf_list){ ids[i], LEN };
	}
	tap_is_int(rrf_fuse(l, LISTS, 60, &h, &n), 0, "fuse three random lists");
	tap_is_int(n, distinct, "every distinct id once");
	for (i = 0; i < n && ok; i++) {
		ok = h[i].score == naive_score(l, LISTS, 60, h[i].id);
		if (ok && i > 0) {
			/* Non-increasing; on a tie the order of the ranks in list
			 * 0, then 1, then 2. */
			ok = h[i - 1].score > h[i].score;
			for (j = 0; !ok && j < LISTS && h[i - 1].score == h[i].score; j++) {
				size_t ra = naive_rank(&l[j], h[i - 1].id), rb = naive_rank(&l[j], h[i].id);

				if (ra != rb) {
					ok = ra < rb;
					break;
				}
			}
		}
	}
	tap_ok(ok, "scores equal the naive sums, order and ties as documented");
	free(h);
}

int main(void)
{
	test_blob();
	test_arithmetic();
	test_top_k_small();
	test_top_k_random();
	test_matrix();
	test_rrf_exact();
	test_rrf_random();
	return tap_done();
}
