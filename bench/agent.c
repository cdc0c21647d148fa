/*
 * agent.c - what doctord's agent adds to an LLM's own time, per turn, and
 * whether ingestion stalls while many diagnoses run.
 *
 * Everything runs against the local OpenAI-compatible test server
 * (tests/servers/openai_server.py) over loopback, playing scripts this
 * bench writes into its temporary directory, and one doctord whose config
 * names that server (agent.enabled false: only `explain` starts a run, so
 * nothing else talks to the server).
 *
 * 1. Per turn. An incident is made with source.error; each run is an
 *    `explain {fresh: true}` of it, timed from the request to its
 *    diagnosis.done. The script is three turns: search_docs twice (no index:
 *    an instant answer on a worker thread), then a final answer, streamed.
 *    So a run is three requests plus everything doctord does around them:
 *    the prompt, redaction, the requests and streamed answers on curl's
 *    multi interface, tool calls, the trace written to SQLite, the
 *    notifications. The baseline replays the very request bodies doctord
 *    sent (read from the server's log) with libcurl's easy interface, one
 *    after the other on one kept-alive connection, reading each streamed
 *    answer to its end: the same server work with no agent around it.
 *    Reported per turn (a run / 3): doctord's p50 and p99, the plain
 *    client's, their ratio and the difference (doctord's own time).
 *
 * 2. Ingestion under load. A source streams --mib MiB of log lines (no
 *    errors) as source.write notifications of 16 KiB, timed until the
 *    source.close reply: once alone (baseline), once right after 50
 *    `explain` requests for 50 different incidents whose model answers
 *    after 0.5 s (so all 50 are in flight while the output streams). The
 *    longest time one send() waited (the daemon not reading) is reported
 *    for both, with the throughput ratio; all 50 diagnoses must end done.
 *
 * Exits non-zero when anything fails, a diagnosis does not end done, or
 * doctord does not exit 0 on SIGTERM. Every child is killed on failure and
 * the temporary directory removed.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define TURNS 3                 /* requests per run of the "turns" script */
#define LOADED 50               /* diagnoses in flight during the second part */
#define WRITE_BYTES 16384

struct options {
	const char *doctord, *server;
	unsigned runs, mib;
	bool json;
};

struct stats {
	double p50, p99, mean;
};

static pid_t server_pid = -1;

/* ------------------------------------------------------------ the server */

static void server_stop(void)
{
	int status;

	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, &status, 0);
		server_pid = -1;
	}
}

