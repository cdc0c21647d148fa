/*
 * python_frames.c - recognising single lines of Python tracebacks (see
 * python_frames.h). Every function looks at one line once, left to right,
 * so the cost of a line is linear in its length.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "detect_internal.h"
#include "python_frames.h"

static const char CPY_HEADER[] = "Traceback (most recent call last):";
static const char IPY_HEADER[] = "Traceback (most recent call last)";
static const char GROUP_HEADER[] = "+ Exception Group Traceback (most recent call last):";
static const char MARK_CAUSE[] =
	"The above exception was the direct cause of the following exception:";
static const char MARK_CONTEXT[] =
	"During handling of the above exception, another exception occurred:";

#define LIT_LEN(lit) (sizeof(lit) - 1)

static bool is_blank_char(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_ident_char(char c)
{
	return is_ident_start(c) || is_digit(c);
}

size_t pyf_rtrim_len(const char *s, size_t n)
{
	while (n > 0 && (is_blank_char(s[n - 1]) || s[n - 1] == '\r'))
		n--;
	return n;
}

static size_t skip_blanks(const char *s, size_t n, size_t i)
{
	while (i < n && is_blank_char(s[i]))
		i++;
	return i;
}

bool pyf_is_blank(const char *s, size_t n)
{
	return skip_blanks(s, n, 0) == n;
}

static bool starts_with(const char *s, size_t n, const char *lit, size_t lit_len)
{
	return n >= lit_len && memcmp(s, lit, lit_len) == 0;
}

/* Does s[0..n) end with lit? */
static bool ends_with(const char *s, size_t n, const char *lit, size_t lit_len)
{
	return n >= lit_len && memcmp(s + n - lit_len, lit, lit_len) == 0;
}

/* Parse a decimal line number; false if none or absurd. */
static bool parse_int(const char *s, size_t n, size_t *i, int *out)
{
	long v = 0;
	size_t start = *i;

	while (*i < n && is_digit(s[*i])) {
		if (v < 100000000)
			v = v * 10 + (s[*i] - '0');
		(*i)++;
	}
	if (*i == start || *i - start > 9)
		return false;
	*out = (int)v;
	return true;
}

/* ------------------------------------------------------------------ */
/* Headers and markers                                                 */

bool pyf_cpython_header(const char *s, size_t n, size_t *prefix_len)
{
	size_t p;

	n = pyf_rtrim_len(s, n);
	if (!ends_with(s, n, CPY_HEADER, LIT_LEN(CPY_HEADER)))
		return false;
	p = n - LIT_LEN(CPY_HEADER);
	/* A prefix ending in a blank may be on every line ("web-1  | ");
	 * anything else was glued to the header by the terminal: the "^C"
	 * echoed on Ctrl-C, an unfinished progress bar. */
	*prefix_len = p > 0 && p <= PYF_PREFIX_MAX && is_blank_char(s[p - 1]) ? p : 0;
	return true;
}

bool pyf_group_header(const char *s, size_t n, size_t *base_len)
{
	n = pyf_rtrim_len(s, n);
	if (!ends_with(s, n, GROUP_HEADER, LIT_LEN(GROUP_HEADER)))
		return false;
	*base_len = n - LIT_LEN(GROUP_HEADER);
	return *base_len <= PYF_PREFIX_MAX && pyf_is_blank(s, *base_len);
}

bool pyf_ipython_header(const char *s, size_t n, const char **name, size_t *name_len)
{
	struct pyf_exception x;
	size_t end;

	n = pyf_rtrim_len(s, n);
	if (!ends_with(s, n, IPY_HEADER, LIT_LEN(IPY_HEADER)))
		return false;
	end = pyf_rtrim_len(s, n - LIT_LEN(IPY_HEADER));
	if (end == 0 || end > PYF_NAME_MAX)
		return false;
	if (!pyf_parse_exception(s, end, &x) || x.name_len != end || x.strength == 0)
		return false;
	*name = s;
	*name_len = end;
	return true;
}

