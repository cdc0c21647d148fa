/*
 * tools.c - the agent's built-in tools, as the model sees them (their
 * Chat Completions specifications) and as they run: read_file (confined
 * to the source's working directory), environment (the interpreter, the
 * platform and the installed distributions, read from files) and
 * propose_remedy (a command checked and turned into a remedy that waits
 * for the user's confirmation). search_docs is specified here and run by
 * the loop, which owns the documentation index.
 *
 * A tool's refusal or failure is a result too: a one-line text telling
 * the model what went wrong, so the run goes on. Nothing here runs a
 * program; results are not redacted or wrapped yet (the loop does both
 * with agent_wrap_data).
 */
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent_internal.h"
#include "pyenv.h"
#include "utf8.h"

#define READ_FILE_DEFAULT   65536
#define READ_SCAN_MAX       (64u << 20)   /* bytes read to reach start_line */
#define MAX_LINES_LIMIT     1000000
#define PACKAGES_MAX        100
#define ARGV_MAX            64
#define ARG_MAX_BYTES       4096
#define TITLE_MAX           200
#define REMEDY_TIMEOUT      600

/* ------------------------------------------------------------------ */
/* Specifications                                                      */

static const char specs_json[] =
	"["
	"{\"type\": \"function\", \"function\": {\"name\": \"search_docs\","
	" \"description\": \"Search the local documentation index (BM25 over the indexed pages)."
	" Returns the best passages with their page, anchor, title and text; cite them as"
	" [page#anchor].\","
	" \"parameters\": {\"type\": \"object\", \"properties\": {"
	"  \"query\": {\"type\": \"string\", \"description\": \"What to look for: error names,"
	" identifiers, a short question.\"},"
	"  \"k\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 10, \"description\":"
	" \"How many passages (default 4).\"}},"
	" \"required\": [\"query\"], \"additionalProperties\": false}}},"
	"{\"type\": \"function\", \"function\": {\"name\": \"read_file\","
	" \"description\": \"Read a text file under the working directory of the program that"
	" failed (relative paths are resolved against it). Size-capped; binary files and"
	" paths outside the directory are refused.\","
	" \"parameters\": {\"type\": \"object\", \"properties\": {"
	"  \"path\": {\"type\": \"string\", \"description\": \"The file, relative to the working"
	" directory.\"},"
	"  \"start_line\": {\"type\": \"integer\", \"minimum\": 1, \"description\": \"First line"
	" to return (default 1).\"},"
	"  \"max_lines\": {\"type\": \"integer\", \"minimum\": 1, \"description\": \"How many"
	" lines at most (default: as many as fit).\"}},"
	" \"required\": [\"path\"], \"additionalProperties\": false}}},"
	"{\"type\": \"function\", \"function\": {\"name\": \"environment\","
	" \"description\": \"The Python interpreter of the program that failed (version,"
	" prefix, virtualenv, conda, externally managed), the platform, and the installed"
	" distributions with their versions: all of them, or only those named.\","
	" \"parameters\": {\"type\": \"object\", \"properties\": {"
	"  \"packages\": {\"type\": \"array\", \"items\": {\"type\": \"string\"},"
	" \"description\": \"Distribution names to look up (e.g. [\\\"numpy\\\", \\\"ray\\\"]);"
	" omit for all.\"}},"
	" \"additionalProperties\": false}}},"
	"{\"type\": \"function\", \"function\": {\"name\": \"propose_remedy\","
	" \"description\": \"Propose a command that fixes the error. It does not run: the user"
	" is shown the title and the command and confirms it or not. The command is an argv"
	" array run without a shell: no pipelines, redirections, 'sh -c' or sudo.\","
	" \"parameters\": {\"type\": \"object\", \"properties\": {"
	"  \"title\": {\"type\": \"string\", \"description\": \"What the command does, for the"
	" user (e.g. 'Install opencv-python in .venv').\"},"
	"  \"argv\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}, \"minItems\": 1,"
	" \"maxItems\": 64, \"description\": \"The program and its arguments, one string"
	" each.\"},"
	"  \"why\": {\"type\": \"string\", \"description\": \"Why this fixes the error, in one"
	" sentence.\"}},"
	" \"required\": [\"title\", \"argv\"], \"additionalProperties\": false}}}"
	"]";

