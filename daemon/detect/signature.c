/*
 * signature.c - what makes two errors "the same incident".
 *
 * The signature is a 64-bit FNV-1a hash over the parts of an error that
 * stay put when it happens again, and only those:
 *   - the detector family ("python" for both python.traceback and
 *     python.structured, so the IPython hook's report and the parsed text
 *     of one error agree);
 *   - the exception's class name (without its module: IPython prints
 *     "ConnectionError" where Python prints "requests.exceptions.ConnectionError");
 *   - the message's first line with addresses, ids, times and numbers
 *     replaced (dr_normalize_message); indented lines that continue a
 *     message (Ray's remote traceback, or ordinary output that happened to
 *     be indented after an exception) are shown but not compared;
 *   - each frame's file (a notebook cell as "<cell>", whatever its execution
 *     count; a library file from its package down, wherever it is
 *     installed), function, and line for the user's own code only (a library
 *     upgrade moves library lines, not the bug).
 * Fields are separated by NUL bytes so that their borders count.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

/* ------------------------------------------------------------------ */
/* Message normalisation                                               */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Letters, digits, '_' and any non-ASCII byte (letters of other scripts). */
static bool is_word(char c)
{
	return is_hex(c) || (c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z') ||
	       c == '_' || (unsigned char)c >= 0x80;
}

/* A match must not run into a word: "3.5GB" is not a number. */
static size_t ends_clean(const char *s, size_t n, size_t k)
{
	return k > 0 && (k == n || !is_word(s[k])) ? k : 0;
}

static size_t count_digits(const char *s, size_t n, size_t i, size_t max)
{
	size_t k = 0;

	while (i + k < n && k < max && is_digit(s[i + k]))
		k++;
	return k;
}

static size_t match_uuid(const char *s, size_t n)
{
	static const int groups[] = { 8, 4, 4, 4, 12 };
	size_t i = 0, g;
	int k;

	for (g = 0; g < 5; g++) {
		if (g > 0) {
			if (i >= n || s[i] != '-')
				return 0;
			i++;
		}
		for (k = 0; k < groups[g]; k++, i++)
			if (i >= n || !is_hex(s[i]))
				return 0;
	}
	return ends_clean(s, n, i);
}

static size_t match_hex_addr(const char *s, size_t n)
{
	size_t i = 2;

	if (n < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return 0;
	while (i < n && is_hex(s[i]))
		i++;
	return i > 2 ? ends_clean(s, n, i) : 0;
}

/* HH:MM:SS with optional fraction ("10:20:30", "10:20:30.123", ",123"). */
static size_t match_clock_at(const char *s, size_t n, size_t i)
{
	size_t k;

	for (k = 0; k < 3; k++) {
		if (k > 0) {
			if (i >= n || s[i] != ':')
				return 0;
			i++;
		}
		if (count_digits(s, n, i, 3) != 2)
			return 0;
		i += 2;
	}
	if (i + 1 < n && (s[i] == '.' || s[i] == ',') && is_digit(s[i + 1])) {
		i++;
		i += count_digits(s, n, i, 9);
	}
	return i;
}

/* YYYY-MM-DD or YYYY/MM/DD, optionally with a time and a zone. */
static size_t match_timestamp(const char *s, size_t n)
{
	size_t i = 0, t, k;
	char sep;

	if (count_digits(s, n, 0, 5) != 4 || n < 10)
		return 0;
	sep = s[4];
	if ((sep != '-' && sep != '/') || count_digits(s, n, 5, 3) != 2 ||
	    s[7] != sep || count_digits(s, n, 8, 3) != 2)
		return 0;
	i = 10;
	if (i + 1 < n && (s[i] == 'T' || s[i] == ' ') && (t = match_clock_at(s, n, i + 1))) {
		i = t;
		if (i < n && s[i] == 'Z') {
			i++;
		} else if (i + 2 < n && (s[i] == '+' || s[i] == '-') &&
		           count_digits(s, n, i + 1, 3) == 2) {
			k = i + 3;
			if (k + 2 < n && s[k] == ':' && count_digits(s, n, k + 1, 3) == 2)
				k += 3;
			else if (count_digits(s, n, k, 3) == 2)
				k += 2;
			i = k;
		}
	}
	return ends_clean(s, n, i);
}

static size_t match_clock(const char *s, size_t n)
{
	return ends_clean(s, n, match_clock_at(s, n, 0));
}

static size_t match_ipv4(const char *s, size_t n)
{
	size_t i = 0, d, oct, j;
	int v;

	for (oct = 0; oct < 4; oct++) {
		if (oct > 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
		d = count_digits(s, n, i, 4);
		if (d == 0 || d > 3)
			return 0;
		for (v = 0, j = 0; j < d; j++)
			v = v * 10 + (s[i + j] - '0');
		if (v > 255)
			return 0;
		i += d;
	}
	if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1]))
		return 0; /* a version number such as 1.2.3.4.5 */
	return ends_clean(s, n, i);
}

/* IPv6 with "::" or all eight groups: "::1", "fe80::1", "2001:db8::8a2e:370:7334". */
static size_t match_ipv6(const char *s, size_t n)
{
	size_t i = 0, colons = 0, group = 0, digits = 0;
	bool dbl = false;

	while (i < n && (is_hex(s[i]) || s[i] == ':')) {
		if (s[i] == ':') {
			colons++;
			if (i > 0 && s[i - 1] == ':') {
				if (dbl)
					return 0;
				dbl = true;
			}
			group = 0;
		} else {
			if (++group > 4)
				return 0;
			digits++;
		}
		i++;
	}
	if (digits == 0 || colons < 2 || (!dbl && colons != 7) || colons > 7)
		return 0;
	return ends_clean(s, n, i);
}

