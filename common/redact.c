/*
 * redact.c - removing secrets from text (see redact.h).
 *
 * One forward pass over the bytes finds secrets by their shape and records
 * the byte ranges to replace ("spans"); registered values are then found
 * with memmem; the spans are sorted and merged and the output is built by
 * copying what lies between them. The scanners are triggered cheaply so
 * that ordinary text costs a few comparisons per byte: token prefixes are
 * tried only where a word starts, assignments at '=' and ':', URLs at
 * "://", long flags and PEM blocks at '-'. Everything is bounded by the
 * buffer's length, never by a NUL byte. When a pass replaced something, the
 * output is scanned again until nothing changes (see redact_text), which
 * makes redaction idempotent.
 *
 * Sections: character classes; names; values; spans; tokens; URLs;
 * assignments and flags; registered values; putting it together.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"
#include "utf8.h"

#define MARK "[REDACTED"
#define MARK_LEN (sizeof(MARK) - 1)
#define MIN_VALUE_LEN 8
#define MAX_NAME_LEN 128

/* ------------------------------------------------------------------ */
/* Character classes: ASCII only, never locale-dependent.              */

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static bool is_alpha(unsigned char c) { return is_upper(c) || is_lower(c); }
static bool is_alnum(unsigned char c) { return is_alpha(c) || is_digit(c); }
static bool is_hex_lower(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}
static bool is_blank(unsigned char c) { return c == ' ' || c == '\t'; }
static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}
static bool is_quote(unsigned char c) { return c == '"' || c == '\'' || c == '`'; }
static bool is_name_char(unsigned char c)
{
	return is_alnum(c) || c == '_' || c == '-' || c == '.';
}
static bool is_b64url(unsigned char c) { return is_alnum(c) || c == '_' || c == '-'; }

static unsigned char lower(unsigned char c) { return is_upper(c) ? c + 32 : c; }

/* True if s[0..len) equals word (lower case) ignoring case. */
static bool eq_nocase(const unsigned char *s, size_t len, const char *word)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!word[i] || lower(s[i]) != (unsigned char)word[i])
			return false;
	return word[len] == '\0';
}

/* True if s[0..len) starts with word (lower case) ignoring case. */
static bool starts_nocase(const unsigned char *s, size_t len, const char *word)
{
	size_t i;

	for (i = 0; word[i]; i++)
		if (i >= len || lower(s[i]) != (unsigned char)word[i])
			return false;
	return true;
}

