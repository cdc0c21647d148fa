/*
 * trace_view.h - the agent's runs as text (doctor show): one run's
 * header, its trace (a line per step with tokens, latency and cost, and a
 * short excerpt of what was sent, answered, called or returned), then its
 * totals, state, limit, error and where a cached answer came from.
 *
 * A run is the object of agent.run (docs/protocol.md, "Objects"); json_t
 * arguments are borrowed.
 */
#ifndef DOCTOR_TRACE_VIEW_H
#define DOCTOR_TRACE_VIEW_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

/* US dollars for a person: "$0" for nothing, else at most six decimals
 * without trailing zeros beyond the cents: "$0.000207", "$0.50", "$12.3456". */
void trace_view_cost(double usd, char *buf, size_t size);

/* A count with thousands apart: "1,234,567". */
void trace_view_count(long long n, char *buf, size_t size);

/* The run with its steps (if it has "steps"), indented by two spaces;
 * excerpts are cut to width columns (0: no terminal; they are short all
 * the same). Returns 0, -ENOMEM, or -EIO when out cannot be written. */
int trace_view_run(FILE *out, const json_t *run, size_t width);

#endif