json_t *agent_tool_specs(json_t *extra)
{
	json_t *specs = json_loads(specs_json, 0, NULL);

	if (!specs)
		return NULL;
	if (json_is_array(extra) && json_array_extend(specs, extra) < 0) {
		json_decref(specs);
		return NULL;
	}
	return specs;
}

/* ------------------------------------------------------------------ */
/* Results                                                             */

/* A result text from a format; 0 or -ENOMEM. */
__attribute__((format(printf, 2, 3)))
static int say(char **result, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(result, fmt, ap);
	va_end(ap);
	if (n < 0) {
		*result = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* A string argument: NULL when absent; *bad when present but not a
 * NUL-free string. */
static const char *str_arg(json_t *args, const char *key, bool *bad)
{
	json_t *v = json_object_get(args, key);

	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

/* An optional positive integer argument into *out (unchanged when
 * absent); false when present but not an integer in 1..max. */
static bool int_arg(json_t *args, const char *key, long max, long *out)
{
	json_t *v = json_object_get(args, key);
	double d;

	if (!v || json_is_null(v))
		return true;
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 1 || json_integer_value(v) > max)
			return false;
		*out = (long)json_integer_value(v);
		return true;
	}
	if (!json_is_real(v))
		return false;
	d = json_real_value(v);
	if (!(d >= 1 && d <= (double)max) || d != (double)(long)d)
		return false;
	*out = (long)d;
	return true;
}

/* ------------------------------------------------------------------ */
/* read_file                                                           */

/* Files and folders that hold credentials: refused even inside the cwd,
 * whatever the redactor would make of them. */
static const char *const secret_names[] = {
	".ssh", ".gnupg", ".aws", ".netrc", ".git-credentials", ".pgpass", ".pypirc",
	".docker", ".kube", NULL,
};

static bool names_secret(const char *rel)
{
	const char *p = rel, *end;
	size_t n;

	while (*p) {
		end = strchr(p, '/');
		n = end ? (size_t)(end - p) : strlen(p);
		for (const char *const *s = secret_names; *s; s++)
			if (strlen(*s) == n && strncmp(p, *s, n) == 0)
				return true;
		p += n;
		while (*p == '/')
			p++;
	}
	return false;
}

/* Is path (absolute, resolved) root or under it? */
static bool is_under(const char *path, const char *root)
{
	size_t rl = strlen(root);

	if (strcmp(root, "/") == 0)
		return true;
	return strncmp(path, root, rl) == 0 && (path[rl] == '/' || path[rl] == '\0');
}

static bool is_pseudo_fs(const char *path)
{
	return is_under(path, "/proc") || is_under(path, "/sys") || is_under(path, "/dev");
}

/* The file under ctx->cwd that path names, opened; or a refusal in
 * *result. *rel: the path relative to the cwd (owned). */
static int open_confined(const struct agent_tool_ctx *ctx, const char *path, int *fd,
			 char **rel, char **result)
{
	char root[PATH_MAX], target[PATH_MAX], *full = NULL, link[32], seen[PATH_MAX];
	struct stat st;
	ssize_t n;
	int err;

	*fd = -1;
	if (!realpath(ctx->cwd, root))
		return say(result, "read_file: refused: the working directory %s cannot be read (%s)",
		           ctx->cwd, strerror(errno));
	if (path[0] == '/' ? !(full = strdup(path)) : asprintf(&full, "%s/%s", root, path) < 0)
		return -ENOMEM;
	if (!realpath(full, target)) {
		err = errno;
		free(full);
		if (err == ENOENT || err == ENOTDIR)
			return say(result, "read_file: %s: no such file", path);
		return say(result, "read_file: %s: %s", path, strerror(err));
	}
	free(full);
	if (!is_under(target, root) || is_pseudo_fs(target))
		return say(result, "read_file: refused: %s is outside the working directory %s",
		           path, root);
	*rel = strdup(strcmp(target, root) == 0 ? "." :
	              target + strlen(root) + (strcmp(root, "/") != 0));
	if (!*rel)
		return -ENOMEM;
	if (names_secret(*rel))
		return say(result, "read_file: refused: %s may hold credentials", path);
	*fd = open(target, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (*fd < 0)
		return say(result, "read_file: %s: %s", path, strerror(errno));
	/* a component swapped for a symbolic link since realpath: what was
	 * opened is what /proc says the descriptor is */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", *fd);
	n = readlink(link, seen, sizeof(seen) - 1);
	if (n >= 0)
		seen[n] = '\0';
	if (fstat(*fd, &st) < 0)
		st.st_mode = 0;
	if ((n >= 0 && strcmp(seen, target) != 0) || !S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		if (S_ISDIR(st.st_mode))
			return say(result, "read_file: refused: %s is a directory", path);
		return say(result, "read_file: refused: %s is not a regular file", path);
	}
	return 0;
}

/* Buffered reading of one descriptor. */
struct reader {
	int fd;
	unsigned char buf[65536];
	size_t pos, len;
	size_t total;           /* bytes handed out */
	bool eof, error;
};

/* The next byte, or -1 at the end (or on an error, with r->error). */
static int next_byte(struct reader *r)
{
	ssize_t n;

	if (r->pos == r->len) {
		if (r->eof)
			return -1;
		do
			n = read(r->fd, r->buf, sizeof(r->buf));
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			r->eof = true;
			r->error = n < 0;
			return -1;
		}
		r->pos = 0;
		r->len = (size_t)n;
	}
	r->total++;
	return r->buf[r->pos++];
}

/* What was read of the file. */
struct excerpt {
	char *text;             /* malloc'd, at most max bytes (+1 for the check) */
	size_t len;
	long first, last;       /* line numbers shown */
	long lines;             /* lines in the file, when known (0: not) */
	bool more;              /* the file goes on after what is shown */
	bool binary;            /* a NUL byte was seen */
	bool too_far;           /* start_line lies past READ_SCAN_MAX bytes */
};

static int read_excerpt(int fd, long start, long max_lines, size_t max, struct excerpt *x)
{
	struct reader *r = calloc(1, sizeof(*r));
	long line = 1, taken = 0;
	int c, prev = -1;

	memset(x, 0, sizeof(*x));
	x->text = malloc(max + 1);
	if (!r || !x->text) {
		free(r);
		return -ENOMEM;
	}
	r->fd = fd;
	x->first = start;
	while ((c = next_byte(r)) >= 0) {
		if (c == 0) {
			x->binary = true;
			break;
		}
		if (line < start) {
			line += c == '\n';
			prev = c;
			if (r->total > READ_SCAN_MAX) {
				x->too_far = true;
				break;
			}
			continue;
		}
		if (x->len == max + 1 || taken == max_lines) {
			x->more = true;
			break;
		}
		x->text[x->len++] = (char)c;
		prev = c;
		if (c == '\n') {
			line++;
			taken++;
		}
	}
	if (c < 0 && !r->error)
		x->lines = line - (prev == '\n' || prev == -1 ? 1 : 0);
	if (r->error) {
		free(r);
		return -EIO;
	}
	free(r);
	return 0;
}

/* Cut x to max bytes: at the last line end inside, else at a character
 * boundary. */
static void cut_excerpt(struct excerpt *x, size_t max)
{
	size_t cut = max;

	if (x->len <= max)
		return;
	x->more = true;
	while (cut > 0 && x->text[cut - 1] != '\n')
		cut--;
	if (cut == 0) {
		cut = max;
		while (cut > 0 && ((unsigned char)x->text[cut] & 0xC0) == 0x80)
			cut--;
	}
	x->len = cut;
}

/* The result for the model from x. */
static int excerpt_result(const char *rel, struct excerpt *x, char **result)
{
	char *text = utf8_repair(x->text, x->len, NULL), *out = NULL;
	long last = x->first;
	size_t i;
	int n;

	if (!text)
		return -ENOMEM;
	for (i = 0; i < x->len; i++)
		last += x->text[i] == '\n';
	if (x->len > 0 && x->text[x->len - 1] == '\n')
		last--;
	if (x->len == 0)
		n = asprintf(&out, "%s: empty%s\n", rel, x->first > 1 ? " from that line on" : "");
	else if (!x->more && x->lines)
		n = asprintf(&out, "%s: lines %ld-%ld of %ld\n%s", rel, x->first, last, x->lines, text);
	else
		n = asprintf(&out, "%s: lines %ld-%ld\n%s%s[... the file goes on: read_file with "
		             "start_line=%ld for more]\n", rel, x->first, last, text,
		             x->len && text[strlen(text) - 1] != '\n' ? "\n" : "",
		             x->len && x->text[x->len - 1] == '\n' ? last + 1 : last);
	free(text);
	if (n < 0)
		return -ENOMEM;
	*result = out;
	return 0;
}

int agent_tool_read_file(const struct agent_tool_ctx *ctx, json_t *args, char **result)
{
	long start = 1, max_lines = MAX_LINES_LIMIT;
	const char *path;
	char *rel = NULL;
	struct excerpt x = { 0 };
	size_t max;
	bool bad = false;
	int fd = -1, rc;

	*result = NULL;
	path = str_arg(args, "path", &bad);
	if (!ctx || !ctx->cwd)
		return say(result, "read_file: refused: the working directory of this error is "
		           "unknown");
	if (!path || bad || !*path)
		return say(result, "read_file: refused: path must be a non-empty string");
	if (!int_arg(args, "start_line", LONG_MAX / 2, &start) ||
	    !int_arg(args, "max_lines", MAX_LINES_LIMIT, &max_lines))
		return say(result, "read_file: refused: start_line and max_lines must be positive "
		           "integers");
	max = ctx->read_file_max ? ctx->read_file_max : READ_FILE_DEFAULT;
	rc = open_confined(ctx, path, &fd, &rel, result);
	if (rc == 0 && fd >= 0)
		rc = read_excerpt(fd, start, max_lines, max, &x);
	if (fd >= 0)
		close(fd);
	if (rc == -EIO)
		rc = say(result, "read_file: %s: read error", path);
	else if (rc == 0 && fd >= 0 && x.binary)
		rc = say(result, "read_file: refused: %s is a binary file", path);
	else if (rc == 0 && fd >= 0 && x.too_far)
		rc = say(result, "read_file: refused: line %ld is too far into %s", start, path);
	else if (rc == 0 && fd >= 0 && x.len == 0 && !x.more && x.lines && start > x.lines)
		rc = say(result, "read_file: %s has only %ld lines", path, x.lines);
	else if (rc == 0 && fd >= 0) {
		cut_excerpt(&x, max);
		rc = excerpt_result(rel, &x, result);
	}
	free(x.text);
	free(rel);
	return rc;
}

/* ------------------------------------------------------------------ */
/* environment                                                         */

/* The first executable python3 in PATH (owned), or NULL. */
static char *python_in_path(void)
{
	const char *path = getenv("PATH"), *p, *end;
	char *cand;

	for (p = path ? path : "/usr/local/bin:/usr/bin:/bin"; *p; p = *end ? end + 1 : end) {
		end = strchr(p, ':');
		if (!end)
			end = p + strlen(p);
		if (end == p || asprintf(&cand, "%.*s/python3", (int)(end - p), p) < 0)
			continue;
		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
	}
	return NULL;
}

static int cmp_dist(const void *a, const void *b)
{
	const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
	const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));

	return strcasecmp(x ? x : "", y ? y : "");
}

