/*
 * rule_latency.c - how long doctord takes from the last line of an error to
 * the remedy it proposes, measured against a bare request round trip.
 *
 * One doctord (real plugins from --plugins, no user configuration except a
 * config file that states sources.settle_ms) and two clients: a subscriber
 * and a source client with two JSON-mode sources, a Python program (context
 * python: /usr/bin/python3) and a bash shell. Each run times four series:
 *
 *   python, next line  the exception line of a ModuleNotFoundError for cv2
 *                      and one ordinary line, in one source.write;
 *   python, settle     the exception line alone: the detector completes the
 *                      traceback when sources.settle_ms of quiet have passed;
 *   shell, next line   "bash: rg: command not found" and an ordinary line;
 *   shell, settle      that line alone (repeated shell errors are folded,
 *                      so the detector holds it for the settle time too);
 *
 * each from the moment the error's last line is written (the lines before it
 * were sent and processed earlier) until the subscriber's read() returns the
 * first remedy.proposed. Every occurrence is a repeat of the same incident,
 * which doctord diagnoses again; the events are checked to be this run's
 * (incident id and occurrence count), and all the remedies announced by
 * diagnosis.done must follow. The baseline is a hello request's round trip
 * on the source client's connection, timed in every series of every run.
 *
 * Every child is killed on any failure and the temporary directory removed.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"

#define MAX_RUNS 100000
#define DEFAULT_RUNS 300
#define DEFAULT_SETTLE_MS 30    /* doctord's default (docs/configuration.md) */
#define MAX_SETTLE_MS 60000

/* An error a source shows, and who must diagnose it. */
struct error_case {
	const char *key;        /* in the JSON report */
	const char *label;
	const char *kind, *source_name;
	bool python_context;
	const char *before;     /* lines sent and processed before timing, or NULL */
	const char *last;       /* the error's last line */
	const char *next;       /* an ordinary line that follows it */
	const char *detector, *plugin;
};

static const struct error_case cases[] = {
	{ "python", "python ModuleNotFoundError (cv2)", "command", "python detect.py", true,
	  "Traceback (most recent call last):\n"
	  "  File \"/home/ana/proj/detect.py\", line 3, in <module>\n"
	  "    import cv2\n",
	  "ModuleNotFoundError: No module named 'cv2'\n", "=> detect.py exited with status 1\n",
	  "python.traceback", "python.missing_module" },
	{ "shell", "shell command not found (rg)", "shell", "bash", false, NULL,
	  "bash: rg: command not found\n", "done\n",
	  "shell.command_not_found", "shell.command_not_found" },
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* Series s is case s / 2, with the next line (even s) or alone (odd s). */
#define N_SERIES (2 * N_CASES)

struct options {
	const char *doctord, *plugins;  /* borrowed from argv */
	unsigned runs, settle_ms;
	bool json;
};

/* The bench's two connections to doctord and what they learned. */
struct session {
	struct peer sub, src;           /* subscriber; source client */
	json_int_t next_id;             /* of the source client's requests */
	json_int_t source[N_CASES];
	json_int_t incident[N_CASES];   /* 0 until the first occurrence */
	json_int_t count[N_CASES];      /* occurrences seen so far */
	size_t remedies[N_CASES];       /* announced by the last diagnosis */
};

/* Latencies in seconds, runs per series; hello has N_SERIES * runs. */
struct samples {
	double *series[N_SERIES];
	double *hello;
	unsigned n;                     /* runs done */
};

struct stats {
	double p50, p99, max;
};

static const char *series_label(unsigned s)
{
	return s % 2 ? "settle timer" : "next line";
}

/* ------------------------------------------------------------ messages */

/* Send msg (stolen) as one line. */
static int send_json(struct peer *c, json_t *msg)
{
	char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	size_t len = text ? strlen(text) : 0;
	int rc;

	json_decref(msg);
	if (!text)
		return fail(-ENOMEM, "cannot encode a message");
	text[len] = '\n';       /* json_dumps' NUL: the line needs its newline instead */
	rc = peer_send(c, text, len + 1);
	free(text);
	return rc;
}

/* A request on the source client; *result (may be NULL) gets its result. */
static int src_request(struct session *s, const char *method, json_t *params, json_t **result)
{
	json_int_t id = ++s->next_id;
	json_t *res = NULL;
	int rc = send_json(&s->src, json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", id,
	                                      "method", method, "params", params));

	if (rc == 0)
		rc = rpc_await(&s->src, id, NULL, &res);
	if (rc == 0 && result)
		*result = res;
	else
		json_decref(res);
	return rc;
}

