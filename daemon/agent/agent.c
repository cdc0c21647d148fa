/*
 * agent.c - the agent's life (redactor, runs in flight; the LLM client is
 * doctord's) and the start, lookup and cancellation of runs (see agent.h,
 * agent_loop.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_loop.h"
#include "doctord.h"
#include "log.h"
#include "redact.h"

/* ------------------------------------------------------------ life */

int agent_new(struct doctord *d, struct agent **out)
{
	struct agent *a = calloc(1, sizeof(*a));
	int rc;

	if (!a)
		return -ENOMEM;
	a->d = d;
	a->llm = d->llm;
	list_init(&a->runs);
	if (!a->llm)
		rc = -EINVAL;
	else if ((rc = redactor_new(&a->redactor)) == 0)
		rc = redactor_add_env(a->redactor, environ);
	if (rc < 0) {
		redactor_free(a->redactor);
		free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void agent_stop(struct agent *a)
{
	struct list_head *pos, *tmp;

	if (!a || a->stopping)
		return;
	a->stopping = true;
	if (a->nruns)
		log_info("agent: cancelling %u diagnos%s in flight", a->nruns,
		         a->nruns == 1 ? "is" : "es");
	list_for_each_safe(pos, tmp, &a->runs)
		run_cancel(list_entry(pos, struct agent_run, link));
	/* No new call; one still running ends with its done callback (which
	 * only drops its reference), cancelled now or when doctord_stop closes
	 * the client. */
	a->llm = NULL;
}

void agent_free(struct agent *a)
{
	if (!a)
		return;
	if (a->nruns)
		log_error("agent: %u runs still in flight at exit", a->nruns);
	redactor_free(a->redactor);
	free(a);
}

bool agent_configured(const struct doctord *d)
{
	return config_llm_configured(&d->cfg.llm);
}

bool agent_enabled(const struct doctord *d)
{
	return d->agent && agent_configured(d) && d->cfg.agent.enabled;
}

/* ------------------------------------------------------------ runs */

static void run_free(struct agent_run *r)
{
	config_llm_release(&r->llm);
	free(r->fingerprint);
	free(r->model);
	free(r->cwd);
	free(r->python);
	free(r->last_content);
	json_decref(r->incident);
	json_decref(r->offered);
	json_decref(r->messages);
	json_decref(r->tool_specs);
	json_decref(r->known_pages);
	json_decref(r->consulted);
	json_decref(r->remedies);
	json_decref(r->calls_seen);
	llm_response_release(&r->pending);
	free(r);
}

void run_ref(struct agent_run *r)
{
	r->refs++;
}

void run_unref(struct agent_run *r)
{
	if (--r->refs == 0)
		run_free(r);
}

static void on_timer_closed(uv_handle_t *h)
{
	run_unref(h->data);
}

static struct agent_run *run_find(struct agent *a, int64_t id)
{
	struct list_head *pos;

	for (pos = a->runs.next; pos != &a->runs; pos = pos->next) {
		struct agent_run *r = list_entry(pos, struct agent_run, link);
		if (r->id == id)
			return r;
	}
	return NULL;
}

/* A run in flight for the same fingerprint and model, to join. */
static struct agent_run *run_same(struct agent *a, const char *fingerprint, const char *model)
{
	struct list_head *pos;

	for (pos = a->runs.next; pos != &a->runs; pos = pos->next) {
		struct agent_run *r = list_entry(pos, struct agent_run, link);
		if (!r->cancelled && strcmp(r->fingerprint, fingerprint) == 0 &&
		    strcmp(r->model, model) == 0)
			return r;
	}
	return NULL;
}

static void run_add_notify(struct agent_run *r, uint64_t serial)
{
	size_t i;

	if (!serial)
		return;
	for (i = 0; i < r->nnotify; i++)
		if (r->notify[i] == serial)
			return;
	if (r->nnotify < AGENT_MAX_NOTIFY)
		r->notify[r->nnotify++] = serial;
}

static char *dup_string(json_t *v)
{
	const char *s = json_string_value(v);

	return s && *s ? strdup(s) : NULL;
}

/* The endpoint of a run, from its copy of llm.*. */
static void run_endpoint(struct agent_run *r)
{
	const struct llm_config *l = &r->llm;

	llm_endpoint_defaults(&r->ep);
	r->ep.base_url = l->base_url;
	r->ep.model = l->model;
	r->ep.api_key_env = l->api_key_env;
	r->ep.timeout_ms = (long)l->timeout * 1000;
	r->ep.connect_timeout_ms = (long)(l->connect_timeout < l->timeout ?
	                                  l->connect_timeout : l->timeout) * 1000;
	r->ep.idle_timeout_ms = (long)l->idle_timeout * 1000;
	r->ep.max_retries = (unsigned)l->max_retries;
	r->ep.retry_after_cap_ms = (long)l->retry_after_cap * 1000;
}

/* The incident, its source's cwd and interpreter, and the remedies the
 * plugins offered for it. */
static int run_load_incident(struct agent_run *r, store *st)
{
	json_t *source, *diag = NULL;
	int rc;

	if ((rc = store_incident_get(st, r->incident_id, &r->incident)) < 0)
		return rc;
	source = json_object_get(r->incident, "source");
	r->cwd = dup_string(json_object_get(source, "cwd"));
	r->python = dup_string(json_object_get(source, "python"));
	if (store_incident_diagnosis(st, r->incident_id, &diag) == 0) {
		r->offered = json_incref(json_object_get(diag, "remedies"));
		json_decref(diag);
	}
	r->fingerprint = dup_string(json_object_get(r->incident, "signature"));
	return r->fingerprint ? 0 : -ENOMEM;
}

static int run_prepare(struct agent *a, struct agent_run *r, const struct agent_request *req)
{
	struct doctord *d = a->d;
	const char *key_env;
	int rc;

	r->a = a;
	r->incident_id = req->incident_id;
	llm_response_init(&r->pending);
	if ((rc = config_llm_copy(&r->llm, &d->cfg.llm)) < 0)
		return rc;
	r->cfg = d->cfg.agent;
	r->tools = r->llm.tools;
	run_endpoint(r);
	if (!(r->model = strdup(r->llm.model)))
		return -ENOMEM;
	if ((rc = run_load_incident(r, d->st)) < 0)
		return rc;
	r->tool_ctx.cwd = r->cwd;
	r->tool_ctx.python = r->python;
	r->tool_ctx.read_file_max = r->cfg.read_file_max_bytes;
	r->tool_ctx.offered = r->offered;
	r->known_pages = json_object();
	r->consulted = json_array();
	r->remedies = json_array();
	r->calls_seen = json_object();
	r->messages = json_array();
	if (!r->known_pages || !r->consulted || !r->remedies || !r->calls_seen || !r->messages)
		return -ENOMEM;
	/* the key of this run's endpoint, whichever variable it is in now */
	key_env = r->llm.api_key_env;
	if (key_env && *key_env && getenv(key_env) &&
	    (rc = redactor_add_value(a->redactor, getenv(key_env))) < 0)
		return rc;
	return agent_fence_init(&r->fence);
}

/* Record the run in the store: a copy of a cached one, or a new one. */
static int run_record(struct agent_run *r, store *st, bool fresh)
{
	int64_t from = 0;
	int rc;

	if (!fresh && r->cfg.cache &&
	    store_agent_cache_lookup(st, r->fingerprint, r->model, &from) == 0 &&
	    store_agent_run_cached(st, r->incident_id, r->fingerprint, r->model, from, &r->id) == 0) {
		r->cached_from = from;
		return 0;
	}
	rc = store_agent_run_start(st, r->incident_id, r->fingerprint, r->model, &r->id);
	if (rc < 0)
		log_error("store: cannot start a diagnosis run: %s", store_errmsg(st));
	return rc;
}

int agent_diagnose(struct agent *a, const struct agent_request *req, int64_t *run_id)
{
	struct doctord *d = a->d;
	struct agent_run *r, *same;
	int rc;

	if (a->stopping || !a->llm)
		return -ESHUTDOWN;
	if (!agent_configured(d))
		return -ENOTCONN;
	if (!(r = calloc(1, sizeof(*r))))
		return -ENOMEM;
	r->refs = 1;
	if ((rc = run_prepare(a, r, req)) < 0)
		goto fail;
	if (!req->fresh && (same = run_same(a, r->fingerprint, r->model))) {
		run_add_notify(same, req->notify_serial);
		*run_id = same->id;
		run_unref(r);
		return 0;
	}
	if ((rc = run_record(r, d->st, req->fresh)) < 0)
		goto fail;
	run_add_notify(r, req->notify_serial);
	uv_timer_init(d->loop, &r->timer);
	r->timer.data = r;
	uv_timer_start(&r->timer, run_begin, 0, 0);
	list_add_tail(&r->link, &a->runs);
	a->nruns++;
	*run_id = r->id;
	log_info("agent: run %lld for incident %lld%s", (long long)r->id,
	         (long long)r->incident_id, r->cached_from ? " (from the cache)" : "");
	return 0;      /* the reference is the timer's now: on_timer_closed */
fail:
	run_unref(r);
	return rc;
}

void run_end(struct agent_run *r)
{
	if (r->phase == RUN_ENDED)
		return;
	r->phase = RUN_ENDED;
	list_del(&r->link);
	r->a->nruns--;
	uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

int agent_cancel(struct agent *a, int64_t run_id)
{
	struct agent_run *r = run_find(a, run_id);

	if (!r)
		return -ENOENT;
	run_cancel(r);
	return 0;
}