/* The installed distribution called name (any spelling), or NULL. */
static json_t *find_dist(json_t *dists, const char *name)
{
	char *want = py_normalize_name(name), *have;
	json_t *d, *found = NULL;
	size_t i;

	json_array_foreach(dists, i, d) {
		if (!want || found)
			break;
		have = py_normalize_name(json_string_value(json_object_get(d, "name")) ?: "");
		if (have && strcmp(have, want) == 0)
			found = d;
		free(have);
	}
	free(want);
	return found;
}

static void print_all_dists(FILE *f, json_t *dists)
{
	size_t i, n = json_array_size(dists);
	json_t **v = calloc(n ? n : 1, sizeof(*v));

	fprintf(f, "installed distributions (%zu):\n", n);
	if (!v)
		return;
	for (i = 0; i < n; i++)
		v[i] = json_array_get(dists, i);
	qsort(v, n, sizeof(*v), cmp_dist);
	for (i = 0; i < n; i++)
		fprintf(f, "  %s %s\n", json_string_value(json_object_get(v[i], "name")) ?: "?",
		        json_string_value(json_object_get(v[i], "version")) ?: "(version unknown)");
	free(v);
}

static void print_env(FILE *f, const py_env *env, json_t *dists, json_t *packages)
{
	struct utsname u;
	json_t *name, *d;
	size_t i;

	fprintf(f, "python: %s\nversion: %s\nprefix: %s\n", env->python,
	        env->version ? env->version : "unknown", env->prefix ? env->prefix : "unknown");
	fprintf(f, "virtualenv: %s\nconda: %s\nexternally managed (PEP 668): %s\n",
	        env->virtualenv ? env->virtualenv : "none", env->conda ? "yes" : "no",
	        env->externally_managed ? "yes" : "no");
	if (uname(&u) == 0)
		fprintf(f, "platform: %s %s %s, glibc %s\n", u.sysname, u.release, u.machine,
		        gnu_get_libc_version());
	if (!json_is_array(packages)) {
		print_all_dists(f, dists);
		return;
	}
	fputs("distributions asked for:\n", f);
	json_array_foreach(packages, i, name) {
		d = find_dist(dists, json_string_value(name));
		if (d)
			fprintf(f, "  %s: %s %s\n", json_string_value(name),
			        json_string_value(json_object_get(d, "name")) ?: "?",
			        json_string_value(json_object_get(d, "version")) ?: "(version unknown)");
		else
			fprintf(f, "  %s: not installed\n", json_string_value(name));
	}
}

