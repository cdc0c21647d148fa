/*
 * doctord.c - the daemon's lifecycle: start (store, detectors, socket,
 * watches), reload on SIGHUP, and a clean stop that lets every connection
 * and source finish before the loop ends (a documentation indexing still
 * running is waited for: the loop lives until its worker is done).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "agent.h"
#include "conn.h"
#include "detect.h"
#include "docs_jobs.h"
#include "filewatch.h"
#include "llm_client.h"
#include "log.h"
#include "paths.h"
#include "plugins.h"
#include "remedies.h"
#include "server.h"
#include "source.h"

double doctord_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void apply_detectors(const doctor_config *cfg)
{
	static const char *const shell[] = {
		"shell.command_not_found", "shell.permission_denied",
		"shell.no_space", "shell.address_in_use", NULL,
	};

	dr_registry_enable("python.traceback", cfg->detect_python);
	for (const char *const *n = shell; *n; n++)
		dr_registry_enable(*n, cfg->detect_shell);
}

#ifndef DOCTOR_PLUGINDIR
#define DOCTOR_PLUGINDIR "/usr/local/share/doctor/plugins"
#endif

/* One line for the log: how many plugins are on, and which are not. */
static void log_plugin_summary(plugin_host *h)
{
	json_t *list = plugin_host_list(h), *p;
	size_t i, on = 0;

	json_array_foreach(list, i, p) {
		const char *state = json_string_value(json_object_get(p, "state"));
		if (state && strcmp(state, "enabled") == 0)
			on++;
		else
			log_warn("plugin %s is %s: %s", json_string_value(json_object_get(p, "name")),
			         state ? state : "?", json_string_value(json_object_get(p, "error")) ?
			         json_string_value(json_object_get(p, "error")) : "");
	}
	log_info("plugins: %zu of %zu enabled", on, json_array_size(list));
	json_decref(list);
}

/* (Re)load the plugins from the standard folders and plugins.dirs, and
 * register their detectors. A host that cannot start leaves doctor working
 * without plugins. */
static void load_plugins(struct doctord *d)
{
	struct plugin_limits limits = {
		.memory_bytes = d->cfg.plugin_memory,
		.instructions = d->cfg.plugin_instructions,
		.wall_ms = (unsigned)d->cfg.plugin_wall_ms,
	};
	char **dirs;
	size_t n = 0;
	int rc;

	if (!d->cfg.plugins_enabled) {
		plugin_host_free(d->plugins);
		d->plugins = NULL;
		return;
	}
	dirs = paths_plugin_dirs(DOCTOR_PLUGINDIR, (const char *const *)d->cfg.plugin_dirs,
	                         d->cfg.nplugin_dirs, &n);
	if (!dirs) {
		log_error("plugins: out of memory");
		return;
	}
	if (!d->plugins && (rc = plugin_host_new(&limits, &d->plugins)) < 0) {
		log_error("plugins: cannot start the Lua host: %s", strerror(-rc));
		d->plugins = NULL;
	}
	if (d->plugins) {
		rc = plugin_host_reload(d->plugins, (const char *const *)dirs, n, d->cfg.plugin_settings);
		if (rc < 0)
			log_error("plugins: loading failed: %s", strerror(-rc));
		plugin_host_disable_names(d->plugins, (const char *const *)d->cfg.plugins_disabled,
		                          d->cfg.nplugins_disabled);
		plugin_host_register_detectors(d->plugins);
		log_plugin_summary(d->plugins);
	}
	paths_free_list(dirs, n);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct doctord *d = h->data;

	if (signum == SIGHUP) {
		doctord_reload(d);
		return;
	}
	log_info("signal %d: shutting down", signum);
	doctord_stop(d);
}

static void start_signal(struct doctord *d, uv_signal_t *h, int signum)
{
	uv_signal_init(d->loop, h);
	h->data = d;
	uv_signal_start(h, on_signal, signum);
	uv_unref((uv_handle_t *)h);   /* signals alone do not keep the loop alive */
}

static void on_reap(uv_timer_t *t)
{
	conn_reap(t->data);
}

void doctord_schedule_reap(struct doctord *d)
{
	if (d->reaper_started && !d->stopping)
		uv_timer_start(&d->reaper, on_reap, 0, 0);
}

