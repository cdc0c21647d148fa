/*
 * agent_follow.c - the agent's runs of `doctor run`'s incidents, kept from
 * a subscription and printed as they are written (see agent_follow.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent_follow.h"
#include "doctor.h"

/* What one run said. */
struct kept_run {
	json_int_t run, incident;
	char *model;                /* owned; NULL until diagnosis.started */
	bool started, cached;       /* diagnosis.started seen */
	char *text;                 /* owned; what the model wrote so far */
	size_t len, cap;
	bool cut;                   /* text beyond AGENT_FOLLOW_TEXT_MAX dropped */
	json_t *done;               /* diagnosis.done's params; owned */
	bool selected;              /* one of the command's incidents */
	bool said_start, said_cut, said_done;
	size_t printed;             /* bytes of text printed */
	bool streamed;              /* some of its text was printed */
	json_t *retries;            /* diagnosis.retry params not yet printed; owned */
};

struct agent_follow {
	struct rpc_client *rpc;     /* owned; subscribed */
	struct kept_run runs[AGENT_FOLLOW_RUNS_MAX];
	size_t nruns;
	json_t *incidents;          /* {"ID": true}: the command's; owned; NULL
	                               until agent_follow_select */
};

static void run_clear(struct kept_run *k)
{
	free(k->model);
	free(k->text);
	json_decref(k->done);
	json_decref(k->retries);
	memset(k, 0, sizeof(*k));
}

void agent_follow_free(struct agent_follow *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->nruns; i++)
		run_clear(&f->runs[i]);
	rpc_client_free(f->rpc);
	json_decref(f->incidents);
	free(f);
}

int agent_follow_fd(const struct agent_follow *f)
{
	return rpc_client_fd(f->rpc);
}

static bool is_selected_incident(const struct agent_follow *f, json_int_t incident)
{
	char key[32];

	if (!f->incidents)
		return false;
	snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, incident);
	return json_object_get(f->incidents, key) != NULL;
}

/* The entry of run, made (the oldest forgotten when full) if create. */
static struct kept_run *run_of(struct agent_follow *f, json_int_t run, json_int_t incident,
                               bool create)
{
	struct kept_run *k;
	size_t i;

	for (i = 0; i < f->nruns; i++)
		if (f->runs[i].run == run)
			return &f->runs[i];
	if (!create || run <= 0)
		return NULL;
	if (f->nruns == AGENT_FOLLOW_RUNS_MAX) {
		/* forget the oldest that is not one of ours */
		for (i = 0; i < f->nruns && f->runs[i].selected; i++)
			;
		if (i == f->nruns)
			return NULL;
		run_clear(&f->runs[i]);
		memmove(&f->runs[i], &f->runs[i + 1], (f->nruns - i - 1) * sizeof(f->runs[0]));
		f->nruns--;
		memset(&f->runs[f->nruns], 0, sizeof(f->runs[0]));
	}
	k = &f->runs[f->nruns++];
	k->run = run;
	k->incident = incident;
	k->selected = is_selected_incident(f, incident);
	return k;
}

static void keep_text(struct kept_run *k, const char *text)
{
	size_t n = text ? strlen(text) : 0, cap;
	char *grown;

	if (n == 0 || k->cut)
		return;
	if (k->len + n > AGENT_FOLLOW_TEXT_MAX) {
		k->cut = true;
		return;
	}
	if (k->len + n + 1 > k->cap) {
		cap = k->cap ? k->cap : 1024;
		while (cap < k->len + n + 1)
			cap *= 2;
		if (!(grown = realloc(k->text, cap))) {
			k->cut = true;
			return;
		}
		k->text = grown;
		k->cap = cap;
	}
	memcpy(k->text + k->len, text, n + 1);
	k->len += n;
}

/* A retry that discards the turn's text: what was kept goes, and what was
 * printed is followed by a note (agent_view_retry). */
static void take_retry(struct kept_run *k, json_t *params)
{
	if (!k->retries)
		k->retries = json_array();
	if (k->selected && k->retries)
		json_array_append(k->retries, params);
	if (json_is_true(json_object_get(params, "discard"))) {
		k->len = 0;
		k->printed = 0;
		k->cut = false;
		if (k->text)
			k->text[0] = '\0';
	}
}

/* Keep what the agent's notifications say; others are not ours. */
static void on_event(const char *method, json_t *params, void *data)
{
	struct agent_follow *f = data;
	json_int_t run = json_integer_value(json_object_get(params, "run"));
	json_int_t incident = json_integer_value(json_object_get(params, "incident"));
	const char *model;
	struct kept_run *k;

	if (strncmp(method, "diagnosis.", 10) != 0 || run <= 0)
		return;             /* a plugins' diagnosis.done has no run */
	if (!(k = run_of(f, run, incident, true)))
		return;
	if (strcmp(method, "diagnosis.started") == 0) {
		model = json_string_value(json_object_get(params, "model"));
		k->started = true;
		k->cached = json_is_true(json_object_get(params, "cached"));
		free(k->model);
		k->model = model ? strdup(model) : NULL;
	} else if (strcmp(method, "diagnosis.delta") == 0) {
		keep_text(k, json_string_value(json_object_get(params, "text")));
	} else if (strcmp(method, "diagnosis.retry") == 0) {
		take_retry(k, params);
	} else if (strcmp(method, "diagnosis.done") == 0 && !k->done) {
		k->done = json_incref(params);
	}
}