/* packages: absent, or an array of at most PACKAGES_MAX short strings. */
static bool packages_ok(json_t *packages)
{
	json_t *v;
	size_t i;

	if (!packages || json_is_null(packages))
		return true;
	if (!json_is_array(packages) || json_array_size(packages) > PACKAGES_MAX)
		return false;
	json_array_foreach(packages, i, v)
		if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 200 ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return false;
	return true;
}

int agent_tool_environment(const struct agent_tool_ctx *ctx, json_t *args, char **result)
{
	json_t *packages = json_object_get(args, "packages"), *dists = NULL;
	char *python = NULL, *buf = NULL;
	py_env *env = NULL;
	size_t len;
	FILE *f;
	int rc;

	*result = NULL;
	if (!packages_ok(packages))
		return say(result, "environment: refused: packages must be a list of at most %d "
		           "names", PACKAGES_MAX);
	if (json_is_null(packages))
		packages = NULL;
	python = ctx && ctx->python ? strdup(ctx->python) : python_in_path();
	if (!python)
		return ctx && ctx->python ? -ENOMEM : say(result, "environment: no python3 in PATH");
	rc = py_env_probe(python, &env);
	if (rc == -ENOMEM)
		goto out;
	if (rc < 0) {
		rc = say(result, "environment: the interpreter %s cannot be read (%s)", python,
		         strerror(-rc));
		goto out;
	}
	rc = py_env_distributions(env, &dists);
	if (rc == -ENOMEM)
		goto out;
	if (rc < 0)
		dists = json_array();
	f = open_memstream(&buf, &len);
	if (!f || !dists) {
		rc = -ENOMEM;
		if (f)
			fclose(f);
		goto out;
	}
	print_env(f, env, dists, packages);
	rc = ferror(f) ? -ENOMEM : 0;
	if (fclose(f) != 0)
		rc = -ENOMEM;
	if (rc == 0)
		*result = buf;
	else
		free(buf);
out:
	json_decref(dists);
	py_env_free(env);
	free(python);
	return rc;
}

