/*
 * config.c - doctord's configuration: one table of keys that drives the
 * defaults, the YAML file, the environment and every error message.
 *
 * Each setting is declared once in cfg_config_keys[] with its dotted key,
 * type, bounds, default and help. The default is written as it would be in
 * the file and parsed by the same code, so a default can never be out of its
 * own bounds. This file holds the table, the parsing of values, defaults and
 * the environment; config_yaml.c walks a YAML file against the same table.
 *
 * The environment's rules (which variables override the file and which only
 * fill what it left unset) are at config_apply_env().
 *
 * Changing a setting, or adding one, is one line here (plus its field in
 * config.h, etc/doctor.yaml and docs/configuration.md; a new kind of field
 * also needs its freeing and copying below).
 */
#include "config_internal.h"
#include "paths.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * The table
 */

#define KiB 1024LL
#define MiB (1024LL * KiB)
#define GiB (1024LL * MiB)
#define SOCKET_PATH_MAX ((long long)sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define FIELD(f) offsetof(doctor_config, f)

/* What one entry of plugins.dirs and of plugins.disabled is. */
static const struct cfg_key plugin_dir_item = {
	"", CFG_PATH, 0, 0, PATH_MAX - 1, NULL, .help = "a plugin folder"
};
static const struct cfg_key plugin_name_item = {
	"", CFG_STRING, 0, 1, 0, NULL, .help = "a plugin's name"
};

static const char *const chunk_strategy_names[] = {
	[CHUNK_SECTION] = "section", [CHUNK_PARAGRAPH] = "paragraph", NULL
};
static const char *const encoding_names[] = { "float", "base64", NULL };

/* What docs_index.h says 0 means for the embeddings' batch and timeout. */
#define DOCS_EMBED_BATCH 64
#define DOCS_EMBED_TIMEOUT_MS 30000

/* CFG_ENUM stores an int: the strategy's field must be one. */
_Static_assert(sizeof(enum chunk_strategy) == sizeof(int),
               "docs.chunk.strategy is stored as an int");

static const char *const log_level_names[] = {
	[LOG_ERROR] = "error", [LOG_WARN] = "warn",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug", NULL
};

