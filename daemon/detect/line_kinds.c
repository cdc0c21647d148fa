/*
 * line_kinds.c - recognising lines that other programs print (see
 * line_kinds.h).
 *
 * Every pattern here is the way a tool starts its own lines: a timestamp or
 * a level first, a prompt, a stream prefix, a bar, a program's name and a
 * colon. They are anchored at the start of the line (progress bars, which
 * redraw mid-line, are the exception) so that prose mentioning "ERROR" or a
 * time stays prose.
 */
#include <stdbool.h>
#include <string.h>

#include "line_kinds.h"

#define LIT_LEN(lit) (sizeof(lit) - 1)
/* How far into a line a prompt's end ("$ ", "# ", "% ", "> ") is looked for. */
#define PROMPT_SPAN 160
/* Longest parenthesised stream prefix: "(MapBatches(f) pid=123, ip=10.0.0.1)". */
#define PREFIX_SPAN 96

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

/* Letters, digits and the characters of host, user and file names. */
static bool is_name_char(char c)
{
	return is_upper(c) || is_lower(c) || is_digit(c) || c == '_' || c == '-' || c == '.';
}

/* c is one of set (never the NUL byte, which strchr would find). */
static bool in_set(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

static bool has_prefix(const char *s, size_t n, size_t i, const char *lit)
{
	size_t k = strlen(lit);

	return i <= n && n - i >= k && memcmp(s + i, lit, k) == 0;
}

/* s[i..i+k) are all digits. */
static bool digits_at(const char *s, size_t n, size_t i, size_t k)
{
	size_t j;

	if (i > n || n - i < k)
		return false;
	for (j = 0; j < k; j++)
		if (!is_digit(s[i + j]))
			return false;
	return true;
}

static bool contains(const char *s, size_t n, const char *lit)
{
	size_t k = strlen(lit);

	return k <= n && memmem(s, n, lit, k) != NULL;
}

/* The end of a word: the line ends or a delimiter follows. */
static bool word_ends(const char *s, size_t n, size_t i, const char *delims)
{
	return i == n || in_set(s[i], delims);
}

/* ------------------------------------------------------------------ */
/* Log records                                                         */

/* 2024-05-01, 2024/05/01 */
static bool date_at(const char *s, size_t n, size_t i)
{
	return digits_at(s, n, i, 4) && n - i >= 10 && (s[i + 4] == '-' || s[i + 4] == '/') &&
	       digits_at(s, n, i + 5, 2) && s[i + 7] == s[i + 4] && digits_at(s, n, i + 8, 2);
}

/* 12:00:01 */
static bool time_at(const char *s, size_t n, size_t i)
{
	return digits_at(s, n, i, 2) && n - i >= 8 && s[i + 2] == ':' &&
	       digits_at(s, n, i + 3, 2) && s[i + 5] == ':' && digits_at(s, n, i + 6, 2);
}

/* Apache and Django: 14/May/2024 */
static bool clf_date_at(const char *s, size_t n, size_t i)
{
	return digits_at(s, n, i, 2) && n - i >= 11 && s[i + 2] == '/' && is_upper(s[i + 3]) &&
	       is_lower(s[i + 4]) && is_lower(s[i + 5]) && s[i + 6] == '/' && digits_at(s, n, i + 7, 4);
}

/* glog (Ray's C++ core, absl): I0514 09:12:03.118 */
static bool glog_at(const char *s, size_t n, size_t i)
{
	return i < n && in_set(s[i], "IWEF") && digits_at(s, n, i + 1, 4) && n - i > 5 &&
	       s[i + 5] == ' ' && time_at(s, n, i + 6);
}

/* syslog and journald: May 14 09:12:03 */
static bool syslog_at(const char *s, size_t n, size_t i)
{
	return n - i >= 15 && is_upper(s[i]) && is_lower(s[i + 1]) && is_lower(s[i + 2]) &&
	       s[i + 3] == ' ' && (s[i + 4] == ' ' || is_digit(s[i + 4])) && is_digit(s[i + 5]) &&
	       s[i + 6] == ' ' && time_at(s, n, i + 7);
}

/* "INFO ", "[WARNING]", "ERROR:root:", "CRITICAL|": a level in capitals as
 * the first word; "error: ", "warning: ", "fatal: " as git, pip and
 * compilers print them. */
static bool level_at(const char *s, size_t n, size_t i)
{
	static const char *const upper[] = {
		"DEBUG", "INFO", "NOTICE", "WARNING", "WARN", "ERROR", "CRITICAL",
		"FATAL", "TRACE", NULL,
	};
	static const char *const lower[] = { "error: ", "warning: ", "fatal: ", NULL };
	size_t k;

	for (k = 0; upper[k]; k++)
		if (has_prefix(s, n, i, upper[k]) &&
		    word_ends(s, n, i + strlen(upper[k]), ":] \t|-"))
			return true;
	for (k = 0; lower[k]; k++)
		if (has_prefix(s, n, i, lower[k]))
			return true;
	return false;
}

/* "x.py:12: UserWarning: ...", "src/a.c:3:5: error: ...": a diagnostic
 * that names a file and line first. */
static bool diagnostic_at(const char *s, size_t n)
{
	size_t i = 0, w;

	while (i < n && s[i] != ' ' && s[i] != ':')
		i++;
	if (i == 0 || i >= n || s[i] != ':' || !digits_at(s, n, i + 1, 1))
		return false;
	for (i++; i < n && (is_digit(s[i]) || s[i] == ':'); i++)
		;
	if (i >= n || s[i] != ' ' || s[i - 1] != ':')
		return false;
	w = ++i;
	while (i < n && is_name_char(s[i]))
		i++;
	if (i >= n || s[i] != ':')
		return false;
	return (i - w >= 7 && memcmp(s + i - 7, "Warning", 7) == 0) ||
	       (i - w == 5 && memcmp(s + w, "error", 5) == 0) ||
	       (i - w == 7 && memcmp(s + w, "warning", 7) == 0);
}

static bool is_log(const char *s, size_t n)
{
	size_t i = n > 0 && (s[0] == '[' || s[0] == '(') ? 1 : 0;

	return date_at(s, n, i) || time_at(s, n, i) || clf_date_at(s, n, i) || glog_at(s, n, i) ||
	       syslog_at(s, n, i) || level_at(s, n, i) || diagnostic_at(s, n);
}

/* ------------------------------------------------------------------ */
/* Prompts                                                             */

/* A prompt's end within the line's start: "$", "#", "%" or ">" followed
 * by a blank or the end of the line. */
static bool prompt_end_after(const char *s, size_t n, size_t i)
{
	size_t end = n < PROMPT_SPAN ? n : PROMPT_SPAN;

	for (; i < end; i++)
		if (in_set(s[i], "$#%>") && (i + 1 == n || s[i + 1] == ' '))
			return true;
	return false;
}

/* user@host followed by ':', ' ' or ']' ("ana@box:~/p$", "[ana@box p]$"). */
static bool user_host_at(const char *s, size_t n, size_t i)
{
	size_t u = i, at;

	while (i < n && is_name_char(s[i]))
		i++;
	if (i == u || i >= n || s[i] != '@')
		return false;
	at = ++i;
	while (i < n && is_name_char(s[i]))
		i++;
	return i > at && i < n && in_set(s[i], ": ]") && prompt_end_after(s, n, i);
}

/* IPython: "In [4]: ", "Out[4]: " */
static bool ipython_prompt(const char *s, size_t n)
{
	size_t i;

	if (!has_prefix(s, n, 0, "In [") && !has_prefix(s, n, 0, "Out["))
		return false;
	for (i = 4; i < n && is_digit(s[i]); i++)
		;
	return i > 4 && has_prefix(s, n, i, "]:");
}

static bool is_prompt(const char *s, size_t n)
{
	size_t i = 0;

	if ((has_prefix(s, n, 0, ">>>") && word_ends(s, n, 3, " ")) || ipython_prompt(s, n) ||
	    has_prefix(s, n, 0, "\xe2\x9d\xaf ") /* ❯ */ || has_prefix(s, n, 0, "\xe2\x9e\x9c ") /* ➜ */)
		return true;
	if (has_prefix(s, n, 0, "PS ")) /* PowerShell: "PS C:\p> " */
		return prompt_end_after(s, n, 3);
	/* "(venv) " / "(base) " before the prompt proper. */
	if (n > 0 && s[0] == '(') {
		for (i = 1; i < n && i < PROMPT_SPAN && s[i] != ')' && s[i] != ' '; i++)
			;
		i = i + 1 < n && s[i] == ')' && s[i + 1] == ' ' ? i + 2 : 0;
	}
	if (i < n && s[i] == '[')
		i++;
	if (i < n && s[i] == '$' && word_ends(s, n, i + 1, " "))
		return true;
	return user_host_at(s, n, i);
}

/* ------------------------------------------------------------------ */
/* Other streams                                                       */

/* Ray: "(raylet) ", "(pid=12) ", "(Trainer pid=12, ip=10.0.0.5) ",
 * "(autoscaler +1m2s) ". Docker compose: "web-1  | ", "web_1  | ". */
static bool is_prefixed(const char *s, size_t n)
{
	static const char *const ray_names[] = {
		"raylet", "gcs_server", "autoscaler", "dashboard", "monitor", NULL,
	};
	size_t i, k;

	if (n > 0 && s[0] == '(') {
		for (i = 1; i < n && i < PREFIX_SPAN && s[i] != ')'; i++)
			;
		if (i >= n || s[i] != ')' || (i + 1 < n && s[i + 1] != ' '))
			return false;
		if (memmem(s, i, "pid=", 4))
			return true;
		for (k = 0; ray_names[k]; k++)
			if (has_prefix(s, i, 1, ray_names[k]) &&
			    word_ends(s, i, 1 + strlen(ray_names[k]), " ,"))
				return true;
		return false;
	}
	for (i = 0; i < n && is_name_char(s[i]); i++)
		;
	/* compose names end in the replica number: "web-1", "db_12" */
	for (k = i; k > 0 && is_digit(s[k - 1]); k--)
		;
	if (k == i || k < 2 || (s[k - 1] != '-' && s[k - 1] != '_'))
		return false;
	for (k = i; k < n && s[k] == ' '; k++)
		;
	return k > i && k < n && s[k] == '|' && word_ends(s, n, k + 1, " ");
}

/* tqdm ("45%|████▌ | 45/100 [00:01<00:02, 30.1it/s]"), rich and pip
 * ("━━━━━━━━ 1.2/3.4 MB"), Keras ("10/100 [==>.....] - ETA: 3s"). */
static bool is_progress(const char *s, size_t n)
{
	return contains(s, n, "%|") || contains(s, n, "it/s]") || contains(s, n, "s/it]") ||
	       contains(s, n, "\xe2\x94\x81\xe2\x94\x81\xe2\x94\x81") ||
	       (contains(s, n, "[==") && contains(s, n, "] - "));
}

/* ------------------------------------------------------------------ */
/* Status lines of tools and of the shell                              */

/* "bash: x: command not found", "make[1]: *** [all] Error 2". */
static bool tool_colon(const char *s, size_t n)
{
	static const char *const tools[] = {
		"bash", "sh", "zsh", "fish", "dash", "ksh", "make", "gmake", "sudo",
		"xargs", "python", "python3", "pip", "pip3", "npm", "node",
		"docker", "git", "uv", NULL,
	};
	size_t i = 0, k;

	while (i < n && (is_lower(s[i]) || is_digit(s[i])))
		i++;
	for (k = 0; tools[k]; k++)
		if (i == strlen(tools[k]) && memcmp(s, tools[k], i) == 0)
			break;
	if (!tools[k])
		return false;
	if (i < n && s[i] == '[') { /* make[1] */
		for (i++; i < n && is_digit(s[i]); i++)
			;
		if (i >= n || s[i++] != ']')
			return false;
	}
	return has_prefix(s, n, i, ": ");
}

/* "./run.sh: line 3: ..." - bash reporting on a script. */
static bool script_line(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] != ' ' && s[i] != ':')
		i++;
	return i > 0 && has_prefix(s, n, i, ": line ") && digits_at(s, n, i + 7, 1);
}