/* ------------------------------------------------------------------ */
/* propose_remedy                                                      */

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static bool name_in(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(name, *list) == 0)
			return true;
	return false;
}

static const char *const shells[] = {
	"sh", "bash", "zsh", "dash", "fish", "ksh", "mksh", "csh", "tcsh", "ash", NULL,
};
/* Programs that run the command given in their arguments. */
static const char *const wrappers[] = {
	"env", "nohup", "nice", "timeout", "setsid", "stdbuf", "ionice", "time", "command",
	"exec", "xargs", "busybox", NULL,
};
static const char *const privileged[] = { "sudo", "doas", "su", "pkexec", "runuser", NULL };
static const char *const shell_words[] = { "|", "||", "&&", ";", ";;", "&", "|&", NULL };

/* A redirection: digits or '&', then '<' or '>' (">", "2>&1", "<<<", ">log"). */
static bool is_redirection(const char *s)
{
	s += strspn(s, "0123456789&");
	return *s == '<' || *s == '>';
}

/* Index of the command a wrapper runs (its options, VAR=value
 * assignments and a leading duration skipped), from i. */
static size_t skip_wrapper(const char *const *argv, size_t argc, size_t i)
{
	const char *w = base_name(argv[i]);

	for (i++; i < argc; i++) {
		if (argv[i][0] == '-' || (strcmp(w, "env") == 0 && strchr(argv[i], '=')))
			continue;
		if (strcmp(w, "timeout") == 0 && strspn(argv[i], "0123456789.smhd") == strlen(argv[i]))
			continue;
		break;
	}
	return i;
}

