/*
 * test_redact.c - secrets are removed before anything leaves the machine.
 *
 * Cases: tests/cases/redact/secrets.jsonl, one JSON object a line:
 * {format, text, secrets: [values], expect?}. After redaction no 8-byte
 * piece of any value may survive, the output must equal "expect" when
 * given, and redacting again must change nothing. Every line of
 * tests/cases/redact/innocent.txt (hashes, UUIDs, image data, tracebacks,
 * pip output, prose) must come out unchanged, alone and as one buffer.
 * Then: the whole corpus inside an LLM request body (as text and through
 * redact_json), buffer edges, adjacent secrets, NUL bytes and invalid
 * UTF-8, registered values and environments, name classification,
 * argument errors, random mixtures of all of these, and the throughput on
 * 8 MiB of notebook and log output (printed, not asserted).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <errno.h>
#include <jansson.h>
#include <time.h>

#include "tap.h"
#include "redact.h"
#include "utf8.h"

/* The first piece of secret (8 bytes, or all of a shorter secret) found
 * in out[0..len), as an offset into secret; -1 if none survives. */
static long survivor(const char *out, size_t len, const char *secret)
{
	size_t sl = strlen(secret), w = sl < 8 ? sl : 8, i;

	for (i = 0; i + w <= sl; i++)
		if (memmem(out, len, secret + i, w))
			return (long)i;
	return -1;
}

/* True if no secret of the array survives in out; reports the first. */
static bool none_survive(const char *out, size_t len, json_t *secrets, const char *what)
{
	size_t i;
	json_t *s;
	long at;

	json_array_foreach(secrets, i, s) {
		at = survivor(out, len, json_string_value(s));
		if (at >= 0) {
			tap_diag("%s: '%.8s' of secret %zu survives", what,
				 json_string_value(s) + at, i);
			return false;
		}
	}
	return true;
}

/* Redacts s (NUL-terminated) with r; newly allocated result or NULL. */
static char *redact_str(const struct redactor *r, const char *s, size_t *count)
{
	char *out = NULL;

	if (redact_text(r, s, strlen(s), &out, NULL, count) < 0)
		return NULL;
	return out;
}

/* ------------------------------------------------------------------ */

/* The secrets corpus, one object a line; new reference or NULL. */
static json_t *load_secrets(const char *cases)
{
	char path[4096], *buf, *line, *save = NULL;
	size_t len;
	json_t *all = json_array(), *c;

	snprintf(path, sizeof(path), "%s/redact/secrets.jsonl", cases);
	buf = tap_read_file(path, &len);
	if (!buf) {
		json_decref(all);
		return NULL;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		c = json_loads(line, 0, NULL);
		if (!c || !json_is_string(json_object_get(c, "text")) ||
		    !json_is_array(json_object_get(c, "secrets"))) {
			tap_diag("bad case line: %.60s", line);
			json_decref(c);
			json_decref(all);
			free(buf);
			return NULL;
		}
		json_array_append_new(all, c);
	}
	free(buf);
	return all;
}

static void test_secret_cases(json_t *cases)
{
	size_t i, n, n2, olen;
	json_t *c;
	char *out, *again;
	int rc;

	json_array_foreach(cases, i, c) {
		const char *fmt = json_string_value(json_object_get(c, "format"));
		const char *text = json_string_value(json_object_get(c, "text"));
		const char *expect = json_string_value(json_object_get(c, "expect"));

		rc = redact_text(NULL, text, strlen(text), &out, &olen, &n);
		if (!tap_ok(rc == 0 && out && strlen(out) == olen, "%s #%zu: redacts", fmt, i))
			continue;
		if (!tap_ok(none_survive(out, olen, json_object_get(c, "secrets"), fmt) && n > 0,
			    "%s #%zu: no secret survives (%zu replaced)", fmt, i, n))
			tap_diag("out: %s", out);
		if (expect)
			tap_is_str(out, expect, "  expected shape");
		again = redact_str(NULL, out, &n2);
		tap_ok(again && strcmp(again, out) == 0 && n2 == 0, "  idempotent");
		free(again);
		free(out);
	}
}

