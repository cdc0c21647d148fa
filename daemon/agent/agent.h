/*
 * agent.h - the LLM diagnosis loop, as doctord sees it (docs/agent.md).
 *
 * One struct agent per doctord: an LLM client on the daemon's loop, the
 * redactor everything passes through before it leaves the machine, and the
 * runs in flight. A run diagnoses one incident: the fingerprint (the
 * incident's signature) may be answered from the cache; otherwise the
 * model is asked, with the incident and the documentation found for it,
 * and calls tools (search_docs, read_file, environment, propose_remedy,
 * the plugins' tools) until it answers or a limit stops it. The end is a
 * diagnosis by plugin "agent", recorded like a plugin's (its remedies get
 * ids and wait for `remedy.confirm`), and the notifications
 * diagnosis.started, diagnosis.delta, diagnosis.retry, diagnosis.done and
 * remedy.proposed (docs/protocol.md). Every step goes to the store.
 *
 * Everything here runs on the loop's thread. Functions return 0 or a
 * negative errno.
 */
#ifndef DOCTOR_AGENT_H
#define DOCTOR_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct doctord;
struct agent;

/* The agent of d (the loop, store, configuration and docs jobs must
 * exist). The redactor learns the secret-looking environment variables
 * of doctord and the API key's value. *out owned by the caller: agent_stop
 * at shutdown, agent_free after the loop has ended. */
int agent_new(struct doctord *d, struct agent **out);

/* Shutdown: every run in flight ends 'cancelled' (a run waiting for a
 * documentation search ends when the search returns) and the LLM client is
 * closed so that the loop can end. No run starts after it. */
void agent_stop(struct agent *a);

/* Free what the agent holds; NULL is fine. After the loop has ended. */
void agent_free(struct agent *a);

/* Whether incidents no plugin knows go to the agent: the LLM is configured
 * and agent.enabled is on. */
bool agent_enabled(const struct doctord *d);

/* Whether the LLM is configured at all (explain needs it). */
bool agent_configured(const struct doctord *d);

/* The agent's part of `status` (agent_status.c), a new reference:
 * {configured, enabled} and, when configured, {base_url (redacted), model,
 * tools, stream, in_flight, spent_today_usd (since 00:00 UTC),
 * budget_daily_usd, priced (llm.prices has the model)}. */
json_t *agent_status(struct doctord *d);

/* How one diagnosis is asked for. */
struct agent_request {
	int64_t incident_id;
	bool fresh;                  /* bypass the cache */
	uint64_t notify_serial;      /* a connection that gets the run's
	                                notifications even when it has not
	                                subscribed (the source's client, or
	                                explain's caller); 0: none */
};

/* Start diagnosing an incident: *run_id is the run in the store. The work
 * begins at the next turn of the loop, so a reply sent by the caller
 * precedes every notification of the run. A run of the same fingerprint
 * already in flight (not fresh) is joined: its id is returned and the
 * connection added to those it tells. -ENOENT: no such incident;
 * -ESHUTDOWN: stopping; -ENOTCONN: no LLM configured; -EIO: the store
 * failed; -ENOMEM. */
int agent_diagnose(struct agent *a, const struct agent_request *req, int64_t *run_id);

/* Cancel a run in flight: it ends 'cancelled' with diagnosis.done saying
 * so. -ENOENT if no such run is in flight. */
int agent_cancel(struct agent *a, int64_t run_id);

#endif
