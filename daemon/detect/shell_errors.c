/*
 * shell_errors.c - line detectors for errors shells and common tools print:
 *
 *   shell.command_not_found  bash/zsh/dash/fish/Ubuntu "command not found"
 *   shell.permission_denied  "cat: /etc/shadow: Permission denied" and kin
 *   shell.no_space           "... No space left on device"
 *   shell.address_in_use     "bind: Address already in use", Go, Node, nginx
 *
 * Each is a strict pattern over one line: the words a tool prints when the
 * thing failed, in the place it prints them, never "error" alone, so logs,
 * warnings and progress output pass. A line another detector claimed (a
 * Python traceback's "OSError: [Errno 98] Address already in use") starts
 * nothing here.
 *
 * Consecutive matching lines with the same key (the program, for
 * permission errors; the message otherwise) are one error, so that
 * "find /" denied on a thousand directories is one incident: the error is
 * held until a different line comes or the source goes quiet, and
 * extra.count says how many lines it took.
 */
#include <errno.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "detect_internal.h"
#include "strbuf.h"

#define SEGS_MAX 16
#define HELD_TEXT_MAX (16 * 1024)
#define HELD_LINES_MAX 20

/* What a matching line says. All owned. */
struct shell_hit {
	char *message;
	json_t *extra;   /* may be NULL */
	char *key;
};

struct shell_rule {
	const char *detector;
	const char *exception;
	/* Fill *hit if the line matches (hit->message set), else leave it
	 * empty. 0 or -ENOMEM. */
	int (*match)(const char *s, size_t n, struct shell_hit *hit);
};

struct shell_state {
	const struct shell_rule *rule;
	dr_error *held;      /* owned; NULL when nothing is held */
	char *key;           /* owned, the held error's */
	size_t count;
	dr_strbuf text, raw; /* lines of the held error */
};

/* ------------------------------------------------------------------ */
/* Small string helpers                                                */

struct seg {
	const char *s;
	size_t n;
};

static size_t rtrim(const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n;
}

/* memmem: glibc's is far faster than a byte loop, and every line of every
 * source passes through these finds. */
static const char *find(const char *s, size_t n, const char *lit)
{
	return memmem(s, n, lit, strlen(lit));
}

static bool lower_eq(char a, char b)
{
	if (a >= 'A' && a <= 'Z')
		a = (char)(a - 'A' + 'a');
	return a == b;
}

/* Case-insensitive find of a lowercase literal whose tail `tail` (a suffix
 * of lit) tools always print in lowercase: memmem finds the tail, then the
 * head is compared without case. */
static const char *find_nocase_tail(const char *s, size_t n, const char *lit, const char *tail)
{
	size_t l = strlen(lit), head = l - strlen(tail);
	const char *p = s, *end = s + n, *t;

	while ((t = memmem(p, (size_t)(end - p), tail, l - head)) != NULL) {
		size_t k;
		if ((size_t)(t - s) >= head) {
			for (k = 0; k < head && lower_eq(t[(ptrdiff_t)k - (ptrdiff_t)head], lit[k]); k++)
				;
			if (k == head)
				return t - head;
		}
		p = t + 1;
	}
	return NULL;
}

static bool ends_with(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	return n >= l && memcmp(s + n - l, lit, l) == 0;
}

static bool has_blank(const char *s, size_t n)
{
	return memchr(s, ' ', n) || memchr(s, '\t', n);
}

static bool all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

/* Split on ": " (how tools join program, object and complaint). */
static size_t split_colons(const char *s, size_t n, struct seg *segs)
{
	size_t count = 0, start = 0, i;

	for (i = 0; i + 1 < n && count < SEGS_MAX - 1; i++) {
		if (s[i] == ':' && s[i + 1] == ' ') {
			segs[count].s = s + start;
			segs[count++].n = i - start;
			start = i + 2;
			i++;
		}
	}
	segs[count].s = s + start;
	segs[count++].n = n - start;
	return count;
}

/* A program as tools name themselves: "cat", "/usr/bin/cp", "-bash",
 * "./run.sh". Lowercase so that exception names ("OSError") are not. */
static bool is_program(const struct seg *g)
{
	size_t i;

	if (g->n == 0 || g->n > 128)
		return false;
	for (i = 0; i < g->n; i++) {
		char c = g->s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '/' || c == '.' || c == '_' || c == '-' || c == '+' || c == '~'))
			return false;
	}
	return true;
}

static const char *basename_of(const struct seg *g, size_t *len)
{
	size_t i = g->n;

	while (i > 0 && g->s[i - 1] != '/')
		i--;
	*len = g->n - i;
	return g->s + i;
}