/* Why argv (argc NUL-free, non-empty strings) cannot be a remedy, or
 * NULL. */
static const char *shell_use(const char *const *argv, size_t argc)
{
	size_t i = 0, k;
	const char *cmd;

	if (argc == 1 && strpbrk(argv[0], " \t\n"))
		return "argv holds a command line in one string: give the program and each "
		       "argument as separate strings";
	for (k = 0; k < argc; k++)
		if (name_in(argv[k], shell_words) || is_redirection(argv[k]) || strchr(argv[k], '\n'))
			return "argv holds shell syntax (a pipeline, redirection or command list); "
			       "remedies run without a shell";
	while (i < argc && name_in(base_name(argv[i]), wrappers)) {
		if (strcmp(base_name(argv[i]), "env") == 0)
			for (k = i + 1; k < argc && argv[k][0] == '-'; k++)
				if (strncmp(argv[k], "-S", 2) == 0 || strncmp(argv[k], "--split", 7) == 0)
					return "env -S runs a command line: give argv instead";
		i = skip_wrapper(argv, argc, i);
	}
	if (i == argc)
		return "argv names no program to run";
	cmd = base_name(argv[i]);
	if (name_in(cmd, privileged))
		return "remedies run as the user without a terminal: sudo and the like cannot "
		       "work; say what needs administrator rights instead";
	if (!name_in(cmd, shells))
		return NULL;
	/* any -c, wherever it is: options may come after their values */
	for (k = i + 1; k < argc; k++)
		if (argv[k][0] == '-' && ((argv[k][1] != '-' && strpbrk(argv[k] + 1, "cC")) ||
		                          strcmp(argv[k], "--command") == 0 ||
		                          strcmp(argv[k], "--init-command") == 0))
			return "a shell with -c runs a command line: give the program and its "
			       "arguments as argv";
	return NULL;
}

/* Does argv install with pip (pip install, python -m pip install)? */
static bool is_pip_install(const char *const *argv, size_t argc)
{
	const char *b;
	size_t i;

	for (i = 0; i + 1 < argc; i++) {
		b = base_name(argv[i]);
		if ((strcmp(b, "pip") == 0 || (strncmp(b, "pip", 3) == 0 &&
		     strspn(b + 3, "0123456789.") == strlen(b + 3))) &&
		    (i == 0 || strcmp(argv[i - 1], "-m") == 0) && strcmp(argv[i + 1], "install") == 0)
			return true;
	}
	return false;
}

/* argv as C strings (borrowed from the array), or NULL with *why. */
static const char **check_argv(json_t *argv, size_t *argc, const char **why)
{
	const char **v;
	json_t *s;
	size_t i;

	*why = NULL;
	if (!json_is_array(argv) || json_array_size(argv) == 0)
		*why = "argv must be a non-empty array of strings";
	else if (json_array_size(argv) > ARGV_MAX)
		*why = "argv has more than 64 elements";
	json_array_foreach(argv, i, s) {
		if (*why)
			break;
		if (!json_is_string(s))
			*why = "every element of argv must be a string";
		else if (json_string_length(s) == 0)
			*why = "argv has an empty string";
		else if (strlen(json_string_value(s)) != json_string_length(s))
			*why = "argv has a NUL byte";
		else if (json_string_length(s) > ARG_MAX_BYTES)
			*why = "an element of argv is longer than 4096 bytes";
	}
	if (*why)
		return NULL;
	*argc = json_array_size(argv);
	v = calloc(*argc, sizeof(*v));
	if (!v)
		return NULL;
	json_array_foreach(argv, i, s)
		v[i] = json_string_value(s);
	*why = shell_use(v, *argc);
	if (*why) {
		free(v);
		return NULL;
	}
	return v;
}