const struct cfg_key cfg_config_keys[] = {
	{ "socket", CFG_PATH, FIELD(socket_path), 0, SOCKET_PATH_MAX, NULL,
	  .help = "Unix socket to listen on (default: $XDG_RUNTIME_DIR/doctor/doctord.sock)" },
	{ "data_dir", CFG_PATH, FIELD(data_dir), 0, PATH_MAX - 1, NULL,
	  .help = "where doctor.db lives (default: $XDG_DATA_HOME/doctor)" },
	{ "log_level", CFG_ENUM, FIELD(log_level), 0, 0, "info",
	  .choices = log_level_names, .help = "error, warn, info or debug" },
	{ "limits.max_message_bytes", CFG_SIZE, FIELD(max_message_bytes),
	  1 * KiB, 1 * GiB, "1MiB", .help = "longest JSON-RPC line accepted" },
	{ "limits.max_connections", CFG_INT, FIELD(max_connections),
	  1, 65536, "256", .help = "clients connected at once" },
	{ "limits.max_output_bytes", CFG_SIZE, FIELD(max_output_bytes),
	  64 * KiB, 1 * GiB, "16MiB",
	  .help = "unsent output queued for one client before it is dropped" },
	{ "limits.max_sources", CFG_INT, FIELD(max_sources),
	  1, 1000000, "1024", .help = "sources open at once" },
	{ "sources.context_lines", CFG_INT, FIELD(context_lines),
	  0, 100000, "200", .help = "recent lines remembered per source" },
	{ "sources.max_line_bytes", CFG_SIZE, FIELD(max_line_bytes),
	  256, 16 * MiB, "64KiB", .help = "longer lines are cut" },
	{ "sources.settle_ms", CFG_INT, FIELD(settle_ms),
	  0, 60000, "30", .help = "quiet time before a pending error is complete" },
	{ "detect.python", CFG_BOOL, FIELD(detect_python), 0, 0, "true",
	  .help = "detect Python tracebacks" },
	{ "detect.shell", CFG_BOOL, FIELD(detect_shell), 0, 0, "true",
	  .help = "detect shell errors (command not found...)" },
	{ "incidents.context_lines", CFG_INT, FIELD(incident_context_lines),
	  0, 10000, "50", .help = "source lines stored with an incident" },
	{ "watch.poll_ms", CFG_INT, FIELD(watch_poll_ms), 10, 60000, "250",
	  .help = "how often followed files are checked" },
	{ "watch.files", CFG_WATCHES, FIELD(watch), 0, 10000, NULL,
	  .count_offset = FIELD(nwatch),
	  .help = "log files to follow: paths or {path, name, from_start}" },
	{ "plugins.enabled", CFG_BOOL, FIELD(plugins_enabled), 0, 0, "true",
	  .help = "load Lua plugins at all" },
	{ "plugins.dirs", CFG_PATH_LIST, FIELD(plugin_dirs), 0, 64, NULL,
	  .count_offset = FIELD(nplugin_dirs), .item = &plugin_dir_item,
	  .help = "extra plugin folders, loaded after the standard ones" },
	{ "plugins.disabled", CFG_NAME_LIST, FIELD(plugins_disabled), 0, 1000, NULL,
	  .count_offset = FIELD(nplugins_disabled), .item = &plugin_name_item,
	  .help = "names of plugins not to load" },
	{ "plugins.memory", CFG_SIZE, FIELD(plugin_memory), 1 * MiB, 1 * GiB,
	  "32MiB", .help = "memory of one plugin's Lua state" },
	{ "plugins.instructions", CFG_INT64, FIELD(plugin_instructions),
	  1000, 10000000000LL, "50000000",
	  .help = "Lua instructions one plugin call may run" },
	{ "plugins.wall_ms", CFG_INT, FIELD(plugin_wall_ms), 10, 60000, "500",
	  .help = "milliseconds one plugin call may take" },
	{ "plugins.settings", CFG_JSON, FIELD(plugin_settings), 0, 64, "{}",
	  .help = "each plugin's settings: {plugin name: {any YAML}}" },
	{ "remedies.timeout", CFG_INT, FIELD(remedy_timeout), 1, 86400, "600",
	  .help = "seconds a remedy may run when its plugin gave no timeout" },
	{ "remedies.verify_timeout", CFG_INT, FIELD(remedy_verify_timeout),
	  1, 86400, "120", .help = "seconds a remedy's verify command may run" },
	/* docs.*: no default text here; config_defaults() takes them from
	 * docs_options_init(), the values the evaluation chose. */
	{ "docs.db", CFG_PATH, FIELD(docs.db_path), 0, PATH_MAX - 1, NULL,
	  .help = "the documentation index (default: docs.db in data_dir)" },
	{ "docs.chunk.strategy", CFG_ENUM, FIELD(docs.chunk.strategy), 0, 0, NULL,
	  .choices = chunk_strategy_names,
	  .help = "section: a chunk never crosses a section; paragraph: each block is a unit" },
	{ "docs.chunk.max_chars", CFG_COUNT, FIELD(docs.chunk.max_chars),
	  100, 100000, NULL, .help = "longest chunk, in characters" },
	{ "docs.chunk.overlap", CFG_COUNT, FIELD(docs.chunk.overlap), 0, 50000, NULL,
	  .help = "characters repeated from the previous chunk when a unit is split" },
	{ "docs.notebook_outputs", CFG_BOOL, FIELD(docs.notebook_outputs), 0, 0, NULL,
	  .help = "index the stored outputs of notebook cells too" },
	{ "docs.max_file_bytes", CFG_SIZE, FIELD(docs.max_file_bytes),
	  1 * KiB, 1 * GiB, NULL, .help = "larger files are skipped with a warning" },
	{ "docs.weights.title", CFG_REAL, FIELD(docs.w_title), 0, 100, NULL,
	  .help = "BM25 weight of the page title" },
	{ "docs.weights.headings", CFG_REAL, FIELD(docs.w_headings), 0, 100, NULL,
	  .help = "BM25 weight of the section headings" },
	{ "docs.weights.body", CFG_REAL, FIELD(docs.w_body), 0, 100, NULL,
	  .help = "BM25 weight of the chunk's text" },
	{ "docs.k", CFG_UINT, FIELD(docs.k), 1, 1000, NULL,
	  .help = "results a search returns when it does not say" },
	{ "docs.per_page", CFG_UINT, FIELD(docs.per_page), 0, 1000, NULL,
	  .help = "at most this many results from one page (0: no limit)" },
	{ "docs.rrf_k", CFG_UINT, FIELD(docs.rrf_k), 1, 100000, NULL,
	  .help = "reciprocal rank fusion constant" },
	{ "docs.embeddings.base_url", CFG_URL, FIELD(docs.embed.base_url), 0, 2048, NULL,
	  .help = "OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1 (null: lexical only)" },
	{ "docs.embeddings.model", CFG_STRING, FIELD(docs.embed.model), 1, 0, NULL,
	  .help = "the embedding model's name" },
	{ "docs.embeddings.api_key_env", CFG_ENV_NAME, FIELD(docs.embed.api_key_env),
	  0, 255, NULL, .help = "environment variable holding the API key (null: no key)" },
	{ "docs.embeddings.dimensions", CFG_UINT, FIELD(docs.embed.dimensions),
	  0, 65536, NULL, .help = "dimensions asked of the server (0: the model's own)" },
	{ "docs.embeddings.batch", CFG_UINT, FIELD(docs.embed.batch), 1, 2048, NULL,
	  .help = "texts per request" },
	{ "docs.embeddings.timeout_ms", CFG_UINT, FIELD(docs.embed.timeout_ms),
	  100, 600000, NULL, .help = "milliseconds one request may take" },
	{ "docs.embeddings.encoding", CFG_ENUM_BOOL, FIELD(docs.embed.base64), 0, 0, NULL,
	  .choices = encoding_names, .help = "float or base64: how vectors travel" },
	/* llm.*: the agent's endpoint. base_url and model may also come from
	 * the environment (config_apply_env). */
	{ "llm.base_url", CFG_URL, FIELD(llm.base_url), 0, 2048, NULL,
	  .help = "OpenAI-compatible endpoint up to /v1 (null: OPENAI_BASE_URL, else no LLM)" },
	{ "llm.model", CFG_STRING, FIELD(llm.model), 1, 0, NULL,
	  .help = "the chat model's name (null: DOCTOR_LLM_MODEL or OPENAI_MODEL)" },
	{ "llm.api_key_env", CFG_ENV_NAME, FIELD(llm.api_key_env), 0, 255,
	  "OPENAI_API_KEY", .help = "environment variable holding the API key (null: no key)" },
	{ "llm.stream", CFG_BOOL, FIELD(llm.stream), 0, 0, "true",
	  .help = "stream responses (server-sent events)" },
	{ "llm.tools", CFG_BOOL, FIELD(llm.tools), 0, 0, "true",
	  .help = "the model calls tools; false: ask for a JSON answer instead" },
	{ "llm.timeout", CFG_INT, FIELD(llm.timeout), 1, 86400, "120",
	  .help = "seconds one whole request may take" },
	{ "llm.connect_timeout", CFG_INT, FIELD(llm.connect_timeout), 1, 3600, "10",
	  .help = "seconds to connect" },
	{ "llm.idle_timeout", CFG_INT, FIELD(llm.idle_timeout), 1, 86400, "60",
	  .help = "seconds without a byte from the server before giving up" },
	{ "llm.max_retries", CFG_INT, FIELD(llm.max_retries), 0, 100, "4",
	  .help = "retries of a request that failed in a way worth retrying" },
	{ "llm.retry_after_cap", CFG_INT, FIELD(llm.retry_after_cap), 0, 3600, "60",
	  .help = "longest Retry-After wait honoured, in seconds" },
	{ "llm.prices", CFG_PRICES, FIELD(llm.prices), 0, 1000, NULL,
	  .count_offset = FIELD(llm.nprices),
	  .help = "USD per million tokens: {model: {input: N, output: N}}" },
	{ "agent.enabled", CFG_BOOL, FIELD(agent.enabled), 0, 0, "true",
	  .help = "ask the LLM, when configured, about errors no plugin knows" },
	{ "agent.max_steps", CFG_INT, FIELD(agent.max_steps), 1, 100, "8",
	  .help = "LLM turns one diagnosis may take" },
	{ "agent.max_tokens", CFG_INT, FIELD(agent.max_tokens), 1, 1000000, "2048",
	  .help = "tokens one response may have" },
	{ "agent.budget_per_diagnosis", CFG_REAL, FIELD(agent.budget_per_diagnosis),
	  0, 1000000, "0.10", .help = "US dollars one diagnosis may cost" },
	{ "agent.budget_daily", CFG_REAL, FIELD(agent.budget_daily), 0, 1000000, "2.00",
	  .help = "US dollars all diagnoses may cost per UTC day" },
	{ "agent.docs_k", CFG_INT, FIELD(agent.docs_k), 0, 100, "4",
	  .help = "documentation chunks put in the first prompt" },
	{ "agent.read_file_max_bytes", CFG_SIZE, FIELD(agent.read_file_max_bytes),
	  1 * KiB, 64 * MiB, "64KiB", .help = "most of a file the read_file tool reads" },
	{ "agent.tool_result_max_bytes", CFG_SIZE, FIELD(agent.tool_result_max_bytes),
	  1 * KiB, 16 * MiB, "16KiB", .help = "longest tool result given to the model" },
	{ "agent.cache", CFG_BOOL, FIELD(agent.cache), 0, 0, "true",
	  .help = "reuse the diagnosis of the same error fingerprint and model" },
};

