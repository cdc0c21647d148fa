/*
 * python_frames.h - recognising single lines of Python tracebacks.
 *
 * Pure functions over one line of text (ANSI already removed, no EOL): is it
 * a traceback header, a frame, an IPython code line, an exception line?
 * The traceback state machine (python_traceback.c) decides what a line
 * means from where it stands; these only say what a line looks like. Results
 * point into the given line and are valid as long as it is.
 */
#ifndef DOCTOR_DETECT_PYTHON_FRAMES_H
#define DOCTOR_DETECT_PYTHON_FRAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "detect.h"

/* Longest stream prefix ("web-1  | ", "(f pid=12) ") a traceback may carry. */
#define PYF_PREFIX_MAX 64
/* Longest exception name taken from an IPython header. */
#define PYF_NAME_MAX 255

enum pyf_chain {
	PYF_CHAIN_NONE = 0,
	PYF_CHAIN_CAUSE,    /* "The above exception was the direct cause ..." */
	PYF_CHAIN_CONTEXT,  /* "During handling of the above exception, ..." */
};

/* Exception line: "pkg.Name(Detail): message", "KeyboardInterrupt". */
struct pyf_exception {
	const char *name;     /* "ray.exceptions.RayTaskError(ZeroDivisionError)" */
	size_t name_len;
	const char *message;  /* after ": ", trailing blanks removed; "" if none */
	size_t message_len;
	bool has_colon;       /* "Name:" rather than a bare "Name" */
	int strength;         /* 2: surely an exception name (dotted, or ends in
	                         Error/Exception/Warning/...), 1: CamelCase word
	                         that could be a user's exception, 0: neither */
};

/* One frame as it appears in the line. */
struct pyf_frame {
	const char *file;
	size_t file_len;
	int line;             /* 0 when the line does not say (IPython 7) */
	const char *func;     /* NULL when the frame has none (SyntaxError shape) */
	size_t func_len;
	bool bare;            /* no "in f" part: module level in IPython, the
	                         SyntaxError shape in CPython */
};

size_t pyf_rtrim_len(const char *s, size_t n);
bool pyf_is_blank(const char *s, size_t n);

/* "Traceback (most recent call last):" at the end of the line. *prefix_len
 * gets the length of what precedes it if that may be a stream prefix the
 * traceback's lines carry (it ends in a blank: "web-1  | "), else 0 (no
 * prefix, or text glued to the header: "^C", a progress bar). */
bool pyf_cpython_header(const char *s, size_t n, size_t *prefix_len);
/* "  + Exception Group Traceback (most recent call last):"; *base_len gets
 * the column of the '+' (lines of the group start there with '|' or '+'). */
bool pyf_group_header(const char *s, size_t n, size_t *base_len);
/* IPython: "KeyError                  Traceback (most recent call last)".
 * *name and *name_len get the exception name. */
bool pyf_ipython_header(const char *s, size_t n, const char **name, size_t *name_len);
/* IPython's separator: a line of 20 or more '-'. */
bool pyf_is_dashes(const char *s, size_t n);
enum pyf_chain pyf_chain_marker(const char *s, size_t n);

/* A frame line in any of the shapes Python and IPython print:
 *   File "x.py", line 3, in f          (CPython; indented)
 *   File ~/x.py:3, in f(a)  /  File ~/x.py:3 in f   (IPython 8)
 *   Cell In[3], line 5, in f(x)                    (IPython 8)
 *   Input In [3], in <cell line: 1>()             (IPython 8.0-8.4)
 *   <ipython-input-1-ab12> in <module>  /  /p/x.py in f(x)   (IPython 7,
 *   only with ipython7, as such a line could be prose elsewhere)
 * IPython frames without a function are module level: func is "<module>". */
bool pyf_parse_frame(const char *s, size_t n, bool ipython7, struct pyf_frame *f);
/* IPython source excerpt lines: "----> 5 x = f()", "      4 y = 1",
 * "   (...)", "[... skipping similar frames: ...]". *lineno is the number
 * shown (0 if none), *current whether the arrow points at it. */
bool pyf_parse_code_line(const char *s, size_t n, int *lineno, bool *current);
/* An exception line starting at s[0]. */
bool pyf_parse_exception(const char *s, size_t n, struct pyf_exception *x);
/* SyntaxError, IndentationError, TabError (possibly dotted). */
bool pyf_is_syntax_error(const char *name, size_t len);
/* Installed library or standard library: site-/dist-packages,
 * lib/pythonX.Y/, <frozen ...>, Cython sources printed relative. */
bool pyf_is_library_path(const char *file, size_t len);
/* Fill a dr_frame with copies; 0 or -ENOMEM. */
int pyf_frame_to_dr(const struct pyf_frame *f, dr_frame *out);

#endif