/* The last quoted name in s: '...', "...", `...' or ‘...’. */
static bool last_quoted(const char *s, size_t n, struct seg *out)
{
	static const char lq[] = "\xe2\x80\x98", rq[] = "\xe2\x80\x99";
	bool found = false;
	size_t i = 0, j;

	while (i < n) {
		size_t open = 0;
		const char *close = NULL;

		if (s[i] == '\'' || s[i] == '"')
			open = 1, close = s[i] == '\'' ? "'" : "\"";
		else if (s[i] == '`')
			open = 1, close = "'";
		else if (i + 3 <= n && memcmp(s + i, lq, 3) == 0)
			open = 3, close = rq;
		if (!open) {
			i++;
			continue;
		}
		for (j = i + open; j + strlen(close) <= n; j++)
			if (memcmp(s + j, close, strlen(close)) == 0)
				break;
		if (j + strlen(close) > n)
			break;
		if (j > i + open) {
			out->s = s + i + open;
			out->n = j - i - open;
			found = true;
		}
		i = j + strlen(close);
	}
	return found;
}

/* ------------------------------------------------------------------ */
/* Building hits                                                       */

static void hit_free(struct shell_hit *h)
{
	free(h->message);
	free(h->key);
	json_decref(h->extra);
	memset(h, 0, sizeof(*h));
}

static int extra_str(struct shell_hit *h, const char *key, const char *s, size_t n)
{
	json_t *v;

	if (!h->extra && !(h->extra = json_object()))
		return -ENOMEM;
	v = json_stringn(s, n);
	if (!v) /* not UTF-8: leave the field out rather than fail */
		return 0;
	return json_object_set_new(h->extra, key, v) < 0 ? -ENOMEM : 0;
}

