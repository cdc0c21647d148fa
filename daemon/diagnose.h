/*
 * diagnose.h - from an incident to diagnoses and proposed remedies.
 *
 * After an error is recorded, the rule plugins are asked about it (fast,
 * local, under their sandbox limits). What they say is stored (a remedy
 * proposed again for the same incident, same argv and cwd, stays the same
 * remedy with the same id) and announced: diagnosis.done, then
 * remedy.proposed for each remedy still open, to subscribers and to the
 * client whose source showed the error. diagnosis.done is sent to that
 * client even when no plugin knew the error, so a hook waiting for it can
 * stop waiting: at once, or, when the agent takes the error (an LLM is
 * configured and agent.enabled), at the end of the agent's run
 * (agent.h), after diagnosis.started and the streamed diagnosis.delta.
 */
#ifndef DOCTOR_DIAGNOSE_H
#define DOCTOR_DIAGNOSE_H

#include <stdint.h>

#include "doctord.h"

struct source;

/* Diagnose incident `incident_id`, just seen in src (may be NULL). */
void diagnose_incident(struct doctord *d, struct source *src, int64_t incident_id);

#endif
