/*
 * filewatch.h - following log files as sources, like `tail -F`.
 *
 * Each watched path is polled (every watch.poll_ms); new bytes go to a
 * `log` source. Rotation (the path now names another inode: the old file is
 * read to its end, then the new one from its start), truncation (the size
 * shrank: reading restarts at 0) and a file that does not exist yet are
 * handled. Watches added through the protocol are remembered in the store;
 * those from the config file come back from it.
 *
 * Lifetime: a watch owns its source and two handles (poll, resume timer) and
 * is freed when both handles have closed.
 */
#ifndef DOCTOR_FILEWATCH_H
#define DOCTOR_FILEWATCH_H

#include <stdbool.h>
#include <jansson.h>

#include "doctord.h"

struct source;

/* Follow path (absolute). name may be NULL (the path is used). With persist
 * the watch is saved in the store. Returns 0 with *src_out (may be NULL) set
 * to its source, -EEXIST if already watched, or another negative errno. */
int filewatch_add(struct doctord *d, const char *path, const char *name,
                  bool from_start, bool persist, struct source **src_out);
/* Stop following path and forget it in the store. 0 or -ENOENT. */
int filewatch_remove(struct doctord *d, const char *path);
/* Start the watches of the config file and of the store. Failures are
 * logged, not fatal. */
void filewatch_start_all(struct doctord *d);
/* Make the config file's watches match d->cfg after a reload. */
void filewatch_sync_config(struct doctord *d);
/* Stop every watch (shutdown); the store keeps them. */
void filewatch_stop_all(struct doctord *d);
/* [{path, name, source, offset, exists}]; new reference. */
json_t *filewatch_status(struct doctord *d);

#endif