static bool is_status(const char *s, size_t n)
{
	/* Whole words at the start of the line. */
	static const char *const words[] = {
		"Killed", "Terminated", "Aborted", "Segmentation fault", "Bus error",
		"Illegal instruction", "Floating point exception", "Hangup", NULL,
	};
	static const char *const starts[] = {
		/* pip */
		"Collecting ", "Downloading ", "Requirement already satisfied: ",
		"Installing collected packages: ", "Successfully installed ",
		"Successfully uninstalled ", "Looking in indexes: ", "Using cached ",
		"Attempting uninstall: ", "Building wheels for collected packages",
		"DEPRECATION: ",
		/* the end of a run, as IDEs and shells print it */
		"Process finished with exit code ", "[Done] exited with code",
		"[Process exited ", "[process exited ", "Command exited with non-zero status ",
		"*** SIG",
		/* Python's own, after the traceback */
		"Exception ignored in", "Exception in thread ", "Error in atexit._run_exitfuncs:",
		"Fatal Python error: ",
		NULL,
	};
	size_t k;

	for (k = 0; words[k]; k++)
		if (has_prefix(s, n, 0, words[k]) && word_ends(s, n, strlen(words[k]), " ("))
			return true;
	for (k = 0; starts[k]; k++)
		if (has_prefix(s, n, 0, starts[k]))
			return true;
	return tool_colon(s, n) || script_line(s, n);
}

/* ------------------------------------------------------------------ */

enum lk_kind lk_classify(const char *s, size_t n)
{
	if (is_log(s, n))
		return LK_LOG;
	if (is_prompt(s, n))
		return LK_PROMPT;
	if (is_prefixed(s, n))
		return LK_PREFIXED;
	if (is_status(s, n))
		return LK_STATUS;
	if (is_progress(s, n))
		return LK_PROGRESS;
	return LK_NONE;
}

const char *lk_kind_name(enum lk_kind k)
{
	switch (k) {
	case LK_NONE:     return "none";
	case LK_LOG:      return "log";
	case LK_PROMPT:   return "prompt";
	case LK_PREFIXED: return "prefixed";
	case LK_PROGRESS: return "progress";
	case LK_STATUS:   return "status";
	}
	return "none";
}
