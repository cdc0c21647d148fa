/*
 * redact.h - removing secrets from text before it leaves the machine.
 *
 * Everything doctor sends to an LLM, stores as a trace or writes to a log
 * goes through here first. Two kinds of secret are found:
 *
 *  - by shape, with hand-written scanners (no regular expressions): API
 *    keys and tokens with a known prefix (OpenAI, Anthropic, GitHub, AWS,
 *    Slack, Stripe, ...), JWTs, PEM private key blocks, passwords in URLs,
 *    Authorization headers, `.env`/YAML/JSON/INI assignments and long
 *    command-line flags whose name looks secret (API_KEY, db_password,
 *    secretKey, --token ...);
 *  - by value: strings the caller registers (the configured API key, the
 *    values of environment variables whose names look secret), found
 *    anywhere, also in their JSON-escaped and percent-encoded spellings.
 *
 * A secret is replaced in a way that keeps the text readable:
 *   sk-proj-...              -> [REDACTED:openai_key]
 *   OPENAI_API_KEY=abc...    -> OPENAI_API_KEY=[REDACTED]
 *   postgres://app:pw@db/x   -> postgres://app:[REDACTED]@db/x
 *   Authorization: Bearer x  -> Authorization: Bearer [REDACTED]
 * Redaction is idempotent: redacting its own output changes nothing.
 *
 * Input is a byte range (NUL bytes and invalid UTF-8 are fine); valid
 * UTF-8 stays valid. The caught and missed formats are listed in
 * docs/redaction.md.
 *
 * Thread safety: a redactor is filled once (redactor_add_*) and may then be
 * used by any number of threads at once (redact_* only read it).
 */
#ifndef DOCTOR_REDACT_H
#define DOCTOR_REDACT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Registered exact values; opaque. */
struct redactor;

/* A new, empty redactor in *out; the caller frees it with redactor_free.
 * 0, or -ENOMEM. */
int redactor_new(struct redactor **out);

/* Frees r and the copies of its values; NULL is fine. */
void redactor_free(struct redactor *r);

/* Registers secret (NUL-terminated; copied) so that every occurrence of it
 * is redacted. Values shorter than 8 bytes are ignored (too likely to
 * occur by chance; 0 is returned). 0, -EINVAL (NULL argument) or
 * -ENOMEM. */
int redactor_add_value(struct redactor *r, const char *secret);

/* Registers the value of each "NAME=value" entry of env (a NULL-terminated
 * array such as environ; borrowed) whose NAME looks secret
 * (redact_name_is_secret) and whose value is not a placeholder such as
 * "true" or "${X}". 0, -EINVAL or -ENOMEM. */
int redactor_add_env(struct redactor *r, char **env);

/* Number of values registered (each spelling counts once); for tests and
 * the status command. */
size_t redactor_count(const struct redactor *r);

/* True if a variable, key or flag called name[0..len) holds a secret:
 * one of its word parts (split at _ - . and camelCase) is key (not
 * alone), secret, token, password, passwd, pwd, pass, passphrase,
 * credential(s), auth, private, apikey, signature, cookie or authorization
 * (or a part ends in password, secret, token, apikey ...), and the name is
 * not one that merely talks about a secret (API_KEY_FILE, token_type,
 * KeyError, max_tokens, public_key, sort_key, pad_token, PWD,
 * --password-stdin). */
bool redact_name_is_secret(const char *name, size_t len);

/* Redacts in[0..len) (in may be NULL when len is 0). r may be NULL: then
 * only shapes are looked for. On success *out is a newly allocated,
 * NUL-terminated copy with secrets replaced (the caller frees it; always
 * allocated, even when nothing changed), *out_len (may be NULL) its
 * length, *count (may be NULL) the number of secrets replaced. 0,
 * -EINVAL or -ENOMEM (then *out is NULL). */
int redact_text(const struct redactor *r, const char *in, size_t len,
		char **out, size_t *out_len, size_t *count);

/* Redacts v in place: every string value in it (at any depth) goes
 * through redact_text, and a string that is the value of an object
 * member whose key looks secret (redact_name_is_secret) is replaced as a
 * whole ("[REDACTED]"; for "authorization" the scheme word is kept).
 * Object keys, numbers and the structure are kept. v is borrowed. *count
 * (may be NULL) gets the number of secrets replaced. 0, -EINVAL or
 * -ENOMEM (v may then be partly redacted). */
int redact_json(const struct redactor *r, json_t *v, size_t *count);

#endif