static json_t *write_message(json_int_t source, const char *text)
{
	return json_pack("{s:s, s:s, s:{s:I, s:s}}", "jsonrpc", "2.0", "method", "source.write",
	                 "params", "source", source, "text", text);
}

/* ------------------------------------------------------------ set-up */

/* dir/config/doctor/doctor.yaml stating settle_ms, so the figure printed is
 * the one in force (checked against status once doctord runs). */
static int write_config(const char *dir, unsigned settle_ms, char path[PATH_LEN])
{
	char d[PATH_LEN];
	FILE *f;

	snprintf(d, sizeof d, "%s/config", dir);
	if (mkdir(d, 0700) < 0)
		return fail(-errno, "mkdir %s: %s", d, strerror(errno));
	snprintf(d, sizeof d, "%s/config/doctor", dir);
	if (mkdir(d, 0700) < 0)
		return fail(-errno, "mkdir %s: %s", d, strerror(errno));
	snprintf(path, PATH_LEN, "%s/config/doctor/doctor.yaml", dir);
	if (!(f = fopen(path, "we")))
		return fail(-errno, "%s: %s", path, strerror(errno));
	fprintf(f, "# written by bench/rule_latency\nsources:\n  settle_ms: %u\n", settle_ms);
	if (fclose(f) != 0)
		return fail(-errno, "%s: %s", path, strerror(errno));
	return 0;
}

/* doctord must have read our file and loaded both plugins. */
static int check_daemon(struct session *s, const char *config_path, const char *plugins)
{
	json_t *status = NULL, *list = NULL, *p;
	const char *loaded;
	size_t i;
	int rc;

	if ((rc = src_request(s, "status", json_object(), &status)) < 0 ||
	    (rc = src_request(s, "plugins.list", json_object(), &list)) < 0)
		goto out;
	loaded = json_string_value(json_object_get(status, "config"));
	if (!loaded || strcmp(loaded, config_path) != 0) {
		rc = fail(-EPROTO, "doctord did not load %s (its config: %s): the settle time in "
		          "force is unknown", config_path, loaded ? loaded : "none");
		goto out;
	}
	for (unsigned c = 0; c < N_CASES; c++) {
		bool enabled = false;
		json_array_foreach(json_object_get(list, "plugins"), i, p)
			enabled |= strcmp(json_string_value(json_object_get(p, "name")) ?: "",
			                  cases[c].plugin) == 0 &&
			           strcmp(json_string_value(json_object_get(p, "state")) ?: "",
			                  "enabled") == 0;
		if (!enabled) {
			rc = fail(-ENOENT, "plugin %s is not enabled in doctord (plugins from %s)",
			          cases[c].plugin, plugins);
			goto out;
		}
	}
out:
	json_decref(status);
	json_decref(list);
	return rc;
}

/* Subscribe, open the sources, check what doctord runs with. */
static int session_open(struct session *s, const char *dir, const char *config_path,
                        const char *plugins)
{
	char socket_path[PATH_LEN];
	json_t *res = NULL;
	int rc;

	snprintf(socket_path, sizeof socket_path, "%s/s.sock", dir);
	if ((rc = peer_connect(&s->sub, socket_path)) < 0 ||
	    (rc = peer_connect(&s->src, socket_path)) < 0 ||
	    (rc = send_json(&s->sub, json_pack("{s:s, s:i, s:s}", "jsonrpc", "2.0", "id", 1,
	                                       "method", "subscribe"))) < 0 ||
	    (rc = rpc_await(&s->sub, 1, NULL, &res)) < 0)
		goto out;
	for (unsigned c = 0; c < N_CASES; c++) {
		json_t *context = json_pack("{s:s}", "cwd", dir);
		if (cases[c].python_context)
			json_object_set_new(context, "python", json_string("/usr/bin/python3"));
		json_decref(res);
		res = NULL;
		if ((rc = src_request(s, "source.open", json_pack("{s:s, s:s, s:o}", "kind",
		                      cases[c].kind, "name", cases[c].source_name, "context", context),
		                      &res)) < 0)
			goto out;
		s->source[c] = json_integer_value(json_object_get(res, "source"));
		if (s->source[c] <= 0) {
			rc = fail(-EPROTO, "source.open returned no source id");
			goto out;
		}
	}
	rc = check_daemon(s, config_path, plugins);
out:
	json_decref(res);
	return rc;
}