/* The offered remedy with the same argv, or NULL. */
static json_t *offered_match(json_t *offered, json_t *argv)
{
	json_t *r;
	size_t i;

	json_array_foreach(offered, i, r)
		if (json_is_object(r) && json_equal(json_object_get(r, "argv"), argv))
			return r;
	return NULL;
}

/* "agent-<hash of argv>": stable for the same command. */
static json_t *remedy_key(json_t *argv)
{
	char *dump = json_dumps(argv, JSON_COMPACT), key[32];
	unsigned long long h = 1469598103934665603ull;

	if (!dump)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)dump; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	free(dump);
	snprintf(key, sizeof(key), "agent-%012llx", h & 0xffffffffffffull);
	return json_string(key);
}

/* The length of title capped at TITLE_MAX bytes, at a character boundary. */
static size_t title_len(const char *title)
{
	size_t n = strnlen(title, TITLE_MAX + 1);

	if (n <= TITLE_MAX)
		return n;
	n = TITLE_MAX;
	while (n > 0 && ((unsigned char)title[n] & 0xC0) == 0x80)
		n--;
	return n;
}

static json_t *new_remedy(const struct agent_tool_ctx *ctx, const char *title, json_t *argv,
			  const char *const *v, size_t argc)
{
	json_t *match = offered_match(ctx->offered, argv), *r;

	if (match) {
		/* the plugin's remedy as it offered it: its key, title, verify,
		 * undo, cwd (so the store sees the same remedy) and claims */
		static const char *const keys[] = {
			"key", "title", "argv", "cwd", "changes_system", "verify", "timeout", "undo", NULL,
		};
		json_t *field;

		r = json_pack("{s:b, s:b}", "from_plugin", 1, "changes_system", 1);
		for (const char *const *k = keys; r && *k; k++) {
			field = json_object_get(match, *k);
			if (json_object_set_new(r, *k, field ? json_deep_copy(field) : json_null()) < 0) {
				json_decref(r);
				r = NULL;
			}
		}
		if (r && !json_is_boolean(json_object_get(r, "changes_system")))
			json_object_set_new(r, "changes_system", json_true());
		return r;
	}
	return json_pack("{s:o, s:s%, s:O, s:s?, s:b, s:n, s:i, s:o, s:b}",
	                 "key", remedy_key(argv), "title", title, title_len(title),
	                 "argv", argv, "cwd", ctx->cwd, "changes_system", 1, "verify",
	                 "timeout", REMEDY_TIMEOUT,
	                 "undo", is_pip_install(v, argc) ? json_string("pip") : json_null(),
	                 "from_plugin", 0);
}

int agent_tool_propose_remedy(const struct agent_tool_ctx *ctx, json_t *args, json_t **remedy,
			      char **result)
{
	json_t *argv = json_object_get(args, "argv");
	const char *title, *why = NULL, **v;
	size_t argc = 0;
	bool bad = false;

	*remedy = NULL;
	*result = NULL;
	title = str_arg(args, "title", &bad);
	if (!ctx)
		return -EINVAL;
	if (!json_is_object(args))
		return say(result, "propose_remedy: refused: the arguments must be an object "
		           "{title, argv}");
	if (!title || bad || !*title)
		return say(result, "propose_remedy: refused: title must be a non-empty string");
	v = check_argv(argv, &argc, &why);
	if (!v && !why)
		return -ENOMEM;
	if (!v)
		return say(result, "propose_remedy: refused: %s", why);
	*remedy = new_remedy(ctx, title, argv, v, argc);
	free(v);
	if (!*remedy)
		return -ENOMEM;
	if (say(result, "propose_remedy: proposed \"%s\"%s. It has not run: the user will be "
	        "asked to confirm it.", json_string_value(json_object_get(*remedy, "title")),
	        json_is_true(json_object_get(*remedy, "from_plugin")) ?
	        " (the same command a doctor plugin offers for this error)" : "") < 0) {
		json_decref(*remedy);
		*remedy = NULL;
		return -ENOMEM;
	}
	return 0;
}