/* The keys of one watch.files entry, relative to a config_watch. */
const struct cfg_key cfg_watch_keys[] = {
	{ "path", CFG_PATH, offsetof(config_watch, path), 0, PATH_MAX - 1, NULL,
	  .help = "the file to follow" },
	{ "name", CFG_STRING, offsetof(config_watch, name), 0, 0, NULL,
	  .help = "the source's name (default: the path)" },
	{ "from_start", CFG_BOOL, offsetof(config_watch, from_start), 0, 0, "false",
	  .help = "read what the file already holds" },
};

/* The keys of one llm.prices entry, relative to a struct llm_price. */
const struct cfg_key cfg_price_keys[] = {
	{ "input", CFG_REAL, offsetof(struct llm_price, input), 0, 1000000, NULL,
	  .help = "USD per million prompt tokens" },
	{ "output", CFG_REAL, offsetof(struct llm_price, output), 0, 1000000, NULL,
	  .help = "USD per million completion tokens" },
};

#define NKEYS(table) (sizeof(table) / sizeof((table)[0]))

const size_t cfg_config_nkeys = NKEYS(cfg_config_keys);
const size_t cfg_watch_nkeys = NKEYS(cfg_watch_keys);
const size_t cfg_price_nkeys = NKEYS(cfg_price_keys);

