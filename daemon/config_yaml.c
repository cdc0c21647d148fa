/*
 * config_yaml.c - reading doctord's YAML configuration file against the key
 * table of config.c.
 *
 * The file is parsed with libyaml's document loader and walked: a mapping
 * key is either a setting (cfg_config_keys[]), a section (a prefix of
 * settings, like "limits") or unknown. plugins.settings is the exception:
 * what is under it is free-form and converted to JSON for the plugins;
 * llm.prices is keyed by model names, each {input, output}.
 * Rules between settings (docs.chunk.overlap below docs.chunk.max_chars...)
 * are checked once the file is read. Errors name the file, line and key:
 *   "doctor.yaml:12: limits.max_connections: expected an integer from 1 to
 *    65536, got 'many'".
 * Loading works on a copy, so a file with an error changes nothing: a SIGHUP
 * with a broken file keeps the running configuration.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "config_internal.h"
#include "paths.h"

/* ------------------------------------------------------------------------
 * Error messages
 */

struct loader {
	const char *file;         /* as given by the caller, for messages */
	yaml_document_t *doc;
	char *err;                /* the error, once there is one; owned */
	/* Line where each cfg_config_keys[] entry was set (0: not yet), so
	 * that "limits: {max_connections: 1}" and "limits.max_connections: 2"
	 * in one file are caught as the same key twice. Owned. */
	unsigned long *set_line;
};

static unsigned long node_line(const yaml_node_t *n)
{
	return (unsigned long)n->start_mark.line + 1;
}

/* What a node is, after "got": 'text' or "a mapping" / "a list".
 * Static buffer: one call per message. */
static const char *describe_node(const yaml_node_t *n)
{
	static char buf[80];

	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	return cfg_quote((const char *)n->data.scalar.value, buf, sizeof(buf));
}

/* Record "FILE:LINE: <message>" as the error. Returns -EINVAL, or -ENOMEM
 * if even the message cannot be made. */
__attribute__((format(printf, 3, 4)))
static int fail(struct loader *ld, unsigned long line, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	n = asprintf(&ld->err, "%s:%lu: %s", ld->file, line, msg);
	free(msg);
	if (n < 0) {
		ld->err = NULL;
		return -ENOMEM;
	}
	return -EINVAL;
}

static int fail_expected(struct loader *ld, const struct cfg_key *k,
                         const yaml_node_t *node, const char *name)
{
	char want[160];

	cfg_describe_expected(k, want, sizeof(want));
	return fail(ld, node_line(node), "%s: expected %s, got %s", name, want,
	            describe_node(node));
}

/* ------------------------------------------------------------------------
 * The YAML file: nodes against the table
 */

/* A plain empty scalar, ~ or null: YAML's null. Quoted "" is a string. */
static bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !*v || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0;
}

/* "prefix.name", or name at the top. Truncated keys are unknown anyway. */
static void join_key(char *buf, size_t size, const char *prefix, const char *name)
{
	snprintf(buf, size, "%s%s%s", prefix, *prefix ? "." : "", name);
}

/* Set field k of base from a scalar node; `name` is the key for messages. */
static int set_scalar(struct loader *ld, const struct cfg_key *k,
                      const yaml_node_t *node, const char *name, void *base)
{
	union cfg_value val = { 0 };
	const char *text;
	int rc;

	if (node->type != YAML_SCALAR_NODE)
		return fail_expected(ld, k, node, name);
	text = (const char *)node->data.scalar.value;
	if (is_null(node) && cfg_is_text(k)) {
		/* unset: the default for keys whose default is NULL; "none" for
		 * llm.api_key_env, whose default is a name */
		cfg_store_value(k, base, &val);
		return 0;
	}
	rc = strlen(text) == node->data.scalar.length ? cfg_parse_value(k, text, &val)
	                                              : -EINVAL; /* a "\0" escape */
	if (rc == -EINVAL)
		return fail_expected(ld, k, node, name);
	if (rc < 0)
		return rc;
	cfg_store_value(k, base, &val);
	return 0;
}