static void test_innocent(const char *cases)
{
	char path[4096], *buf, *line, *end, *out;
	size_t len, olen, n, lines = 0, bad = 0;

	snprintf(path, sizeof(path), "%s/redact/innocent.txt", cases);
	buf = tap_read_file(path, &len);
	if (!tap_ok(buf != NULL, "innocent.txt readable"))
		return;
	if (tap_ok(redact_text(NULL, buf, len, &out, &olen, &n) == 0, "innocent text as one buffer")) {
		tap_ok(olen == len && memcmp(out, buf, len) == 0 && n == 0,
		       "  unchanged (%zu replaced)", n);
		free(out);
	}
	for (line = buf; line < buf + len; line = end + 1) {
		end = memchr(line, '\n', (size_t)(buf + len - line));
		if (!end)
			end = buf + len;
		if (end - line >= 2 && line[0] == '#' && line[1] == ' ')
			continue;
		lines++;
		if (redact_text(NULL, line, (size_t)(end - line), &out, &olen, &n) < 0) {
			bad++;
			continue;
		}
		if (olen != (size_t)(end - line) || memcmp(out, line, olen) != 0) {
			bad++;
			tap_diag("changed: %.*s", (int)(end - line < 200 ? end - line : 200), line);
			tap_diag("     to: %.200s", out);
		}
		free(out);
	}
	tap_ok(lines > 50 && bad == 0, "every innocent line unchanged (%zu lines, %zu changed)",
	       lines, bad);
	free(buf);
}

/* Every case inside one chat-completions request body: none may appear
 * in the body, whether redacted as text or as JSON. */
static void test_request_body(json_t *cases)
{
	json_t *body, *msgs = json_array(), *c, *secrets = json_array(), *s, *parsed;
	size_t i, j, olen, n;
	char *dumped, *out;

	json_array_foreach(cases, i, c) {
		json_array_append_new(msgs, json_pack("{s:s, s:O}", "role",
			i % 3 == 0 ? "user" : "tool", "content", json_object_get(c, "text")));
		json_array_foreach(json_object_get(c, "secrets"), j, s)
			json_array_append(secrets, s);
	}
	body = json_pack("{s:s, s:o, s:b, s:i}", "model", "gpt-4o-mini", "messages", msgs,
			 "stream", 1, "max_tokens", 1024);
	dumped = json_dumps(body, JSON_COMPACT);
	tap_ok(dumped && survivor(dumped, strlen(dumped),
				  json_string_value(json_array_get(secrets, 0))) >= 0,
	       "request body holds the secrets before redaction");
	if (redact_text(NULL, dumped, strlen(dumped), &out, &olen, &n) == 0) {
		tap_ok(none_survive(out, olen, secrets, "body as text"),
		       "request body redacted as text: no secret survives (%zu replaced)", n);
		parsed = json_loads(out, 0, NULL);
		tap_ok(parsed && json_is_array(json_object_get(parsed, "messages")) &&
		       json_array_size(json_object_get(parsed, "messages")) == json_array_size(cases),
		       "  and it is still the same JSON request");
		json_decref(parsed);
		free(out);
	}
	free(dumped);
	tap_is_int(redact_json(NULL, body, &n), 0, "request body redacted as JSON");
	dumped = json_dumps(body, JSON_COMPACT);
	tap_ok(dumped && none_survive(dumped, strlen(dumped), secrets, "body as JSON"),
	       "  no secret survives (%zu replaced)", n);
	tap_is_str(json_string_value(json_object_get(body, "model")), "gpt-4o-mini",
		   "  other members untouched");
	free(dumped);
	json_decref(body);
	json_decref(secrets);
}

/* ------------------------------------------------------------------ */

static void is_redacted(const struct redactor *r, const char *in, const char *want,
			const char *name)
{
	char *out = redact_str(r, in, NULL);

	tap_is_str(out, want, name);
	free(out);
}

