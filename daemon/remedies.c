/*
 * remedies.c - confirmed remedies: run, verify, record, undo (remedies.h).
 *
 * A run is a small state machine over runner.c children:
 *   MAIN (the remedy's argv) -> VERIFY (its verify argv, if any) -> finish
 *   UNDO (the recorded undo argv) -> finish
 * Events go to the client that confirmed (found again by its serial, since
 * it may have left) and to every subscriber.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "pyenv.h"
#include "remedies.h"
#include "rpc.h"
#include "runner.h"


enum run_phase { PHASE_MAIN, PHASE_VERIFY, PHASE_UNDO };

struct remedy_run {
	struct list_head link;       /* in doctord.runs */
	struct doctord *d;           /* borrowed */
	int64_t id, incident;
	uint64_t conn_serial;        /* who confirmed: events go there too */
	int uid, pid;
	json_t *remedy;              /* owned: the stored remedy */
	enum run_phase phase;
	struct runner *runner;       /* current child, NULL between phases */
	json_t *before;              /* owned: distributions before (undo "pip") */
	int exit_code;
	char *output;                /* owned: the main step's output */
	size_t output_len;
	bool timed_out;
};

/* ------------------------------------------------------------ events */

static struct conn *find_conn(struct doctord *d, uint64_t serial)
{
	struct list_head *pos;

	for (pos = d->conns.next; pos != &d->conns; pos = pos->next) {
		struct conn *c = list_entry(pos, struct conn, link);
		if (c->serial == serial)
			return c;
	}
	return NULL;
}

/* To subscribers, and to the confirming client if it is not one. params
 * stolen. */
static void emit(struct remedy_run *run, const char *method, json_t *params)
{
	struct conn *c = find_conn(run->d, run->conn_serial);

	if (!params)
		return;
	if (c && !c->subscribed)
		conn_send(c, rpc_notification(method, json_incref(params)));
	conn_broadcast(run->d, method, params);
}

/* Append to the audit log; detail stolen (may be NULL). */
static void audit(struct doctord *d, int64_t incident, int64_t remedy, const char *event,
                  int uid, int pid, json_t *detail)
{
	if (store_audit(d->st, incident, remedy, event, uid, pid, detail) < 0)
		log_warn("store: cannot write the audit log: %s", store_errmsg(d->st));
	json_decref(detail);
}

/* ------------------------------------------------------------ argv */

/* A JSON array of strings as a NULL-terminated vector of borrowed strings. */
static const char **argv_of(json_t *arr)
{
	size_t n = json_array_size(arr), i;
	const char **v;

	if (n == 0 || !(v = calloc(n + 1, sizeof *v)))
		return NULL;
	for (i = 0; i < n; i++) {
		v[i] = json_string_value(json_array_get(arr, i));
		if (!v[i]) {
			free(v);
			return NULL;
		}
	}
	return v;
}

static int start_child(struct remedy_run *run, json_t *argv, unsigned timeout_s);

/* ------------------------------------------------------------ undo for pip */

static json_t *distributions_of(const char *python)
{
	py_env *env = NULL;
	json_t *dists = NULL;

	if (python && py_env_probe(python, &env) == 0)
		py_env_distributions(env, &dists);
	py_env_free(env);
	return dists;
}

/* [python, -m, pip, uninstall, -y, added...] or NULL if nothing was added. */
static json_t *pip_undo_argv(const char *python, json_t *before, json_t *after)
{
	json_t *argv = json_pack("[s, s, s, s, s]", python, "-m", "pip", "uninstall", "-y");
	json_t *a, *b;
	size_t i, j;
	int added = 0;

	json_array_foreach(after, i, a) {
		const char *name = json_string_value(json_object_get(a, "name"));
		bool known = false;
		json_array_foreach(before, j, b) {
			const char *bn = json_string_value(json_object_get(b, "name"));
			if (name && bn && strcmp(name, bn) == 0) {
				known = true;
				break;
			}
		}
		if (name && !known) {
			json_array_append_new(argv, json_string(name));
			added++;
		}
	}
	if (!added) {
		json_decref(argv);
		return NULL;
	}
	return argv;
}