/* The name of a mapping key node, which must be a scalar. */
static int key_name(struct loader *ld, const yaml_node_t *key, const char **out)
{
	if (key->type != YAML_SCALAR_NODE)
		return fail(ld, node_line(key), "expected a key name, got %s",
		            describe_node(key));
	*out = (const char *)key->data.scalar.value;
	return 0;
}

/* YAML forbids a key twice in one mapping; libyaml does not check. Called
 * for each pair before it is used, so the walk stops at the first unknown
 * key and a huge mapping of junk costs nothing. */
static int check_duplicate(struct loader *ld, const yaml_node_t *map,
                           const yaml_node_pair_t *pair, const char *prefix)
{
	const yaml_node_t *key = yaml_document_get_node(ld->doc, pair->key);
	const yaml_node_pair_t *earlier;
	const yaml_node_t *seen;
	char full[256];

	if (key->type != YAML_SCALAR_NODE)
		return 0;
	for (earlier = map->data.mapping.pairs.start; earlier < pair; earlier++) {
		seen = yaml_document_get_node(ld->doc, earlier->key);
		if (seen->type != YAML_SCALAR_NODE ||
		    seen->data.scalar.length != key->data.scalar.length ||
		    memcmp(seen->data.scalar.value, key->data.scalar.value,
		           key->data.scalar.length) != 0)
			continue;
		join_key(full, sizeof(full), prefix, (const char *)key->data.scalar.value);
		return fail(ld, node_line(key), "%s: duplicate key (first on line %lu)",
		            full, node_line(seen));
	}
	return 0;
}

/* One entry of watch.files: a path, or a mapping of watch_keys. */
static int load_watch(struct loader *ld, const yaml_node_t *node,
                      const char *name, config_watch *w)
{
	const yaml_node_pair_t *pair;
	const struct cfg_key *k;
	const char *key = "";
	char full[256];
	int rc = 0;

	if (node->type == YAML_SCALAR_NODE)
		return set_scalar(ld, &cfg_watch_keys[0], node, name, w);
	if (node->type != YAML_MAPPING_NODE)
		return fail(ld, node_line(node), "%s: expected a path or a mapping "
		            "{path, name, from_start}, got %s", name, describe_node(node));
	for (pair = node->data.mapping.pairs.start;
	     rc == 0 && pair < node->data.mapping.pairs.top; pair++) {
		const yaml_node_t *kn = yaml_document_get_node(ld->doc, pair->key);

		rc = check_duplicate(ld, node, pair, name);
		if (rc == 0)
			rc = key_name(ld, kn, &key);
		if (rc < 0)
			break;
		join_key(full, sizeof(full), name, key);
		k = cfg_find_key(cfg_watch_keys, cfg_watch_nkeys, key);
		rc = k ? set_scalar(ld, k, yaml_document_get_node(ld->doc, pair->value),
		                    full, w)
		       : fail(ld, node_line(kn), "%s: unknown key", full);
	}
	return rc;
}

/* Check entry i of list once loaded: it has a path, not one seen before. */
static int check_watch(struct loader *ld, const yaml_node_t *node,
                       const char *name, const config_watch *list, size_t i)
{
	size_t j;

	if (!list[i].path)
		return fail(ld, node_line(node), "%s: a path is required", name);
	for (j = 0; j < i; j++)
		if (strcmp(list[j].path, list[i].path) == 0)
			return fail(ld, node_line(node), "%s: %s is already in "
			            "watch.files[%zu]", name, list[i].path, j);
	return 0;
}

/* watch.files: a list (or null: none). Replaces the whole list. */
/* How many items a list key's sequence has (0 for null); an error for a
 * non-sequence or more than k->max items (which also bounds the duplicate
 * checks). */
static int sequence_length(struct loader *ld, const struct cfg_key *k,
                           const yaml_node_t *node, size_t *n)
{
	*n = 0;
	if (is_null(node))
		return 0;
	if (node->type != YAML_SEQUENCE_NODE)
		return fail_expected(ld, k, node, k->key);
	*n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
	if (*n > (size_t)k->max)
		return fail_expected(ld, k, node, k->key);
	return 0;
}