static void test_edges(void)
{
	const char *gh = "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8";
	char buf[256], *out;
	size_t olen, n;

	is_redacted(NULL, gh, "[REDACTED:github_token]", "secret is the whole buffer");
	snprintf(buf, sizeof(buf), "%s tail", gh);
	is_redacted(NULL, buf, "[REDACTED:github_token] tail", "secret at the start");
	snprintf(buf, sizeof(buf), "head %s", gh);
	is_redacted(NULL, buf, "head [REDACTED:github_token]", "secret at the end");
	snprintf(buf, sizeof(buf), "%s %s", gh, gh);
	is_redacted(NULL, buf, "[REDACTED:github_token] [REDACTED:github_token]",
		    "adjacent secrets");
	is_redacted(NULL, "TOKEN=abc123def456\nPASSWORD=hunter2hunter2",
		    "TOKEN=[REDACTED]\nPASSWORD=[REDACTED]", "adjacent assignments");
	is_redacted(NULL, "API_KEY=", "API_KEY=", "assignment cut at the end");
	is_redacted(NULL, "-----BEGIN RSA PRIVATE KEY-----\nMIIEow",
		    "[REDACTED:private_key]", "private key cut at the end: the rest goes");
	is_redacted(NULL, "{\"k\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\", \"next\": \"kept\"}",
		    "{\"k\": \"[REDACTED:private_key]\", \"next\": \"kept\"}",
		    "private key cut off inside a JSON string: only that string goes");
	is_redacted(NULL, "{\"c\": \"export OPENAI_API_KEY=\\\"sk-Zz9y8X7w6V5u4T3s2R1q0PpOoNnMm\\\"\\nls\"}",
		    "{\"c\": \"export OPENAI_API_KEY=\\\"[REDACTED]\\\"\\nls\"}",
		    "assignment inside a JSON string with escapes");
	is_redacted(NULL, "  File \"/app/db.py\", line 3\n    url = \"mysql://root:Pa55w0rd-x@10.0.0.5/app\"\n",
		    "  File \"/app/db.py\", line 3\n    url = \"mysql://root:[REDACTED]@10.0.0.5/app\"\n",
		    "URL in a traceback");
	is_redacted(NULL, "redis://:Sup3rSecretPass@cache:6379/0",
		    "redis://:[REDACTED]@cache:6379/0", "URL with an empty user");
	is_redacted(NULL, "https://x-access-token:ghs_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r",
		    "https://x-access-token:[REDACTED]@github.com/o/r", "token as URL password");

	/* NUL bytes and invalid UTF-8 around a secret: bytes kept, length-based. */
	{
		static const char in[] = "a\0\xff\xfe sk-Ab12Cd34Ef56Gh78Ij90Kl12Mn34 \0\xc3";
		static const char want[] = "a\0\xff\xfe [REDACTED:openai_key] \0\xc3";
		tap_ok(redact_text(NULL, in, sizeof(in) - 1, &out, &olen, &n) == 0 &&
		       olen == sizeof(want) - 1 && memcmp(out, want, olen) == 0 && n == 1,
		       "NUL bytes and invalid UTF-8 are kept, the secret goes");
		free(out);
	}
	tap_ok(redact_text(NULL, NULL, 0, &out, &olen, &n) == 0 && out && olen == 0 &&
	       out[0] == '\0' && n == 0, "empty input");
	free(out);
	tap_is_int(redact_text(NULL, NULL, 3, &out, NULL, NULL), -EINVAL, "NULL input with a length");
	tap_is_int(redact_text(NULL, "x", 1, NULL, NULL, NULL), -EINVAL, "NULL output");
	tap_is_int(redact_json(NULL, NULL, NULL), -EINVAL, "redact_json of NULL");
}