/* python3 SERVER --scripts DIR --log LOG; its "PORT n" line read. */
static int server_start(const char *script, const char *dir, int *port)
{
	char scripts[PATH_LEN], log[PATH_LEN], line[64];
	pid_t parent = getpid();
	struct pollfd pfd;
	size_t len = 0;
	ssize_t r;
	int fds[2];

	snprintf(scripts, sizeof scripts, "%s/scripts", dir);
	snprintf(log, sizeof log, "%s/server.log", dir);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return fail(-errno, "pipe: %s", strerror(errno));
	fflush(NULL);
	server_pid = fork();
	if (server_pid < 0)
		return fail(-errno, "fork: %s", strerror(errno));
	if (server_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(fds[1], STDOUT_FILENO);
		execlp("python3", "python3", script, "--scripts", scripts, "--log", log,
		       (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	pfd = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	while (len < sizeof line - 1 && !memchr(line, '\n', len)) {
		if (poll(&pfd, 1, START_TIMEOUT_MS) <= 0 ||
		    (r = read(fds[0], line + len, sizeof line - 1 - len)) <= 0)
			break;
		len += (size_t)r;
	}
	close(fds[0]);
	line[len] = '\0';
	if (sscanf(line, "PORT %d", port) != 1)
		return fail(-EIO, "the test server did not start (%s)", script);
	return 0;
}

/* ------------------------------------------------------------ files */

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		return fail(-EIO, "cannot write %s", path);
	return 0;
}

static int write_scripts(const char *dir)
{
	char path[PATH_LEN];
	int rc;

	snprintf(path, sizeof path, "%s/scripts", dir);
	if (mkdir(path, 0700) < 0)
		return fail(-errno, "mkdir %s: %s", path, strerror(errno));
	snprintf(path, sizeof path, "%s/scripts/turns.json", dir);
	rc = write_file(path,
		"{\"description\": \"bench: two tool turns and an answer\", \"after\": \"cycle\",\n"
		" \"turns\": [\n"
		"  {\"tool_calls\": [{\"name\": \"search_docs\", \"arguments\": {\"query\": \"object"
		" store full\"}}], \"usage\": {\"prompt_tokens\": 900, \"completion_tokens\": 20}},\n"
		"  {\"tool_calls\": [{\"name\": \"search_docs\", \"arguments\": {\"query\": \"spilling"
		" objects to disk\"}}], \"usage\": {\"prompt_tokens\": 1100, \"completion_tokens\": 20}},\n"
		"  {\"content\": \"The object store is full and Ray spills objects to disk.\\n\\nRaise"
		" object_store_memory or free references sooner; spilling is slow but not an error."
		" Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor"
		" incididunt ut labore et dolore magna aliqua.\", \"usage\": {\"prompt_tokens\":"
		" 1300, \"completion_tokens\": 60}}\n"
		" ]}\n");
	if (rc < 0)
		return rc;
	snprintf(path, sizeof path, "%s/scripts/slow.json", dir);
	return write_file(path,
		"{\"description\": \"bench: one answer after half a second\", \"after\": \"cycle\",\n"
		" \"turns\": [{\"content\": \"A slow model's answer.\", \"delay\": 0.5}]}\n");
}

static int write_config(const char *dir, int port, const char *model)
{
	char path[PATH_LEN], text[1024];

	snprintf(path, sizeof path, "%s/config", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/config/doctor", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/config/doctor/doctor.yaml", dir);
	snprintf(text, sizeof text,
		 "llm:\n  base_url: http://127.0.0.1:%d/v1\n  model: \"%s\"\n"
		 "  api_key_env: null\n  stream: true\n"
		 "agent:\n  enabled: false\n  cache: false\n  max_steps: 8\n", port, model);
	return write_file(path, text);
}

/* ------------------------------------------------------------ JSON-RPC */

static json_int_t next_id;

static int send_json(struct peer *c, json_t *msg)
{
	char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	size_t len = text ? strlen(text) : 0;
	int rc;

	json_decref(msg);
	if (!text)
		return fail(-ENOMEM, "cannot encode a message");
	text[len] = '\n';
	rc = peer_send(c, text, len + 1);
	free(text);
	return rc;
}

/* Send a request; its id in *id. params stolen. */
static int request(struct peer *c, const char *method, json_t *params, json_int_t *id)
{
	*id = ++next_id;
	return send_json(c, json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", *id,
				      "method", method, "params", params));
}

static int call(struct peer *c, const char *method, json_t *params, json_t **result)
{
	json_int_t id;
	json_t *res = NULL;
	int rc = request(c, method, params, &id);

	if (rc == 0)
		rc = rpc_await(c, id, NULL, &res);
	if (rc == 0 && result)
		*result = res;
	else
		json_decref(res);
	return rc;
}

/* An incident for ename (no source): its id. */
static int make_incident(struct peer *c, const char *ename, json_int_t *incident)
{
	json_t *res = NULL;
	int rc = call(c, "source.error", json_pack("{s:s, s:s}", "ename", ename, "evalue",
						   "bench: an error no plugin knows"), &res);

	if (rc == 0)
		*incident = json_integer_value(json_object_get(res, "incident"));
	json_decref(res);
	return rc == 0 && *incident <= 0 ? fail(-EPROTO, "source.error gave no incident") : rc;
}

/* Wait for the diagnosis.done of run; its state must be done. */
static int await_done(struct peer *c, json_int_t run)
{
	json_t *p = NULL;
	const char *state;
	int rc;

	for (;;) {
		rc = rpc_await(c, 0, "diagnosis.done", &p);
		if (rc < 0)
			return rc;
		if (json_integer_value(json_object_get(p, "run")) == run)
			break;
		json_decref(p);
	}
	state = json_string_value(json_object_get(p, "state"));
	rc = state && strcmp(state, "done") == 0 ? 0 :
		fail(-EPROTO, "run %lld ended %s: %s", (long long)run, state ? state : "?",
		     json_string_value(json_object_get(p, "error")) ?: "");
	json_decref(p);
	return rc;
}

/* ------------------------------------------------------------ part 1 */

static int stats_of(double *v, size_t n, struct stats *st)
{
	double sum = 0;
	size_t i;

	if (n == 0)
		return fail(-EINVAL, "no samples");
	qsort(v, n, sizeof(*v), compare_doubles);
	for (i = 0; i < n; i++)
		sum += v[i];
	st->p50 = v[n / 2];
	st->p99 = v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
	st->mean = sum / (double)n;
	return 0;
}

/* The last `count` chat requests the server logged, as body texts. */
static int logged_bodies(const char *dir, char **bodies, size_t count)
{
	char path[PATH_LEN], *line = NULL;
	size_t cap = 0, n = 0, i;
	json_t *e;
	char **all = NULL;
	FILE *f;

	snprintf(path, sizeof path, "%s/server.log", dir);
	f = fopen(path, "r");
	if (!f)
		return fail(-errno, "cannot read %s", path);
	while (getline(&line, &cap, f) > 0) {
		e = json_loads(line, 0, NULL);
		if (e && strcmp(json_string_value(json_object_get(e, "path")) ?: "",
				"/v1/chat/completions") == 0) {
			all = realloc(all, (n + 1) * sizeof(*all));
			if (!all)
				break;
			all[n++] = json_dumps(json_object_get(e, "body"), JSON_COMPACT);
		}
		json_decref(e);
	}
	free(line);
	fclose(f);
	if (!all || n < count) {
		free(all);
		return fail(-EPROTO, "the server logged %zu chat requests, fewer than %zu", n, count);
	}
	for (i = 0; i < n; i++) {
		if (i >= n - count)
			bodies[i - (n - count)] = all[i];
		else
			free(all[i]);
	}
	free(all);
	return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	*(size_t *)ud += size * n;
	return size * n;
}

/* One run's requests replayed with curl easy, *seconds the sum. */
static int plain_run(CURL *h, const char *url, char **bodies, double *seconds)
{
	struct curl_slist *hdr = NULL;
	size_t got, i;
	long status = 0;
	double t0 = now();
	CURLcode cc = CURLE_OK;

	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "Accept: text/event-stream");
	for (i = 0; i < TURNS && cc == CURLE_OK; i++) {
		got = 0;
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, bodies[i]);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
		cc = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (cc == CURLE_OK && (status != 200 || got == 0))
			cc = CURLE_HTTP_RETURNED_ERROR;
	}
	*seconds = now() - t0;
	curl_slist_free_all(hdr);
	return cc == CURLE_OK ? 0 : fail(-EIO, "plain request failed: %s (HTTP %ld)",
					 curl_easy_strerror(cc), status);
}

