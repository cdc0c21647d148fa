/*
 * embed_wire.h - the OpenAI-compatible /v1/embeddings wire format, with no
 * I/O: the request body of one batch, the vectors read back from a 2xx
 * answer (floats or base64, in the order of data[].index), and the
 * server's own words in an error answer. Shared by the blocking client
 * (embed.c, for indexing) and the one on the libuv loop (llm/llm_embed.c,
 * for the daemon's query embeddings), so both send and read the same.
 *
 * Ownership is named at each function; they return 0 or a negative errno
 * unless they say otherwise.
 */
#ifndef DOCTOR_EMBED_WIRE_H
#define DOCTOR_EMBED_WIRE_H

#include <stdbool.h>
#include <stddef.h>

/* An input text longer than this many bytes is cut (at a UTF-8 character
 * boundary) before it is sent: 8192 bytes is about 2000 tokens of English
 * prose or code, well under the 8191-token limit of OpenAI's embedding
 * models, so a long chunk never makes a request fail. Chunks are 1500
 * characters by default, so only unusual settings reach it. */
#define EMBED_MAX_INPUT_BYTES 8192

/* The inputs of one request at most (OpenAI's limit), and the default. */
#define EMBED_MAX_BATCH 2048
#define EMBED_DEFAULT_BATCH 64

/* The JSON body asking for the embeddings of texts[0..n):
 * {"model", "input": [...], "encoding_format": "float"|"base64",
 * "dimensions" (when dimensions > 0)}. Texts are cut at
 * EMBED_MAX_INPUT_BYTES, invalid UTF-8 is replaced by U+FFFD, and an empty
 * text is sent as one space (servers refuse empty input). Newly allocated
 * (free); NULL when out of memory. */
char *embed_wire_request(const char *model, const char *const *texts, size_t n,
			 unsigned dimensions, bool base64);

/* The vectors of a whole call, filled batch by batch. */
struct embed_rows {
	float *data;          /* total x dim floats, row i the vector of input i;
	                         owned (free); NULL until the first vector sets dim */
	size_t total;         /* rows in all: set by the caller, > 0 */
	size_t dim;           /* 0 until the first vector */
};

/* Read a 2xx answer (body[0..len), not NUL-terminated necessarily) to a
 * request for inputs first..first+count into those rows of *rows. The
 * answer may carry floats or base64 whatever was asked, in any order of
 * its data[].index; it must hold one vector for each input, all of the
 * dimension of the rows already read. -EPROTO when it is not the wire
 * format (not JSON, wrong count, mixed dimensions, bad base64, values not
 * finite float32), -EIO when it is an error object instead of the data
 * (a server that answers errors with 200), -ENOMEM. On -EPROTO and -EIO
 * *why is a newly allocated (free) one-line reason (for -EIO the server's
 * own words), else NULL; it never names the endpoint. */
int embed_wire_answer(const char *body, size_t len, size_t first, size_t count,
		      struct embed_rows *rows, char **why);

/* The server's words in an error answer's body, or NULL when it has none:
 * {"error": {"message", "type", "code"}} (OpenAI), {"error": "..."}
 * (Ollama, llama.cpp), {"message", "type", "code"} (vLLM), {"detail": "..."
 * | [{"msg"}...]} (FastAPI), the <title> of an HTML page (proxies answer
 * 502 with one), else the text without tags. Not yet made one line. Newly
 * allocated (free). */
char *embed_wire_error_text(const char *body, size_t len);

#endif