static void test_values(void)
{
	struct redactor *r = NULL;
	char *env[] = {
		"HOME=/home/ana", "PWD=/home/ana/project", "SHELL=/bin/bash",
		"MY_SERVICE_TOKEN=q7Lm2Zp9Xw4R", "SHORT_KEY=abc",
		"WEIRD_PASSWORD=a\"b\\c d/e?f", "TOKENIZERS_PARALLELISM=false",
		"DEPLOY_SECRET=${FROM_VAULT}", "NOEQUALS", NULL
	};
	char *out;

	tap_is_int(redactor_new(&r), 0, "redactor_new");
	tap_is_int(redactor_add_value(r, "corp-internal-credential-77"), 0, "add a value");
	tap_is_int(redactor_add_value(r, "short"), 0, "a short value is ignored");
	tap_is_int(redactor_count(r), 1, "  only the long one is kept");
	tap_is_int(redactor_add_env(r, env), 0, "add the environment");
	/* raw, JSON-escaped and percent-encoded spellings of WEIRD_PASSWORD */
	tap_is_int(redactor_count(r), 5, "  secret-looking, long, real values only");
	is_redacted(r, "x=corp-internal-credential-77;", "x=[REDACTED];", "registered value");
	is_redacted(r, "prefixcorp-internal-credential-77suffix", "prefix[REDACTED]suffix",
		    "registered value inside a word");
	is_redacted(r, "got q7Lm2Zp9Xw4R from the env in /home/ana/project",
		    "got [REDACTED] from the env in /home/ana/project",
		    "environment value redacted, paths kept");
	is_redacted(r, "{\"v\": \"a\\\"b\\\\c d/e?f\"}", "{\"v\": \"[REDACTED]\"}",
		    "JSON-escaped spelling of a value");
	is_redacted(r, "GET /x?p=a%22b%5Cc%20d%2Fe%3Ff HTTP/1.1", "GET /x?p=[REDACTED] HTTP/1.1",
		    "percent-encoded spelling of a value");
	is_redacted(r, "abc false ${FROM_VAULT}", "abc false ${FROM_VAULT}",
		    "short and placeholder values not registered");
	out = redact_str(NULL, "x=corp-internal-credential-77;", NULL);
	tap_is_str(out, "x=corp-internal-credential-77;", "without the redactor only shapes");
	free(out);
	tap_is_int(redactor_add_value(NULL, "abcdefgh"), -EINVAL, "add to NULL");
	tap_is_int(redactor_add_env(r, NULL), -EINVAL, "add a NULL environment");
	redactor_free(r);
	redactor_free(NULL);
}

static void test_json(void)
{
	json_t *v = json_loads(
		"{\"db\": {\"host\": \"db\", \"password\": \"plainword\", \"port\": 5432,"
		" \"user_token\": \"tok-value-1\"},"
		" \"headers\": {\"Authorization\": \"Bearer abcdefghijklmnop\"},"
		" \"api_key\": null, \"max_tokens\": 7, \"token_type\": \"bearer\","
		" \"log\": [\"fine\", \"url postgres://u:pw123456@h/d\"],"
		" \"empty_secret\": \"\", \"done\": \"[REDACTED]\"}", 0, NULL);
	size_t n = 0;
	char *s;

	tap_is_int(redact_json(NULL, v, &n), 0, "redact_json");
	tap_is_int(n, 4, "  four secrets");
	s = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT);
	tap_is_str(s, "{\"api_key\":null,\"db\":{\"host\":\"db\",\"password\":\"[REDACTED]\","
		      "\"port\":5432,\"user_token\":\"[REDACTED]\"},\"done\":\"[REDACTED]\","
		      "\"empty_secret\":\"\",\"headers\":{\"Authorization\":\"Bearer [REDACTED]\"},"
		      "\"log\":[\"fine\",\"url postgres://u:[REDACTED]@h/d\"],\"max_tokens\":7,"
		      "\"token_type\":\"bearer\"}",
		   "  values by key name and by shape; keys and numbers kept");
	free(s);
	tap_is_int(redact_json(NULL, v, &n), 0, "redact_json again");
	tap_is_int(n, 0, "  idempotent");
	json_decref(v);
}

static void test_names(void)
{
	static const char *const secret[] = {
		"API_KEY", "OPENAI_API_KEY", "db_password", "secretKey", "apiKey",
		"AccountKey", "X-Api-Key", "PGPASSWORD", "DB_PASS", "client_secret",
		"aws_secret_access_key", "AWS_SESSION_TOKEN", "private_key",
		"private_key_id", "PRIVATE-TOKEN", "mysql_pwd", "PASSWD",
		"SERVICE_CREDENTIALS", "auth", "password2", "_authToken", "token",
		"AWSSecretKey", "Authorization", "X-Amz-Signature", "Cookie",
		"--password", "sig", NULL
	};
	static const char *const plain[] = {
		"KeyError", "max_tokens", "total_tokens", "token_type", "API_KEY_FILE",
		"sort_key", "public_key", "pad_token", "PWD", "OLDPWD", "password-stdin",
		"ask-pass", "TOKENIZERS_PARALLELISM", "keyring", "monkey", "tokenizer",
		"auth_url", "use_auth_token", "is_private", "private_network",
		"Kx9aPw", "MIIBszCCAVmgAwIBAgIUQ1A2Yw", "xQzPwTa", "passenger", "",
		"key", "KEY", "key1",
		NULL
	};
	size_t i, bad = 0;

	for (i = 0; secret[i]; i++)
		if (!redact_name_is_secret(secret[i], strlen(secret[i]))) {
			tap_diag("should be secret: %s", secret[i]);
			bad++;
		}
	tap_ok(bad == 0, "secret-looking names (%zu)", i);
	bad = 0;
	for (i = 0; plain[i]; i++)
		if (redact_name_is_secret(plain[i], strlen(plain[i]))) {
			tap_diag("should be plain: %s", plain[i]);
			bad++;
		}
	tap_ok(bad == 0, "plain names (%zu)", i);
}