bool pyf_is_dashes(const char *s, size_t n)
{
	size_t i;

	n = pyf_rtrim_len(s, n);
	if (n < 20)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] != '-')
			return false;
	return true;
}

enum pyf_chain pyf_chain_marker(const char *s, size_t n)
{
	size_t i;

	n = pyf_rtrim_len(s, n);
	i = skip_blanks(s, n, 0);
	if (n - i == LIT_LEN(MARK_CAUSE) && memcmp(s + i, MARK_CAUSE, n - i) == 0)
		return PYF_CHAIN_CAUSE;
	if (n - i == LIT_LEN(MARK_CONTEXT) && memcmp(s + i, MARK_CONTEXT, n - i) == 0)
		return PYF_CHAIN_CONTEXT;
	return PYF_CHAIN_NONE;
}

/* ------------------------------------------------------------------ */
/* Exception lines                                                     */

/* Name endings that only exception classes have by convention. */
static const char *const EXC_SUFFIXES[] = {
	"Error", "Exception", "Warning", "Interrupt", "Exit", "Iteration",
	"ExceptionGroup", NULL,
};

static int name_strength(const char *name, size_t len, bool dotted)
{
	size_t last = len, i, k;
	bool lower = false;

	/* The class name proper: before "(Detail)", after the last dot. */
	for (i = 0; i < len; i++)
		if (name[i] == '(') {
			last = i;
			break;
		}
	for (i = last; i > 0 && name[i - 1] != '.'; i--)
		;
	for (k = 0; EXC_SUFFIXES[k]; k++) {
		size_t sl = strlen(EXC_SUFFIXES[k]);

		if (ends_with(name + i, last - i, EXC_SUFFIXES[k], sl))
			return 2;
	}
	if (dotted)
		return 2;
	for (k = i; k < last; k++)
		if (name[k] >= 'a' && name[k] <= 'z')
			lower = true;
	return name[i] >= 'A' && name[i] <= 'Z' && lower ? 1 : 0;
}

bool pyf_parse_exception(const char *s, size_t n, struct pyf_exception *x)
{
	size_t i = 0, m;
	bool dotted = false;

	n = pyf_rtrim_len(s, n);
	for (;;) {
		if (i >= n || !is_ident_start(s[i]))
			return false;
		while (i < n && is_ident_char(s[i]))
			i++;
		if (i < n && s[i] == '.') {
			dotted = true;
			i++;
			continue;
		}
		break;
	}
	if (i < n && s[i] == '(') { /* RayTaskError(ZeroDivisionError) */
		for (m = i + 1; m < n && s[m] != ')' && s[m] != '(' && s[m] != ':'; m++)
			;
		if (m >= n || s[m] != ')')
			return false;
		i = m + 1;
	}
	x->name = s;
	x->name_len = i;
	x->message = s + n;
	x->message_len = 0;
	x->has_colon = i < n;
	if (i < n) {
		if (s[i] != ':')
			return false;
		i = skip_blanks(s, n, i + 1);
		x->message = s + i;
		x->message_len = n - i;
	}
	x->strength = name_strength(s, x->name_len, dotted);
	return true;
}