static int load_watches(struct loader *ld, const struct cfg_key *k,
                        const yaml_node_t *node, void *base)
{
	config_watch **field = (config_watch **)((char *)base + k->offset);
	size_t *count = (size_t *)((char *)base + k->count_offset);
	const yaml_node_t *item;
	config_watch *list = NULL;
	size_t n = 0, i;
	char name[64];
	int rc = 0;

	if ((rc = sequence_length(ld, k, node, &n)) < 0)
		return rc;
	list = n ? calloc(n, sizeof(*list)) : NULL;
	if (n && !list)
		return -ENOMEM;
	for (i = 0; i < n && rc == 0; i++) {
		item = yaml_document_get_node(ld->doc, node->data.sequence.items.start[i]);
		snprintf(name, sizeof(name), "%s[%zu]", k->key, i);
		rc = load_watch(ld, item, name, &list[i]);
		if (rc == 0)
			rc = check_watch(ld, item, name, list, i);
	}
	if (rc < 0) {
		cfg_watches_free(list, n);
		return rc;
	}
	cfg_watches_free(*field, *count);
	*field = list;
	*count = n;
	return 0;
}

/* Check entry i of a list once parsed: not one seen before. */
static int check_list_entry(struct loader *ld, const yaml_node_t *node,
                            const struct cfg_key *k, char **list, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (strcmp(list[j], list[i]) == 0)
			return fail(ld, node_line(node), "%s[%zu]: %s is already in "
			            "%s[%zu]", k->key, i, list[i], k->key, j);
	return 0;
}

/* plugins.dirs, plugins.disabled: a list of scalars, each parsed with
 * k->item (or null: none). Replaces the whole list. */
static int load_list(struct loader *ld, const struct cfg_key *k,
                     const yaml_node_t *node, void *base)
{
	char ***field = (char ***)((char *)base + k->offset);
	size_t *count = (size_t *)((char *)base + k->count_offset);
	const yaml_node_t *item;
	char **list = NULL;
	size_t n = 0, i;
	char name[64];
	int rc = 0;

	if ((rc = sequence_length(ld, k, node, &n)) < 0)
		return rc;
	list = n ? calloc(n, sizeof(*list)) : NULL;
	if (n && !list)
		return -ENOMEM;
	for (i = 0; i < n && rc == 0; i++) {
		item = yaml_document_get_node(ld->doc, node->data.sequence.items.start[i]);
		snprintf(name, sizeof(name), "%s[%zu]", k->key, i);
		rc = is_null(item) ? fail_expected(ld, k->item, item, name)
		                   : set_scalar(ld, k->item, item, name, &list[i]);
		if (rc == 0)
			rc = check_list_entry(ld, item, k, list, i);
	}
	if (rc < 0) {
		paths_free_list(list, n);
		return rc;
	}
	paths_free_list(*field, *count);
	*field = list;
	*count = n;
	return 0;
}

/* ------------------------------------------------------------------------
 * plugins.settings: free-form YAML converted to JSON
 *
 * Plain scalars are typed as YAML 1.2's core schema types them: null,
 * true/false, integers (decimal, 0x hex, 0o octal) and floats; quoted and
 * block scalars stay strings. Tags are not interpreted. Aliases are
 * refused: a few lines of them expand to gigabytes, and libyaml lets one
 * refer to its own ancestor.
 */

struct json_walk {
	struct loader *ld;
	unsigned char *seen;   /* per document node: converted already; owned */
	int max_depth;
};

static bool is_one_of(const char *text, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(text, *words) == 0)
			return true;
	return false;
}

/* One or more digits of base (8, 10 or 16), and nothing else. */
static bool is_digits(const char *s, int base)
{
	const char *set = base == 8 ? "01234567" : base == 10 ? "0123456789"
	                                         : "0123456789abcdefABCDEF";

	return *s && strspn(s, set) == strlen(s);
}

/* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool is_core_float(const char *s)
{
	size_t mantissa;

	s += *s == '-' || *s == '+';
	mantissa = strspn(s, "0123456789");
	s += mantissa;
	if (*s == '.') {
		s++;
		mantissa += strspn(s, "0123456789");
		s += strspn(s, "0123456789");
	}
	if (mantissa == 0)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		s += *s == '-' || *s == '+';
		if (strspn(s, "0123456789") == 0)
			return false;
		s += strspn(s, "0123456789");
	}
	return *s == '\0';
}

/* The base of an integer as the core schema writes them: 10 ([-+]?[0-9]+),
 * 16 (0x[0-9a-fA-F]+) or 8 (0o[0-7]+), with *digits where strtoll starts;
 * 0 if text is no integer. */
static int integer_base(const char *text, const char **digits)
{
	const char *sign_less = text + (*text == '-' || *text == '+');
	int base;

	if (is_digits(sign_less, 10)) {
		*digits = text;
		return 10;
	}
	if (text[0] != '0' || (text[1] != 'x' && text[1] != 'o'))
		return 0;
	base = text[1] == 'x' ? 16 : 8;
	*digits = text + 2;
	return is_digits(*digits, base) ? base : 0;
}

/* A plain scalar that is an integer (base > 0, from integer_base()) or a
 * core schema float. JSON holds neither huge values nor infinities. */
static int plain_number(struct loader *ld, const yaml_node_t *node,
                        const char *name, int base, const char *digits,
                        json_t **out)
{
	const char *text = (const char *)node->data.scalar.value;
	char quoted[80];
	long long num;
	double real;

	errno = 0;
	if (base) {
		num = strtoll(digits, NULL, base);
		if (errno == ERANGE)
			goto too_big;
		*out = json_integer(num);
	} else {
		real = strtod(text, NULL);
		if (!isfinite(real))
			goto too_big;
		*out = json_real(real);
	}
	return *out ? 0 : -ENOMEM;
too_big:
	return fail(ld, node_line(node), "%s: %s is out of range for a number "
	            "(quote it to keep it as text)", name,
	            cfg_quote(text, quoted, sizeof(quoted)));
}

static int scalar_to_json(struct loader *ld, const yaml_node_t *node,
                          const char *name, json_t **out)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const trues[] = { "true", "True", "TRUE", NULL };
	static const char *const falses[] = { "false", "False", "FALSE", NULL };
	static const char *const non_finite[] = { ".inf", ".Inf", ".INF", "+.inf",
		"+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN", NULL };
	const char *text = (const char *)node->data.scalar.value;
	const char *digits = NULL;
	int base;

	if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		*out = json_stringn(text, node->data.scalar.length);
		return *out ? 0 : -ENOMEM;
	}
	base = integer_base(text, &digits);
	if (is_one_of(text, nulls))
		*out = json_null();
	else if (is_one_of(text, trues) || is_one_of(text, falses))
		*out = json_boolean(is_one_of(text, trues));
	else if (base || is_core_float(text))
		return plain_number(ld, node, name, base, digits, out);
	else if (is_one_of(text, non_finite))
		return fail(ld, node_line(node), "%s: JSON has no infinity or NaN "
		            "(quote it to keep it as text)", name);
	else
		*out = json_string(text);
	return *out ? 0 : -ENOMEM;
}

static int yaml_to_json(struct json_walk *w, yaml_node_item_t id,
                        const char *name, unsigned long line, int depth,
                        json_t **out);

/* A mapping whose values are converted at depth + 1. Keys must be scalars
 * without NUL bytes (JSON keys are strings) and, as YAML says, unique. */