/* Digits, with decimals: "42", "2.00". */
static size_t match_number(const char *s, size_t n)
{
	size_t i = count_digits(s, n, 0, (size_t)-1);

	if (i == 0)
		return 0;
	while (i + 1 < n && s[i] == '.' && is_digit(s[i + 1]))
		i += 1 + count_digits(s, n, i + 1, (size_t)-1);
	return ends_clean(s, n, i);
}

/* Where normalised text goes: a buffer or straight into a hash. */
struct sink {
	char *out;      /* buffer, or NULL to hash */
	size_t len;
	uint64_t hash;
};

static uint64_t fnv(uint64_t h, const char *s, size_t n);

static void sink_put(struct sink *k, const char *s, size_t n)
{
	if (k->out) {
		memcpy(k->out + k->len, s, n);
		k->len += n;
	} else {
		k->hash = fnv(k->hash, s, n);
	}
}

static void normalize(const char *msg, struct sink *sink)
{
	static const struct {
		size_t (*match)(const char *, size_t);
		const char *placeholder;
	} rules[] = {
		{ match_uuid, "<uuid>" },
		{ match_hex_addr, "<addr>" },
		{ match_timestamp, "<time>" },
		{ match_clock, "<time>" },
		{ match_ipv4, "<ip>" },
		{ match_ipv6, "<ip>" },
		{ match_number, "<n>" },
	};
	size_t n = strlen(msg), i = 0, k, r;

	while (i < n) {
		k = 0;
		if (i == 0 || !is_word(msg[i - 1])) {
			for (r = 0; r < sizeof(rules) / sizeof(rules[0]) && !k; r++) {
				k = rules[r].match(msg + i, n - i);
				if (k)
					sink_put(sink, rules[r].placeholder,
					         strlen(rules[r].placeholder));
			}
		}
		if (k) {
			i += k;
		} else {
			sink_put(sink, msg + i, 1);
			i++;
		}
	}
}

char *dr_normalize_message(const char *msg)
{
	/* "<n>" for a single digit is the worst growth: three times. */
	struct sink sink = { malloc(3 * strlen(msg) + 1), 0, 0 };

	if (!sink.out)
		return NULL;
	normalize(msg, &sink);
	sink.out[sink.len] = '\0';
	return sink.out;
}

/* ------------------------------------------------------------------ */
/* Signature                                                           */

static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* Hash s and a NUL separator. */
static uint64_t fnv_field(uint64_t h, const char *s, size_t n)
{
	return fnv(fnv(h, s, n), "", 1);
}

static uint64_t hash_family(uint64_t h, const char *detector)
{
	const char *dot = strchr(detector, '.');

	return fnv_field(h, detector, dot ? (size_t)(dot - detector) : strlen(detector));
}

/* "ray.exceptions.RayTaskError(ZeroDivisionError)" -> "RayTaskError(ZeroDivisionError)" */
static uint64_t hash_exception(uint64_t h, const char *exc)
{
	const char *start = exc, *p;

	for (p = exc; *p && *p != '('; p++)
		if (*p == '.')
			start = p + 1;
	return fnv_field(h, start, strlen(start));
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Where a library file's own path starts: after site-packages/, or after
 * lib/pythonX.Y/ for the standard library. NULL if neither. */
static const char *library_tail(const char *file)
{
	static const char *const marks[] = { "site-packages/", "dist-packages/", NULL };
	const char *tail = NULL, *p;
	size_t k;

	for (k = 0; marks[k]; k++)
		for (p = strstr(file, marks[k]); p; p = strstr(p + 1, marks[k]))
			tail = p + strlen(marks[k]);
	if (tail)
		return tail;
	for (p = strstr(file, "/python"); p; p = strstr(p + 1, "/python")) {
		const char *q = p + 7;

		if (!is_digit(*q))
			continue;
		while (is_digit(*q) || *q == '.')
			q++;
		if (*q == '/')
			tail = q + 1;
	}
	return tail;
}

static uint64_t hash_frame(uint64_t h, const dr_frame *f)
{
	const char *file = f->file ? f->file : "", *tail;
	char num[16];

	if (has_prefix(file, "Cell In[") || has_prefix(file, "Cell In [") ||
	    has_prefix(file, "Input In [") ||
	    has_prefix(file, "<ipython-input-") ||
	    (strstr(file, "/ipykernel_") && strstr(file, ".py")))
		file = "<cell>";
	else if (f->library && (tail = library_tail(file)))
		file = tail;
	h = fnv_field(h, file, strlen(file));
	h = fnv_field(h, f->func ? f->func : "", f->func ? strlen(f->func) : 0);
	if (f->library)
		return fnv_field(h, "", 0);
	snprintf(num, sizeof(num), "%d", f->line);
	return fnv_field(h, num, strlen(num));
}

void dr_signature(const dr_error *e, char out[17])
{
	struct sink sink = { NULL, 0, 0 };
	uint64_t h = FNV_OFFSET;
	const char *msg, *nl;
	char *first;
	size_t i;

	h = hash_family(h, e->detector ? e->detector : "");
	h = hash_exception(h, e->exception ? e->exception : "");
	sink.hash = h;
	msg = e->message ? e->message : "";
	nl = strchr(msg, '\n');
	first = nl ? strndup(msg, (size_t)(nl - msg)) : NULL;
	normalize(first ? first : msg, &sink);   /* on ENOMEM: the whole message */
	free(first);
	h = fnv(sink.hash, "", 1);
	for (i = 0; i < e->nframes; i++)
		h = hash_frame(h, &e->frames[i]);
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}
