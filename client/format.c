/*
 * format.c - text for a person from the daemon's values: relative times,
 * durations, sizes, timestamps, one-line fits for a terminal's width,
 * terminal-safe error text and quoted command lines.
 *
 * UTF-8 is decoded here rather than with mbrtowc so that text that is not
 * valid UTF-8 (output of any program) never stops the formatting: each bad
 * byte is one column and is shown as '?'.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* wcwidth */
#endif
#include <langinfo.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "format.h"

void format_relative_time(double now, double then, char *buf, size_t size)
{
	static const struct { long long seconds; const char *unit; } units[] = {
		{ 365LL * 86400, "y" }, { 30LL * 86400, "mo" }, { 86400, "d" },
		{ 3600, "h" }, { 60, "m" }, { 1, "s" },
	};
	double ago = now - then;
	size_t i;

	/* Clocks of two processes may disagree by a little: the future is now. */
	if (!(ago >= 1)) {
		snprintf(buf, size, "just now");
		return;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ago >= (double)units[i].seconds) {
			snprintf(buf, size, "%lld%s ago",
			         (long long)(ago / (double)units[i].seconds), units[i].unit);
			return;
		}
	}
}

void format_duration(double seconds, char *buf, size_t size)
{
	long long s = seconds > 0 && seconds < 1e15 ? (long long)seconds : 0;

	if (s < 60)
		snprintf(buf, size, "%llds", s);
	else if (s < 3600)
		snprintf(buf, size, "%lldm %llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, size, "%lldd %lldh", s / 86400, s % 86400 / 3600);
}

void format_bytes(double bytes, char *buf, size_t size)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double value = bytes;
	int unit = -1;

	if (!(bytes >= 0))
		value = 0;
	if (value < 1024) {
		snprintf(buf, size, "%.0f B", value);
		return;
	}
	while (value >= 1024 && unit < 3) {
		value /= 1024;
		unit++;
	}
	snprintf(buf, size, "%.1f %s", value, units[unit]);
}

void format_timestamp(double t, char *buf, size_t size)
{
	time_t when;
	struct tm tm;

	if (!(t >= 0 && t < 1e12)) {
		snprintf(buf, size, "?");
		return;
	}
	when = (time_t)t;
	if (!localtime_r(&when, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, size, "?");
}

/* ---- UTF-8 and columns */

/* Length of the valid UTF-8 character at s (NUL-terminated), with its code
 * point in *cp; 0 if s does not start one. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
	size_t len, i;
	uint32_t min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		len = 2, min = 0x80, *cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3, min = 0x800, *cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4, min = 0x10000, *cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return len;
}

static bool is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0);
}

static size_t char_width(uint32_t cp)
{
	int w;

	if (cp < 0x80 || is_control(cp))
		return 1;
	/* The C locale knows no width for non-ASCII (-1): count one column. */
	w = wcwidth((wchar_t)cp);
	return w < 0 ? 1 : (size_t)w;
}

/* Length of the escape sequence at s (s[0] is ESC), and whether it is SGR. */
static size_t escape_length(const unsigned char *s, bool *is_sgr)
{
	size_t i = 2;

	*is_sgr = false;
	if (s[1] == '[') {                            /* CSI params inter final */
		while (s[i] >= 0x30 && s[i] <= 0x3f)
			i++;
		while (s[i] >= 0x20 && s[i] <= 0x2f)
			i++;
		if (s[i] >= 0x40 && s[i] <= 0x7e) {
			*is_sgr = s[i] == 'm';
			return i + 1;
		}
		return i;                             /* malformed: drop the start */
	}
	if (s[1] == ']' || s[1] == 'P' || s[1] == '_' || s[1] == '^' || s[1] == 'X') {
		/* string commands (OSC, DCS, ...) end at BEL or ESC \ */
		while (s[i] && s[i] != 0x07 && !(s[i] == 0x1b && s[i + 1] == '\\'))
			i++;
		return s[i] == 0x07 ? i + 1 : s[i] ? i + 2 : i;
	}
	for (i = 1; s[i] >= 0x20 && s[i] <= 0x2f; i++)  /* e.g. ESC ( B */
		;
	return s[i] ? i + 1 : i;
}