static int mapping_to_json(struct json_walk *w, const yaml_node_t *map,
                           const char *name, int depth, json_t **out)
{
	const yaml_node_pair_t *pair;
	const yaml_node_t *key;
	json_t *obj = json_object(), *value;
	const char *kname = "";
	char full[256];
	int rc = 0;

	for (pair = map->data.mapping.pairs.start;
	     obj && rc == 0 && pair < map->data.mapping.pairs.top; pair++) {
		key = yaml_document_get_node(w->ld->doc, pair->key);
		rc = key_name(w->ld, key, &kname);
		if (rc == 0 && strlen(kname) != key->data.scalar.length)
			rc = fail(w->ld, node_line(key), "%s: a key holds a NUL byte", name);
		if (rc == 0 && json_object_get(obj, kname))
			rc = check_duplicate(w->ld, map, pair, name);  /* says where */
		if (rc < 0)
			break;
		join_key(full, sizeof(full), name, kname);
		rc = yaml_to_json(w, pair->value, full, node_line(key), depth + 1, &value);
		if (rc == 0 && json_object_set_new(obj, kname, value) < 0)
			rc = -ENOMEM;
	}
	if (!obj || rc < 0) {
		json_decref(obj);
		return obj ? rc : -ENOMEM;
	}
	*out = obj;
	return 0;
}

static int sequence_to_json(struct json_walk *w, const yaml_node_t *seq,
                            const char *name, int depth, json_t **out)
{
	const yaml_node_item_t *item;
	json_t *array = json_array(), *value;
	char full[256];
	int rc = 0;

	for (item = seq->data.sequence.items.start;
	     array && rc == 0 && item < seq->data.sequence.items.top; item++) {
		snprintf(full, sizeof(full), "%s[%zu]", name,
		         (size_t)(item - seq->data.sequence.items.start));
		rc = yaml_to_json(w, *item, full, node_line(seq), depth + 1, &value);
		if (rc == 0 && json_array_append_new(array, value) < 0)
			rc = -ENOMEM;
	}
	if (!array || rc < 0) {
		json_decref(array);
		return array ? rc : -ENOMEM;
	}
	*out = array;
	return 0;
}

/* Node id at depth (0: plugins.settings itself, 1: one plugin's settings)
 * as a new JSON value in *out. line is where its key is, for messages
 * about the node as a whole (an alias's own node is where its anchor is). */
static int yaml_to_json(struct json_walk *w, yaml_node_item_t id,
                        const char *name, unsigned long line, int depth,
                        json_t **out)
{
	const yaml_node_t *node = yaml_document_get_node(w->ld->doc, id);

	if (w->seen[id - 1])
		return fail(w->ld, line, "%s: YAML aliases are not supported in "
		            "plugins.settings", name);
	w->seen[id - 1] = 1;
	if (depth > w->max_depth)
		return fail(w->ld, line, "%s: nested deeper than %d levels", name,
		            w->max_depth);
	if (depth == 1 && is_null(node)) {
		*out = json_object();    /* "myplugin:" with nothing under it */
		return *out ? 0 : -ENOMEM;
	}
	if (depth == 1 && node->type != YAML_MAPPING_NODE)
		return fail(w->ld, node_line(node), "%s: expected a mapping of the "
		            "plugin's settings, got %s", name, describe_node(node));
	if (node->type == YAML_MAPPING_NODE)
		return mapping_to_json(w, node, name, depth, out);
	if (node->type == YAML_SEQUENCE_NODE)
		return sequence_to_json(w, node, name, depth, out);
	return scalar_to_json(w->ld, node, name, out);
}

/* plugins.settings: a mapping {plugin name: mapping or null}, or null (no
 * settings). Replaces the whole object. */
static int load_settings(struct loader *ld, const struct cfg_key *k,
                         const yaml_node_t *node, void *base)
{
	struct json_walk w = { .ld = ld, .max_depth = (int)k->max };
	union cfg_value val = { 0 };
	size_t nnodes;
	int rc;

	if (!is_null(node) && node->type != YAML_MAPPING_NODE)
		return fail_expected(ld, k, node, k->key);
	nnodes = (size_t)(ld->doc->nodes.top - ld->doc->nodes.start);
	w.seen = calloc(nnodes, 1);
	if (!w.seen)
		return -ENOMEM;
	if (is_null(node)) {
		val.json = json_object();
		rc = val.json ? 0 : -ENOMEM;
	} else {
		rc = yaml_to_json(&w, (yaml_node_item_t)(node - ld->doc->nodes.start) + 1,
		                  k->key, node_line(node), 0, &val.json);
	}
	if (rc == 0)
		cfg_store_value(k, base, &val);
	else
		json_decref(val.json);
	free(w.seen);
	return rc;
}