static int part_turns(const struct options *o, struct peer *c, const char *dir, int port,
		      double *daemon_s, double *plain_s)
{
	char url[128], *bodies[TURNS] = { 0 };
	json_int_t incident = 0, id;
	json_t *res = NULL;
	unsigned i;
	CURL *h;
	int rc = make_incident(c, "bench.ObjectStoreFullError", &incident);

	for (i = 0; rc == 0 && i < o->runs + 1; i++) {
		double t0 = now();

		rc = request(c, "explain", json_pack("{s:I, s:b}", "id", incident, "fresh", 1), &id);
		if (rc == 0)
			rc = rpc_await(c, id, NULL, &res);
		if (rc == 0)
			rc = await_done(c, json_integer_value(json_object_get(res, "run")));
		json_decref(res);
		res = NULL;
		if (i > 0)                 /* the first warms the connection */
			daemon_s[i - 1] = (now() - t0) / TURNS;
	}
	if (rc == 0)
		rc = logged_bodies(dir, bodies, TURNS);
	h = rc == 0 ? curl_easy_init() : NULL;
	if (rc == 0 && !h)
		rc = fail(-ENOMEM, "curl_easy_init failed");
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", port);
	for (i = 0; rc == 0 && i < o->runs + 1; i++) {
		double s = 0;

		rc = plain_run(h, url, bodies, &s);
		if (i > 0)
			plain_s[i - 1] = s / TURNS;
	}
	if (h)
		curl_easy_cleanup(h);
	for (i = 0; i < TURNS; i++)
		free(bodies[i]);
	return rc;
}