/* Random mixtures of secrets, innocent lines, quotes, escapes and random
 * bytes: redaction must succeed, be idempotent and keep valid UTF-8
 * valid (and, under the sanitizers, touch no byte it should not). */
static void test_mixtures(json_t *cases, const char *dir)
{
	static const char *const glue[] = {
		" ", "\n", "\\n", "\"", "\\\"", "'", "=", ": ", "://", "@", "-----BEGIN PRIVATE KEY-----",
		"--token ", "Bearer ", "password=", "\"api_key\": ", "\xff\xfe", "", "\t", ";", "&",
	};
	char path[4096], *inn, *buf, *out, *again;
	size_t innlen = 0, round, k, len, olen, n, bad_idem = 0, bad_utf8 = 0, bad_rc = 0;
	unsigned long long x = 0x9e3779b97f4a7c15ull;

	snprintf(path, sizeof(path), "%s/redact/innocent.txt", dir);
	inn = tap_read_file(path, &innlen);
	buf = malloc(1 << 16);
	if (!tap_ok(inn && buf, "mixtures: inputs ready")) {
		free(inn);
		free(buf);
		return;
	}
	for (round = 0; round < 3000; round++) {
		len = 0;
		for (k = 0; k < 12; k++) {
			const char *piece;
			size_t pl;
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			switch (x % 4) {
			case 0:
				piece = json_string_value(json_object_get(
					json_array_get(cases, (x >> 8) % json_array_size(cases)), "text"));
				pl = strlen(piece);
				break;
			case 1:
				piece = inn + (x >> 8) % innlen;
				pl = (x >> 24) % 200;
				if (piece + pl > inn + innlen)
					pl = (size_t)(inn + innlen - piece);
				break;
			default:
				piece = glue[(x >> 8) % (sizeof(glue) / sizeof(glue[0]))];
				pl = strlen(piece);
			}
			if (len + pl >= (1 << 16))
				break;
			memcpy(buf + len, piece, pl);
			len += pl;
		}
		if (redact_text(NULL, buf, len, &out, &olen, &n) < 0) {
			bad_rc++;
			continue;
		}
		if (redact_text(NULL, out, olen, &again, NULL, &n) < 0 || strcmp(again, out) != 0 ||
		    n != 0) {
			size_t d = 0;
			while (again && out[d] && out[d] == again[d])
				d++;
			if (bad_idem++ < 4)
				tap_diag("not idempotent at %zu: ...%.120s\n  -> ...%.120s", d,
					 out + (d > 60 ? d - 60 : 0), again ? again + (d > 60 ? d - 60 : 0) : "");
		}
		if (utf8_valid(buf, len) && !utf8_valid(out, olen))
			bad_utf8++;
		free(again);
		free(out);
	}
	tap_ok(bad_rc == 0, "mixtures: redaction never fails (%zu)", bad_rc);
	tap_ok(bad_idem == 0, "mixtures: idempotent (%zu of 3000 not)", bad_idem);
	tap_ok(bad_utf8 == 0, "mixtures: valid UTF-8 stays valid (%zu of 3000 not)", bad_utf8);
	free(inn);
	free(buf);
}

/* ------------------------------------------------------------------ */

/* 8 MiB of notebook and log output with a secret every 64 lines; the
 * count of replacements must be exact, the speed is printed. */