static void session_close(struct session *s)
{
	peer_close(&s->sub);
	peer_close(&s->src);
}

/* ------------------------------------------------------------ events */

/* incident.new/updated for case c: this run's occurrence of its incident. */
static int check_incident_event(struct session *s, unsigned c, json_t *params)
{
	json_t *inc = json_object_get(params, "incident");
	json_int_t id = json_integer_value(json_object_get(inc, "id"));
	json_int_t count = json_integer_value(json_object_get(inc, "count"));
	const char *detector = json_string_value(json_object_get(inc, "detector"));

	if (!detector || strcmp(detector, cases[c].detector) != 0 ||
	    (s->incident[c] && id != s->incident[c]) || count != s->count[c] + 1)
		return fail(-EPROTO, "%s: expected occurrence %lld of incident %lld (%s), got "
		            "occurrence %lld of incident %lld (%s)", cases[c].label,
		            (long long)s->count[c] + 1, (long long)s->incident[c], cases[c].detector,
		            (long long)count, (long long)id, detector ? detector : "?");
	s->incident[c] = id;
	s->count[c] = count;
	return 0;
}

/* diagnosis.done for this incident, by the expected plugin; remembers how
 * many remedy.proposed must follow. */
static int check_diagnosis(struct session *s, unsigned c, json_t *params)
{
	json_t *diag, *remedy;
	size_t i, j;
	bool by_plugin = false;

	if (json_integer_value(json_object_get(params, "incident")) != s->incident[c])
		return fail(-EPROTO, "%s: diagnosis.done for incident %lld, expected %lld",
		            cases[c].label,
		            (long long)json_integer_value(json_object_get(params, "incident")),
		            (long long)s->incident[c]);
	s->remedies[c] = 0;
	json_array_foreach(json_object_get(params, "diagnoses"), i, diag) {
		const char *plugin = json_string_value(json_object_get(diag, "plugin"));
		by_plugin |= plugin && strcmp(plugin, cases[c].plugin) == 0;
		json_array_foreach(json_object_get(diag, "remedies"), j, remedy)
			s->remedies[c] += strcmp(json_string_value(json_object_get(remedy, "state")) ?: "",
			                         "proposed") == 0;
	}
	if (!by_plugin || s->remedies[c] == 0)
		return fail(-EPROTO, "%s: %s %s: the rule path was not taken, the figures mean "
		            "nothing", cases[c].label, cases[c].plugin,
		            by_plugin ? "proposed no remedy" : "did not diagnose it");
	return 0;
}

/* Read the subscriber's events for this run of case c, in doctord's order
 * (incident, diagnosis.done, every remedy.proposed); *arrived: when the
 * read() that brought the first remedy.proposed returned. */
static int await_remedies(struct session *s, unsigned c, double *arrived)
{
	size_t remedies = 0;
	int stage = 0;          /* 0: incident, 1: diagnosis, 2: remedies */
	int rc = 0;

	while (rc == 0 && (stage < 2 || remedies < s->remedies[c])) {
		json_t *msg = NULL, *params;
		const char *method;
		char *line;
		int got = peer_read_line(&s->sub, &line);
		if (got <= 0) {
			rc = got < 0 ? got : fail(-EPIPE, "doctord closed the subscriber's connection");
			break;
		}
		double at = s->sub.filled_at;   /* no read() happens while a line waits */
		if (!(msg = json_loads(line, 0, NULL)))
			return fail(-EPROTO, "doctord sent invalid JSON: %.200s", line);
		method = json_string_value(json_object_get(msg, "method")) ?: "(a reply)";
		params = json_object_get(msg, "params");
		if (stage == 0 && (!strcmp(method, "incident.new") || !strcmp(method, "incident.updated"))) {
			rc = check_incident_event(s, c, params);
			stage = 1;
		} else if (stage == 1 && !strcmp(method, "diagnosis.done")) {
			rc = check_diagnosis(s, c, params);
			stage = 2;
		} else if (stage == 2 && !strcmp(method, "remedy.proposed")) {
			json_int_t inc = json_integer_value(json_object_get(json_object_get(params,
			                                    "remedy"), "incident"));
			if (inc != s->incident[c])
				rc = fail(-EPROTO, "%s: remedy.proposed for incident %lld, expected %lld",
				          cases[c].label, (long long)inc, (long long)s->incident[c]);
			if (remedies++ == 0)
				*arrived = at;
		} else {
			rc = fail(-EPROTO, "%s: unexpected %s while waiting for %s", cases[c].label,
			          method, stage == 0 ? "the incident" :
			          stage == 1 ? "diagnosis.done" : "remedy.proposed");
		}
		json_decref(msg);
	}
	return rc;
}

