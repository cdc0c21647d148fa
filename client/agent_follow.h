/*
 * agent_follow.h - the agent's diagnoses of the errors of `doctor run`,
 * followed as the model writes them.
 *
 * Which incidents are the command's is known only at its end
 * (source.closed), while the agent may start on an error as soon as it is
 * seen, and the raw source's own connection closes with source.closed. So
 * the follower has a connection of its own, subscribed before the command
 * starts (only when the daemon's agent is on), and keeps what the agent's
 * runs say (diagnosis.started, .delta, .retry, .done) while the command
 * runs: per run its model, its text so far and its end. Once the incidents
 * are known, agent_follow_select() picks their runs (those seen starting,
 * and those incident.get shows running), and agent_follow_print() prints
 * what they have said and then what they say, until each has ended.
 *
 * The caller's poll loop drives it: agent_follow_fd() to poll for POLLIN,
 * agent_follow_read() when it is readable. Kept text is bounded per run
 * (AGENT_FOLLOW_TEXT_MAX, the rest dropped with a note) and so is the
 * number of runs kept (AGENT_FOLLOW_RUNS_MAX, the oldest forgotten).
 */
#ifndef DOCTOR_AGENT_FOLLOW_H
#define DOCTOR_AGENT_FOLLOW_H

#include <stdbool.h>
#include <jansson.h>

#include "agent_view.h"

#define AGENT_FOLLOW_TEXT_MAX (256u << 10)
#define AGENT_FOLLOW_RUNS_MAX 64

struct agent_follow;

/* Connect to the daemon at socket_path and subscribe, when its agent is
 * configured and enabled (status). 0, -ENOTSUP when it is not (nothing to
 * follow), or a negative errno; *out is owned by the caller
 * (agent_follow_free). */
int agent_follow_open(const char *socket_path, int timeout_ms, struct agent_follow **out);
void agent_follow_free(struct agent_follow *f);

int agent_follow_fd(const struct agent_follow *f);

/* Take what has arrived (never blocks). 0, or a negative errno when the
 * connection is gone (-ECONNRESET) or broken: the caller frees it then. */
int agent_follow_read(struct agent_follow *f);

/* incidents: the summaries of source.closed (borrowed). Selects their
 * runs; returns how many are selected so far (more may start later). */
size_t agent_follow_select(struct agent_follow *f, const json_t *incidents);

/* Print what the selected runs said since the last call: a line
 * (doctor_msg) when one starts, its text on s, a line when it ends. */
void agent_follow_print(struct agent_follow *f, struct agent_view_stream *s);

/* True while a selected run has not ended. */
bool agent_follow_pending(const struct agent_follow *f);

/* The incident of a selected run that has not ended (the first), or 0. */
json_int_t agent_follow_pending_incident(const struct agent_follow *f);

/* True when run's text was printed (its explanation need not be again). */
bool agent_follow_streamed(const struct agent_follow *f, json_int_t run);

#endif
