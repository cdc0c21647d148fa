/*
 * diagnosis_view.h - diagnoses and remedies as text (doctor show, run,
 * watch), and running one remedy with its output streamed (doctor confirm,
 * and the y/N prompt of run and watch).
 *
 * json_t arguments are borrowed.
 */
#ifndef DOCTOR_DIAGNOSIS_VIEW_H
#define DOCTOR_DIAGNOSIS_VIEW_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>

#include "rpc_client.h"

/* An argv as a command line a person can read and paste (quoted where a
 * shell would need it). Newly allocated; NULL when out of memory. */
char *diagnosis_view_argv(const json_t *argv);

/* One remedy: "[#12 proposed] Install opencv-python" and, indented, the
 * exact command, cwd, whether it changes the system, how it is verified. */
void diagnosis_view_remedy(FILE *out, const json_t *remedy, const char *indent);

/* A diagnosis: plugin, confidence, summary, explanation, the references
 * (the pages it cites, "see: page#anchor"), its remedies. */
void diagnosis_view_print(FILE *out, const json_t *diagnosis, const char *indent);

/* Send remedy.confirm (or remedy.undo when undo) for id, print its output
 * as it streams and the result. Returns 0 when the remedy succeeded, 1
 * when it failed or was refused, or a negative errno for a lost daemon. */
int diagnosis_view_run_remedy(struct rpc_client *c, long long id, bool undo, bool quiet_output);

/* Ask "Run it? [y/N]" on the terminal (/dev/tty); true for yes. False
 * when there is no terminal. */
bool diagnosis_view_ask(const char *question);

#endif