/* ------------------------------------------------------------------------
 * llm.prices: {model name: {input: USD, output: USD}}
 *
 * Model names are the keys (they may hold dots: "gpt-4.1"), so the section
 * cannot be written with dotted keys below llm.prices.
 */

/* One model's prices: a mapping with both input and output. */
static int load_price(struct loader *ld, const yaml_node_t *node,
                      const char *name, struct llm_price *p)
{
	bool seen[2] = { false, false };
	const yaml_node_pair_t *pair;
	const struct cfg_key *k;
	const char *key = "";
	char full[320];
	int rc = 0;

	if (node->type != YAML_MAPPING_NODE)
		return fail(ld, node_line(node), "%s: expected a mapping {input: USD, "
		            "output: USD} per million tokens, got %s", name,
		            describe_node(node));
	for (pair = node->data.mapping.pairs.start;
	     rc == 0 && pair < node->data.mapping.pairs.top; pair++) {
		const yaml_node_t *kn = yaml_document_get_node(ld->doc, pair->key);

		rc = check_duplicate(ld, node, pair, name);
		if (rc == 0)
			rc = key_name(ld, kn, &key);
		if (rc < 0)
			break;
		snprintf(full, sizeof(full), "%s.%s", name, key);
		k = cfg_find_key(cfg_price_keys, cfg_price_nkeys, key);
		if (!k)
			return fail(ld, node_line(kn), "%s: unknown key", full);
		seen[k - cfg_price_keys] = true;
		rc = set_scalar(ld, k, yaml_document_get_node(ld->doc, pair->value),
		                full, p);
	}
	if (rc == 0 && !(seen[0] && seen[1]))
		rc = fail(ld, node_line(node), "%s: both input and output are "
		          "required", name);
	return rc;
}

/* llm.prices, or null (none). Replaces the whole list. */
static int load_prices(struct loader *ld, const struct cfg_key *k,
                       const yaml_node_t *node, void *base)
{
	struct llm_price **field = (struct llm_price **)((char *)base + k->offset);
	size_t *count = (size_t *)((char *)base + k->count_offset);
	const yaml_node_pair_t *pair;
	const yaml_node_t *key;
	struct llm_price *list = NULL;
	const char *model = "";
	char name[300];
	size_t n = 0, i = 0;
	int rc = 0;

	if (!is_null(node) && node->type != YAML_MAPPING_NODE)
		return fail_expected(ld, k, node, k->key);
	if (!is_null(node))
		n = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
	if (n > (size_t)k->max)
		return fail(ld, node_line(node), "%s: more than %lld models", k->key, k->max);
	list = n ? calloc(n, sizeof(*list)) : NULL;
	if (n && !list)
		return -ENOMEM;
	for (pair = n ? node->data.mapping.pairs.start : NULL;
	     rc == 0 && i < n; pair++, i++) {
		key = yaml_document_get_node(ld->doc, pair->key);
		rc = check_duplicate(ld, node, pair, k->key);
		if (rc == 0)
			rc = key_name(ld, key, &model);
		if (rc == 0 && (!*model || strlen(model) != key->data.scalar.length))
			rc = fail(ld, node_line(key), "%s: a model's name must be "
			          "non-empty text", k->key);
		if (rc < 0)
			break;
		snprintf(name, sizeof(name), "%s.%s", k->key, model);
		list[i].model = strdup(model);
		rc = list[i].model ? load_price(ld, yaml_document_get_node(ld->doc,
		                                pair->value), name, &list[i]) : -ENOMEM;
	}
	if (rc < 0) {
		cfg_prices_free(list, n);
		return rc;
	}
	cfg_prices_free(*field, *count);
	*field = list;
	*count = n;
	return 0;
}

static int load_mapping(struct loader *ld, const yaml_node_t *map,
                        const char *prefix, doctor_config *c);