/* ------------------------------------------------------------ runs */

/* One hello round trip on the source client: the floor of any exchange. */
static int time_hello(struct session *s, double *seconds)
{
	json_int_t id = ++s->next_id;
	json_t *res = NULL;
	double t0 = now();
	int rc = send_json(&s->src, json_pack("{s:s, s:I, s:s, s:{s:s}}", "jsonrpc", "2.0",
	                                      "id", id, "method", "hello", "params",
	                                      "client", "bench/rule_latency"));

	if (rc == 0 && (rc = rpc_await(&s->src, id, NULL, &res)) == 0)
		*seconds = s->src.filled_at - t0;
	json_decref(res);
	return rc;
}

/* One run of series ser: the error's earlier lines, processed (a hello's
 * reply comes after them); a timed hello; then the timed last line. */
static int run_series(struct session *s, unsigned ser, double *latency, double *hello)
{
	const struct error_case *ec = &cases[ser / 2];
	json_int_t sid = s->source[ser / 2];
	char text[512];
	json_t *msg;
	double t0, arrived = 0;
	int rc;

	if (ec->before && (rc = send_json(&s->src, write_message(sid, ec->before))) < 0)
		return rc;
	if ((rc = src_request(s, "hello", json_object(), NULL)) < 0 || (rc = time_hello(s, hello)) < 0)
		return rc;
	snprintf(text, sizeof text, "%s%s", ec->last, ser % 2 ? "" : ec->next);
	if (!(msg = write_message(sid, text)))
		return fail(-ENOMEM, "cannot encode a message");
	t0 = now();
	if ((rc = send_json(&s->src, msg)) < 0 || (rc = await_remedies(s, ser / 2, &arrived)) < 0)
		return rc;
	*latency = arrived - t0;
	return 0;
}

/* All series, interleaved run by run so that drift hits them alike. */
static int run_all(const struct options *o, struct session *s, struct samples *sm)
{
	int rc;

	for (sm->n = 0; sm->n < o->runs; sm->n++) {
		for (unsigned ser = 0; ser < N_SERIES; ser++)
			if ((rc = run_series(s, ser, &sm->series[ser][sm->n],
			                     &sm->hello[sm->n * N_SERIES + ser])) < 0)
				return rc;
		if (interrupted)
			return fail(-EINTR, "interrupted");
		if ((sm->n + 1) % 50 == 0 || sm->n + 1 == o->runs)
			fprintf(stderr, "run %u/%u\n", sm->n + 1, o->runs);
	}
	return 0;
}

/* ------------------------------------------------------------ report */

/* p50, p99 (nearest rank) and max of n values; values are not modified. */
static int compute_stats(const double *values, size_t n, struct stats *st)
{
	double *sorted = malloc(n * sizeof *sorted);

	if (!sorted)
		return fail(-ENOMEM, "out of memory");
	memcpy(sorted, values, n * sizeof *values);
	qsort(sorted, n, sizeof *sorted, compare_doubles);
	st->p50 = sorted[(size_t)ceil(0.50 * n) - 1];
	st->p99 = sorted[(size_t)ceil(0.99 * n) - 1];
	st->max = sorted[n - 1];
	free(sorted);
	return 0;
}

struct report {
	struct stats hello, series[N_SERIES];
	double first[N_SERIES];         /* run 1: the incident is new */
	size_t remedies[N_CASES];
};

static double ms(double seconds)
{
	return seconds * 1e3;
}

/* The figures that would be wrong if the detector did not behave as the
 * series assume: warnings, the figures stand. */
