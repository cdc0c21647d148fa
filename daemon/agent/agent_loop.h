/*
 * agent_loop.h - what the files of the loop share: the agent, one run's
 * state, and the steps between them.
 *
 *   agent.c             the agent's life, starting, finding and cancelling runs
 *   agent_run.c         one run's state machine: cache, budget, first prompt,
 *                       turns, limits
 *   agent_tools_exec.c  executing the tool calls of one response
 *   agent_finish.c      the end: the diagnosis, the store, diagnosis.done
 *   agent_notify.c      notifications and the trace's steps
 *
 * A run is referenced by whatever may still call back into it: its timer
 * (from start until its close callback), an LLM call (until its done
 * callback), a documentation search (until its callback). It is freed when
 * the last reference goes; it leaves the agent's list of runs in flight as
 * soon as it has ended (run_end).
 */
#ifndef DOCTOR_AGENT_LOOP_H
#define DOCTOR_AGENT_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "agent.h"
#include "agent_internal.h"
#include "config.h"
#include "list.h"
#include "llm_client.h"

struct redactor;

/* Most connections one run tells besides the subscribers. */
#define AGENT_MAX_NOTIFY 8
/* Bytes of the first user message (incident and documentation). */
#define AGENT_INCIDENT_MAX_BYTES (48 * 1024)
/* Hits one search_docs call may ask for. */
#define AGENT_SEARCH_MAX_K 10

struct agent {
	struct doctord *d;            /* borrowed */
	struct llm_client *llm;       /* doctord's (d->llm), borrowed; NULL once
	                                 agent_stop has run */
	struct redactor *redactor;    /* owned */
	struct list_head runs;        /* struct agent_run in flight, by link */
	unsigned nruns;
	bool stopping;
};

enum run_phase {
	RUN_STARTING,                 /* waiting for the loop's next turn */
	RUN_DOCS,                     /* the first prompt's documentation search */
	RUN_LLM,                      /* a request in flight */
	RUN_TOOLS,                    /* executing a response's tool calls */
	RUN_ENDED,
};

struct agent_run {
	struct list_head link;        /* in agent.runs while in flight */
	struct agent *a;              /* borrowed */
	unsigned refs;
	enum run_phase phase;
	int64_t id;                   /* in the store */
	int64_t incident_id;
	char *fingerprint;            /* owned */
	char *model;                  /* owned; as configured */
	int64_t cached_from;          /* > 0: answered from this run */
	bool cancelled;
	uint64_t notify[AGENT_MAX_NOTIFY];
	size_t nnotify;
	uv_timer_t timer;             /* the start, deferred to the next turn */

	/* What the run was asked with: copies, so that a reload does not change
	 * a diagnosis halfway. */
	struct llm_config llm;        /* owned */
	struct agent_config cfg;
	struct llm_endpoint ep;       /* strings borrowed from llm */
	bool tools;                   /* llm.tools: with tools, else JSON mode */

	/* The incident and what tools may see of it. */
	json_t *incident;             /* the full incident; owned */
	json_t *offered;              /* remedies plugins offered; owned, may be NULL */
	char *cwd, *python;           /* of its source; owned, may be NULL */
	struct agent_tool_ctx tool_ctx;   /* strings borrowed from above */

	/* The conversation. */
	struct agent_fence fence;
	json_t *messages;             /* owned; redacted */
	json_t *tool_specs;           /* owned; NULL in JSON mode */
	json_t *known_pages;          /* {page: title} given or searched, the pages
	                                 the answer may cite; owned */
	json_t *consulted;            /* [{page, anchor, title}] the same, by
	                                 section, in order; owned */
	json_t *remedies;             /* proposed through propose_remedy; owned */
	json_t *calls_seen;           /* {call key: true}; owned */
	int repeats;                  /* identical tool calls refused */
	int steps;                    /* requests made */
	bool final_request;           /* the last request, without tools */
	const char *limit;            /* the limit hit (static string), or NULL */
	char *last_content;           /* the model's latest text; owned */
	bool spoke;                   /* text was streamed in an earlier turn */
	bool turn_spoke;              /* ... in this one */
	struct llm_call *call;        /* in flight, or NULL */
	uint64_t request_t0;          /* uv_hrtime() when it was sent */

	/* The response whose tool calls are being executed. */
	struct llm_response pending;  /* owned (released by run_free) */
	size_t next_call;
	uint64_t tool_t0;

	double cost_usd;
	int64_t prompt_tokens, completion_tokens;
};

/* ---- agent.c */
void run_ref(struct agent_run *r);
void run_unref(struct agent_run *r);
/* The run has ended: it leaves the runs in flight and its timer is closed
 * (dropping the reference the timer held). Harmless twice. */
void run_end(struct agent_run *r);

/* ---- agent_run.c */
/* The timer's callback: the run's first work. */
void run_begin(uv_timer_t *t);
/* The next request, after the limits are checked. */
void run_next_turn(struct agent_run *r);
/* Cancel whatever is in flight; the run ends 'cancelled' once it returns. */
void run_cancel(struct agent_run *r);

/* ---- agent_tools_exec.c */
/* Execute r->pending's tool calls from r->next_call on; run_next_turn()
 * (or the end) follows once they are all answered, perhaps later (a
 * documentation search). */
void run_exec_tools(struct agent_run *r);
/* search_docs' result as text for the model; adds the pages to
 * r->known_pages and r->consulted. Owned by the caller; NULL when out of memory. */
char *run_hits_text(struct agent_run *r, const struct docs_hit *hits, size_t n);

/* ---- agent_finish.c */
/* End the run with the model's final content (may be NULL: none). */
void run_finish_answer(struct agent_run *r, const char *content);
/* End with a diagnosis composed here from what was learned (a budget). */
void run_finish_local(struct agent_run *r);
/* End 'failed' (error set) or 'cancelled' (r->cancelled). */
void run_finish_error(struct agent_run *r, const char *error);
/* End a run answered from the cache. */
void run_finish_cached(struct agent_run *r);

/* ---- agent_notify.c */
/* A notification to the subscribers and the run's connections; params
 * stolen. */
void run_announce(struct agent_run *r, const char *method, json_t *params);
/* A step of the trace; body borrowed (redacted here before it is stored,
 * may be NULL), latency_ms < 0: not measured. Failures are logged. */
void run_step(struct agent_run *r, const char *kind, const char *name, json_t *body,
	      double latency_ms, int64_t prompt_tokens, int64_t completion_tokens,
	      double cost_usd);
/* A note step {message}. */
void run_note(struct agent_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Milliseconds since t0 (uv_hrtime()). */
double run_ms_since(uint64_t t0);

#endif