/* ------------------------------------------------------------ part 2 */

/* mib MiB of log lines without an error, in WRITE_BYTES pieces. */
static char *payload(unsigned mib, size_t *len)
{
	size_t n = (size_t)mib << 20, o = 0;
	char *p = malloc(n + 256);
	unsigned long i = 0;

	if (!p)
		return NULL;
	while (o < n)
		o += (size_t)sprintf(p + o, "2026-11-27 10:%02lu:%02lu INFO step %lu loss=%.4f"
				     " lr=0.0003 throughput=%lu samples/s\n", (i / 60) % 60, i % 60,
				     i, 1.0 / (double)(i + 1), 1000 + i % 977), i++;
	*len = o;
	return p;
}

/* Stream text through a new source; *seconds until source.close's reply,
 * *stall the longest single send. */
static int ingest(struct peer *c, const char *text, size_t len, double *seconds, double *stall)
{
	json_t *res = NULL;
	json_int_t source;
	size_t o = 0, n;
	double t0, t;
	char *piece;
	int rc;

	rc = call(c, "source.open", json_pack("{s:s, s:s}", "kind", "log", "name", "bench-ingest"),
		  &res);
	source = json_integer_value(json_object_get(res, "source"));
	json_decref(res);
	if (rc < 0)
		return rc;
	*stall = 0;
	t0 = now();
	while (rc == 0 && o < len) {
		n = len - o < WRITE_BYTES ? len - o : WRITE_BYTES;
		while (n < len - o && text[o + n - 1] != '\n')
			n++;                    /* whole lines, so the JSON stays valid UTF-8 */
		piece = strndup(text + o, n);
		t = now();
		rc = piece ? send_json(c, json_pack("{s:s, s:s, s:{s:I, s:s}}", "jsonrpc", "2.0",
						    "method", "source.write", "params", "source",
						    source, "text", piece)) : -ENOMEM;
		t = now() - t;
		if (t > *stall)
			*stall = t;
		free(piece);
		o += n;
	}
	if (rc == 0)
		rc = call(c, "source.close", json_pack("{s:I}", "source", source), NULL);
	*seconds = now() - t0;
	return rc;
}