static void warn_settle(const struct options *o, const struct report *r)
{
	for (unsigned ser = 0; ser < N_SERIES; ser++) {
		double p50 = ms(r->series[ser].p50);
		if (ser % 2 && p50 < o->settle_ms)
			fprintf(stderr, "rule_latency: warning: %s, settle timer: p50 %.3f ms is below "
			        "settle_ms %u: the error was not held back\n", cases[ser / 2].label, p50,
			        o->settle_ms);
		if (!(ser % 2) && o->settle_ms > 0 && p50 >= o->settle_ms)
			fprintf(stderr, "rule_latency: warning: %s, next line: p50 %.3f ms is not below "
			        "settle_ms %u: the next line did not complete the error\n",
			        cases[ser / 2].label, p50, o->settle_ms);
	}
}

static void report_text(const struct options *o, const struct report *r)
{
	const struct stats *h = &r->hello;

	printf("%u runs per series, sources.settle_ms in force: %u\n", o->runs, o->settle_ms);
	printf("baseline hello round trip: p50 %.3f ms, p99 %.3f ms, max %.3f ms (%u samples)\n",
	       ms(h->p50), ms(h->p99), ms(h->max), o->runs * (unsigned)N_SERIES);
	for (unsigned ser = 0; ser < N_SERIES; ser++) {
		const struct stats *st = &r->series[ser];
		printf("%s, %s: p50 %.3f ms (%.0fx hello), p99 %.3f ms (%.0fx), max %.3f ms; "
		       "first (new incident) %.3f ms; %zu remed%s per diagnosis",
		       cases[ser / 2].label, series_label(ser), ms(st->p50), st->p50 / h->p50,
		       ms(st->p99), st->p99 / h->p99, ms(st->max), ms(r->first[ser]),
		       r->remedies[ser / 2], r->remedies[ser / 2] == 1 ? "y" : "ies");
		if (ser % 2)
			printf("; p50 minus settle_ms %.3f ms", ms(st->p50) - o->settle_ms);
		printf("\n");
	}
}

static json_t *stats_json(const struct stats *st, const struct stats *hello)
{
	json_t *j = json_pack("{s:f, s:f, s:f}", "p50_ms", ms(st->p50), "p99_ms", ms(st->p99),
	                      "max_ms", ms(st->max));

	if (j && hello) {
		json_object_set_new(j, "p50_x_hello", json_real(st->p50 / hello->p50));
		json_object_set_new(j, "p99_x_hello", json_real(st->p99 / hello->p99));
	}
	return j;
}

static int report_json(const struct options *o, const struct report *r)
{
	json_t *doc = json_pack("{s:i, s:i, s:o}", "runs", (int)o->runs, "settle_ms",
	                        (int)o->settle_ms, "hello", stats_json(&r->hello, NULL));
	int rc = 0;

	for (unsigned ser = 0; doc && ser < N_SERIES; ser++) {
		char key[64];
		json_t *j = stats_json(&r->series[ser], &r->hello);
		snprintf(key, sizeof key, "%s_%s", cases[ser / 2].key, ser % 2 ? "settle" : "next_line");
		json_object_set_new(j, "first_ms", json_real(ms(r->first[ser])));
		json_object_set_new(j, "remedies", json_integer((json_int_t)r->remedies[ser / 2]));
		json_object_set_new(doc, key, j);
	}
	if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2)) < 0)
		rc = fail(-ENOMEM, "cannot write the JSON report");
	else
		putchar('\n');
	json_decref(doc);
	return rc;
}

static int report(const struct options *o, const struct session *s, const struct samples *sm)
{
	struct report r;
	int rc;

	memset(&r, 0, sizeof r);
	if ((rc = compute_stats(sm->hello, (size_t)sm->n * N_SERIES, &r.hello)) < 0)
		return rc;
	for (unsigned ser = 0; ser < N_SERIES; ser++) {
		if ((rc = compute_stats(sm->series[ser], sm->n, &r.series[ser])) < 0)
			return rc;
		r.first[ser] = sm->series[ser][0];
	}
	memcpy(r.remedies, s->remedies, sizeof r.remedies);
	warn_settle(o, &r);
	if (o->json)
		return report_json(o, &r);
	report_text(o, &r);
	return 0;
}