/* message = a + b; key = the given key or the message. 0 or -ENOMEM. */
static int hit_make(struct shell_hit *h, const char *a, size_t an, const char *b,
                    const char *key, size_t key_len)
{
	size_t bn = strlen(b);

	h->message = malloc(an + bn + 1);
	if (!h->message)
		return -ENOMEM;
	memcpy(h->message, a, an);
	memcpy(h->message + an, b, bn + 1);
	h->key = key ? dr__strndup(key, key_len) : strdup(h->message);
	return h->key ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------------ */
/* command not found                                                   */

static int cnf_hit(struct shell_hit *h, const char *cmd, size_t cmd_len,
                   const char *shell, size_t shell_len)
{
	int rc;

	if (cmd_len == 0 || cmd_len > 256 || has_blank(cmd, cmd_len))
		return 0;
	if (shell_len && shell[0] == '-') { /* login shells: "-bash" */
		shell++;
		shell_len--;
	}
	rc = hit_make(h, cmd, cmd_len, ": command not found", NULL, 0);
	if (rc == 0)
		rc = extra_str(h, "command", cmd, cmd_len);
	if (rc == 0 && shell_len)
		rc = extra_str(h, "shell", shell, shell_len);
	return rc;
}

static bool is_shell_name(const char *s, size_t n)
{
	static const char *const shells[] = {
		"bash", "-bash", "sh", "-sh", "dash", "zsh", "-zsh", "ksh", "mksh", "ash", NULL,
	};
	size_t k;

	for (k = 0; shells[k]; k++)
		if (strlen(shells[k]) == n && memcmp(shells[k], s, n) == 0)
			return true;
	return false;
}

/* zsh: "zsh: command not found: foo", "zsh:3: command not found: foo" */
static int cnf_zsh(const char *s, size_t n, struct shell_hit *h)
{
	const char *p = find(s, n, "command not found: ");
	struct seg prog;
	size_t i;

	if (!p || p == s || p[-1] != ' ' || p - s < 2 || p[-2] != ':')
		return 0;
	for (i = 0; s + i < p && s[i] != ':'; i++)
		;
	prog.s = s;
	prog.n = i;
	if (!is_program(&prog))
		return 0;
	p += strlen("command not found: ");
	return cnf_hit(h, p, (size_t)(s + n - p), s, i);
}

/* fish: "fish: Unknown command: foo", older "fish: Unknown command 'foo'" */
static int cnf_fish(const char *s, size_t n, struct shell_hit *h)
{
	static const char pre[] = "fish: Unknown command";
	size_t i = sizeof(pre) - 1;

	if (n <= i || memcmp(s, pre, i) != 0)
		return 0;
	if (s[i] == ':' && i + 1 < n && s[i + 1] == ' ')
		return cnf_hit(h, s + i + 2, n - i - 2, "fish", 4);
	if (s[i] == ' ' && i + 2 < n && s[i + 1] == '\'' && s[n - 1] == '\'')
		return cnf_hit(h, s + i + 2, n - i - 3, "fish", 4);
	return 0;
}

/* Ubuntu's handler: "Command 'foo' not found, did you mean:" */
static int cnf_ubuntu(const char *s, size_t n, struct shell_hit *h)
{
	const char *end;

	if (n < 9 || memcmp(s, "Command '", 9) != 0)
		return 0;
	end = find(s + 9, n - 9, "' not found");
	if (!end)
		return 0;
	return cnf_hit(h, s + 9, (size_t)(end - s - 9), NULL, 0);
}

/* bash: "bash: foo: command not found", "foo: command not found",
 * "./run.sh: line 3: foo: command not found"; dash: "sh: 1: foo: not found" */
static int cnf_bash_dash(const char *s, size_t n, struct shell_hit *h)
{
	struct seg g[SEGS_MAX];
	size_t k = split_colons(s, n, g), blen;
	const char *base;

	if (k >= 2 && g[k - 1].n == 17 && memcmp(g[k - 1].s, "command not found", 17) == 0) {
		if (k == 2)
			return cnf_hit(h, g[0].s, g[0].n, "bash", 4);
		if (!is_program(&g[0]))
			return 0;
		base = basename_of(&g[0], &blen);
		if (is_shell_name(base, blen))
			return cnf_hit(h, g[k - 2].s, g[k - 2].n, base, blen);
		if (k == 4 && g[1].n > 5 && memcmp(g[1].s, "line ", 5) == 0 &&
		    all_digits(g[1].s + 5, g[1].n - 5)) /* a bash script */
			return cnf_hit(h, g[2].s, g[2].n, "bash", 4);
		return 0;
	}
	if (k == 4 && g[3].n == 9 && memcmp(g[3].s, "not found", 9) == 0 &&
	    all_digits(g[1].s, g[1].n) && is_program(&g[0])) {
		base = basename_of(&g[0], &blen);
		if (is_shell_name(base, blen))
			return cnf_hit(h, g[2].s, g[2].n, base, blen);
	}
	return 0;
}

static int match_command_not_found(const char *s, size_t n, struct shell_hit *h)
{
	static int (*const shapes[])(const char *, size_t, struct shell_hit *) = {
		cnf_zsh, cnf_fish, cnf_ubuntu, cnf_bash_dash,
	};
	size_t k;
	int rc = 0;

	n = rtrim(s, n);
	for (k = 0; k < sizeof(shapes) / sizeof(shapes[0]) && rc == 0 && !h->message; k++)
		rc = shapes[k](s, n, h);
	return rc;
}

/* ------------------------------------------------------------------ */
/* permission denied                                                   */

/* "git@github.com: Permission denied (publickey)." */
static int pd_ssh(const char *s, size_t n, struct shell_hit *h)
{
	static const char pd[] = ": Permission denied (";
	const char *p = find(s, n, pd);
	struct seg host;
	int rc;

	if (!p || (!ends_with(s, n, ").") && !ends_with(s, n, ")")))
		return 0;
	host.s = s;
	host.n = (size_t)(p - s);
	if (host.n == 0 || has_blank(host.s, host.n) || !memchr(host.s, '@', host.n))
		return 0;
	rc = hit_make(h, s, ends_with(s, n, ").") ? n - 1 : n, "", "ssh", 3);
	if (rc == 0)
		rc = extra_str(h, "program", "ssh", 3);
	if (rc == 0)
		rc = extra_str(h, "host", host.s, host.n);
	return rc;
}

static int match_permission_denied(const char *s, size_t n, struct shell_hit *h)
{
	static const char pd[] = ": Permission denied";
	struct seg g[SEGS_MAX], path;
	size_t k;
	int rc;

	n = rtrim(s, n);
	if (!ends_with(s, n, pd))
		return pd_ssh(s, n, h);
	k = split_colons(s, n - (sizeof(pd) - 1), g);
	if (k < 2 || !is_program(&g[0]))
		return 0;
	if (!last_quoted(g[k - 1].s, g[k - 1].n, &path)) {
		path = g[k - 1];
		if (path.n == 0 || has_blank(path.s, path.n))
			return 0;
	}
	rc = hit_make(h, path.s, path.n, ": Permission denied", g[0].s, g[0].n);
	if (rc == 0)
		rc = extra_str(h, "path", path.s, path.n);
	if (rc == 0)
		rc = extra_str(h, "program", g[0].s, g[0].n);
	return rc;
}

/* ------------------------------------------------------------------ */
/* no space left                                                       */

static int match_no_space(const char *s, size_t n, struct shell_hit *h)
{
	struct seg g[SEGS_MAX], path;
	bool have_path;
	size_t k;
	int rc;

	n = rtrim(s, n);
	if (!find(s, n, "No space left on device"))
		return 0;
	k = split_colons(s, n, g);
	have_path = last_quoted(s, n, &path);
	if (!have_path && k >= 3 && is_program(&g[0]) && g[1].n && !has_blank(g[1].s, g[1].n)) {
		path = g[1];
		have_path = true;
	}
	rc = hit_make(h, "", 0, "No space left on device", NULL, 0);
	if (rc == 0 && have_path)
		rc = extra_str(h, "path", path.s, path.n);
	if (rc == 0 && k >= 2 && is_program(&g[0]))
		rc = extra_str(h, "program", g[0].s, g[0].n);
	return rc;
}

/* ------------------------------------------------------------------ */
/* address in use                                                      */

static bool is_digit_c(char c)
{
	return c >= '0' && c <= '9';
}

/* A port after "host:" - ":8080", "0.0.0.0:80", "[::]:80", ":::3000",
 * "localhost:5000" - but not a clock's "10:00:00". */
static long port_after_colon(const char *s, size_t n, size_t i)
{
	size_t j = i + 1, k;
	long port = 0;
	bool dotted = false;

	while (j < n && is_digit_c(s[j]) && j - i <= 5)
		port = port * 10 + (s[j++] - '0');
	if (j == i + 1 || j - i > 6 || (j < n && (is_digit_c(s[j]) || s[j] == '.')))
		return -1;
	if (j + 1 < n && s[j] == ':' && is_digit_c(s[j + 1]))
		return -1; /* "10:00:00" */
	if (i > 0 && is_digit_c(s[i - 1])) {
		/* only an IPv4 address may end in a digit before the colon */
		for (k = i; k > 0 && (is_digit_c(s[k - 1]) || s[k - 1] == '.'); k--)
			dotted |= s[k - 1] == '.';
		if (!dotted || (k > 0 && s[k - 1] == ':'))
			return -1;
	}
	return port >= 1 && port <= 65535 ? port : -1;
}

static long find_port(const char *s, size_t n)
{
	const char *p;
	size_t i;
	long port;

	/* Python's address tuple: "('0.0.0.0', 8000)" */
	p = find(s, n, "', ");
	if (p && p + 3 < s + n && is_digit_c(p[3])) {
		for (i = (size_t)(p - s) + 3, port = 0; i < n && is_digit_c(s[i]) && port < 100000; i++)
			port = port * 10 + (s[i] - '0');
		if (i < n && s[i] == ')' && port >= 1 && port <= 65535)
			return port;
	}
	for (i = 0; i < n; i++)
		if (s[i] == ':' && (port = port_after_colon(s, n, i)) > 0)
			return port;
	return -1;
}

static int match_address_in_use(const char *s, size_t n, struct shell_hit *h)
{
	long port;
	int rc;

	n = rtrim(s, n);
	/* Node: "Error: listen EADDRINUSE: ...", not the "code: 'EADDRINUSE'"
	 * of the error object it dumps after. */
	if (!find_nocase_tail(s, n, "address already in use", "already in use") &&
	    !find(s, n, "listen EADDRINUSE") && !find(s, n, "bind EADDRINUSE"))
		return 0;
	port = find_port(s, n);
	rc = hit_make(h, "", 0, "Address already in use", NULL, 0);
	if (rc == 0 && port > 0) {
		if (!(h->extra = json_object()) ||
		    json_object_set_new(h->extra, "port", json_integer(port)) < 0)
			return -ENOMEM;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* The shared detector machinery                                       */

static const struct shell_rule RULE_COMMAND_NOT_FOUND = {
	"shell.command_not_found", "CommandNotFound", match_command_not_found,
};
static const struct shell_rule RULE_PERMISSION_DENIED = {
	"shell.permission_denied", "PermissionDenied", match_permission_denied,
};
static const struct shell_rule RULE_NO_SPACE = {
	"shell.no_space", "NoSpaceLeft", match_no_space,
};
static const struct shell_rule RULE_ADDRESS_IN_USE = {
	"shell.address_in_use", "AddressInUse", match_address_in_use,
};

static void *shell_create(const struct shell_rule *rule)
{
	struct shell_state *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->rule = rule;
	dr_strbuf_init(&st->text, HELD_TEXT_MAX);
	dr_strbuf_init(&st->raw, HELD_TEXT_MAX);
	return st;
}

/* Emit the held error, if any. */
static void release(struct shell_state *st, dr_emit_fn emit, void *ud)
{
	dr_error *e = st->held;
	char *text, *raw;

	if (!e)
		return;
	st->held = NULL;
	free(st->key);
	st->key = NULL;
	text = dr_strbuf_dup(&st->text);
	raw = dr_strbuf_dup(&st->raw);
	dr_strbuf_reset(&st->text);
	dr_strbuf_reset(&st->raw);
	if (st->count > 1 && !e->extra)
		e->extra = json_object();
	if (!text || !raw || (st->count > 1 && (!e->extra ||
	    json_object_set_new(e->extra, "count", json_integer((json_int_t)st->count)) < 0))) {
		free(text);
		free(raw);
		dr_error_free(e); /* out of memory: lose this one */
		return;
	}
	free(e->text);
	free(e->raw);
	e->text = text;
	e->raw = raw;
	emit(ud, e);
}

static int keep_line(struct shell_state *st, const dr_line *l)
{
	int rc;

	if (st->count > HELD_LINES_MAX ||
	    st->text.len + l->text_len + 1 > st->text.limit ||
	    st->raw.len + l->raw_len + 1 > st->raw.limit)
		return 0;
	rc = dr_strbuf_add_line(&st->text, l->text, l->text_len);
	if (rc == 0)
		rc = dr_strbuf_add_line(&st->raw, l->raw, l->raw_len);
	return rc == -ENOSPC ? 0 : rc;
}

/* Hold a new error made of the hit (taken over). */
static int hold(struct shell_state *st, struct shell_hit *hit, const dr_line *l)
{
	dr_error *e = dr__error_new(st->rule->detector, st->rule->exception, hit->message);

	if (!e) {
		hit_free(hit);
		return -ENOMEM;
	}
	e->extra = hit->extra;
	hit->extra = NULL;
	st->held = e;
	st->key = hit->key;
	hit->key = NULL;
	st->count = 1;
	hit_free(hit);
	return keep_line(st, l);
}

static int shell_line(void *state, const dr_line *l, bool claimed,
                      dr_emit_fn emit, void *ud)
{
	struct shell_state *st = state;
	struct shell_hit hit = { NULL, NULL, NULL };
	int rc;

	rc = claimed ? 0 : st->rule->match(l->text, l->text_len, &hit);
	if (rc < 0 || !hit.message) {
		hit_free(&hit);
		release(st, emit, ud);
		return rc < 0 ? rc : DR_PASS;
	}
	if (st->held && strcmp(st->key, hit.key) == 0) {
		st->count++;
		hit_free(&hit);
		rc = keep_line(st, l);
		return rc < 0 ? rc : DR_CLAIMED;
	}
	release(st, emit, ud);
	rc = hold(st, &hit, l);
	return rc < 0 ? rc : DR_CLAIMED;
}

static void shell_flush(void *state, dr_emit_fn emit, void *ud)
{
	release(state, emit, ud);
}

static bool shell_pending(void *state)
{
	const struct shell_state *st = state;

	return st->held != NULL;
}

static void shell_destroy(void *state)
{
	struct shell_state *st = state;

	if (!st)
		return;
	dr_error_free(st->held);
	free(st->key);
	dr_strbuf_free(&st->text);
	dr_strbuf_free(&st->raw);
	free(st);
}

static void *command_not_found_create(void *config)
{
	return shell_create(&RULE_COMMAND_NOT_FOUND);
}

static void *permission_denied_create(void *config)
{
	return shell_create(&RULE_PERMISSION_DENIED);
}

static void *no_space_create(void *config)
{
	return shell_create(&RULE_NO_SPACE);
}

static void *address_in_use_create(void *config)
{
	return shell_create(&RULE_ADDRESS_IN_USE);
}

#define SHELL_OPS(var, name_, create_fn)                                   \
	const dr_detector_ops var = {                                      \
		.name = name_, .create = create_fn, .line = shell_line,       \
		.flush = shell_flush, .pending = shell_pending,               \
		.destroy = shell_destroy,                                     \
	}

SHELL_OPS(dr__shell_command_not_found_ops, "shell.command_not_found", command_not_found_create);
SHELL_OPS(dr__shell_permission_denied_ops, "shell.permission_denied", permission_denied_create);
SHELL_OPS(dr__shell_no_space_ops, "shell.no_space", no_space_create);
SHELL_OPS(dr__shell_address_in_use_ops, "shell.address_in_use", address_in_use_create);
