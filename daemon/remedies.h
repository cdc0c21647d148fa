/*
 * remedies.h - running remedies the user confirmed, and undoing them.
 *
 * Nothing runs without a confirmation naming the remedy's id: confirm moves
 * the stored remedy from proposed (or failed, for a retry) to running in one
 * statement, so two confirmations cannot start it twice. The argv runs as
 * is (runner.c: no shell), its output streams to the confirming client and
 * subscribers as remedy.output, then the verify argv runs, and the result
 * (exit code, verified, output, how to undo) goes to the store and out as
 * remedy.done. Every step is in the audit log with the client's uid/pid.
 *
 * A remedy whose undo is "pip" has the interpreter's distributions listed
 * before and after it runs; undo uninstalls exactly those it added.
 */
#ifndef DOCTOR_REMEDIES_H
#define DOCTOR_REMEDIES_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "doctord.h"

struct conn;

/* Each returns 0 with *reply (a new reference: {remedy} or, for a dry run,
 * {remedy, dry_run: true, would_run: {argv, cwd, verify, timeout}}), or a
 * negative errno: -ENOENT unknown remedy, -EALREADY not in a state that
 * allows it (*state_out, if given, names the state it is in; owned by the
 * caller), -EIO store failure, other errnos from starting the process. */
int remedy_confirm(struct doctord *d, struct conn *c, int64_t id, bool dry_run,
                   json_t **reply, char **state_out);
int remedy_reject(struct doctord *d, struct conn *c, int64_t id, json_t **reply,
                  char **state_out);
int remedy_undo(struct doctord *d, struct conn *c, int64_t id, json_t **reply,
                char **state_out);
/* Stop every running remedy (shutdown): they end as failed (cancelled). */
void remedies_cancel_all(struct doctord *d);

#endif