/* A section ("limits:"): a mapping of its settings, or null (none set). */
static int load_section(struct loader *ld, const yaml_node_t *node,
                        const char *name, doctor_config *c)
{
	if (is_null(node))
		return 0;
	if (node->type != YAML_MAPPING_NODE)
		return fail(ld, node_line(node), "%s: expected a mapping of %s.* "
		            "settings, got %s", name, name, describe_node(node));
	return load_mapping(ld, node, name, c);
}

/* One setting, found in the table under `full`. */
static int load_setting(struct loader *ld, const struct cfg_key *k,
                        const yaml_node_t *key, const yaml_node_t *value,
                        const char *full, doctor_config *c)
{
	size_t idx = (size_t)(k - cfg_config_keys);

	if (ld->set_line[idx])
		return fail(ld, node_line(key), "%s: duplicate key (first on line %lu)",
		            full, ld->set_line[idx]);
	ld->set_line[idx] = node_line(key);
	if (k->type == CFG_WATCHES)
		return load_watches(ld, k, value, c);
	if (k->type == CFG_PATH_LIST || k->type == CFG_NAME_LIST)
		return load_list(ld, k, value, c);
	if (k->type == CFG_JSON)
		return load_settings(ld, k, value, c);
	if (k->type == CFG_PRICES)
		return load_prices(ld, k, value, c);
	return set_scalar(ld, k, value, full, c);
}

/* Walk a mapping whose keys are relative to prefix ("" at the top). A key
 * may also be dotted ("limits.max_connections: 8" at the top level). */
static int load_mapping(struct loader *ld, const yaml_node_t *map,
                        const char *prefix, doctor_config *c)
{
	const yaml_node_pair_t *pair;
	const yaml_node_t *key, *value;
	const struct cfg_key *k;
	const char *name = "";
	char full[256];
	int rc = 0;

	for (pair = map->data.mapping.pairs.start;
	     rc == 0 && pair < map->data.mapping.pairs.top; pair++) {
		key = yaml_document_get_node(ld->doc, pair->key);
		value = yaml_document_get_node(ld->doc, pair->value);
		rc = check_duplicate(ld, map, pair, prefix);
		if (rc == 0)
			rc = key_name(ld, key, &name);
		if (rc < 0)
			break;
		join_key(full, sizeof(full), prefix, name);
		if ((k = cfg_find_key(cfg_config_keys, cfg_config_nkeys, full)))
			rc = load_setting(ld, k, key, value, full, c);
		else if (cfg_is_section(full))
			rc = load_section(ld, value, full, c);
		else
			rc = fail(ld, node_line(key), "%s: unknown key", full);
	}
	return rc;
}

static int load_root(struct loader *ld, doctor_config *c)
{
	const yaml_node_t *root = yaml_document_get_root_node(ld->doc);

	if (!root || is_null(root))
		return 0;       /* an empty file, only comments, or "---" */
	if (root->type != YAML_MAPPING_NODE)
		return fail(ld, node_line(root), "expected a mapping of settings at "
		            "the top level, got %s", describe_node(root));
	return load_mapping(ld, root, "", c);
}

/* ------------------------------------------------------------------------
 * The YAML file: reading and parsing
 */

/* libyaml's own report. Reader errors (bad UTF-8) carry a byte offset
 * instead of a line, which we count ourselves. */
