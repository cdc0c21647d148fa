/*
 * detect.h - turning lines of output into errors.
 *
 * A source's bytes are cut into lines by the line assembler (linebuf.h). Each
 * line is offered, in order, to a scanner: one instance of every enabled
 * detector, private to that source. A detector either claims the line (it is
 * part of an error being assembled, e.g. a traceback frame) or passes. When a
 * detector has a complete error it hands it to the emit callback.
 *
 * Detectors are described by a struct of callbacks (dr_detector_ops) kept in a
 * registry, so that C detectors (python tracebacks, shell errors) and, later,
 * Lua detectors from plugins sit behind the same interface.
 *
 * Ownership: an emitted dr_error belongs to the emit callback, which must free
 * it with dr_error_free(). Lines are borrowed for the duration of the call.
 */
#ifndef DOCTOR_DETECT_H
#define DOCTOR_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* One stack frame. */
typedef struct dr_frame {
	char *file;     /* "app.py", "Cell In[3]", "<ipython-input-1-ab12>", owned */
	int line;       /* 0 when unknown */
	char *func;     /* "main", "<module>"; NULL when unknown; owned */
	bool library;   /* installed library or stdlib (site-/dist-packages,
	                   /usr/lib/pythonX.Y, <frozen ...>) */
} dr_frame;

/* A detected error. All strings owned, NUL-terminated, UTF-8 as received. */
typedef struct dr_error {
	char *detector;    /* "python.traceback", "shell.command_not_found", ... */
	char *exception;   /* "ModuleNotFoundError", "CommandNotFound", ... */
	char *message;     /* "No module named 'foo'" (may be "") */
	dr_frame *frames;  /* outermost first, as Python prints them */
	size_t nframes;
	char **chain;      /* earlier exceptions of a chain, "Type: message", oldest first */
	size_t nchain;
	char *text;        /* the error's lines, ANSI stripped, joined by '\n' */
	char *raw;         /* the same lines as displayed (ANSI kept) */
	json_t *extra;     /* detector-specific fields ({"command": "foo"}), owned, may be NULL */
} dr_error;

/* One line as assembled from a source. Borrowed. */
typedef struct dr_line {
	const char *text;  /* ANSI stripped, what a terminal would show; no EOL */
	size_t text_len;
	const char *raw;   /* the bytes as received, minus the EOL */
	size_t raw_len;
} dr_line;

/* Receives a complete error; takes ownership of e. */
typedef void (*dr_emit_fn)(void *ud, dr_error *e);

/* Return values of dr_detector_ops.line */
#define DR_PASS    0  /* not mine */
#define DR_CLAIMED 1  /* part of an error this detector is assembling */

typedef struct dr_detector_ops {
	const char *name;                /* "python.traceback" */
	/* Per-source state; NULL on out of memory. `config` is the detector's
	 * opaque registration data (NULL for the C detectors). */
	void *(*create)(void *config);
	/* Offer one line. `claimed` tells whether an earlier detector in the
	 * scanner already claimed it (then only bookkeeping is allowed, no new
	 * error may start on it). Returns DR_PASS or DR_CLAIMED. */
	int (*line)(void *state, const dr_line *line, bool claimed,
	            dr_emit_fn emit, void *ud);
	/* The source went quiet or ended: emit any complete pending error. */
	void (*flush)(void *state, dr_emit_fn emit, void *ud);
	/* True while an error is being assembled (the caller then arms a
	 * settle timer and calls flush when it fires). */
	bool (*pending)(void *state);
	void (*destroy)(void *state);
} dr_detector_ops;

/* ---- registry (process-wide, not thread-safe; the daemon is one thread) */

/* Register detector ops (borrowed; must outlive the registry entry).
 * Order of registration is the order lines are offered. Returns 0,
 * -EEXIST if the name is taken, -ENOMEM. */
int dr_registry_add(const dr_detector_ops *ops, void *config);
/* Remove by name. Existing scanners keep their instances. 0 or -ENOENT. */
int dr_registry_remove(const char *name);
/* Enable/disable by name (disabled detectors are not instantiated by new
 * scanners). 0 or -ENOENT. */
int dr_registry_enable(const char *name, bool enabled);
/* Register the built-in C detectors (python.traceback, shell.*). Idempotent. */
int dr_registry_add_builtins(void);
/* Drop every registration. */
void dr_registry_clear(void);

/* ---- scanner: one per source */

typedef struct dr_scanner dr_scanner;

/* New scanner with an instance of every enabled registered detector. NULL on
 * out of memory. */
dr_scanner *dr_scanner_new(void);
/* Offer one line to every detector in order. Returns 0 or -ENOMEM. */
int dr_scanner_line(dr_scanner *s, const dr_line *line, dr_emit_fn emit, void *ud);
/* Flush all detectors (quiet period or end of the source). */
void dr_scanner_flush(dr_scanner *s, dr_emit_fn emit, void *ud);
/* True if any detector has an error in progress. */
bool dr_scanner_pending(const dr_scanner *s);
void dr_scanner_free(dr_scanner *s);

/* ---- errors */

/* Build an error from a structured report (IPython's ename/evalue/traceback).
 * `traceback` lines may carry ANSI colours and embedded newlines; frames are
 * parsed from them, exception and message are taken as given. Returns NULL on
 * out of memory. The result's detector is "python.structured". */
dr_error *dr_error_from_structured(const char *ename, const char *evalue,
                                   const char *const *traceback, size_t n);
void dr_error_free(dr_error *e);
/* JSON view: {detector, exception, message, frames:[{file,line,function,library}],
 * chain:[...], text, raw, extra}. New reference, NULL on out of memory. */
json_t *dr_error_to_json(const dr_error *e);

/* ---- signature */

/* Normalise a message for grouping: hex addresses, UUIDs, timestamps, IP
 * addresses and standalone numbers are replaced by placeholders. Newly
 * allocated, NULL on out of memory. */
char *dr_normalize_message(const char *msg);
/* The error's signature: 16 lowercase hex digits of a 64-bit hash over the
 * detector family, exception, normalised message and frames (file and
 * function; line numbers only for non-library frames). `out` gets 17 bytes. */
void dr_signature(const dr_error *e, char out[17]);

#endif