/* ------------------------------------------------------------ finishing */

static void run_free(struct remedy_run *run)
{
	list_del(&run->link);
	json_decref(run->remedy);
	json_decref(run->before);
	free(run->output);
	free(run);
}

static void finish(struct remedy_run *run, const char *state, int verified)
{
	struct doctord *d = run->d;
	struct store_remedy_result r = { .state = state };
	json_t *undo = NULL, *stored = NULL, *params;
	const char *python = json_string_value(json_array_get(json_object_get(run->remedy, "argv"), 0));
	const char *result = run->timed_out ? "timed_out" : strcmp(state, "failed") == 0 ? "failed" : state;

	if (run->phase != PHASE_UNDO) {
		r.exit_code = &run->exit_code;
		r.output = run->output ? run->output : "";
		r.output_len = run->output_len;
		if (verified >= 0)
			r.verified = &verified;
		if (strcmp(state, "succeeded") == 0 && run->before) {
			json_t *after = distributions_of(python);
			undo = pip_undo_argv(python, run->before, after);
			json_decref(after);
			r.undo_argv = undo;
		} else if (strcmp(state, "succeeded") == 0 &&
		           json_is_array(json_object_get(run->remedy, "undo"))) {
			r.undo_argv = json_object_get(run->remedy, "undo");
		}
	}
	if (store_remedy_update(d->st, run->id, &r) < 0)
		log_error("store: cannot record remedy %lld: %s", (long long)run->id, store_errmsg(d->st));
	audit(d, run->incident, run->id, run->phase == PHASE_UNDO ? "undo_finished" : "finished",
	            -1, -1, json_pack("{s:s, s:i, s:o}", "result", result, "exit_code", run->exit_code,
	                              "verified", verified < 0 ? json_null() : json_boolean(verified)));
	log_info("remedy %lld %s (exit %d)", (long long)run->id, result, run->exit_code);
	store_remedy_get(d->st, run->id, false, &stored);
	params = json_pack("{s:o, s:i, s:o, s:s}", "remedy", stored ? stored : json_null(),
	                   "exit_code", run->exit_code,
	                   "verified", verified < 0 ? json_null() : json_boolean(verified),
	                   "result", result);
	emit(run, "remedy.done", params);
	json_decref(undo);
	run_free(run);
}

static void on_output(void *ud, int stream, const char *data, size_t len)
{
	struct remedy_run *run = ud;
	json_t *text = json_stringn(data, len), *params;

	if (!text) {         /* not valid UTF-8 on its own (a split character) */
		char *fixed = malloc(len + 1);
		size_t i;
		if (!fixed)
			return;
		for (i = 0; i < len; i++)
			fixed[i] = (unsigned char)data[i] < 0x80 ? data[i] : '?';
		text = json_stringn(fixed, len);
		free(fixed);
	}
	params = json_pack("{s:I, s:s, s:s, s:o}", "id", (json_int_t)run->id, "phase",
	                   run->phase == PHASE_MAIN ? "run" : run->phase == PHASE_VERIFY ? "verify" : "undo",
	                   "stream", stream == 2 ? "stderr" : "stdout", "text", text);
	emit(run, "remedy.output", params);
}

static void on_done(void *ud, const struct runner_result *res)
{
	struct remedy_run *run = ud;
	bool ok = res->spawn_error == 0 && res->exit_code == 0;
	json_t *verify = json_object_get(run->remedy, "verify");

	run->runner = NULL;
	if (run->phase == PHASE_UNDO) {
		run->exit_code = res->exit_code;
		finish(run, ok ? "undone" : "succeeded", -1);
		return;
	}
	if (run->phase == PHASE_VERIFY) {
		finish(run, ok ? "succeeded" : "failed", ok);
		return;
	}
	run->exit_code = res->spawn_error ? -1 : res->exit_code;
	run->timed_out = res->timed_out;
	run->output = malloc(res->output_len + 1);
	if (run->output) {
		memcpy(run->output, res->output, res->output_len);
		run->output[res->output_len] = '\0';
		run->output_len = res->output_len;
	}
	if (res->spawn_error)
		log_warn("remedy %lld: cannot run its command: %s", (long long)run->id,
		         strerror(-res->spawn_error));
	if (!ok || !json_is_array(verify) || run->d->stopping) {
		/* shutting down: no new child, not even the verify step */
		finish(run, ok && !run->d->stopping ? "succeeded" : "failed", -1);
		return;
	}
	run->phase = PHASE_VERIFY;
	if (start_child(run, verify, (unsigned)run->d->cfg.remedy_verify_timeout) < 0)
		finish(run, "failed", 0);
}