const struct cfg_key *cfg_find_key(const struct cfg_key *table, size_t n,
                                   const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(table[i].key, key) == 0)
			return &table[i];
	return NULL;
}

bool cfg_is_section(const char *key)
{
	size_t len = strlen(key), i;

	for (i = 0; i < NKEYS(cfg_config_keys); i++)
		if (strncmp(cfg_config_keys[i].key, key, len) == 0 &&
		    cfg_config_keys[i].key[len] == '.')
			return true;
	return false;
}

/* ------------------------------------------------------------------------
 * Values: parsing text for a key, and what a key expects
 */

/* "~" and "~/x" become $HOME and $HOME/x; the result must be absolute and
 * at most max bytes. */
static int parse_path(const char *text, long long max, char **out)
{
	const char *home;
	char *path;

	if (text[0] == '~' && (text[1] == '\0' || text[1] == '/')) {
		home = paths_home_dir();
		if (!home || asprintf(&path, "%s%s", home, text + 1) < 0)
			return home ? -ENOMEM : -EINVAL;
	} else {
		path = strdup(text);
		if (!path)
			return -ENOMEM;
	}
	if (path[0] != '/' || (long long)strlen(path) > max) {
		free(path);
		return -EINVAL;
	}
	*out = path;
	return 0;
}

