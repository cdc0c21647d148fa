/*
 * doctord.h - the daemon's shared state: one struct doctord per process.
 *
 * Everything long-lived hangs off it: the libuv loop, the configuration, the
 * store, the listening socket, the live connections and sources. Files take a
 * `struct doctord *` rather than reaching for globals, so tests and later
 * parts (plugins, agent) can see what they depend on.
 */
#ifndef DOCTOR_DOCTORD_H
#define DOCTOR_DOCTORD_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "list.h"
#include "store.h"

struct conn;
struct source;
struct plugin_host;
struct docs_jobs;
struct agent;
struct llm_client;

struct doctord {
	uv_loop_t *loop;
	doctor_config cfg;           /* owned; replaced whole on reload */
	char *config_path;           /* file read at start/reload, owned; may be NULL */
	bool config_explicit;        /* --config given: a missing file is an error */
	int log_level_override;      /* --log-level, or -1 */
	char *socket_path;           /* owned, resolved */
	char *data_dir;              /* owned, resolved */
	char *db_path;               /* owned */
	store *st;                   /* owned */

	uv_pipe_t listener;
	bool listening;
	int lock_fd;                 /* flock()ed lock file next to the socket */
	char *lock_path;             /* owned */

	struct list_head conns;      /* struct conn, by conn.link */
	int nconns;
	struct list_head sources;    /* struct source, by source.link */
	int nsources;
	int nsubscribers;
	struct list_head watches;    /* struct filewatch, by filewatch.link */
	struct list_head runs;       /* struct remedy_run, by remedy_run.link */
	struct plugin_host *plugins; /* owned; NULL if the host failed to start */
	struct docs_jobs *docs;      /* documentation indexing and search; owned */
	struct agent *agent;         /* the LLM diagnosis loop; owned */
	struct llm_client *llm;      /* the LLM endpoints' calls on the loop: the
	                                agent's chats, searches' query embeddings;
	                                owned; closed by doctord_stop */
	int nwatches;

	uv_signal_t sigterm, sigint, sighup;
	bool signals_started;
	uv_timer_t reaper;           /* closes dropped connections (conn_drop) */
	bool reaper_started;
	bool stopping;
	double started_at;           /* unix time */
};

/* Open the store, register detectors, listen, start signals and watches.
 * d->cfg, socket_path, data_dir and db_path must be set. Returns 0 or a
 * negative errno (logged). */
int doctord_start(struct doctord *d);
/* Release what doctord_start acquired, after the loop has ended. */
void doctord_free(struct doctord *d);
/* Seconds since the epoch, with sub-second precision. */
double doctord_now(void);
/* Begin a clean shutdown: stop listening, close connections and sources
 * (completing pending detection), then let the loop end. */
void doctord_stop(struct doctord *d);
/* Have the reaper close dropped connections at the next turn of the loop. */
void doctord_schedule_reap(struct doctord *d);
/* Re-read the configuration file; keeps the old one if the new is invalid.
 * Returns 0 or a negative errno. */
int doctord_reload(struct doctord *d);

#endif