static int start_child(struct remedy_run *run, json_t *argv, unsigned timeout_s)
{
	const char **v = argv_of(argv);
	struct runner_spec spec = { 0 };
	int rc;

	if (!v)
		return -EINVAL;
	spec.argv = v;
	spec.cwd = json_string_value(json_object_get(run->remedy, "cwd"));
	spec.timeout_ms = timeout_s * 1000;
	rc = runner_start(run->d->loop, &spec, on_output, on_done, run, &run->runner);
	free(v);
	return rc;
}

/* ------------------------------------------------------------ requests */

static struct remedy_run *run_new(struct doctord *d, struct conn *c, json_t *remedy,
                                  enum run_phase phase)
{
	struct remedy_run *run = calloc(1, sizeof *run);

	if (!run)
		return NULL;
	run->d = d;
	run->id = json_integer_value(json_object_get(remedy, "id"));
	run->incident = json_integer_value(json_object_get(remedy, "incident"));
	run->conn_serial = c ? c->serial : 0;
	run->uid = c ? (int)c->uid : -1;
	run->pid = c ? (int)c->pid : -1;
	run->remedy = json_incref(remedy);
	run->phase = phase;
	list_add_tail(&run->link, &d->runs);
	return run;
}

static int transition(struct doctord *d, int64_t id, const char *const *from, const char *to,
                      char **state_out)
{
	char *was = NULL;
	int rc = store_remedy_transition(d->st, id, from, to, &was);

	if (rc == -EALREADY && state_out)
		*state_out = was;
	else
		free(was);
	if (rc == -EALREADY || rc == -ENOENT)
		return rc;
	return rc < 0 ? -EIO : 0;
}

static json_t *would_run(struct doctord *d, json_t *remedy)
{
	json_t *t = json_object_get(remedy, "timeout");

	return json_pack("{s:O, s:O, s:O, s:o}",
		"argv", json_object_get(remedy, "argv"),
		"cwd", json_object_get(remedy, "cwd") ? json_object_get(remedy, "cwd") : json_null(),
		"verify", json_object_get(remedy, "verify") ? json_object_get(remedy, "verify") : json_null(),
		"timeout", json_is_number(t) && json_number_value(t) > 0 ? json_incref(t)
		                                : json_integer(d->cfg.remedy_timeout));
}

