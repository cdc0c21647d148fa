/*
 * line_kinds.h - recognising lines that other programs print.
 *
 * Pure functions over one line of text (ANSI already removed, no EOL): does
 * it look like a log record, a prompt, another stream's prefixed output, a
 * progress bar, or a tool's or the shell's own status line? The Python
 * traceback detector uses this to tell where an exception's message (which
 * Python prints verbatim, over as many lines as it has) ends and the next
 * output begins. Each test looks at a bounded start of the line or scans it
 * once, so the cost of a line is linear in its length.
 */
#ifndef DOCTOR_DETECT_LINE_KINDS_H
#define DOCTOR_DETECT_LINE_KINDS_H

#include <stddef.h>

enum lk_kind {
	LK_NONE = 0,    /* none of these: may be prose */
	LK_LOG,         /* a log record: "2024-05-01 12:00:00,123 ERROR ...",
	                   "[12:00:01] ...", "I0514 09:12:03.118 ...", "INFO: ...",
	                   "ERROR:root:...", "error: ...", "x.py:3: UserWarning: ..." */
	LK_PROMPT,      /* "$ ls", "user@host:~/p$ ", "(venv) ...", ">>> ",
	                   "In [4]: ", "❯ ", "PS C:\\> " */
	LK_PREFIXED,    /* another stream's output: "(raylet) ", "(f pid=12) ",
	                   "web-1  | " */
	LK_PROGRESS,    /* tqdm, rich/pip and Keras progress bars */
	LK_STATUS,      /* "bash: ...", "make: *** ...", "./run.sh: line 3: ...",
	                   pip's "Collecting x", "Killed", "Segmentation fault",
	                   "Process finished with exit code 1", Python's
	                   "Exception ignored in: ..." */
};

/* What the line s[0..n) looks like; LK_NONE when nothing above. */
enum lk_kind lk_classify(const char *s, size_t n);
/* "log", "prompt", ... for messages and tests; "none" for LK_NONE. */
const char *lk_kind_name(enum lk_kind k);

#endif