/* True if s[0..len) equals one of the NULL-terminated words. */
static bool in_list(const unsigned char *s, size_t len, const char *const *words)
{
	for (; *words; words++)
		if (eq_nocase(s, len, *words))
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* Names: does a variable, key or flag name say that it holds a secret? */

enum name_kind { NAME_PLAIN, NAME_SECRET, NAME_AUTHORIZATION };

/* Word parts that mark a secret on their own. */
static const char *const secret_parts[] = {
	"key", "secret", "secrets", "token", "password", "passwd", "pwd", "pw",
	"pass", "passphrase", "passcode", "credential", "credentials", "creds",
	"auth", "apikey", "signature", "sig", "cookie", NULL
};

/* A part ending in one of these is a secret too (dbpassword, accesstoken). */
static const char *const secret_suffixes[] = {
	"password", "passwd", "secret", "token", "apikey", "credential",
	"credentials", "passphrase", "accesskey", "secretkey", "privatekey",
	"authkey", "masterkey", "signingkey", NULL
};

/* A name ending in one of these talks about a secret but does not hold
 * one (API_KEY_FILE, token_type, KeyError, auth_url, --password-stdin). */
static const char *const plain_last[] = {
	"error", "errors", "exception", "warning", "type", "types", "name",
	"names", "file", "files", "path", "paths", "dir", "directory", "url",
	"uri", "endpoint", "host", "port", "user", "username", "length", "len",
	"size", "count", "min", "max", "limit", "limits", "budget", "policy",
	"format", "header", "field", "fields", "env", "var", "method", "mode",
	"provider", "version", "timeout", "ttl", "expiry", "expires",
	"expiration", "enabled", "disabled", "required", "algorithm", "alg",
	"manager", "helper", "store", "stdin", "command", "cmd", "prompt",
	"index", "column", "kind", "source", "location", "class", "scheme",
	"scope", "scopes", "usage", "used", "rate", "interval", "region",
	"prefix", "suffix", "backend", "handler", "flow", "level",
	"reset", "hint", "input", "label", "text", "dialog", "lookup", "repo",
	"separator", "sep", "delimiter", "delim", "doc", "str",
	/* file names: auth.py:88 */
	"py", "pyc", "pyi", "ipynb", "js", "ts", "json", "yaml", "yml", "toml",
	"ini", "cfg", "conf", "txt", "log", "md", "c", "h", "cc", "cpp", "go",
	"rs", "rb", "java", "lua", "sh", "so", "pem", "crt", "html", "xml",
	"csv", NULL
};

/* A first part like these makes a question or a setting of it
 * (--no-password, --ask-pass, is_private, num_tokens). */
static const char *const plain_first[] = {
	"no", "ask", "use", "show", "prompt", "require", "requires", "has",
	"is", "num", "max", "min", "skip", "allow", "disable", "enable",
	"validate", "check", "verify", "reset", "forgot", "change", NULL
};

/* "key" after these is a database or dictionary key (sort_key). */
static const char *const key_qualifiers[] = {
	"sort", "primary", "foreign", "partition", "cache", "public", "dict",
	"group", "hash", "range", "row", "unique", "idempotency", "lookup",
	"shard", "sharding", "composite", "map", "index", "hot", "order",
	"join", "dedup", "routing", "object", "natural", "surrogate", "cluster",
	"distribution", "compound", NULL
};

/* "token" after these is a tokenizer's or a pager's token (pad_token). */
static const char *const token_qualifiers[] = {
	"eos", "bos", "pad", "unk", "sep", "cls", "mask", "special", "start",
	"end", "page", "next", "continuation", "cancellation", "cancel",
	"added", "decoder", NULL
};

struct part { const unsigned char *s; size_t len; };

/* Splits name into word parts at _ - . and camelCase; trailing digits of
 * each part are dropped (PASSWORD2). Returns the number of parts (at most
 * max; the rest are ignored). */
static size_t split_parts(const unsigned char *s, size_t len,
			  struct part *parts, size_t max)
{
	size_t i, start = 0, np = 0;

	for (i = 0; i <= len && np < max; i++) {
		bool cut = i == len || s[i] == '_' || s[i] == '-' || s[i] == '.';
		bool camel = !cut && i > start && is_upper(s[i]) &&
			     (is_lower(s[i - 1]) || is_digit(s[i - 1]) ||
			      (is_upper(s[i - 1]) && i + 1 < len && is_lower(s[i + 1])));
		if (cut || camel) {
			size_t end = i;
			while (end > start && is_digit(s[end - 1]))
				end--;
			if (end > start) {
				parts[np].s = s + start;
				parts[np].len = end - start;
				np++;
			}
			start = cut ? i + 1 : i;
		}
	}
	return np;
}

/* True if part p marks a secret by itself, given the part before it. */
static bool part_is_secret(const struct part *p, const struct part *prev,
			   const struct part *next)
{
	size_t i;

	if (prev && eq_nocase(p->s, p->len, "key") &&
	    in_list(prev->s, prev->len, key_qualifiers))
		return false;
	if (prev && eq_nocase(p->s, p->len, "token") &&
	    in_list(prev->s, prev->len, token_qualifiers))
		return false;
	if (in_list(p->s, p->len, secret_parts))
		return true;
	/* "private" only as in private_key, PRIVATE-TOKEN or a last part. */
	if (eq_nocase(p->s, p->len, "private"))
		return !next || eq_nocase(next->s, next->len, "key") ||
		       eq_nocase(next->s, next->len, "token");
	for (i = 0; secret_suffixes[i]; i++) {
		size_t wl = strlen(secret_suffixes[i]);
		if (p->len > wl &&
		    eq_nocase(p->s + p->len - wl, wl, secret_suffixes[i]))
			return true;
	}
	return false;
}

/* False for a run of random characters that merely ends before '=' or
 * ':' (base64 data): a name without _ - . may have digits only at its end
 * and, when it mixes cases, camelCase parts of 3 letters or more after
 * the first (apiKey, AccountKey, AWSSecretKey). */
static bool looks_like_name(const unsigned char *s, size_t len)
{
	struct part parts[16];
	size_t i, end = len, np;
	bool up = false, low = false;

	for (i = 0; i < len; i++)
		if (s[i] == '_' || s[i] == '-' || s[i] == '.')
			return true;
	while (end > 0 && is_digit(s[end - 1]))
		end--;
	for (i = 0; i < end; i++) {
		if (is_digit(s[i]))
			return false;
		up |= is_upper(s[i]);
		low |= is_lower(s[i]);
	}
	if (!up || !low)
		return true;
	np = split_parts(s, len, parts, 16);
	for (i = 1; i < np; i++)
		if (parts[i].len < 3)
			return false;
	return np < 16;
}

static enum name_kind classify_name(const unsigned char *s, size_t len)
{
	struct part parts[16];
	size_t np, i;
	const struct part *last;
	bool secret = false;

	if (len == 0 || len > MAX_NAME_LEN)
		return NAME_PLAIN;
	/* $PWD is the shell's working directory. */
	if (len == 3 && memcmp(s, "PWD", 3) == 0)
		return NAME_PLAIN;
	if (!looks_like_name(s, len))
		return NAME_PLAIN;
	np = split_parts(s, len, parts, 16);
	if (np == 0)
		return NAME_PLAIN;
	last = &parts[np - 1];
	if (eq_nocase(last->s, last->len, "authorization"))
		return NAME_AUTHORIZATION;
	/* A bare "key" is a dictionary's or a label's (key: "ray.io/node-type"). */
	if (np == 1 && eq_nocase(last->s, last->len, "key"))
		return NAME_PLAIN;
	for (i = 0; i < np && !secret; i++)
		secret = part_is_secret(&parts[i], i ? &parts[i - 1] : NULL,
					i + 1 < np ? &parts[i + 1] : NULL);
	if (!secret)
		return NAME_PLAIN;
	if (np > 1 && in_list(parts[0].s, parts[0].len, plain_first))
		return NAME_PLAIN;
	if (np > 1 && in_list(last->s, last->len, plain_last) &&
	    !part_is_secret(last, &parts[np - 2], NULL))
		return NAME_PLAIN;
	return NAME_SECRET;
}

bool redact_name_is_secret(const char *name, size_t len)
{
	return name && classify_name((const unsigned char *)name, len) != NAME_PLAIN;
}

/* ------------------------------------------------------------------ */
/* Values: placeholders and code are not secrets.                      */

static const char *const placeholder_words[] = {
	"true", "false", "null", "none", "nil", "yes", "no", "on", "off",
	"undefined", "|", ">", "|-", ">-", "|+", ">+", "~", NULL
};

/* True if v[0..len) is not a secret but stands for one or for nothing:
 * empty, already redacted, a boolean, a mask (*****, ...), a variable
 * reference ($X, ${X}, {{ x }}, %(x)s), a <placeholder>, a number of at
 * most 5 digits or a hex constant. */
static bool is_placeholder(const unsigned char *v, size_t len)
{
	size_t i;

	if (len == 0 || (len >= MARK_LEN && memcmp(v, MARK, MARK_LEN) == 0))
		return true;
	if (in_list(v, len, placeholder_words))
		return true;
	for (i = 0; i < len && (v[i] == '*' || v[i] == 'x' || v[i] == 'X' || v[i] == '.'); i++)
		;
	if (i == len && len >= 3)
		return true;	/* *****, xxxx, ... */
	if (len == 3 && memcmp(v, "\xe2\x80\xa6", 3) == 0)
		return true;	/* an ellipsis */
	if (v[0] == '$') {
		if (len > 1 && v[1] == '{')
			return true;
		for (i = 1; i < len && (is_alnum(v[i]) || v[i] == '_'); i++)
			;
		if (i == len && len > 1)
			return true;
	}
	if (len >= 2 && ((v[0] == '{' && v[1] == '{') ||
			 (v[0] == '%' && (v[1] == '(' || v[1] == 's' || v[1] == 'd'))))
		return true;	/* templates and format strings */
	for (i = 0; i < len && is_digit(v[i]); i++)
		;
	if (i == len && len < 6)
		return true;	/* a small number: a count, a flag, a constant */
	if (len > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		for (i = 2; i < len && (is_digit(v[i]) || is_alpha(v[i])); i++)
			;
		if (i == len && len <= 18)
			return true;	/* a hex constant: _DD_SIGNATURE = 0x08074b50 */
	}
	if (len >= 2 && v[0] == '<' && v[len - 1] == '>')
		return true;
	return false;
}

static const char *const type_words[] = {
	"str", "int", "float", "bool", "bytes", "dict", "list", "any",
	"object", "string", "number", "boolean", "secretstr", "optional",
	"union", NULL
};

/* True if the unquoted value v[0..len) of name[0..nlen), followed by the
 * byte after, is a piece of program rather than a secret: a call or
 * subscript (get_token(), os.environ["X"]), a lambda, a variable passed on
 * (api_key=api_key, key=wandb_api_key) or assigned with spaces
 * (token = self.token), a type annotation (api_key: str). */
static bool is_code(const unsigned char *v, size_t len, const unsigned char *name,
		    size_t nlen, unsigned char after, bool spaced, bool colon)
{
	size_t i;
	bool digit = false, sep = false, attr = false;

	if (v[0] == '(' || v[0] == '[' || v[0] == '{')
		return true;
	if (!is_alpha(v[0]) && v[0] != '_')
		return false;
	for (i = 0; i < len && (is_alnum(v[i]) || v[i] == '_' || v[i] == '.'); i++) {
		digit |= is_digit(v[i]);
		sep |= v[i] == '_' || v[i] == '.';
		attr |= v[i] == '.' && i + 1 < len && (is_alpha(v[i + 1]) || v[i + 1] == '_');
	}
	if (i < len && (v[i] == '(' || v[i] == '['))
		return true;
	if (colon && in_list(v, i, type_words) && (i == len || v[i] == ' '))
		return true;
	if (i < len)
		return false;
	while (nlen > len && memchr(name, '.', nlen - len)) {	/* self.x = x */
		const unsigned char *dot = memchr(name, '.', nlen);
		nlen -= (size_t)(dot - name) + 1;
		name = dot + 1;
	}
	if (attr || eq_nocase(v, len, "lambda") || (len == nlen && memcmp(v, name, len) == 0))
		return true;
	return !digit && (sep || spaced || after == ')' || after == ',');
}

/* ------------------------------------------------------------------ */
/* Spans: the byte ranges to replace.                                  */

struct span {
	size_t start, end;
	const char *label;	/* static; NULL for a plain "[REDACTED]" */
};

struct spans {
	struct span *v;
	size_t n, cap;
	int err;
};

static void span_add(struct spans *sp, size_t start, size_t end, const char *label)
{
	struct span *nv;

	if (sp->err || end <= start)
		return;
	if (sp->n == sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 16;
		nv = realloc(sp->v, cap * sizeof(*nv));
		if (!nv) {
			sp->err = -ENOMEM;
			return;
		}
		sp->v = nv;
		sp->cap = cap;
	}
	sp->v[sp->n++] = (struct span){ start, end, label };
}

/* The scanner's state: the text and how far spans already reach. */
struct scan {
	const unsigned char *s;
	size_t n;
	size_t done;	/* bytes before this are inside a span already */
	struct spans *sp;
};

static void scan_add(struct scan *sc, size_t start, size_t end, const char *label)
{
	span_add(sc->sp, start, end, label);
	if (end > sc->done)
		sc->done = end;
}

/* ------------------------------------------------------------------ */
/* Tokens with a known prefix.                                         */

enum charset { CS_ALNUM, CS_B64URL, CS_B64URL_DOT, CS_HEX, CS_HEX_DASH, CS_UPPER_DIGIT,
	       CS_ALNUM_DASH, CS_WORD };

struct token_kind {
	const char *prefix;
	size_t plen;			/* strlen(prefix) */
	const char *label;
	enum charset cs;
	unsigned short min, max;	/* length of the part after the prefix */
	bool digit;			/* that part must contain a digit */
};

#define TK(prefix, ...) { prefix, sizeof(prefix) - 1, __VA_ARGS__ }

/* Longer prefixes before the shorter ones they start with. */
static const struct token_kind token_kinds[] = {
	TK("sk-ant-", "anthropic_key", CS_B64URL, 20, 400, true),
	TK("sk-", "openai_key", CS_B64URL, 20, 400, true),
	TK("sk_live_", "stripe_key", CS_ALNUM, 16, 255, false),
	TK("sk_test_", "stripe_key", CS_ALNUM, 16, 255, false),
	TK("rk_live_", "stripe_key", CS_ALNUM, 16, 255, false),
	TK("rk_test_", "stripe_key", CS_ALNUM, 16, 255, false),
	TK("whsec_", "stripe_key", CS_ALNUM, 24, 255, false),
	TK("r8_", "replicate_token", CS_ALNUM, 30, 64, false),
	TK("AIza", "google_api_key", CS_B64URL, 30, 40, false),
	TK("ya29.", "google_oauth_token", CS_B64URL_DOT, 20, 4096, false),
	TK("AKIA", "aws_access_key_id", CS_UPPER_DIGIT, 16, 16, false),
	TK("ASIA", "aws_access_key_id", CS_UPPER_DIGIT, 16, 16, false),
	TK("AGPA", "aws_access_key_id", CS_UPPER_DIGIT, 16, 16, false),
	TK("AIDA", "aws_access_key_id", CS_UPPER_DIGIT, 16, 16, false),
	TK("AROA", "aws_access_key_id", CS_UPPER_DIGIT, 16, 16, false),
	TK("ANPA", "aws_access_key_id", CS_UPPER_DIGIT, 16, 16, false),
	TK("AIPA", "aws_access_key_id", CS_UPPER_DIGIT, 16, 16, false),
	TK("ABIA", "aws_access_key_id", CS_UPPER_DIGIT, 16, 16, false),
	TK("ACCA", "aws_access_key_id", CS_UPPER_DIGIT, 16, 16, false),
	TK("AC", "twilio_account_sid", CS_HEX, 32, 32, false),
	TK("SK", "twilio_key", CS_HEX, 32, 32, false),
	TK("ghp_", "github_token", CS_ALNUM, 30, 255, false),
	TK("gho_", "github_token", CS_ALNUM, 30, 255, false),
	TK("ghu_", "github_token", CS_ALNUM, 30, 255, false),
	TK("ghs_", "github_token", CS_ALNUM, 30, 255, false),
	TK("ghr_", "github_token", CS_ALNUM, 30, 255, false),
	TK("github_pat_", "github_token", CS_WORD, 22, 255, false),
	TK("glpat-", "gitlab_token", CS_B64URL, 20, 255, false),
	TK("glptt-", "gitlab_token", CS_B64URL, 20, 255, false),
	TK("gldt-", "gitlab_token", CS_B64URL, 20, 255, false),
	TK("glrt-", "gitlab_token", CS_B64URL, 20, 255, false),
	TK("gsk_", "groq_key", CS_ALNUM, 40, 64, false),
	TK("xoxb-", "slack_token", CS_ALNUM_DASH, 10, 255, false),
	TK("xoxp-", "slack_token", CS_ALNUM_DASH, 10, 255, false),
	TK("xoxa-", "slack_token", CS_ALNUM_DASH, 10, 255, false),
	TK("xoxr-", "slack_token", CS_ALNUM_DASH, 10, 255, false),
	TK("xoxs-", "slack_token", CS_ALNUM_DASH, 10, 255, false),
	TK("xoxe-", "slack_token", CS_ALNUM_DASH, 10, 255, false),
	TK("xapp-", "slack_token", CS_ALNUM_DASH, 10, 255, false),
	TK("xai-", "xai_key", CS_ALNUM, 40, 128, false),
	TK("hf_", "huggingface_token", CS_ALNUM, 30, 64, false),
	TK("npm_", "npm_token", CS_ALNUM, 36, 36, false),
	TK("pypi-AgE", "pypi_token", CS_B64URL, 16, 4096, false),
	TK("dapi", "databricks_token", CS_HEX_DASH, 32, 40, false),
	TK("esecret_", "anyscale_key", CS_ALNUM, 16, 128, false),
};

static bool in_charset(enum charset cs, unsigned char c)
{
	switch (cs) {
	case CS_ALNUM: return is_alnum(c);
	case CS_B64URL: return is_b64url(c);
	case CS_B64URL_DOT: return is_b64url(c) || c == '.';
	case CS_HEX: return is_hex_lower(c);
	case CS_HEX_DASH: return is_hex_lower(c) || c == '-';
	case CS_UPPER_DIGIT: return is_upper(c) || is_digit(c);
	case CS_ALNUM_DASH: return is_alnum(c) || c == '-';
	case CS_WORD: return is_alnum(c) || c == '_';
	}
	return false;
}

/* End of the token of kind t at i, or 0. */
static size_t match_token(const struct scan *sc, size_t i, const struct token_kind *t)
{
	size_t plen = t->plen, j, body;
	bool digit = false;

	if (sc->n - i < plen + t->min || memcmp(sc->s + i, t->prefix, plen) != 0)
		return 0;
	for (j = i + plen; j < sc->n && j - i - plen <= t->max &&
	     in_charset(t->cs, sc->s[j]); j++)
		digit |= is_digit(sc->s[j]);
	body = j - i - plen;
	if (body < t->min || body > t->max || (t->digit && !digit))
		return 0;
	if (j < sc->n && is_alnum(sc->s[j]))
		return 0;	/* part of a longer word */
	return j;
}

/* Length of the base64url run at i. */
static size_t b64url_run(const struct scan *sc, size_t i)
{
	size_t j = i;

	while (j < sc->n && is_b64url(sc->s[j]))
		j++;
	return j - i;
}

/* A JWT: eyJ... . eyJ... . signature (possibly empty). End or 0. */
static size_t match_jwt(const struct scan *sc, size_t i)
{
	const unsigned char *s = sc->s;
	size_t j, k;

	if (sc->n - i < 24 || memcmp(s + i, "eyJ", 3) != 0)
		return 0;
	j = i + b64url_run(sc, i);
	if (j - i < 10 || j + 4 >= sc->n || s[j] != '.' || memcmp(s + j + 1, "eyJ", 3) != 0)
		return 0;
	k = j + 1 + b64url_run(sc, j + 1);
	if (k - j - 1 < 10 || k >= sc->n || s[k] != '.')
		return 0;
	return k + 1 + b64url_run(sc, k + 1);
}

/* A SendGrid key: SG.<16+>.<16+>. End or 0. */
static size_t match_sendgrid(const struct scan *sc, size_t i)
{
	size_t j, k;

	if (sc->n - i < 36 || memcmp(sc->s + i, "SG.", 3) != 0)
		return 0;
	j = i + 3 + b64url_run(sc, i + 3);
	if (j - i - 3 < 16 || j >= sc->n || sc->s[j] != '.')
		return 0;
	k = j + 1 + b64url_run(sc, j + 1);
	return k - j - 1 >= 16 ? k : 0;
}

static bool is_cred_char(unsigned char c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '~' || c == '+' ||
	       c == '/' || c == '=' || c == '-';
}

/* "Bearer <credential>" outside an Authorization header: the credential
 * must look random (12+ characters, letters and digits). Adds the span
 * and returns its end, or 0. */
static size_t match_bearer(struct scan *sc, size_t i)
{
	const unsigned char *s = sc->s;
	size_t j, k;
	bool digit = false, alpha = false;

	if (sc->n - i < 8 || !starts_nocase(s + i, sc->n - i, "bearer") || !is_blank(s[i + 6]))
		return 0;
	for (j = i + 6; j < sc->n && is_blank(s[j]); j++)
		;
	for (k = j; k < sc->n && is_cred_char(s[k]); k++) {
		digit |= is_digit(s[k]);
		alpha |= is_alpha(s[k]);
	}
	if (k - j < 12 || !digit || !alpha)
		return 0;
	scan_add(sc, j, k, NULL);
	return k;
}

/* The bytes a token can start with: the first bytes of token_kinds, and
 * of JWTs, SendGrid keys and "Bearer". Keep in step with token_kinds (a
 * case in tests/cases/redact/secrets.jsonl for each kind checks it). */
static const bool token_start[256] = {
	['s'] = true, ['r'] = true, ['w'] = true, ['A'] = true, ['y'] = true,
	['S'] = true, ['g'] = true, ['x'] = true, ['h'] = true, ['n'] = true,
	['p'] = true, ['d'] = true, ['e'] = true, ['B'] = true, ['b'] = true,
};

/* At i a word starts (s[i] alphanumeric, s[i-1] not): a token? */
static size_t scan_word(struct scan *sc, size_t i)
{
	unsigned char c = sc->s[i];
	size_t t, end;

	if (!token_start[c])
		return 0;
	for (t = 0; t < sizeof(token_kinds) / sizeof(token_kinds[0]); t++) {
		if ((unsigned char)token_kinds[t].prefix[0] != c)
			continue;
		end = match_token(sc, i, &token_kinds[t]);
		if (end) {
			scan_add(sc, i, end, token_kinds[t].label);
			return end;
		}
	}
	if (c == 'e' && (end = match_jwt(sc, i))) {
		scan_add(sc, i, end, "jwt");
		return end;
	}
	if (c == 'S' && (end = match_sendgrid(sc, i))) {
		scan_add(sc, i, end, "sendgrid_key");
		return end;
	}
	if (c == 'B' || c == 'b')
		return match_bearer(sc, i);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Passwords in URLs: scheme://user:password@host.                     */

/* At p, s[p..p+3) is "://". Adds a span for the password (or for a long
 * user part that is a token) and returns where to continue, or 0. */
static size_t scan_url(struct scan *sc, size_t p)
{
	const unsigned char *s = sc->s;
	size_t q = p, a = p + 3, e, at = 0, colon = 0, k;
	bool digit = false;

	while (q > sc->done && (is_alnum(s[q - 1]) || s[q - 1] == '+' ||
				s[q - 1] == '.' || s[q - 1] == '-'))
		q--;
	if (p - q < 2 || !is_alpha(s[q]))
		return 0;
	for (e = a; e < sc->n && e - a < 1024; e++) {
		unsigned char c = s[e];
		if (c == '/' || c == '?' || c == '#' || is_space(c) || is_quote(c) ||
		    c == '<' || c == '>' || c == '\\')
			break;
		if (c == '@')
			at = e;
	}
	if (!at)
		return a;
	for (k = a; k < at; k++) {
		if (at - k > MARK_LEN && memcmp(s + k, MARK, MARK_LEN) == 0)
			while (k + 1 < at && s[k] != ']')	/* redacted already */
				k++;
		if (s[k] == ':' && !colon)
			colon = k;
		digit |= is_digit(s[k]);
	}
	if (colon) {
		if (colon > a && is_alnum(s[a]))
			scan_word(sc, a);	/* a token as the user (Twilio's SID) */
		if (!is_placeholder(s + colon + 1, at - colon - 1))
			scan_add(sc, colon + 1, at, NULL);
	} else if (at - a >= 20 && digit && !is_placeholder(s + a, at - a)) {
		scan_add(sc, a, at, NULL);
	}
	return at + 1;
}

/* ------------------------------------------------------------------ */
/* Assignments: NAME=value, NAME: value, "name": "value", --flag value. */

/* True if position x starts a line, ignoring indentation and a YAML
 * list's "- ": the buffer's start, after a newline, after a "\n" escape
 * or at the start of a quoted string (text that is itself inside a JSON
 * string). Never right after a span ending at floor: the output has a
 * mark there. */
static bool at_line_start(const unsigned char *s, size_t x, size_t floor)
{
	if (x > 0 && s[x - 1] == '"') {	/* a JSON string's start: ["x, : "x */
		for (x--; x > 0 && is_blank(s[x - 1]); x--)
			;
		return x == 0 || (x > floor && (s[x - 1] == ':' || s[x - 1] == '[' ||
						s[x - 1] == ','));
	}
	while (x > 0 && is_blank(s[x - 1]))
		x--;
	if (x >= 1 && s[x - 1] == '-' && (x == 1 || !is_name_char(s[x - 2])))
		for (x--; x > 0 && is_blank(s[x - 1]); x--)
			;
	if (x > 0 && x <= floor)
		return false;	/* right after a redaction mark */
	return x == 0 || s[x - 1] == '\n' || s[x - 1] == '\r' ||
	       (x >= 2 && s[x - 2] == '\\' && (s[x - 1] == 'n' || s[x - 1] == 'r'));
}

/* How deeply a quote preceded by r backslashes is nested in JSON strings
 * inside JSON strings: 0 for a plain quote (r even), 1 for \" , 2 for
 * \\\" and so on. */
static unsigned quote_depth(size_t r)
{
	unsigned d = 0;

	while (r % 2 == 1) {
		d++;
		r = (r - 1) / 2;
	}
	return d;
}

/* True if at v there is a quote, possibly escaped by a run of backslashes
 * (text inside a JSON string, or inside one inside another). */
static bool quote_at(const unsigned char *s, size_t n, size_t v)
{
	while (v < n && s[v] == '\\')
		v++;
	return v < n && is_quote(s[v]);
}

/* End of the quoted value whose opening quote (after a run of m
 * backslashes) is at v; the value starts at *vs. It ends before the first
 * quote of the same character that is not nested deeper than the opening
 * one, and before the backslashes escaping that quote. Stops at a raw
 * newline when the closing quote is missing. */
static size_t quoted_end(const unsigned char *s, size_t n, size_t v, size_t *vs)
{
	size_t m = 0, r = 0, k;
	unsigned char q;
	unsigned depth;

	while (s[v + m] == '\\')
		m++;
	q = s[v + m];
	depth = quote_depth(m);
	for (k = *vs = v + m + 1; k < n && s[k] != '\n' && s[k] != '\r'; k++) {
		if (s[k] == '\\') {
			r++;
			continue;
		}
		if (s[k] == q && quote_depth(r) <= depth)
			return k - r;
		r = 0;
	}
	return k;
}

/* Where a value that is not quoted ends. Word mode stops at white space,
 * quotes and JSON escapes; line mode (YAML, INI, headers) runs to the end
 * of the line. term is an extra terminator from the context (';' in a
 * connection string, '&' in a query string, the quote around a header);
 * 0 for none. */
static size_t bare_end(const unsigned char *s, size_t n, size_t v, bool line,
		       unsigned char term)
{
	size_t k;

	for (k = v; k < n; k++) {
		unsigned char c = s[k];
		if (c == '\n' || c == '\r' || (term && c == term))
			break;
		if (c == '\\' && k + 1 < n &&
		    (s[k + 1] == 'n' || s[k + 1] == 'r' || s[k + 1] == 't' ||
		     s[k + 1] == '"' || s[k + 1] == '\'')) {
			while (k > v && s[k - 1] == '\\')
				k--;	/* the whole escape, however deep */
			break;
		}
		if (!line && (is_space(c) || is_quote(c)))
			break;
		if (line && c == '#' && k > v && is_blank(s[k - 1]))
			break;	/* a YAML or INI comment */
	}
	if (line)
		while (k > v && is_blank(s[k - 1]))
			k--;
	return k;
}

/* Adds the span for the value [vs, ve) of a name of kind kind, keeping an
 * Authorization header's scheme word. Returns ve. */
static size_t add_value_span(struct scan *sc, enum name_kind kind, size_t vs, size_t ve)
{
	const unsigned char *s = sc->s;
	size_t k;

	if (kind == NAME_AUTHORIZATION) {
		for (k = vs; k < ve && is_alpha(s[k]); k++)
			;
		if (k > vs && k < ve && is_blank(s[k])) {
			while (k < ve && is_blank(s[k]))
				k++;
			vs = k;
		}
	}
	if (!is_placeholder(s + vs, ve - vs))
		scan_add(sc, vs, ve, NULL);
	return ve;
}

/* The name before the separator at p: skips blanks and a closing quote
 * (escaped or not) backwards. Sets *ns, *ne to the name, *open to the
 * position of its opening quote or the name's first byte, *quoted and
 * *spaced. False if there is no name. */
static bool name_before(const struct scan *sc, size_t p, size_t *ns, size_t *ne,
			size_t *open, bool *quoted, bool *spaced)
{
	const unsigned char *s = sc->s;
	size_t q = p, start;
	unsigned char nq = 0;
	size_t esc = 0;

	*spaced = false;
	while (q > sc->done && p - q < 4 && is_blank(s[q - 1])) {
		q--;
		*spaced = true;
	}
	if (q > sc->done && (s[q - 1] == '"' || s[q - 1] == '\'')) {
		nq = s[--q];
		while (q > sc->done && s[q - 1] == '\\') {
			q--;
			esc++;
		}
	}
	*ne = q;
	while (q > sc->done && *ne - q <= MAX_NAME_LEN && is_name_char(s[q - 1]))
		q--;
	if (q == *ne || *ne - q > MAX_NAME_LEN)
		return false;
	start = q;
	while (start < *ne && (s[start] == '-' || s[start] == '.' || s[start] == '_'))
		start++;
	if (start == *ne || !is_alpha(s[start]))
		return false;
	*ns = start;
	*open = q;
	*quoted = false;
	if (nq) {
		size_t k;
		if (q < esc + 1 || s[q - 1] != nq)
			return false;
		for (k = 0; k < esc; k++)
			if (s[q - 2 - k] != '\\')
				return false;
		*open = q - 1 - esc;
		*quoted = true;
	}
	return true;
}

/* True if the raw quote s[v], before a value running to ve, closes a
 * string literal opened earlier on the line rather than opening the value:
 * print("token=" + x), getpass('Password: ', stream). The "value" then
 * starts like code (blank , ) + ;), or it never ends on its line and
 * there is an odd number of unescaped quotes of its kind since the line's
 * start (looked for at most 4 KiB back). */
static bool closes_literal(const struct scan *sc, size_t v, size_t ve)
{
	const unsigned char *s = sc->s;
	size_t k = v, count = 0;
	unsigned char first = v + 1 < sc->n ? s[v + 1] : 0;

	if (is_blank(first) || (first && strchr(",)+;", first)))
		return true;
	if (ve < sc->n && s[ve] == s[v])
		return false;
	while (k > 0 && s[k - 1] != '\n' && s[k - 1] != '\r') {
		if (v - k >= 4096)
			return false;
		k--;
		if (s[k] == s[v] && (k == 0 || s[k - 1] != '\\'))
			count++;
	}
	return count % 2 == 1;
}

/* The assignment whose name is s[ns..ne) and whose value is not quoted
 * starts at v. colon: the separator was ':'; spaced: blanks around it;
 * quoted: the name was; ctx: the byte before the name (or its quote).
 * Adds the span unless the value is missing, a placeholder or code.
 * Returns where to continue, or 0. */
static size_t scan_bare_value(struct scan *sc, enum name_kind kind, size_t ns, size_t ne,
			      size_t v, bool colon, bool spaced, bool quoted,
			      unsigned char ctx, bool line)
{
	const unsigned char *s = sc->s;
	size_t n = sc->n, ve;
	unsigned char term = 0, after;
	struct part parts[2];

	if (colon && !quoted && !line && kind != NAME_AUTHORIZATION &&
	    split_parts(s + ns, ne - ns, parts, 2) < 2)
		return 0;	/* "token: x" in prose; api_key: x is fine */
	if (ctx == ';' || ctx == '&' || ctx == '?')
		term = ctx == '?' ? '&' : ctx;	/* connection and query strings */
	else if (!quoted && (ctx == '"' || ctx == '\''))
		term = ctx;	/* -H 'Authorization: Bearer x' */
	ve = bare_end(s, n, v, kind == NAME_AUTHORIZATION || (line && colon), term);
	if (ve == v)
		return 0;
	if (is_placeholder(s + v, ve - v))
		return ve;
	after = ve < n ? s[ve] : 0;
	while (ve - v > 1 && s[ve - 1] && strchr(",;.)]}>:", s[ve - 1]))
		after = s[--ve];	/* punctuation after the value */
	if (s[v] == '=' || is_placeholder(s + v, ve - v) ||
	    is_code(s + v, ve - v, s + ns, ne - ns, after, spaced, colon))
		return ve;
	return add_value_span(sc, kind, v, ve);
}

/* At p, s[p] is '=' or ':'. Handles URLs, then assignments whose name
 * looks secret. Returns where to continue, or 0. */
static size_t scan_separator(struct scan *sc, size_t p)
{
	const unsigned char *s = sc->s;
	size_t n = sc->n, ns, ne, open, v, vs, ve;
	bool colon = s[p] == ':', quoted, spaced;
	unsigned char ctx;
	enum name_kind kind;

	if (colon && n - p >= 3 && s[p + 1] == '/' && s[p + 2] == '/')
		return scan_url(sc, p);
	if (p + 1 < n && s[p + 1] == s[p])
		return p + 2;	/* "==", "::" */
	if (!name_before(sc, p, &ns, &ne, &open, &quoted, &spaced))
		return 0;
	kind = classify_name(s + ns, ne - ns);
	if (kind == NAME_PLAIN)
		return 0;
	ctx = open > sc->done ? s[open - 1] : 0;	/* after a span: a mark */
	if (ctx == '+' || ctx == '/')
		return 0;	/* inside base64 (image data), not a name */
	for (v = p + 1; v < n && is_blank(s[v]); v++)
		spaced = true;
	if (v >= n)
		return 0;
	if (quote_at(s, n, v)) {
		ve = quoted_end(s, n, v, &vs);
		if (is_quote(s[v]) && closes_literal(sc, v, ve))
			return v + 1;
		return add_value_span(sc, kind, vs, ve);
	}
	return scan_bare_value(sc, kind, ns, ne, v, colon, spaced, quoted, ctx,
			       at_line_start(s, open, sc->done));
}

/* End of a PEM block whose body starts at k: just after its "-----END
 * ...-----" line, or, when the block is cut off, where the characters
 * stop being those of a PEM body (base64, white space, \n escapes and
 * the Proc-Type/DEK-Info headers), so that a truncated key inside a JSON
 * string takes the rest of that string and no more. */
static size_t pem_end(const unsigned char *s, size_t n, size_t k)
{
	size_t e;

	while (k < n) {
		if (n - k >= 9 && memcmp(s + k, "-----END ", 9) == 0) {
			for (e = k + 9; e < n && e - k < 80 && s[e] != '-' && s[e] != '\n'; e++)
				;
			return e + 5 <= n && memcmp(s + e, "-----", 5) == 0 ? e + 5 : e;
		}
		if (s[k] == '\\' && k + 1 < n && (s[k + 1] == 'n' || s[k + 1] == 'r'))
			k += 2;
		else if (is_alnum(s[k]) || is_space(s[k]) || (s[k] && strchr("+/=:,-", s[k])))
			k++;
		else
			break;
	}
	while (is_space(s[k - 1]))	/* cut off: keep the line structure */
		k--;
	return k;
}

/* At p, s[p] is '-': a PEM private key block, or a long flag whose name
 * looks secret followed by its value as the next word (--password X;
 * --password=X is an assignment), or curl's "-u user:password". Returns
 * where to continue, or 0. */
static size_t scan_dash(struct scan *sc, size_t p)
{
	const unsigned char *s = sc->s;
	size_t n = sc->n, e, v, ve, vs, k;
	bool user;

	if (n - p > 16 && memcmp(s + p, "-----BEGIN ", 11) == 0) {
		for (e = p + 11; e < n && e - p < 80 && s[e] != '-' && s[e] != '\n'; e++)
			;
		if (e + 5 > n || memcmp(s + e, "-----", 5) != 0)
			return e;
		if (!memmem(s + p + 11, e - p - 11, "PRIVATE KEY", 11))
			return e + 5;
		e = pem_end(s, n, e + 5);
		scan_add(sc, p, e, "private_key");
		return e;
	}
	if (p > 0 && !is_space(s[p - 1]) && !is_quote(s[p - 1]))
		return 0;
	user = n - p > 3 && s[p + 1] == 'u' && s[p + 2] == ' ';
	if (user) {
		e = p + 2;
	} else {
		if (n - p < 4 || s[p + 1] != '-' || !is_alpha(s[p + 2]))
			return 0;
		for (e = p + 2; e < n && (is_alnum(s[e]) || s[e] == '_' || s[e] == '-'); e++)
			;
		user = e - p - 2 == 4 && memcmp(s + p + 2, "user", 4) == 0;
		if (!user && classify_name(s + p + 2, e - p - 2) == NAME_PLAIN)
			return e;
	}
	if (e >= n || s[e] != ' ')
		return e;
	for (v = e; v < n && s[v] == ' '; v++)
		;
	if (v >= n || s[v] == '-')
		return e;
	if (quote_at(s, n, v))
		ve = quoted_end(s, n, v, &vs);
	else
		ve = bare_end(s, n, vs = v, false, 0);
	if (user) {	/* user:password */
		for (k = vs; k < ve && s[k] != ':'; k++)
			;
		if (k >= ve)
			return ve;
		vs = k + 1;
	}
	return add_value_span(sc, NAME_SECRET, vs, ve);
}

/* Finds every secret by shape in s[0..n) and appends its span to sp. */
static int scan_shapes(const unsigned char *s, size_t n, struct spans *sp)
{
	struct scan sc = { s, n, 0, sp };
	size_t i = 0, next;
	unsigned char c;

	while (i < n) {
		c = s[i];
		next = 0;
		if (is_alnum(c)) {
			if (i == 0 || !is_alnum(s[i - 1]))
				next = scan_word(&sc, i);
			if (!next) {	/* nothing starts inside a word */
				for (i++; i < n && is_alnum(s[i]); i++)
					;
				continue;
			}
		} else if (c == '=' || c == ':') {
			next = scan_separator(&sc, i);
		} else if (c == '-') {
			next = scan_dash(&sc, i);
		}
		if (sp->err)
			return sp->err;
		i = next > i ? next : i + 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Registered values.                                                  */

struct value {
	char *s;	/* owned */
	size_t len;
};

struct redactor {
	struct value *v;	/* owned, with each value */
	size_t n, cap;
};

int redactor_new(struct redactor **out)
{
	if (!out)
		return -EINVAL;
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void redactor_free(struct redactor *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++)
		free(r->v[i].s);
	free(r->v);
	free(r);
}

size_t redactor_count(const struct redactor *r)
{
	return r ? r->n : 0;
}

/* Adds one spelling s[0..len) (copied) unless already there. */
static int add_spelling(struct redactor *r, const char *s, size_t len)
{
	struct value *nv;
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->v[i].len == len && memcmp(r->v[i].s, s, len) == 0)
			return 0;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		nv = realloc(r->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		r->v = nv;
		r->cap = cap;
	}
	r->v[r->n].s = malloc(len + 1);
	if (!r->v[r->n].s)
		return -ENOMEM;
	memcpy(r->v[r->n].s, s, len);
	r->v[r->n].s[len] = '\0';
	r->v[r->n++].len = len;
	return 0;
}

/* s as it appears inside a JSON string (escaped) or in a URL
 * (percent-encoded); newly allocated, NULL when out of memory. */
static char *spell(const char *s, size_t len, bool json)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(len * 6 + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (json && (c == '"' || c == '\\')) {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (json && c < 0x20) {
			o += sprintf(o, "\\u%04x", c);
		} else if (!json && !is_alnum(c) && (!c || !strchr("-._~", c))) {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		} else {
			*o++ = (char)c;
		}
	}
	*o = '\0';
	return out;
}

int redactor_add_value(struct redactor *r, const char *secret)
{
	size_t len, k;
	int rc;

	if (!r || !secret)
		return -EINVAL;
	len = strlen(secret);
	if (len < MIN_VALUE_LEN)
		return 0;
	rc = add_spelling(r, secret, len);
	for (k = 0; k < 2 && rc == 0; k++) {
		char *sp = spell(secret, len, k == 0);
		if (!sp)
			return -ENOMEM;
		if (strcmp(sp, secret) != 0)
			rc = add_spelling(r, sp, strlen(sp));
		free(sp);
	}
	return rc;
}

int redactor_add_env(struct redactor *r, char **env)
{
	const char *eq;
	int rc;

	if (!r || !env)
		return -EINVAL;
	for (; *env; env++) {
		eq = strchr(*env, '=');
		if (!eq || !redact_name_is_secret(*env, (size_t)(eq - *env)))
			continue;
		if (is_placeholder((const unsigned char *)eq + 1, strlen(eq + 1)))
			continue;
		rc = redactor_add_value(r, eq + 1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Appends a span for every occurrence of every registered value. */
static void find_values(const struct redactor *r, const char *s, size_t n,
			struct spans *sp)
{
	size_t i;
	const char *p, *hit;

	for (i = 0; r && i < r->n; i++) {
		p = s;
		while ((size_t)(s + n - p) >= r->v[i].len &&
		       (hit = memmem(p, (size_t)(s + n - p), r->v[i].s, r->v[i].len))) {
			span_add(sp, (size_t)(hit - s), (size_t)(hit - s) + r->v[i].len, NULL);
			p = hit + r->v[i].len;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Putting it together.                                                */

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end > y->end ? -1 : x->end < y->end;
}

/* Sorts the spans and merges the overlapping ones; returns their number. */
static size_t merge_spans(struct spans *sp, bool sorted)
{
	size_t i, m = 0;

	if (!sorted)
		qsort(sp->v, sp->n, sizeof(*sp->v), span_cmp);
	for (i = 0; i < sp->n; i++) {
		if (m && sp->v[i].start < sp->v[m - 1].end) {
			if (sp->v[i].end > sp->v[m - 1].end)
				sp->v[m - 1].end = sp->v[i].end;
			continue;
		}
		sp->v[m++] = sp->v[i];
	}
	return sp->n = m;
}

static size_t mark_len(const struct span *x)
{
	return x->label ? MARK_LEN + 2 + strlen(x->label) : MARK_LEN + 1;
}

/* One pass of redaction over in[0..len): *out (newly allocated), *out_len,
 * *count as for redact_text. */
static int redact_once(const struct redactor *r, const char *in, size_t len,
		       char **out, size_t *out_len, size_t *count)
{
	struct spans sp = { 0 };
	size_t i, total = len, pos = 0, nshape;
	char *buf, *o;
	int rc;

	rc = scan_shapes((const unsigned char *)in, len, &sp);
	nshape = sp.n;
	if (rc == 0) {
		find_values(r, in, len, &sp);
		rc = sp.err;
	}
	if (rc < 0)
		goto done;
	merge_spans(&sp, sp.n == nshape);
	for (i = 0; i < sp.n; i++)
		total = total - (sp.v[i].end - sp.v[i].start) + mark_len(&sp.v[i]);
	buf = o = malloc(total + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto done;
	}
	for (i = 0; i < sp.n; i++) {
		memcpy(o, in + pos, sp.v[i].start - pos);
		o += sp.v[i].start - pos;
		memcpy(o, MARK, MARK_LEN);
		o += MARK_LEN;
		if (sp.v[i].label) {
			*o++ = ':';
			memcpy(o, sp.v[i].label, strlen(sp.v[i].label));
			o += strlen(sp.v[i].label);
		}
		*o++ = ']';
		pos = sp.v[i].end;
	}
	memcpy(o, in + pos, len - pos);
	o += len - pos;
	*o = '\0';
	*out = buf;
	*out_len = total;
	*count = sp.n;
done:
	free(sp.v);
	return rc;
}

/* Passes run until nothing more is found: a replacement can reveal what
 * it hid before (a '/' inside a secret that cut a URL short, a quote
 * that made a later one look closing), and redaction must be idempotent.
 * Text without secrets takes one pass, text with some two. */
#define MAX_PASSES 4

int redact_text(const struct redactor *r, const char *in, size_t len,
		char **out, size_t *out_len, size_t *count)
{
	size_t olen = 0, n = 0, total = 0, pass;
	char *cur = NULL, *next;
	int rc;

	if (!out || (!in && len))
		return -EINVAL;
	*out = NULL;
	rc = redact_once(r, in ? in : "", len, &cur, &olen, &n);
	for (pass = 1; rc == 0 && n > 0 && pass < MAX_PASSES; pass++) {
		total += n;
		rc = redact_once(r, cur, olen, &next, &olen, &n);
		if (rc == 0) {
			free(cur);
			cur = next;
		}
	}
	if (rc < 0) {
		free(cur);
		return rc;
	}
	*out = cur;
	if (out_len)
		*out_len = olen;
	if (count)
		*count = total + n;
	return 0;
}

/* Replaces the string value v (of a member whose key is called name) with
 * its redacted text, or as a whole when the key looks secret. */
static int redact_json_string(const struct redactor *r, json_t *v,
			      const char *key, size_t *count)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v), olen, n = 0, k;
	enum name_kind kind = key ? classify_name((const unsigned char *)key, strlen(key))
				  : NAME_PLAIN;
	char *out, *fixed;
	int rc;

	if (kind != NAME_PLAIN && !is_placeholder((const unsigned char *)s, len)) {
		k = 0;
		if (kind == NAME_AUTHORIZATION) {	/* keep "Bearer " */
			while (k < len && is_alpha((unsigned char)s[k]))
				k++;
			if (k < len && is_blank((unsigned char)s[k])) {
				while (k < len && is_blank((unsigned char)s[k]))
					k++;
			} else {
				k = 0;
			}
		}
		if (k < len && !is_placeholder((const unsigned char *)s + k, len - k)) {
			out = malloc(k + MARK_LEN + 2);
			if (!out)
				return -ENOMEM;
			memcpy(out, s, k);
			memcpy(out + k, MARK "]", MARK_LEN + 2);
			rc = json_string_setn(v, out, k + MARK_LEN + 1) ? -ENOMEM : 0;
			free(out);
			*count += rc == 0;
			return rc;
		}
	}
	rc = redact_text(r, s, len, &out, &olen, &n);
	if (rc < 0)
		return rc;
	if (n > 0) {
		if (!utf8_valid(out, olen)) {	/* a registered value cut a character */
			fixed = utf8_repair(out, olen, &olen);
			free(out);
			if (!fixed)
				return -ENOMEM;
			out = fixed;
		}
		rc = json_string_setn(v, out, olen) ? -ENOMEM : 0;
		*count += n;
	}
	free(out);
	return rc;
}

static int redact_json_walk(const struct redactor *r, json_t *v,
			    const char *key, size_t *count)
{
	const char *k;
	json_t *m;
	size_t i;
	int rc = 0;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return redact_json_string(r, v, key, count);
	case JSON_ARRAY:
		json_array_foreach(v, i, m)
			if ((rc = redact_json_walk(r, m, NULL, count)) < 0)
				return rc;
		return 0;
	case JSON_OBJECT:
		json_object_foreach(v, k, m)
			if ((rc = redact_json_walk(r, m, k, count)) < 0)
				return rc;
		return 0;
	default:
		return 0;
	}
}

int redact_json(const struct redactor *r, json_t *v, size_t *count)
{
	size_t n = 0;
	int rc;

	if (!v)
		return -EINVAL;
	rc = redact_json_walk(r, v, NULL, &n);
	if (count)
		*count = n;
	return rc;
}