int agent_follow_open(const char *socket_path, int timeout_ms, struct agent_follow **out)
{
	struct agent_follow *f = calloc(1, sizeof(*f));
	json_t *status = NULL, *agent, *result = NULL;
	int rc;

	*out = NULL;
	if (!f)
		return -ENOMEM;
	if ((rc = rpc_client_connect(socket_path, &f->rpc)) < 0)
		goto fail;
	rpc_client_set_timeout(f->rpc, timeout_ms);
	if ((rc = rpc_client_call(f->rpc, "status", NULL, &status, NULL)) < 0)
		goto fail;
	agent = json_object_get(status, "agent");
	if (!json_is_true(json_object_get(agent, "configured")) ||
	    !json_is_true(json_object_get(agent, "enabled"))) {
		rc = -ENOTSUP;
		goto fail;
	}
	rpc_client_on_notify(f->rpc, on_event, f);
	if ((rc = rpc_client_call(f->rpc, "subscribe", json_object(), &result, NULL)) < 0)
		goto fail;
	json_decref(status);
	json_decref(result);
	*out = f;
	return 0;
fail:
	json_decref(status);
	json_decref(result);
	agent_follow_free(f);
	return rc;
}

int agent_follow_read(struct agent_follow *f)
{
	json_t *msg;
	int rc, next;

	rc = rpc_client_receive(f->rpc);
	for (;;) {
		next = rpc_client_next(f->rpc, &msg);
		if (next < 0)
			return next;
		if (!msg)
			break;
		rpc_client_dispatch(f->rpc, msg);   /* a stray reply is dropped */
		json_decref(msg);
	}
	return rc == -EAGAIN ? 0 : rc;
}

/* incident.get's runs of incident that are still running. */
static void select_running(struct agent_follow *f, json_t *incident_id)
{
	json_t *result = NULL, *runs, *run;
	struct kept_run *k;
	const char *state;
	size_t i;

	if (rpc_client_call(f->rpc, "incident.get", json_pack("{s:O}", "id", incident_id),
	                    &result, NULL) < 0)
		return;
	runs = json_object_get(json_object_get(result, "incident"), "runs");
	json_array_foreach(runs, i, run) {
		state = json_string_value(json_object_get(run, "state"));
		if (!state || strcmp(state, "running") != 0)
			continue;
		k = run_of(f, json_integer_value(json_object_get(run, "id")),
		           json_integer_value(incident_id), true);
		if (k && !k->model && json_is_string(json_object_get(run, "model")))
			k->model = strdup(json_string_value(json_object_get(run, "model")));
	}
	json_decref(result);
}

size_t agent_follow_select(struct agent_follow *f, const json_t *incidents)
{
	const json_t *inc;
	size_t i, n = 0;
	char key[32];

	json_decref(f->incidents);
	f->incidents = json_object();
	if (!f->incidents)
		return 0;
	json_array_foreach(incidents, i, inc) {
		snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT,
		         json_integer_value(json_object_get(inc, "id")));
		json_object_set_new(f->incidents, key, json_true());
	}
	for (i = 0; i < f->nruns; i++)
		f->runs[i].selected = is_selected_incident(f, f->runs[i].incident);
	json_array_foreach(incidents, i, inc)
		select_running(f, json_object_get(inc, "id"));
	for (i = 0; i < f->nruns; i++)
		n += f->runs[i].selected;
	return n;
}

static size_t nselected(const struct agent_follow *f)
{
	size_t i, n = 0;

	for (i = 0; i < f->nruns; i++)
		n += f->runs[i].selected;
	return n;
}

static void print_run(struct kept_run *k, struct agent_view_stream *s, bool label)
{
	json_t *retry;
	char *line;
	size_t i;

	if (!k->said_start && (k->started || k->done)) {
		agent_view_end_line(s);
		if (k->cached)
			doctor_msg("#%" JSON_INTEGER_FORMAT ": %s answers from the cache", k->incident,
			           k->model ? k->model : "the LLM");
		else
			doctor_msg("#%" JSON_INTEGER_FORMAT ": asking %s (run %" JSON_INTEGER_FORMAT
			           "; Ctrl-C stops waiting, not the diagnosis)...", k->incident,
			           k->model ? k->model : "the LLM", k->run);
		k->said_start = true;
	}
	json_array_foreach(k->retries, i, retry)
		agent_view_retry(s, retry);
	json_array_clear(k->retries);
	if (k->len > k->printed) {
		agent_view_text(s, k->incident, k->run, k->text + k->printed, label);
		k->printed = k->len;
		k->streamed = true;
	}
	if (k->cut && !k->said_cut) {
		agent_view_end_line(s);
		fprintf(s->out, "[... the rest of the text is not shown here: doctor show %"
		        JSON_INTEGER_FORMAT "]\n", k->incident);
		k->said_cut = true;
	}
	if (k->done && !k->said_done) {
		agent_view_end_line(s);
		line = agent_view_done(k->done, false);
		doctor_msg("%s", line ? line : "a diagnosis ended");
		free(line);
		k->said_done = true;
	}
}

void agent_follow_print(struct agent_follow *f, struct agent_view_stream *s)
{
	bool label = nselected(f) > 1;
	size_t i;

	for (i = 0; i < f->nruns; i++)
		if (f->runs[i].selected)
			print_run(&f->runs[i], s, label);
}

bool agent_follow_pending(const struct agent_follow *f)
{
	return agent_follow_pending_incident(f) != 0;
}

json_int_t agent_follow_pending_incident(const struct agent_follow *f)
{
	size_t i;

	for (i = 0; i < f->nruns; i++)
		if (f->runs[i].selected && !f->runs[i].done)
			return f->runs[i].incident;
	return 0;
}

bool agent_follow_streamed(const struct agent_follow *f, json_int_t run)
{
	size_t i;

	for (i = 0; i < f->nruns; i++)
		if (f->runs[i].run == run)
			return f->runs[i].streamed;
	return false;
}