static int part_load(const struct options *o, struct peer *src, struct peer *ctl,
		     double *base_s, double *base_stall, double *load_s, double *load_stall,
		     double *diag_s)
{
	json_int_t incidents[LOADED], runs[LOADED], ids[LOADED];
	char ename[64], *text;
	size_t len = 0;
	json_t *res = NULL;
	unsigned i, done;
	double t0;
	int rc = 0;

	text = payload(o->mib, &len);
	if (!text)
		return fail(-ENOMEM, "no memory for the payload");
	for (i = 0; rc == 0 && i < LOADED; i++) {
		snprintf(ename, sizeof ename, "bench.Kind%c%cError", 'a' + i / 26, 'a' + i % 26);
		rc = make_incident(ctl, ename, &incidents[i]);
	}
	if (rc == 0)
		rc = ingest(src, text, len, base_s, base_stall);
	t0 = now();
	for (i = 0; rc == 0 && i < LOADED; i++)
		rc = request(ctl, "explain", json_pack("{s:I, s:b}", "id", incidents[i], "fresh", 1),
			     &ids[i]);
	for (i = 0; rc == 0 && i < LOADED; i++) {
		rc = rpc_await(ctl, ids[i], NULL, &res);
		runs[i] = json_integer_value(json_object_get(res, "run"));
		json_decref(res);
		res = NULL;
	}
	if (rc == 0)
		rc = ingest(src, text, len, load_s, load_stall);
	/* the runs end in any order: count the distinct ones seen done */
	for (done = 0; rc == 0 && done < LOADED;) {
		rc = rpc_await(ctl, 0, "diagnosis.done", &res);
		for (i = 0; rc == 0 && i < LOADED; i++)
			if (runs[i] == json_integer_value(json_object_get(res, "run")))
				break;
		if (rc == 0 && i < LOADED) {
			const char *state = json_string_value(json_object_get(res, "state"));

			if (!state || strcmp(state, "done") != 0)
				rc = fail(-EPROTO, "run %lld ended %s", (long long)runs[i],
					  state ? state : "?");
			runs[i] = 0;
			done++;
		}
		json_decref(res);
		res = NULL;
	}
	*diag_s = now() - t0;
	free(text);
	if (rc == 0 && done != LOADED)
		rc = fail(-EPROTO, "%u of %d diagnoses ended", done, LOADED);
	return rc;
}

