/*
 * config.h - doctord's configuration: defaults, the YAML file, environment.
 *
 * The file is YAML read with libyaml (etc/doctor.yaml is the documented
 * default). Every key is declared in one table in config.c (key, type, bounds,
 * help); unknown keys and values of the wrong type are errors naming the file,
 * line and key, e.g.  "doctor.yaml:12: limits.max_message_bytes: expected an
 * integer from 1024 to 1073741824, got 'big'".
 * Precedence, highest first: command line, doctor's own environment
 * variables (DOCTOR_*), file, the conventional OPENAI_BASE_URL and
 * OPENAI_MODEL (which only fill llm.base_url and llm.model when the file
 * left them unset), defaults.
 */
#ifndef DOCTOR_CONFIG_H
#define DOCTOR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "docs_index.h"

enum { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

typedef struct config_watch {
	char *path;          /* owned */
	char *name;          /* owned, may be NULL (then the path is the name) */
	bool from_start;
} config_watch;

/* One entry of llm.prices: what a model costs, in US dollars per million
 * tokens. */
struct llm_price {
	char *model;              /* owned; the name as the server knows it */
	double input;             /* per million prompt tokens */
	double output;            /* per million completion tokens */
};

/* llm.*: the OpenAI-compatible Chat Completions endpoint of the agent
 * (docs/configuration.md). The LLM is configured when both base_url and
 * model are set (config_llm_configured()). Strings and prices owned, freed
 * by config_llm_release(). */
struct llm_config {
	char *base_url;           /* llm.base_url, up to /v1; NULL: no LLM */
	char *model;              /* llm.model; NULL: no LLM */
	char *api_key_env;        /* llm.api_key_env: the variable holding the
	                             key, read at each request; default
	                             OPENAI_API_KEY; NULL: send no key */
	bool stream;              /* llm.stream: ask for SSE, default true */
	bool tools;               /* llm.tools: the model calls tools; false:
	                             the prompt-only JSON fallback; default true */
	int timeout;              /* llm.timeout: seconds for a whole request,
	                             default 120 */
	int connect_timeout;      /* llm.connect_timeout: seconds, default 10
	                             (never more than timeout in effect) */
	int idle_timeout;         /* llm.idle_timeout: seconds without a byte,
	                             default 60 */
	int max_retries;          /* llm.max_retries: default 4 */
	int retry_after_cap;      /* llm.retry_after_cap: longest Retry-After
	                             honoured, seconds, default 60 */
	struct llm_price *prices; /* llm.prices; owned, NULL when empty */
	size_t nprices;
};

/* agent.*: the diagnosis loop's switches and limits. Plain values. */
struct agent_config {
	bool enabled;             /* agent.enabled: ask the LLM (when configured)
	                             for errors no plugin knows; default true */
	int max_steps;            /* agent.max_steps: LLM turns per diagnosis,
	                             default 8 */
	int max_tokens;           /* agent.max_tokens: per response, default 2048 */
	double budget_per_diagnosis; /* agent.budget_per_diagnosis: USD, 0.10 */
	double budget_daily;      /* agent.budget_daily: USD per UTC day, 2.00 */
	int docs_k;               /* agent.docs_k: doc chunks in the prompt, 4 */
	size_t read_file_max_bytes;   /* agent.read_file_max_bytes: 64KiB */
	size_t tool_result_max_bytes; /* agent.tool_result_max_bytes: 16KiB */
	bool cache;               /* agent.cache: reuse the diagnosis of the same
	                             fingerprint and model; default true */
};

typedef struct doctor_config {
	char *socket_path;        /* NULL: paths_socket() */
	char *data_dir;           /* NULL: paths_data_dir() */
	int log_level;            /* LOG_* ; key log_level: error|warn|info|debug */
	/* limits: */
	size_t max_message_bytes; /* limits.max_message_bytes, default 1 MiB */
	int max_connections;      /* limits.max_connections, default 256 */
	size_t max_output_bytes;  /* limits.max_output_bytes: per-connection unsent
	                             replies/notifications before a slow client is
	                             dropped, default 16 MiB */
	int max_sources;          /* limits.max_sources, default 1024 */
	/* sources: */
	int context_lines;        /* sources.context_lines: ring size, default 200 */
	size_t max_line_bytes;    /* sources.max_line_bytes, default 65536 */
	int settle_ms;            /* sources.settle_ms: quiet time before a pending
	                             error is completed, default 30 */
	/* detect: */
	bool detect_python;       /* detect.python, default true */
	bool detect_shell;        /* detect.shell, default true */
	/* incidents: */
	int incident_context_lines; /* incidents.context_lines: lines kept with an
	                               incident, default 50 */
	/* watch: */
	int watch_poll_ms;        /* watch.poll_ms, default 250 */
	config_watch *watch;      /* watch.files: list of {path, name, from_start} */
	size_t nwatch;
	/* plugins: */
	bool plugins_enabled;     /* plugins.enabled, default true */
	char **plugin_dirs;       /* plugins.dirs: extra folders loaded after the
	                             standard ones (paths_plugin_dirs()); owned,
	                             absolute, NULL when empty */
	size_t nplugin_dirs;
	char **plugins_disabled;  /* plugins.disabled: names of plugins not to
	                             load; owned, NULL when empty */
	size_t nplugins_disabled;
	size_t plugin_memory;     /* plugins.memory: per plugin, default 32 MiB */
	long long plugin_instructions; /* plugins.instructions: Lua VM
	                             instructions per call, default 50 million
	                             (up to 10^10: wider than int) */
	int plugin_wall_ms;       /* plugins.wall_ms: wall clock per call,
	                             default 500 */
	json_t *plugin_settings;  /* plugins.settings: {plugin name: {...}} as
	                             written (YAML converted to JSON); owned
	                             reference, an empty object by default */
	/* remedies: */
	int remedy_timeout;       /* remedies.timeout: seconds a remedy may run
	                             when its plugin gave no timeout, default 600 */
	int remedy_verify_timeout; /* remedies.verify_timeout: seconds for its
	                             verify command, default 120 */
	/* docs: documentation retrieval (docs.* keys; docs/retrieval.md).
	 * Defaults from docs_options_init(), the values chosen with the
	 * evaluation set; docs.db NULL: <data dir>/docs.db. Owned. */
	struct docs_options docs;
	struct llm_config llm;    /* llm.*; owned */
	struct agent_config agent; /* agent.* */
	char *loaded_from;        /* path of the file read, NULL if none; owned */
} doctor_config;

/* Fill with defaults. Returns 0 or -ENOMEM. */
int config_defaults(doctor_config *c);
/* Read path over c. A missing file is -ENOENT (callers decide whether that
 * matters); a bad file is -EINVAL with *err set to a newly allocated message
 * ("FILE:LINE: KEY: what is wrong"). c is left unchanged on error. */
int config_load_file(doctor_config *c, const char *path, char **err);
/* Apply DOCTOR_SOCKET, DOCTOR_DATA_DIR, DOCTOR_LOG_LEVEL and
 * DOCTOR_LLM_MODEL over the file; then OPENAI_BASE_URL (to llm.base_url) and
 * OPENAI_MODEL (to llm.model) where still unset. Empty variables count as
 * unset. -EINVAL with *err on a bad value, or when llm.base_url came from
 * the file and no model was given anywhere. c is unchanged on error. */
int config_apply_env(doctor_config *c, char **err);
void config_free(doctor_config *c);
/* Deep copy of src's strings into dst (which is overwritten, not freed).
 * 0 or -ENOMEM (dst then holds nothing to free). */
int config_docs_copy(struct docs_options *dst, const struct docs_options *src);
/* Deep copy of src into dst (overwritten, not freed): for a diagnosis
 * that must keep its settings across a reload. 0 or -ENOMEM (dst then
 * holds nothing to free). */
int config_llm_copy(struct llm_config *dst, const struct llm_config *src);
/* Free what l owns and zero it. */
void config_llm_release(struct llm_config *l);
/* True when base_url and model are both set. */
bool config_llm_configured(const struct llm_config *l);
/* The price of model from llm.prices (exact name): 0, or -ENOENT when it
 * has none (its tokens then cost 0). */
int config_llm_price(const struct llm_config *l, const char *model,
                     double *input, double *output);
/* "error" | "warn" | "info" | "debug" -> LOG_*, or -EINVAL. */
int config_parse_log_level(const char *s);
const char *config_log_level_name(int level);

#endif
