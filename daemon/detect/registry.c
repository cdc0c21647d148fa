/*
 * registry.c - the detector registry and the per-source scanner.
 *
 * The registry is a process-wide ordered list of detector ops (C built-ins
 * and, later, Lua detectors behind the same ops). A scanner is made for
 * each source: it holds one instance of every detector enabled when it was
 * made, and offers every line to them in registration order, telling each
 * whether an earlier one already claimed the line. The built-in Python
 * detector is registered first, so a traceback's lines are claimed before
 * the shell detectors see them.
 *
 * A detector's line() may return a negative errno (out of memory); the
 * scanner still offers the line to the others and then returns the error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "detect_internal.h"

struct registration {
	const dr_detector_ops *ops;   /* borrowed */
	void *config;                 /* borrowed */
	bool enabled;
};

static struct registration *registry;
static size_t registry_len, registry_cap;

struct instance {
	const dr_detector_ops *ops;   /* borrowed; outlives the scanner */
	void *state;                  /* owned through ops->destroy */
};

struct dr_scanner {
	struct instance *inst;        /* owned */
	size_t n;
};

static struct registration *find(const char *name)
{
	size_t i;

	for (i = 0; i < registry_len; i++)
		if (strcmp(registry[i].ops->name, name) == 0)
			return &registry[i];
	return NULL;
}

int dr_registry_add(const dr_detector_ops *ops, void *config)
{
	struct registration *grown;
	size_t cap;

	if (!ops || !ops->name || !ops->create || !ops->line || !ops->destroy)
		return -EINVAL;
	if (find(ops->name))
		return -EEXIST;
	if (registry_len == registry_cap) {
		cap = registry_cap ? registry_cap * 2 : 8;
		grown = realloc(registry, cap * sizeof(*registry));
		if (!grown)
			return -ENOMEM;
		registry = grown;
		registry_cap = cap;
	}
	registry[registry_len].ops = ops;
	registry[registry_len].config = config;
	registry[registry_len].enabled = true;
	registry_len++;
	return 0;
}

int dr_registry_remove(const char *name)
{
	struct registration *r = find(name);
	size_t i;

	if (!r)
		return -ENOENT;
	i = (size_t)(r - registry);
	memmove(r, r + 1, (registry_len - i - 1) * sizeof(*r));
	registry_len--;
	return 0;
}

int dr_registry_enable(const char *name, bool enabled)
{
	struct registration *r = find(name);

	if (!r)
		return -ENOENT;
	r->enabled = enabled;
	return 0;
}

int dr_registry_add_builtins(void)
{
	static const dr_detector_ops *const builtins[] = {
		&dr__python_traceback_ops,
		&dr__shell_command_not_found_ops,
		&dr__shell_permission_denied_ops,
		&dr__shell_no_space_ops,
		&dr__shell_address_in_use_ops,
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		rc = dr_registry_add(builtins[i], NULL);
		if (rc < 0 && rc != -EEXIST)
			return rc;
	}
	return 0;
}

void dr_registry_clear(void)
{
	free(registry);
	registry = NULL;
	registry_len = registry_cap = 0;
}

/* ------------------------------------------------------------------ */
/* Scanner                                                             */

dr_scanner *dr_scanner_new(void)
{
	dr_scanner *s = calloc(1, sizeof(*s));
	size_t i;

	if (!s)
		return NULL;
	if (registry_len) {
		s->inst = calloc(registry_len, sizeof(*s->inst));
		if (!s->inst)
			goto fail;
	}
	for (i = 0; i < registry_len; i++) {
		if (!registry[i].enabled)
			continue;
		s->inst[s->n].ops = registry[i].ops;
		s->inst[s->n].state = registry[i].ops->create(registry[i].config);
		if (!s->inst[s->n].state)
			goto fail;
		s->n++;
	}
	return s;
fail:
	dr_scanner_free(s);
	return NULL;
}

int dr_scanner_line(dr_scanner *s, const dr_line *line, dr_emit_fn emit, void *ud)
{
	bool claimed = false;
	int rc, err = 0;
	size_t i;

	for (i = 0; i < s->n; i++) {
		rc = s->inst[i].ops->line(s->inst[i].state, line, claimed, emit, ud);
		if (rc == DR_CLAIMED)
			claimed = true;
		else if (rc < 0 && err == 0)
			err = rc;
	}
	return err;
}

void dr_scanner_flush(dr_scanner *s, dr_emit_fn emit, void *ud)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->inst[i].ops->flush)
			s->inst[i].ops->flush(s->inst[i].state, emit, ud);
}

bool dr_scanner_pending(const dr_scanner *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->inst[i].ops->pending && s->inst[i].ops->pending(s->inst[i].state))
			return true;
	return false;
}

void dr_scanner_free(dr_scanner *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		s->inst[i].ops->destroy(s->inst[i].state);
	free(s->inst);
	free(s);
}