/* ------------------------------------------------------------ main */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: rule_latency --doctord PATH --plugins DIR [--runs N] [--settle-ms N] [--json]\n"
		"Measure the time from the last line of an error written by a source to the\n"
		"remedy.proposed a subscriber receives (p50, p99, max), for a Python\n"
		"ModuleNotFoundError and a shell command-not-found, completed by the next\n"
		"line or by the settle timer, against a hello round trip.\n"
		"\n"
		"  --doctord PATH    the doctord binary to start\n"
		"  --plugins DIR     the plugin folder (DOCTOR_PLUGIN_PATH for doctord)\n"
		"  --runs N          runs per series (default %d, at most %d)\n"
		"  --settle-ms N     sources.settle_ms for doctord (default %d, its default)\n"
		"  --json            print the results as JSON\n"
		"  -h, --help        show this help\n"
		"Temporary files go under $TMPDIR (default /tmp). See bench/README.md.\n",
		DEFAULT_RUNS, MAX_RUNS, DEFAULT_SETTLE_MS);
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "doctord", required_argument, NULL, 'd' },
		{ "plugins", required_argument, NULL, 'p' },
		{ "runs", required_argument, NULL, 'r' },
		{ "settle-ms", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct stat st;
	int ch, rc = 0;

	while (rc == 0 && (ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': o->doctord = optarg; break;
		case 'p': o->plugins = optarg; break;
		case 'r': rc = parse_count("--runs", optarg, 1, MAX_RUNS, &o->runs); break;
		case 's': rc = parse_count("--settle-ms", optarg, 0, MAX_SETTLE_MS, &o->settle_ms); break;
		case 'j': o->json = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (rc < 0)
		return rc;
	if (optind < argc)
		return fail(-EINVAL, "unexpected argument '%s' (see --help)", argv[optind]);
	if (!o->doctord || !o->plugins)
		return fail(-EINVAL, "--doctord PATH and --plugins DIR are required (see --help)");
	if (access(o->doctord, X_OK) < 0)
		return fail(-errno, "--doctord %s: %s", o->doctord, strerror(errno));
	if (stat(o->plugins, &st) < 0 || !S_ISDIR(st.st_mode))
		return fail(-ENOTDIR, "--plugins %s: not a folder", o->plugins);
	return 0;
}

static int samples_alloc(struct samples *sm, unsigned runs)
{
	for (unsigned ser = 0; ser < N_SERIES; ser++)
		if (!(sm->series[ser] = calloc(runs, sizeof(double))))
			return fail(-ENOMEM, "out of memory");
	if (!(sm->hello = calloc((size_t)runs * N_SERIES, sizeof(double))))
		return fail(-ENOMEM, "out of memory");
	return 0;
}

static void samples_free(struct samples *sm)
{
	for (unsigned ser = 0; ser < N_SERIES; ser++)
		free(sm->series[ser]);
	free(sm->hello);
}

/* Start doctord in tmp, run, stop it (it must exit 0), report. */
static int bench(const struct options *o, const char *tmp, struct samples *sm)
{
	struct session s = { .sub = { .fd = -1 }, .src = { .fd = -1 } };
	char config_path[PATH_LEN];
	pid_t pid = 0;
	int rc;

	if ((rc = write_config(tmp, o->settle_ms, config_path)) < 0 ||
	    (rc = daemon_start(o->doctord, tmp, o->plugins, &pid)) < 0 ||
	    (rc = session_open(&s, tmp, config_path, o->plugins)) < 0 ||
	    (rc = run_all(o, &s, sm)) < 0)
		goto out;
	session_close(&s);
	if ((rc = daemon_stop(pid)) < 0)
		goto out;
	rc = report(o, &s, sm);
out:
	session_close(&s);
	return rc;      /* on failure main kills doctord */
}

int main(int argc, char **argv)
{
	struct options o = { .runs = DEFAULT_RUNS, .settle_ms = DEFAULT_SETTLE_MS };
	struct samples sm = { 0 };
	char tmp[TMP_LEN] = "";
	int status = 1;

	bench_name = "rule_latency";
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	install_signals();
	if (samples_alloc(&sm, o.runs) < 0 || make_tmpdir(tmp) < 0)
		goto out;
	if (bench(&o, tmp, &sm) == 0)
		status = 0;
out:
	children_kill();
	if (tmp[0])
		remove_tree(tmp);
	samples_free(&sm);
	return status;
}