static void test_throughput(const char *cases)
{
	static const char *const lines[] = {
		"2024-05-05 12:00:01,234\tINFO worker.py:1636 -- Started a local Ray instance. View the dashboard at 127.0.0.1:8265\n",
		"(train_fn pid=48213, ip=10.0.0.12) Epoch 3/10: loss=0.4213 acc=0.8812 lr=3e-4 step=1200 tokens/s=5321.7\n",
		"  File \"/home/ana/.venv/lib/python3.11/site-packages/ray/_private/worker.py\", line 2624, in get\n",
		"    raise value.as_instanceof_cause()\n",
		"ray.exceptions.RayTaskError(OutOfMemoryError): ray::train_fn() (pid=48213, ip=10.0.0.12, actor_id=a1b2c3d4e5f60718293a4b5c01000000)\n",
		"Requirement already satisfied: numpy>=1.20 in ./venv/lib/python3.11/site-packages (from ray[default]==2.9.0) (1.26.4)\n",
		"  Downloading https://files.pythonhosted.org/packages/ab/cd/0123456789abcdef/torch-2.2.0-cp311-cp311-manylinux1_x86_64.whl (755.5 MB)\n",
		"{\"cell_type\": \"code\", \"execution_count\": 12, \"metadata\": {}, \"outputs\": [{\"name\": \"stdout\", \"text\": [\"100%|##########| 3/3 [00:01<00:00,  2.31it/s]\\n\"]}]}\n",
		"commit 3f786850e387550fdab836ed7e6dc881de23001b sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 uuid=123e4567-e89b-12d3-a456-426614174000\n",
	};
	static const char secret_line[] = "export GITHUB_TOKEN=ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8\n";
	const size_t target = 8u << 20;
	struct redactor *r = NULL;
	char path[4096], *img, *buf, *out, *again, val[32];
	size_t imglen = 0, len = 0, k = 0, secrets = 0, n = 0, olen, alen, i;
	struct timespec t0, t1;
	double secs;

	snprintf(path, sizeof(path), "%s/redact/innocent.txt", cases);
	img = tap_read_file(path, &imglen);	/* includes notebook image data */
	buf = malloc(target + 4096);
	if (!tap_ok(img && buf && redactor_new(&r) == 0, "throughput input ready")) {
		free(img);
		free(buf);
		return;
	}
	for (i = 0; i < 10; i++) {	/* a realistic number of registered values */
		snprintf(val, sizeof(val), "registered-secret-%02zu-xyz", i);
		redactor_add_value(r, val);
	}
	while (len < target) {
		const char *l;
		size_t ll;
		if (k % 64 == 63) {
			l = secret_line;
			secrets++;
		} else if (k % 512 == 100) {
			l = img;
		} else {
			l = lines[k % (sizeof(lines) / sizeof(lines[0]))];
		}
		ll = l == img ? imglen : strlen(l);
		if (len + ll > target + 4096)
			break;
		memcpy(buf + len, l, ll);
		len += ll;
		k++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tap_ok(redact_text(r, buf, len, &out, &olen, &n) == 0, "redact %zu bytes", len);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	tap_is_int(n, secrets, "  every inserted secret found, nothing else");
	tap_ok(!memmem(out, olen, "ghp_A1b2", 8), "  none survives");
	tap_diag("throughput with a secret every 64 lines: %.1f MB/s (%zu bytes in %.1f ms, "
		 "%zu registered values)", (double)len / 1e6 / secs, len, secs * 1e3,
		 redactor_count(r));
	/* The output has no secret left: one pass, and nothing may change. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tap_ok(redact_text(r, out, olen, &again, &alen, &n) == 0, "redact the redacted output");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	tap_ok(n == 0 && alen == olen && memcmp(again, out, olen) == 0, "  unchanged");
	tap_diag("throughput without secrets: %.1f MB/s (%zu bytes in %.1f ms)",
		 (double)olen / 1e6 / secs, olen, secs * 1e3);
	free(again);
	free(out);
	free(buf);
	free(img);
	redactor_free(r);
}

int main(int argc, char **argv)
{
	const char *cases = getenv("DOCTOR_CASES");
	json_t *secrets;

	if (!cases)
		cases = argc > 1 ? argv[1] : "tests/cases";
	secrets = load_secrets(cases);
	if (tap_ok(secrets && json_array_size(secrets) >= 60,
		   "secrets corpus loaded (%zu cases)", secrets ? json_array_size(secrets) : 0)) {
		test_secret_cases(secrets);
		test_request_body(secrets);
		test_mixtures(secrets, cases);
	}
	json_decref(secrets);
	test_innocent(cases);
	test_edges();
	test_values();
	test_json();
	test_names();
	test_throughput(cases);
	return tap_done();
}