/* ------------------------------------------------------------ main */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bench/agent --doctord PATH --server PATH [--runs N] [--mib N] [--json]\n\n"
		"Time doctord's agent per LLM turn against a plain HTTP client making the same\n"
		"requests to the same local test server, and ingestion while %d diagnoses run.\n\n"
		"  --doctord PATH  the daemon to measure (default ./doctord)\n"
		"  --server PATH   tests/servers/openai_server.py\n"
		"  --runs N        explain runs of three turns (default 30)\n"
		"  --mib N         MiB of output streamed in the ingestion part (default 32)\n"
		"  --json          one JSON object instead of the table\n", LOADED);
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longs[] = {
		{ "doctord", required_argument, NULL, 'd' }, { "server", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' }, { "mib", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*o = (struct options){ .doctord = "./doctord", .runs = 30, .mib = 32 };
	while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (ch) {
		case 'd': o->doctord = optarg; break;
		case 's': o->server = optarg; break;
		case 'r': if (parse_count("--runs", optarg, 1, 10000, &o->runs) < 0) return -EINVAL; break;
		case 'm': if (parse_count("--mib", optarg, 1, 4096, &o->mib) < 0) return -EINVAL; break;
		case 'j': o->json = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (!o->server) {
		usage(stderr);
		return fail(-EINVAL, "--server is required");
	}
	return 0;
}

static void report(const struct options *o, const struct stats *d, const struct stats *p,
		   double base_s, double base_stall, double load_s, double load_stall,
		   double diag_s)
{
	double mib = (double)o->mib, bt = mib / base_s, lt = mib / load_s;

	if (o->json) {
		json_t *j = json_pack("{s:{s:i, s:{s:f, s:f, s:f}, s:{s:f, s:f, s:f}, s:f},"
				      " s:{s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f}}",
			"turn", "runs", (int)o->runs,
			"doctord_ms", "p50", d->p50 * 1e3, "p99", d->p99 * 1e3, "mean", d->mean * 1e3,
			"plain_ms", "p50", p->p50 * 1e3, "p99", p->p99 * 1e3, "mean", p->mean * 1e3,
			"ratio_p50", d->p50 / p->p50,
			"ingest", "mib", (int)o->mib, "diagnoses", LOADED, "alone_mib_s", bt,
			"loaded_mib_s", lt, "ratio", lt / bt, "alone_max_send_ms", base_stall * 1e3,
			"loaded_max_send_ms", load_stall * 1e3, "diagnoses_s", diag_s);
		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
		return;
	}
	printf("agent bench: %u runs of %d turns; %u MiB streamed with %d diagnoses in flight\n",
	       o->runs, TURNS, o->mib, LOADED);
	printf("%-34s %12s %12s %9s\n", "", "doctord", "plain curl", "ratio");
	printf("%-34s %12.3f %12.3f %8.2fx\n", "per turn p50 (ms)", d->p50 * 1e3, p->p50 * 1e3,
	       d->p50 / p->p50);
	printf("%-34s %12.3f %12.3f %8.2fx\n", "per turn p99 (ms)", d->p99 * 1e3, p->p99 * 1e3,
	       d->p99 / p->p99);
	printf("%-34s %12.3f\n", "doctord's own time per turn (ms)", (d->p50 - p->p50) * 1e3);
	printf("%-34s %12s %12s %9s\n", "", "alone", "50 running", "ratio");
	printf("%-34s %12.1f %12.1f %8.2fx\n", "ingestion (MiB/s)", bt, lt, lt / bt);
	printf("%-34s %12.1f %12.1f\n", "longest send wait (ms)", base_stall * 1e3,
	       load_stall * 1e3);
	printf("%-34s %12.2f\n", "50 diagnoses done in (s)", diag_s);
}

int main(int argc, char **argv)
{
	struct options o;
	struct peer c = { .fd = -1 }, ctl = { .fd = -1 };
	char tmp[TMP_LEN], sock[PATH_LEN];
	double *dv = NULL, *pv = NULL, base_s = 0, base_stall = 0, load_s = 0, load_stall = 0;
	double diag_s = 0;
	struct stats ds, ps;
	pid_t daemon = -1;
	int port = 0, rc;

	bench_name = "bench/agent";
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	install_signals();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return fail(1, "curl_global_init failed");
	dv = calloc(o.runs, sizeof(*dv));
	pv = calloc(o.runs, sizeof(*pv));
	rc = dv && pv ? make_tmpdir(tmp) : fail(-ENOMEM, "no memory");
	if (rc == 0)
		rc = write_scripts(tmp);
	if (rc == 0)
		rc = server_start(o.server, tmp, &port);
	if (rc == 0)
		rc = write_config(tmp, port, "script:turns");
	if (rc == 0)
		rc = daemon_start(o.doctord, tmp, NULL, &daemon);
	snprintf(sock, sizeof sock, "%s/s.sock", tmp);
	if (rc == 0)
		rc = peer_connect(&c, sock);
	if (rc == 0)
		rc = part_turns(&o, &c, tmp, port, dv, pv);
	if (rc == 0)
		rc = write_config(tmp, port, "script:slow");
	if (rc == 0)
		rc = call(&c, "reload", json_object(), NULL);
	if (rc == 0)
		rc = peer_connect(&ctl, sock);
	if (rc == 0)
		rc = part_load(&o, &c, &ctl, &base_s, &base_stall, &load_s, &load_stall, &diag_s);
	peer_close(&c);
	peer_close(&ctl);
	if (daemon > 0 && (rc == 0 || !interrupted)) {
		int stop = daemon_stop(daemon);

		rc = rc == 0 ? stop : rc;
	}
	if (rc == 0)
		rc = stats_of(dv, o.runs, &ds);
	if (rc == 0)
		rc = stats_of(pv, o.runs, &ps);
	if (rc == 0)
		report(&o, &ds, &ps, base_s, base_stall, load_s, load_stall, diag_s);
	children_kill();
	server_stop();
	if (tmp[0])
		remove_tree(tmp);
	free(dv);
	free(pv);
	curl_global_cleanup();
	return rc == 0 ? 0 : 1;
}