bool pyf_is_syntax_error(const char *name, size_t len)
{
	static const char *const names[] = {
		"SyntaxError", "IndentationError", "TabError", NULL,
	};
	size_t k, i;

	for (i = len; i > 0 && name[i - 1] != '.'; i--)
		;
	for (k = 0; names[k]; k++)
		if (len - i == strlen(names[k]) && memcmp(name + i, names[k], len - i) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* Frames                                                              */

static const char MODULE[] = "<module>";

/* The function name of "in f(x)", "in <lambda>(x)", "in <cell line: 1>()":
 * without the argument list; IPython's "<cell line: N>" is module level. */
static bool clean_func(const char *s, size_t n, struct pyf_frame *f)
{
	size_t i = 0;

	n = pyf_rtrim_len(s, n);
	if (n == 0)
		return false;
	if (s[0] == '<') {
		while (i < n && s[i] != '>')
			i++;
		if (i == n)
			return false;
		i++;
		if (starts_with(s, i, "<cell line:", 11)) {
			f->func = MODULE;
			f->func_len = LIT_LEN(MODULE);
			return true;
		}
	} else {
		while (i < n && s[i] != '(' && !is_blank_char(s[i]))
			i++;
	}
	if (i == 0)
		return false;
	f->func = s;
	f->func_len = i;
	return true;
}

/* The tail of a frame line after its location: "", ", in f", " in f". */
static bool frame_tail(const char *s, size_t n, size_t i, bool cpython, struct pyf_frame *f)
{
	f->func = NULL;
	f->func_len = 0;
	f->bare = i == n;
	if (i == n) {
		if (!cpython) {
			f->func = MODULE;
			f->func_len = LIT_LEN(MODULE);
		}
		return true;
	}
	if (starts_with(s + i, n - i, ", in ", 5))
		i += 5;
	else if (!cpython && starts_with(s + i, n - i, " in ", 4))
		i += 4;
	else
		return false;
	if (cpython) { /* CPython prints the bare name */
		f->func = s + i;
		f->func_len = n - i;
		return n > i;
	}
	return clean_func(s + i, n - i, f);
}

/* File "x.py", line 3, in f */
static bool parse_cpython_frame(const char *s, size_t n, size_t i, struct pyf_frame *f)
{
	static const char mid[] = "\", line ";
	size_t start;

	if (!starts_with(s + i, n - i, "File \"", 6))
		return false;
	start = i += 6;
	while (i < n && !starts_with(s + i, n - i, mid, LIT_LEN(mid)))
		i++;
	if (i == n || i == start)
		return false;
	f->file = s + start;
	f->file_len = i - start;
	i += LIT_LEN(mid);
	if (!parse_int(s, n, &i, &f->line))
		return false;
	return frame_tail(s, n, i, true, f);
}

/* File ~/x.py:3, in f(a) -- the path ends at the first ":N" followed by
 * the end or ", in"/" in" (paths may hold ':' and blanks: "C:\x", "<frozen a>"). */
static bool parse_ipython8_file(const char *s, size_t n, size_t i, struct pyf_frame *f)
{
	size_t start, j;

	if (!starts_with(s + i, n - i, "File ", 5) || (i + 5 < n && s[i + 5] == '"'))
		return false;
	start = i += 5;
	for (; i < n; i++) {
		if (s[i] != ':' || i == start)
			continue;
		j = i + 1;
		if (!parse_int(s, n, &j, &f->line))
			continue;
		if (j == n || starts_with(s + j, n - j, ", in ", 5) ||
		    starts_with(s + j, n - j, " in ", 4)) {
			f->file = s + start;
			f->file_len = i - start;
			return frame_tail(s, n, j, false, f);
		}
	}
	return false;
}

/* Cell In[3], line 5, in f(x), IPython 8.5's (Debian 12) "Cell In [3], line 5",
 * and Input In [3], in f(x) */
static bool parse_ipython8_cell(const char *s, size_t n, size_t i, struct pyf_frame *f)
{
	size_t start = i;
	int cell;

	if (starts_with(s + i, n - i, "Cell In[", 8))
		i += 8;
	else if (starts_with(s + i, n - i, "Cell In [", 9))
		i += 9;
	else if (starts_with(s + i, n - i, "Input In [", 10))
		i += 10;
	else
		return false;
	if (!parse_int(s, n, &i, &cell) || i >= n || s[i] != ']')
		return false;
	i++;
	f->file = s + start;
	f->file_len = i - start;
	f->line = 0;
	if (starts_with(s + i, n - i, ", line ", 7)) {
		i += 7;
		if (!parse_int(s, n, &i, &f->line))
			return false;
	}
	return frame_tail(s, n, i, false, f);
}

/* <ipython-input-1-ab12> in <module>  and  /path/x.py in f(x) */
static bool parse_ipython7(const char *s, size_t n, struct pyf_frame *f)
{
	size_t i;

	if (n == 0 || !(s[0] == '<' || s[0] == '/' || s[0] == '~'))
		return false;
	if (s[0] == '<' && !starts_with(s, n, "<ipython-input-", 15))
		return false;
	for (i = 1; i + 4 <= n; i++)
		if (memcmp(s + i, " in ", 4) == 0)
			break;
	if (i + 4 > n)
		return false;
	f->file = s;
	f->file_len = i;
	f->line = 0;
	f->bare = false;
	return clean_func(s + i + 4, n - i - 4, f);
}

bool pyf_parse_frame(const char *s, size_t n, bool ipython7, struct pyf_frame *f)
{
	size_t i;

	n = pyf_rtrim_len(s, n);
	i = skip_blanks(s, n, 0);
	if (i >= n)
		return false;
	if (parse_cpython_frame(s, n, i, f) || parse_ipython8_file(s, n, i, f) ||
	    parse_ipython8_cell(s, n, i, f))
		return true;
	return ipython7 && i == 0 && parse_ipython7(s, n, f);
}

bool pyf_parse_code_line(const char *s, size_t n, int *lineno, bool *current)
{
	size_t i, lead;

	n = pyf_rtrim_len(s, n);
	i = lead = skip_blanks(s, n, 0);
	*lineno = 0;
	*current = false;
	if (i < n && (starts_with(s + i, n - i, "(...)", 5) ||
	              starts_with(s + i, n - i, "[... skipping ", 14)))
		return true;
	if (lead == 0) { /* an arrow at column 0: "---->", "->", ">" */
		while (i < n && s[i] == '-')
			i++;
		if (i >= n || s[i] != '>')
			return false;
		i = skip_blanks(s, n, i + 1);
		*current = true;
	}
	if (!parse_int(s, n, &i, lineno))
		return false;
	return i == n || is_blank_char(s[i]);
}

/* ------------------------------------------------------------------ */
/* Library paths                                                       */

static bool contains(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit), i;

	for (i = 0; i + l <= n; i++)
		if (memcmp(s + i, lit, l) == 0)
			return true;
	return false;
}

/* "lib/python3.11/", "lib/python3/", "lib64/python3.9/" anywhere. */
static bool has_lib_python(const char *s, size_t n)
{
	size_t i, j;

	for (i = 0; i + 9 <= n; i++) {
		if (memcmp(s + i, "/python", 7) != 0)
			continue;
		if (!(i >= 3 && memcmp(s + i - 3, "lib", 3) == 0) &&
		    !(i >= 5 && memcmp(s + i - 5, "lib64", 5) == 0))
			continue;
		j = i + 7;
		if (j >= n || !is_digit(s[j]))
			continue;
		while (j < n && (is_digit(s[j]) || s[j] == '.'))
			j++;
		if (j < n && s[j] == '/')
			return true;
	}
	return false;
}

bool pyf_is_library_path(const char *file, size_t len)
{
	if (starts_with(file, len, "<frozen ", 8))
		return true;
	if (contains(file, len, "site-packages") || contains(file, len, "dist-packages"))
		return true;
	if (has_lib_python(file, len) || contains(file, len, "\\Lib\\"))
		return true;
	/* Cython modules print their source path relative to the package. */
	if (len > 0 && file[0] != '/' && file[0] != '~' && file[0] != '.' &&
	    (ends_with(file, len, ".pyx", 4) || ends_with(file, len, ".pxi", 4)))
		return true;
	return false;
}

int pyf_frame_to_dr(const struct pyf_frame *f, dr_frame *out)
{
	out->file = dr__strndup(f->file, f->file_len);
	out->func = f->func ? dr__strndup(f->func, f->func_len) : NULL;
	out->line = f->line;
	out->library = pyf_is_library_path(f->file, f->file_len);
	if (!out->file || (f->func && !out->func)) {
		free(out->file);
		free(out->func);
		out->file = out->func = NULL;
		return -ENOMEM;
	}
	return 0;
}