int remedy_confirm(struct doctord *d, struct conn *c, int64_t id, bool dry_run,
                   json_t **reply, char **state_out)
{
	static const char *const from[] = { "proposed", "failed", "undone", NULL };
	json_t *remedy = NULL, *timeout;
	struct remedy_run *run;
	int rc = store_remedy_get(d->st, id, false, &remedy);

	if (rc < 0)
		return rc == -ENOENT ? rc : -EIO;
	if (dry_run) {
		audit(d, json_integer_value(json_object_get(remedy, "incident")), id,
		            "dry_run", c ? (int)c->uid : -1, c ? (int)c->pid : -1, NULL);
		*reply = json_pack("{s:o, s:b, s:o}", "remedy", remedy, "dry_run", 1,
		                   "would_run", would_run(d, remedy));
		return *reply ? 0 : -ENOMEM;
	}
	if ((rc = transition(d, id, from, "running", state_out)) < 0) {
		json_decref(remedy);
		return rc;
	}
	json_object_set_new(remedy, "state", json_string("running"));
	audit(d, json_integer_value(json_object_get(remedy, "incident")), id, "confirmed",
	            c ? (int)c->uid : -1, c ? (int)c->pid : -1, json_pack("{s:O}", "argv",
	            json_object_get(remedy, "argv")));
	run = run_new(d, c, remedy, PHASE_MAIN);
	if (run && json_is_string(json_object_get(remedy, "undo")) &&
	    strcmp(json_string_value(json_object_get(remedy, "undo")), "pip") == 0)
		run->before = distributions_of(json_string_value(
			json_array_get(json_object_get(remedy, "argv"), 0)));
	timeout = json_object_get(remedy, "timeout");
	rc = run ? start_child(run, json_object_get(remedy, "argv"),
	                       json_is_number(timeout) && json_number_value(timeout) > 0
	                       ? (unsigned)json_number_value(timeout) : (unsigned)d->cfg.remedy_timeout) : -ENOMEM;
	if (rc < 0) {
		log_error("remedy %lld: cannot start: %s", (long long)id, strerror(-rc));
		if (run) {
			run->exit_code = -1;
			finish(run, "failed", -1);
		} else {
			struct store_remedy_result failed = { .state = "failed" };
			store_remedy_update(d->st, id, &failed);
		}
		json_decref(remedy);
		/* -ENOENT here is its cwd, not the remedy: not "unknown remedy" */
		return rc == -ENOENT ? -ENOTDIR : rc;
	}
	log_info("remedy %lld confirmed by pid %d: running", (long long)id, c ? (int)c->pid : -1);
	*reply = json_pack("{s:o}", "remedy", remedy);
	return 0;
}

int remedy_reject(struct doctord *d, struct conn *c, int64_t id, json_t **reply, char **state_out)
{
	static const char *const from[] = { "proposed", "failed", NULL };
	json_t *remedy = NULL;
	int rc = transition(d, id, from, "rejected", state_out);

	if (rc < 0)
		return rc;
	if (store_remedy_get(d->st, id, false, &remedy) < 0)
		return -EIO;
	audit(d, json_integer_value(json_object_get(remedy, "incident")), id, "rejected",
	            c ? (int)c->uid : -1, c ? (int)c->pid : -1, NULL);
	*reply = json_pack("{s:o}", "remedy", remedy);
	return 0;
}

int remedy_undo(struct doctord *d, struct conn *c, int64_t id, json_t **reply, char **state_out)
{
	static const char *const from[] = { "succeeded", NULL };
	json_t *remedy = NULL, *undo;
	struct remedy_run *run;
	int rc = store_remedy_get(d->st, id, false, &remedy);

	if (rc < 0)
		return rc == -ENOENT ? rc : -EIO;
	undo = json_object_get(remedy, "undo_argv");
	if (!json_is_array(undo) || json_array_size(undo) == 0) {
		if (state_out)
			*state_out = strdup("nothing to undo");
		json_decref(remedy);
		return -EALREADY;
	}
	if ((rc = transition(d, id, from, "undoing", state_out)) < 0) {
		json_decref(remedy);
		return rc;
	}
	json_object_set_new(remedy, "state", json_string("undoing"));
	audit(d, json_integer_value(json_object_get(remedy, "incident")), id, "undo",
	            c ? (int)c->uid : -1, c ? (int)c->pid : -1, json_pack("{s:O}", "argv", undo));
	run = run_new(d, c, remedy, PHASE_UNDO);
	rc = run ? start_child(run, undo, (unsigned)d->cfg.remedy_timeout) : -ENOMEM;
	if (rc < 0) {
		if (run)
			finish(run, "succeeded", -1);
		json_decref(remedy);
		return rc;
	}
	*reply = json_pack("{s:o}", "remedy", remedy);
	return 0;
}

void remedies_cancel_all(struct doctord *d)
{
	struct list_head *pos;

	for (pos = d->runs.next; pos != &d->runs; pos = pos->next) {
		struct remedy_run *run = list_entry(pos, struct remedy_run, link);
		if (run->runner)
			runner_cancel(run->runner);
	}
}
