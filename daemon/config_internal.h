/*
 * config_internal.h - the key table and value helpers shared by config.c
 * (table, defaults, environment) and config_yaml.c (the YAML file).
 *
 * Not for use outside the configuration code: the daemon sees config.h.
 */
#ifndef DOCTOR_CONFIG_INTERNAL_H
#define DOCTOR_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config.h"

enum cfg_type {
	CFG_PATH,      /* absolute path, ~/ expanded; char * */
	CFG_STRING,    /* any text; char * */
	CFG_INT,       /* int within [min, max] */
	CFG_INT64,     /* long long within [min, max], for counts past INT_MAX */
	CFG_SIZE,      /* size_t within [min, max]; 1MiB, 512KiB, 64K... */
	CFG_BOOL,      /* true/false, yes/no, on/off */
	CFG_ENUM,      /* one of choices; int index */
	CFG_WATCHES,   /* watch.files: config_watch array + count */
	CFG_PATH_LIST, /* list of item-checked paths: char ** + count */
	CFG_NAME_LIST, /* list of item-checked names: char ** + count */
	CFG_JSON,      /* free-form {name: {any YAML}} as a json_t object */
	CFG_UINT,      /* unsigned within [min, max] */
	CFG_COUNT,     /* size_t within [min, max], a plain number (no suffix) */
	CFG_REAL,      /* double within [min, max]: 1, 2.5, .5, 1e2 */
	CFG_URL,       /* an http:// or https:// URL; char * */
	CFG_ENV_NAME,  /* an environment variable's name [A-Za-z_][A-Za-z0-9_]*;
	                  char * */
	CFG_ENUM_BOOL, /* one of two choices stored as a bool: the second is
	                  true ("float" / "base64") */
	CFG_PRICES,    /* llm.prices: {model: {input, output}} as an llm_price
	                  array + count */
};

/* One setting. The table is the single description of the configuration:
 * defaults, parsing, bounds and messages all come from it. */
struct cfg_key {
	const char *key;        /* dotted, as written in the file */
	enum cfg_type type;
	size_t offset;          /* of the field in its struct */
	long long min, max;     /* INT, INT64, SIZE, UINT, COUNT, REAL: bounds;
	                           PATH, URL, ENV_NAME: max length;
	                           WATCHES, *_LIST, PRICES: max entries;
	                           JSON: max depth */
	const char *def;        /* default in file syntax; NULL: unset (NULL,
	                           or an empty list); JSON: a JSON object text */
	const char *const *choices;  /* ENUM: NULL-terminated names */
	size_t count_offset;    /* WATCHES, *_LIST, PRICES: offset of the
	                           count field */
	const struct cfg_key *item;  /* *_LIST: what one entry is (offset 0) */
	const char *help;
};

/* Settings of doctor_config, and the keys of one watch.files entry
 * (relative to a config_watch). */
extern const struct cfg_key cfg_config_keys[];
extern const size_t cfg_config_nkeys;
extern const struct cfg_key cfg_watch_keys[];
extern const size_t cfg_watch_nkeys;
/* The keys of one llm.prices entry (relative to a struct llm_price). */
extern const struct cfg_key cfg_price_keys[];
extern const size_t cfg_price_nkeys;

union cfg_value {
	char *str;          /* PATH, STRING, URL, ENV_NAME: owned */
	long long num;      /* INT, INT64, SIZE, ENUM, UINT, COUNT, ENUM_BOOL */
	double real;        /* REAL */
	bool flag;          /* BOOL */
	json_t *json;       /* JSON: owned reference */
};

/* True for the types whose field is a char * (null in the file unsets
 * them when they have no default). */
bool cfg_is_text(const struct cfg_key *k);
/* The entry of table for key, or NULL. */
const struct cfg_key *cfg_find_key(const struct cfg_key *table, size_t n,
                                   const char *key);
/* True if key is a section: the part before a dot of some setting. */
bool cfg_is_section(const char *key);
/* Parse text as a value for k: 0, -EINVAL if it is not one (word the
 * error with cfg_describe_expected()), or -ENOMEM. Lists and WATCHES have
 * no text form (-EINVAL): their entries are parsed with k->item. */
int cfg_parse_value(const struct cfg_key *k, const char *text,
                    union cfg_value *val);
/* What k accepts, for "expected <this>, got ..." messages. */
void cfg_describe_expected(const struct cfg_key *k, char *buf, size_t size);
/* Put a parsed value into its field (base + k->offset), taking ownership
 * of strings and JSON and freeing what was there. Not for WATCHES, PRICES
 * and lists, which the loader replaces whole. */
void cfg_store_value(const struct cfg_key *k, void *base, union cfg_value *val);
/* 'text' for a message, shortened past 60 bytes. Returns buf. */
const char *cfg_quote(const char *text, char *buf, size_t size);
void cfg_watches_free(config_watch *list, size_t n);
void cfg_prices_free(struct llm_price *list, size_t n);
/* Rules between settings, checked once a whole file is loaded: 0, or
 * -EINVAL with msg ("KEY: what is wrong"), *key the setting to blame and
 * *other the one it is compared with (for the line of the message). */
int cfg_check_relations(const doctor_config *c, const char **key,
                        const char **other, char *msg, size_t size);
/* Deep copy of src into dst. 0 or -ENOMEM (dst then holds nothing). */
int cfg_copy(doctor_config *dst, const doctor_config *src);

#endif
