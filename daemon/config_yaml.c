/*
 * config_yaml.c - reading doctord's YAML configuration file against the key
 * table of config.c.
 *
 * The file is parsed with libyaml's document loader and walked: a mapping
 * key is either a setting (cfg_config_keys[]), a section (a prefix of
 * settings, like "limits") or unknown. Errors name the file, line and key:
 *   "doctor.yaml:12: limits.max_connections: expected an integer from 1 to
 *    65536, got 'many'".
 * Loading works on a copy, so a file with an error changes nothing: a SIGHUP
 * with a broken file keeps the running configuration.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "config_internal.h"

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
	if (is_null(node) && !k->def && (k->type == CFG_PATH || k->type == CFG_STRING)) {
		cfg_store_value(k, base, &val);    /* back to unset: the default */
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

	if (!is_null(node)) {
		if (node->type != YAML_SEQUENCE_NODE)
			return fail_expected(ld, k, node, k->key);
		n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
		if (n > (size_t)k->max)     /* also bounds the duplicate check */
			return fail_expected(ld, k, node, k->key);
		list = n ? calloc(n, sizeof(*list)) : NULL;
		if (n && !list)
			return -ENOMEM;
	}
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

static int load_yaml(struct loader *ld, const char *text, size_t len,
                     doctor_config *c)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	int rc;

	ld->set_line = calloc(cfg_config_nkeys, sizeof(*ld->set_line));
	if (!ld->set_line)
		return -ENOMEM;
	if (!yaml_parser_initialize(&parser)) {
		free(ld->set_line);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = syntax_error(ld, &parser, text);
		goto out;
	}
	ld->doc = &doc;
	rc = load_root(ld, c);
	if (rc == 0)
		rc = check_single_document(ld, &parser, text);
	yaml_document_delete(&doc);
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
