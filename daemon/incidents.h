/*
 * incidents.h - from a detected error to an incident clients see.
 *
 * An error is signed (dr_signature), recorded in the store (a new incident,
 * or one more occurrence of a known one), and announced to subscribers as
 * incident.new or incident.updated. This is the one place the detection,
 * the store and the event stream meet; each recorded error is then handed
 * to diagnose.c (plugins).
 */
#ifndef DOCTOR_INCIDENTS_H
#define DOCTOR_INCIDENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "detect.h"
#include "doctord.h"

struct source;

struct incident_result {
	int64_t id;
	bool is_new;
	int64_t count;
};

/* Record e (taken, freed here) seen in src (may be NULL) and notify.
 * context (borrowed, may be NULL) is the source's recent output.
 * Returns 0 with *res filled (res may be NULL) or a negative errno. */
int incidents_report(struct doctord *d, struct source *src, dr_error *e,
                     const char *context, struct incident_result *res);

#endif