size_t format_display_width(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t width = 0, n;
	uint32_t cp;
	bool is_sgr;

	while (*s) {
		if (*s == 0x1b) {
			s += escape_length(s, &is_sgr);
			continue;
		}
		n = utf8_decode(s, &cp);
		width += n ? char_width(cp) : 1;
		s += n ? n : 1;
	}
	return width;
}

static bool locale_is_utf8(void)
{
	const char *codeset = nl_langinfo(CODESET);

	return codeset && (strcmp(codeset, "UTF-8") == 0 || strcmp(codeset, "utf8") == 0);
}

char *format_fit(const char *text, size_t width)
{
	const unsigned char *s = (const unsigned char *)text;
	const char *ellipsis = locale_is_utf8() ? "\xe2\x80\xa6" : "...";
	size_t ellipsis_width = locale_is_utf8() ? 1 : 3;
	size_t budget = SIZE_MAX, used = 0, len = 0, n, w;
	bool cut = false, is_sgr;
	uint32_t cp;
	char *out;

	out = malloc(strlen(text) + 4);
	if (!out)
		return NULL;
	if (width > 0 && format_display_width(text) > width) {
		cut = width > ellipsis_width;
		budget = cut ? width - ellipsis_width : width;
	}
	while (*s) {
		if (*s == 0x1b) {           /* escape sequences go whole */
			s += escape_length(s, &is_sgr);
			continue;
		}
		n = utf8_decode(s, &cp);
		w = n ? char_width(cp) : 1;
		if (used + w > budget)
			break;
		if (!n || is_control(cp))
			out[len++] = n ? ' ' : '?';
		else
			memcpy(out + len, s, n), len += n;
		used += w;
		s += n ? n : 1;
	}
	if (cut)
		memcpy(out + len, ellipsis, strlen(ellipsis)), len += strlen(ellipsis);
	out[len] = '\0';
	return out;
}

/* ---- terminal-safe text */

char *format_terminal_safe(const char *text, bool keep_colours)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t len = 0, n;
	bool is_sgr;
	char *out;

	out = malloc(strlen(text) + 1);
	if (!out)
		return NULL;
	while (*s) {
		if (*s == 0x1b) {
			n = escape_length(s, &is_sgr);
			if (is_sgr && keep_colours)
				memcpy(out + len, s, n), len += n;
			s += n;
		} else if (*s == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) {
			s += 2;                       /* C1 controls, e.g. CSI as U+009B */
		} else if ((*s < 0x20 && *s != '\n' && *s != '\t') || *s == 0x7f) {
			s++;
		} else {
			out[len++] = (char)*s++;
		}
	}
	out[len] = '\0';
	return out;
}

/* ---- command lines */

static bool shell_safe(const char *arg)
{
	return *arg && strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                           "0123456789@%+=:,./_-") == strlen(arg);
}

char *format_command_line(char *const argv[])
{
	size_t size = 1, len = 0, i;
	const char *p;
	char *out;

	for (i = 0; argv[i]; i++)
		size += 3 + 4 * strlen(argv[i]);     /* worst case: every char a ' */
	out = malloc(size);
	if (!out)
		return NULL;
	for (i = 0; argv[i]; i++) {
		if (i > 0)
			out[len++] = ' ';
		if (shell_safe(argv[i])) {
			memcpy(out + len, argv[i], strlen(argv[i]));
			len += strlen(argv[i]);
			continue;
		}
		out[len++] = '\'';
		for (p = argv[i]; *p; p++) {
			if (*p == '\'')
				memcpy(out + len, "'\\''", 4), len += 4;
			else
				out[len++] = *p;
		}
		out[len++] = '\'';
	}
	out[len] = '\0';
	return out;
}
