/*
 * vectors.h - the arithmetic of dense retrieval: embedding vectors stored
 * as BLOBs, L2 normalisation, brute-force cosine top-k over a matrix of
 * vectors, and reciprocal rank fusion of ranked lists of ids.
 *
 * Nothing here allocates except vec_matrix and rrf_fuse, which say who
 * frees what. Functions return 0 or a negative errno unless they say
 * otherwise.
 */
#ifndef DOCTOR_VECTORS_H
#define DOCTOR_VECTORS_H

#include <stddef.h>
#include <stdint.h>

/* ---- storage
 *
 * A vector of dim components is stored as a BLOB of 4 * dim bytes: each
 * component an IEEE-754 binary32 in little-endian byte order, component 0
 * first, no header (the dimension is the BLOB's length / 4). The same
 * layout is what OpenAI-compatible servers send, base64-encoded, for
 * encoding_format "base64", so vec_decode reads both. */

#define VEC_BYTES(dim) ((size_t)(dim) * 4u)

/* Write v[0..dim) to out, which has room for VEC_BYTES(dim) bytes. */
void vec_encode(const float *v, size_t dim, unsigned char *out);
/* Read a BLOB of len bytes into out[0..dim): -EINVAL unless len is
 * exactly VEC_BYTES(dim). Non-finite components are -EINVAL too (nothing
 * this project stores or receives may hold them). */
int vec_decode(const void *blob, size_t len, float *out, size_t dim);

/* ---- arithmetic */

/* Scale v to unit Euclidean length. -EDOM, v untouched, when its length is
 * zero or not finite. */
int vec_normalize(float *v, size_t dim);
/* The cosine similarity of a and b in [-1, 1]; 0 when either has length
 * zero. Computed exactly as vec_top_k computes it, so the two agree to the
 * last bit. */
float vec_cosine(const float *a, const float *b, size_t dim);

/* ---- top k */

struct vec_hit {
	size_t row;          /* index of the row in the matrix */
	float score;         /* vec_cosine(query, row) */
};

/* The k rows of matrix (rows x dim floats, row-major, contiguous) most
 * similar to query by cosine, best first; equal scores in row order. Rows
 * of length zero are never returned, and a query of length zero returns
 * none. out has room for k hits; *n gets the number written (min(k,
 * usable rows)). -EINVAL for dim 0 or a NULL array that is needed. One pass over the matrix and a
 * bounded heap: O(rows * dim + rows * log k) time, no allocation. Rows do
 * not have to be normalised, but normalising them when stored (and the
 * query) costs nothing here and keeps scores comparable elsewhere. */
int vec_top_k(const float *matrix, size_t rows, size_t dim, const float *query,
	      size_t k, struct vec_hit *out, size_t *n);

/* A growable matrix with the id of each row, for loading stored vectors. */
struct vec_matrix {
	float *data;         /* rows x dim, row-major; owned */
	int64_t *ids;        /* ids[r] names row r; owned */
	size_t rows, dim, cap;
};

/* An empty matrix of dimension dim (> 0, else -EINVAL). */
int vec_matrix_init(struct vec_matrix *m, size_t dim);
/* Append the stored vector blob[0..len) as a row named id: -EINVAL when
 * its length is not VEC_BYTES(m->dim) or it holds non-finite values (m
 * unchanged), -ENOMEM. */
int vec_matrix_append(struct vec_matrix *m, int64_t id, const void *blob, size_t len);
/* Free the rows (not m itself); m is then empty with its dimension kept. */
void vec_matrix_release(struct vec_matrix *m);

/* ---- reciprocal rank fusion */

/* One ranked list, best first: ids[0] has rank 1. An id repeated within a
 * list counts once, at its best rank. */
struct rrf_list {
	const int64_t *ids;  /* borrowed */
	size_t n;
};

struct rrf_hit {
	int64_t id;
	double score;        /* sum over the lists holding id of 1/(rrf_k + rank) */
};

/* Fuse lists[0..nlists): every id of any list once, by score, highest
 * first. Equal scores are ordered by rank in lists[0] (an id absent from a
 * list comes after every id present in it), then in lists[1], and so on,
 * then by ascending id - so the first list (BM25) decides ties. The sum
 * for each id is taken over the lists in order, so the scores are
 * reproducible to the bit. *out (owned by the caller: free) holds *n hits;
 * NULL when *n is 0. -EINVAL (a list with n > 0 and no ids), -EOVERFLOW,
 * -ENOMEM. */
int rrf_fuse(const struct rrf_list *lists, size_t nlists, unsigned rrf_k,
	     struct rrf_hit **out, size_t *n);

#endif