static int syntax_error(struct loader *ld, const yaml_parser_t *parser,
                        const char *text)
{
	unsigned long line = 1;
	size_t i;

	if (parser->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (parser->error == YAML_READER_ERROR) {
		for (i = 0; i < parser->problem_offset && text[i]; i++)
			line += text[i] == '\n';
	} else {
		line = (unsigned long)parser->problem_mark.line + 1;
	}
	return fail(ld, line, "YAML syntax error: %s",
	            parser->problem ? parser->problem : "unknown problem");
}

/* After the first document only the end of the stream may follow. */
static int check_single_document(struct loader *ld, yaml_parser_t *parser,
                                 const char *text)
{
	yaml_document_t next;
	const yaml_node_t *root;
	int rc = 0;

	if (!yaml_parser_load(parser, &next))
		return syntax_error(ld, parser, text);
	root = yaml_document_get_root_node(&next);
	if (root)
		rc = fail(ld, node_line(root), "only one YAML document is allowed");
	yaml_document_delete(&next);
	return rc;
}

/* The rules between settings (cfg_check_relations), once the whole file is
 * read. The message names the line of the setting to blame if this file
 * set it, else that of the one it is compared with. */
static int check_relations(struct loader *ld, const doctor_config *c)
{
	const char *key = NULL, *other = NULL;
	const struct cfg_key *k;
	unsigned long line = 0;
	char msg[256];

	if (cfg_check_relations(c, &key, &other, msg, sizeof(msg)) == 0)
		return 0;
	if ((k = cfg_find_key(cfg_config_keys, cfg_config_nkeys, key)))
		line = ld->set_line[k - cfg_config_keys];
	if (!line && (k = cfg_find_key(cfg_config_keys, cfg_config_nkeys, other)))
		line = ld->set_line[k - cfg_config_keys];
	return fail(ld, line ? line : 1, "%s", msg);
}

static int load_yaml(struct loader *ld, const char *text, size_t len,
                     doctor_config *c)
{
	yaml_parser_t parser;
	yaml_document_t document;
	int rc;

	ld->set_line = calloc(cfg_config_nkeys, sizeof(*ld->set_line));
	if (!ld->set_line)
		return -ENOMEM;
	if (!yaml_parser_initialize(&parser)) {
		free(ld->set_line);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &document)) {
		rc = syntax_error(ld, &parser, text);
		goto out;
	}
	ld->doc = &document;
	rc = load_root(ld, c);
	if (rc == 0)
		rc = check_single_document(ld, &parser, text);
	if (rc == 0)
		rc = check_relations(ld, c);
	yaml_document_delete(&document);
	ld->doc = NULL;      /* it pointed into this frame */
out:
	yaml_parser_delete(&parser);
	free(ld->set_line);
	ld->set_line = NULL;
	return rc;
}

#define CONFIG_FILE_MAX (1024 * 1024)

/* The whole file, NUL-terminated, in *out (owned by the caller). */
static int read_file(const char *path, char **out, size_t *len_out)
{
	struct stat sb;
	size_t len = 0;
	char *text = NULL;
	ssize_t n;
	int rc = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fstat(fileno(f), &sb) < 0) {
		rc = -errno;
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		rc = -EISDIR;
		goto out;
	}
	text = malloc(CONFIG_FILE_MAX + 1);
	if (!text) {
		rc = -ENOMEM;
		goto out;
	}
	while ((n = (ssize_t)fread(text + len, 1, CONFIG_FILE_MAX + 1 - len, f)) > 0)
		len += (size_t)n;
	if (ferror(f))
		rc = -EIO;
	else if (len > CONFIG_FILE_MAX)
		rc = -EFBIG;
out:
	fclose(f);
	if (rc < 0) {
		free(text);
		return rc;
	}
	text[len] = '\0';
	*out = text;
	*len_out = len;
	return 0;
}

/* ------------------------------------------------------------------------
 * Loading
 */

int config_load_file(doctor_config *c, const char *path, char **err)
{
	struct loader ld = { .file = path };
	doctor_config tmp;
	char *text = NULL;
	size_t len = 0;
	int rc;

	*err = NULL;
	rc = read_file(path, &text, &len);
	if (rc < 0)
		return rc;
	rc = cfg_copy(&tmp, c);
	if (rc < 0)
		goto out;
	rc = load_yaml(&ld, text, len, &tmp);
	if (rc == 0) {
		free(tmp.loaded_from);
		tmp.loaded_from = strdup(path);
		rc = tmp.loaded_from ? 0 : -ENOMEM;
	}
	if (rc == 0) {
		config_free(c);
		*c = tmp;
	} else {
		config_free(&tmp);
	}
out:
	if (rc == -EINVAL)
		*err = ld.err;
	else
		free(ld.err);
	free(text);
	return rc;
}