int doctord_start(struct doctord *d)
{
	int64_t recovered = 0;
	int rc;

	list_init(&d->conns);
	list_init(&d->sources);
	list_init(&d->watches);
	list_init(&d->runs);
	d->started_at = doctord_now();
	uv_timer_init(d->loop, &d->reaper);
	d->reaper.data = d;
	d->reaper_started = true;
	if ((rc = paths_mkdir_p(d->data_dir, 0700)) < 0) {
		log_error("cannot create data directory %s: %s", d->data_dir, strerror(-rc));
		return rc;
	}
	if ((rc = store_open(d->db_path, &d->st)) < 0) {
		/* store_errmsg(NULL) tells why the last store_open failed */
		log_error("cannot open the store %s: %s", d->db_path, store_errmsg(NULL));
		return rc;
	}
	if ((rc = dr_registry_add_builtins()) < 0)
		return rc;
	apply_detectors(&d->cfg);
	load_plugins(d);
	if ((rc = llm_client_new(d->loop, &d->llm)) < 0) {
		log_error("llm: cannot start the client: %s", strerror(-rc));
		return rc;
	}
	if ((rc = docs_jobs_new(d, &d->docs)) < 0)
		return rc;
	if ((rc = agent_new(d, &d->agent)) < 0) {
		log_error("agent: cannot start: %s", strerror(-rc));
		return rc;
	}
	if ((rc = server_listen(d)) < 0)
		return rc;
	/* Only now, holding the socket's lock, is no other doctord running
	 * diagnoses in this database: end the runs a crash left open. */
	if ((rc = store_agent_recover(d->st, &recovered)) < 0)
		log_warn("store: cannot end interrupted diagnoses: %s", store_errmsg(d->st));
	else if (recovered > 0)
		log_info("store: %lld diagnosis run(s) interrupted by the last exit marked failed",
			 (long long)recovered);
	start_signal(d, &d->sigterm, SIGTERM);
	start_signal(d, &d->sigint, SIGINT);
	start_signal(d, &d->sighup, SIGHUP);
	d->signals_started = true;
	filewatch_start_all(d);
	log_info("doctord %s listening on %s (data in %s)", PACKAGE_VERSION, d->socket_path,
	         d->data_dir);
	return 0;
}

void doctord_stop(struct doctord *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	remedies_cancel_all(d);
	agent_stop(d->agent);        /* before the docs jobs: a run may search */
	docs_jobs_stop(d->docs);
	/* After both: their calls still running end here, cancelled (a search
	 * waiting for its query's embedding then runs lexically). The memory
	 * goes once the loop has closed the handles. */
	llm_client_close(d->llm);
	d->llm = NULL;
	server_close(d);
	filewatch_stop_all(d);
	/* Closing completes detection, which may touch other entries: always
	 * take the first until none are left. */
	while (!list_empty(&d->conns))
		conn_close(list_entry(d->conns.next, struct conn, link));
	while (!list_empty(&d->sources))
		source_close(list_entry(d->sources.next, struct source, link));
	if (d->reaper_started)
		uv_close((uv_handle_t *)&d->reaper, NULL);
	if (d->signals_started) {
		uv_close((uv_handle_t *)&d->sigterm, NULL);
		uv_close((uv_handle_t *)&d->sigint, NULL);
		uv_close((uv_handle_t *)&d->sighup, NULL);
	}
}

int doctord_reload(struct doctord *d)
{
	doctor_config next;
	char *err = NULL;
	int rc;

	if ((rc = config_defaults(&next)) < 0)
		return rc;
	if (d->config_path) {
		rc = config_load_file(&next, d->config_path, &err);
		if (rc == -ENOENT && !d->config_explicit)
			rc = 0;
	}
	if (rc == 0)
		rc = config_apply_env(&next, &err);
	if (rc < 0) {
		log_error("reload: keeping the running configuration: %s",
		          err ? err : strerror(-rc));
		free(err);
		config_free(&next);
		return rc;
	}
	if (d->log_level_override >= 0)
		next.log_level = d->log_level_override;
	if ((next.socket_path && strcmp(next.socket_path, d->socket_path) != 0) ||
	    (next.data_dir && strcmp(next.data_dir, d->data_dir) != 0))
		log_warn("reload: socket and data_dir changes take effect at the next start");
	config_free(&d->cfg);
	d->cfg = next;
	log_set_level(d->cfg.log_level);
	apply_detectors(&d->cfg);
	load_plugins(d);
	filewatch_sync_config(d);
	if (d->docs)
		docs_jobs_refresh(d->docs);    /* docs.db may have changed */
	log_info("configuration reloaded%s%s", d->cfg.loaded_from ? " from " : "",
	         d->cfg.loaded_from ? d->cfg.loaded_from : "");
	return 0;
}

void doctord_free(struct doctord *d)
{
	agent_free(d->agent);
	d->agent = NULL;
	docs_jobs_free(d->docs);
	d->docs = NULL;
	plugin_host_free(d->plugins);
	d->plugins = NULL;
	store_close(d->st);
	d->st = NULL;
	dr_registry_clear();
	config_free(&d->cfg);
	free(d->config_path);
	free(d->socket_path);
	free(d->data_dir);
	free(d->db_path);
	free(d->lock_path);
	if (d->lock_fd > 0)
		close(d->lock_fd);
}