static int parse_int(const char *text, long long min, long long max,
                     long long *out)
{
	char *end;
	long long v;

	if (!(*text == '-' || *text == '+' || (*text >= '0' && *text <= '9')))
		return -EINVAL;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || end == text || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A byte count: digits, an optional space, an optional binary suffix. */
static int parse_size(const char *text, long long min, long long max,
                      long long *out)
{
	static const struct { const char *suffix; long long mult; } units[] = {
		{ "", 1 }, { "B", 1 }, { "K", KiB }, { "KiB", KiB },
		{ "M", MiB }, { "MiB", MiB }, { "G", GiB }, { "GiB", GiB },
	};
	unsigned long long v;
	char *end;
	size_t i;

	if (*text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end == ' ')
		end++;
	for (i = 0; i < NKEYS(units); i++) {
		if (strcasecmp(end, units[i].suffix) != 0)
			continue;
		if (v > (unsigned long long)max / (unsigned long long)units[i].mult)
			return -EINVAL;
		v *= (unsigned long long)units[i].mult;
		if ((long long)v < min)
			return -EINVAL;
		*out = (long long)v;
		return 0;
	}
	return -EINVAL;
}

static int parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	size_t i;

	for (i = 0; i < NKEYS(yes); i++) {
		if (strcasecmp(text, yes[i]) == 0 || strcasecmp(text, no[i]) == 0) {
			*out = strcasecmp(text, yes[i]) == 0;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_enum(const char *const *choices, const char *text, long long *out)
{
	long long i;

	for (i = 0; choices[i]; i++) {
		if (strcasecmp(text, choices[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

/* A decimal number, not hexadecimal, infinite or NaN (which strtod would
 * take), within [min, max]. */
static int parse_real(const char *text, long long min, long long max, double *out)
{
	const char *p = text + (*text == '-' || *text == '+');
	char *end;
	double v;

	if (!((*p >= '0' && *p <= '9') || *p == '.') || strpbrk(text, "xX"))
		return -EINVAL;
	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || *end || !isfinite(v) || v < (double)min ||
	    v > (double)max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* http:// or https:// then at least a host: no spaces or control
 * characters, at most max bytes. */
static int parse_url(const char *text, long long max, char **out)
{
	size_t scheme = strncasecmp(text, "http://", 7) == 0 ? 7 :
	                strncasecmp(text, "https://", 8) == 0 ? 8 : 0;
	const unsigned char *p;

	if (!scheme || !text[scheme] || text[scheme] == '/' ||
	    (long long)strlen(text) > max)
		return -EINVAL;
	for (p = (const unsigned char *)text; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return -EINVAL;
	*out = strdup(text);
	return *out ? 0 : -ENOMEM;
}

/* A name the environment can hold: [A-Za-z_][A-Za-z0-9_]*. */
static int parse_env_name(const char *text, long long max, char **out)
{
	static const char first[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_";
	size_t len = strlen(text);

	if (len == 0 || (long long)len > max || !strchr(first, text[0]) ||
	    strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789") != len)
		return -EINVAL;
	*out = strdup(text);
	return *out ? 0 : -ENOMEM;
}

/* A JSON object written as text: only defaults use this (the file's
 * mappings are converted node by node in config_yaml.c). */
static int parse_json_object(const char *text, json_t **out)
{
	json_t *obj = json_loads(text, 0, NULL);

	if (!json_is_object(obj)) {
		json_decref(obj);
		return -EINVAL;
	}
	*out = obj;
	return 0;
}

int cfg_parse_value(const struct cfg_key *k, const char *text,
                       union cfg_value *val)
{
	switch (k->type) {
	case CFG_PATH:
		return parse_path(text, k->max, &val->str);
	case CFG_STRING:
		if ((long long)strlen(text) < k->min)
			return -EINVAL;
		val->str = strdup(text);
		return val->str ? 0 : -ENOMEM;
	case CFG_INT:
	case CFG_INT64:
		return parse_int(text, k->min, k->max, &val->num);
	case CFG_SIZE:
		return parse_size(text, k->min, k->max, &val->num);
	case CFG_BOOL:
		return parse_bool(text, &val->flag);
	case CFG_ENUM:
		return parse_enum(k->choices, text, &val->num);
	case CFG_JSON:
		return parse_json_object(text, &val->json);
	case CFG_UINT:
	case CFG_COUNT:
		return parse_int(text, k->min, k->max, &val->num);
	case CFG_REAL:
		return parse_real(text, k->min, k->max, &val->real);
	case CFG_URL:
		return parse_url(text, k->max, &val->str);
	case CFG_ENV_NAME:
		return parse_env_name(text, k->max, &val->str);
	case CFG_ENUM_BOOL:
		return parse_enum(k->choices, text, &val->num);
	case CFG_WATCHES:
	case CFG_PATH_LIST:
	case CFG_NAME_LIST:
	case CFG_PRICES:
		break;
	}
	return -EINVAL;
}

bool cfg_is_text(const struct cfg_key *k)
{
	return k->type == CFG_PATH || k->type == CFG_STRING || k->type == CFG_URL ||
	       k->type == CFG_ENV_NAME;
}

void cfg_describe_expected(const struct cfg_key *k, char *buf, size_t size)
{
	size_t used, i;

	switch (k->type) {
	case CFG_PATH:
		snprintf(buf, size, "an absolute path (or one starting with ~/) "
		         "of at most %lld bytes", k->max);
		break;
	case CFG_STRING:
		snprintf(buf, size, k->min > 0 ? "a non-empty string" : "a string");
		break;
	case CFG_INT:
	case CFG_INT64:
	case CFG_UINT:
	case CFG_COUNT:
		snprintf(buf, size, "an integer from %lld to %lld", k->min, k->max);
		break;
	case CFG_REAL:
		snprintf(buf, size, "a number from %lld to %lld", k->min, k->max);
		break;
	case CFG_URL:
		snprintf(buf, size, "an http:// or https:// URL of at most %lld bytes", k->max);
		break;
	case CFG_ENV_NAME:
		snprintf(buf, size, "an environment variable's name (letters, digits "
		         "and _, not starting with a digit)");
		break;
	case CFG_SIZE:
		snprintf(buf, size, "an integer from %lld to %lld or a size like "
		         "64KiB or 1MiB", k->min, k->max);
		break;
	case CFG_BOOL:
		snprintf(buf, size, "true or false (or yes/no, on/off)");
		break;
	case CFG_ENUM:
	case CFG_ENUM_BOOL:
		used = (size_t)snprintf(buf, size, "one of");
		for (i = 0; k->choices[i] && used < size; i++)
			used += (size_t)snprintf(buf + used, size - used, "%s %s",
			                         i ? "," : "", k->choices[i]);
		break;
	case CFG_WATCHES:
		snprintf(buf, size, "a list of at most %lld files, each a path or "
		         "a mapping {path, name, from_start}", k->max);
		break;
	case CFG_PATH_LIST:
		snprintf(buf, size, "a list of at most %lld absolute paths (or ones "
		         "starting with ~/)", k->max);
		break;
	case CFG_NAME_LIST:
		snprintf(buf, size, "a list of at most %lld names", k->max);
		break;
	case CFG_JSON:
		snprintf(buf, size, "a mapping {plugin name: {its settings}}");
		break;
	case CFG_PRICES:
		snprintf(buf, size, "a mapping of at most %lld models, each {input: "
		         "USD, output: USD} per million tokens", k->max);
		break;
	}
}

void cfg_store_value(const struct cfg_key *k, void *base, union cfg_value *val)
{
	void *field = (char *)base + k->offset;

	switch (k->type) {
	case CFG_PATH:
	case CFG_STRING:
	case CFG_URL:
	case CFG_ENV_NAME:
		free(*(char **)field);
		*(char **)field = val->str;
		break;
	case CFG_UINT:
		*(unsigned *)field = (unsigned)val->num;
		break;
	case CFG_COUNT:
		*(size_t *)field = (size_t)val->num;
		break;
	case CFG_REAL:
		*(double *)field = val->real;
		break;
	case CFG_ENUM_BOOL:
		*(bool *)field = val->num != 0;
		break;
	case CFG_INT:
	case CFG_ENUM:
		*(int *)field = (int)val->num;
		break;
	case CFG_INT64:
		*(long long *)field = val->num;
		break;
	case CFG_SIZE:
		*(size_t *)field = (size_t)val->num;
		break;
	case CFG_BOOL:
		*(bool *)field = val->flag;
		break;
	case CFG_JSON:
		json_decref(*(json_t **)field);
		*(json_t **)field = val->json;
		break;
	case CFG_WATCHES:
	case CFG_PATH_LIST:
	case CFG_NAME_LIST:
	case CFG_PRICES:
		break;
	}
}

/* Cut at a UTF-8 boundary, so the message stays valid UTF-8. */
const char *cfg_quote(const char *text, char *buf, size_t size)
{
	size_t cut = 57;

	if (strlen(text) <= 60) {
		snprintf(buf, size, "'%s'", text);
		return buf;
	}
	while (cut > 0 && ((unsigned char)text[cut] & 0xc0) == 0x80)
		cut--;
	snprintf(buf, size, "'%.*s...'", (int)cut, text);
	return buf;
}

/* ------------------------------------------------------------------------
 * Whole configurations: defaults, copies, freeing
 */

void cfg_watches_free(config_watch *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(list[i].path);
		free(list[i].name);
	}
	free(list);
}

void cfg_prices_free(struct llm_price *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(list[i].model);
	free(list);
}

void config_llm_release(struct llm_config *l)
{
	free(l->base_url);
	free(l->model);
	free(l->api_key_env);
	cfg_prices_free(l->prices, l->nprices);
	memset(l, 0, sizeof(*l));
}

void config_free(doctor_config *c)
{
	if (!c)
		return;
	free(c->socket_path);
	free(c->data_dir);
	cfg_watches_free(c->watch, c->nwatch);
	paths_free_list(c->plugin_dirs, c->nplugin_dirs);
	paths_free_list(c->plugins_disabled, c->nplugins_disabled);
	json_decref(c->plugin_settings);
	docs_options_release(&c->docs);
	config_llm_release(&c->llm);
	free(c->loaded_from);
	memset(c, 0, sizeof(*c));
}

int config_defaults(doctor_config *c)
{
	union cfg_value val;
	size_t i;
	int rc;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NKEYS(cfg_config_keys); i++) {
		if (!cfg_config_keys[i].def)
			continue;   /* stays NULL / empty */
		rc = cfg_parse_value(&cfg_config_keys[i], cfg_config_keys[i].def, &val);
		if (rc < 0) {
			config_free(c);
			return rc;  /* -ENOMEM, or a default out of its own bounds */
		}
		cfg_store_value(&cfg_config_keys[i], c, &val);
	}
	docs_options_init(&c->docs);
	/* The embeddings' batch and timeout are left at 0, which
	 * docs_index.h defines as 64 texts and 30000 ms: the file shows
	 * those figures, so the defaults hold them too. */
	if (!c->docs.embed.batch)
		c->docs.embed.batch = DOCS_EMBED_BATCH;
	if (!c->docs.embed.timeout_ms)
		c->docs.embed.timeout_ms = DOCS_EMBED_TIMEOUT_MS;
	return 0;
}

static char *strdup_or_null(const char *s, bool *failed)
{
	char *copy = s ? strdup(s) : NULL;

	if (s && !copy)
		*failed = true;
	return copy;
}

/* Copy of a list of n strings; NULL for an empty list, or (setting
 * *failed) when out of memory. */
static char **copy_list(char *const *src, size_t n, bool *failed)
{
	char **copy;
	size_t i;

	if (n == 0)
		return NULL;
	copy = calloc(n, sizeof(*copy));
	for (i = 0; copy && i < n; i++) {
		copy[i] = strdup(src[i]);
		if (!copy[i]) {
			paths_free_list(copy, i);
			copy = NULL;
		}
	}
	if (!copy)
		*failed = true;
	return copy;
}

int config_docs_copy(struct docs_options *dst, const struct docs_options *src)
{
	bool failed = false;

	*dst = *src;
	dst->db_path = strdup_or_null(src->db_path, &failed);
	dst->embed.base_url = strdup_or_null(src->embed.base_url, &failed);
	dst->embed.model = strdup_or_null(src->embed.model, &failed);
	dst->embed.api_key_env = strdup_or_null(src->embed.api_key_env, &failed);
	if (failed) {
		docs_options_release(dst);
		memset(dst, 0, sizeof(*dst));
		return -ENOMEM;
	}
	return 0;
}

int config_llm_copy(struct llm_config *dst, const struct llm_config *src)
{
	bool failed = false;
	size_t i;

	*dst = *src;
	dst->base_url = strdup_or_null(src->base_url, &failed);
	dst->model = strdup_or_null(src->model, &failed);
	dst->api_key_env = strdup_or_null(src->api_key_env, &failed);
	dst->prices = src->nprices ? calloc(src->nprices, sizeof(*dst->prices)) : NULL;
	if (src->nprices && !dst->prices) {
		dst->nprices = 0;
		failed = true;
	}
	for (i = 0; dst->prices && i < src->nprices; i++) {
		dst->prices[i] = src->prices[i];
		dst->prices[i].model = strdup_or_null(src->prices[i].model, &failed);
	}
	if (failed) {
		config_llm_release(dst);
		return -ENOMEM;
	}
	return 0;
}

bool config_llm_configured(const struct llm_config *l)
{
	return l->base_url && *l->base_url && l->model && *l->model;
}

int config_llm_price(const struct llm_config *l, const char *model,
                     double *input, double *output)
{
	size_t i;

	for (i = 0; model && i < l->nprices; i++) {
		if (strcmp(l->prices[i].model, model) == 0) {
			*input = l->prices[i].input;
			*output = l->prices[i].output;
			return 0;
		}
	}
	*input = *output = 0;
	return -ENOENT;
}

int cfg_check_relations(const doctor_config *c, const char **key,
                        const char **other, char *msg, size_t size)
{
	const struct docs_options *o = &c->docs;

	if (o->chunk.overlap >= o->chunk.max_chars) {
		*key = "docs.chunk.overlap";
		*other = "docs.chunk.max_chars";
		snprintf(msg, size, "docs.chunk.overlap: must be less than "
		         "docs.chunk.max_chars (%zu), got %zu", o->chunk.max_chars,
		         o->chunk.overlap);
		return -EINVAL;
	}
	if (o->w_title <= 0 && o->w_headings <= 0 && o->w_body <= 0) {
		*key = "docs.weights.body";
		*other = "docs.weights.title";
		snprintf(msg, size, "docs.weights: at least one of title, headings "
		         "and body must be above 0");
		return -EINVAL;
	}
	if (o->embed.base_url && o->embed.base_url[0] && !o->embed.model) {
		*key = "docs.embeddings.model";
		*other = "docs.embeddings.base_url";
		snprintf(msg, size, "docs.embeddings.model: required when "
		         "docs.embeddings.base_url is set");
		return -EINVAL;
	}
	return 0;
}

int cfg_copy(doctor_config *dst, const doctor_config *src)
{
	bool failed = false;
	size_t i;

	*dst = *src;
	dst->socket_path = strdup_or_null(src->socket_path, &failed);
	dst->data_dir = strdup_or_null(src->data_dir, &failed);
	dst->loaded_from = strdup_or_null(src->loaded_from, &failed);
	dst->watch = src->nwatch ? calloc(src->nwatch, sizeof(*dst->watch)) : NULL;
	if (src->nwatch && !dst->watch) {
		dst->nwatch = 0;
		failed = true;
	}
	for (i = 0; dst->watch && i < src->nwatch; i++) {
		dst->watch[i].path = strdup_or_null(src->watch[i].path, &failed);
		dst->watch[i].name = strdup_or_null(src->watch[i].name, &failed);
		dst->watch[i].from_start = src->watch[i].from_start;
	}
	dst->plugin_dirs = copy_list(src->plugin_dirs, src->nplugin_dirs, &failed);
	dst->plugins_disabled = copy_list(src->plugins_disabled,
	                                  src->nplugins_disabled, &failed);
	/* Deep, so that the copy can be changed or freed on its own. */
	dst->plugin_settings = src->plugin_settings ?
	                       json_deep_copy(src->plugin_settings) : NULL;
	if (src->plugin_settings && !dst->plugin_settings)
		failed = true;
	if (config_docs_copy(&dst->docs, &src->docs) < 0)
		failed = true;
	if (config_llm_copy(&dst->llm, &src->llm) < 0)
		failed = true;
	if (failed) {
		config_free(dst);
		return -ENOMEM;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Log levels
 */

int config_parse_log_level(const char *s)
{
	long long level;

	if (!s || parse_enum(log_level_names, s, &level) < 0)
		return -EINVAL;
	return (int)level;
}

const char *config_log_level_name(int level)
{
	if (level < LOG_ERROR || level > LOG_DEBUG)
		return "unknown";
	return log_level_names[level];
}

/* ------------------------------------------------------------------------
 * The environment
 *
 * doctor's own variables (DOCTOR_*) override the file. The conventional
 * OPENAI_BASE_URL and OPENAI_MODEL, which other programs read too, only fill
 * llm.base_url and llm.model when the file left them unset: a file that
 * names an endpoint is never redirected by a variable set for another tool.
 * The API key is not configuration: llm.api_key_env (default
 * OPENAI_API_KEY) names the variable read at each request.
 */

/* Parse text (from variable var) as key's value and store it in c. */
static int env_set(doctor_config *c, const char *var, const char *key,
                   const char *text, char **err)
{
	const struct cfg_key *k = cfg_find_key(cfg_config_keys, cfg_config_nkeys, key);
	char want[160], got[80];
	union cfg_value val;
	int rc;

	rc = cfg_parse_value(k, text, &val);
	if (rc == 0) {
		cfg_store_value(k, c, &val);
	} else if (rc == -EINVAL) {
		cfg_describe_expected(k, want, sizeof(want));
		if (asprintf(err, "%s: expected %s, got %s", var, want,
		             cfg_quote(text, got, sizeof(got))) < 0) {
			*err = NULL;
			rc = -ENOMEM;
		}
	}
	return rc;
}

/* The variable's value, or NULL when it is unset or empty. */
static const char *env_value(const char *var)
{
	const char *text = getenv(var);

	return text && *text ? text : NULL;
}

int config_apply_env(doctor_config *c, char **err)
{
	static const struct { const char *var, *key; } overrides[] = {
		{ "DOCTOR_SOCKET", "socket" },
		{ "DOCTOR_DATA_DIR", "data_dir" },
		{ "DOCTOR_LOG_LEVEL", "log_level" },
		{ "DOCTOR_LLM_MODEL", "llm.model" },
	};
	const char *text;
	doctor_config tmp;
	bool url_from_file;
	size_t i;
	int rc;

	*err = NULL;
	rc = cfg_copy(&tmp, c);
	for (i = 0; rc == 0 && i < NKEYS(overrides); i++)
		if ((text = env_value(overrides[i].var)))
			rc = env_set(&tmp, overrides[i].var, overrides[i].key, text, err);
	url_from_file = tmp.llm.base_url != NULL;
	if (rc == 0 && !tmp.llm.base_url && (text = env_value("OPENAI_BASE_URL")))
		rc = env_set(&tmp, "OPENAI_BASE_URL", "llm.base_url", text, err);
	if (rc == 0 && !tmp.llm.model && (text = env_value("OPENAI_MODEL")))
		rc = env_set(&tmp, "OPENAI_MODEL", "llm.model", text, err);
	/* Without a model the endpoint is useless: an error when the file
	 * named it, no LLM at all when only OPENAI_BASE_URL did. */
	if (rc == 0 && url_from_file && !tmp.llm.model) {
		*err = strdup("llm.model: required when llm.base_url is set (in the "
		              "file, or by DOCTOR_LLM_MODEL or OPENAI_MODEL)");
		rc = *err ? -EINVAL : -ENOMEM;
	}
	if (rc < 0) {
		config_free(&tmp);
		return rc;
	}
	config_free(c);
	*c = tmp;
	return 0;
}
