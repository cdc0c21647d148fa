/*
 * test_client_args.c - the doctor command's pure helpers: relative times,
 * durations, sizes, timestamps, fitting text to a terminal's width,
 * terminal-safe error text, quoted command lines (client/format.c), and
 * bounded numbers and absolute paths from the command line (client/args.c).
 *
 * Runs in the C locale first (widths of non-ASCII are 1, the ellipsis is
 * "..."), then in C.UTF-8 when the system has it.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "args.h"
#include "format.h"
#include "tap.h"

static void test_relative_time(void)
{
	static const struct { double ago; const char *want; } cases[] = {
		{ 0, "just now" }, { 0.5, "just now" }, { -30, "just now" },
		{ 1, "1s ago" }, { 59.9, "59s ago" }, { 60, "1m ago" },
		{ 3599, "59m ago" }, { 3600, "1h ago" }, { 86399, "23h ago" },
		{ 86400, "1d ago" }, { 29 * 86400, "29d ago" }, { 30 * 86400, "1mo ago" },
		{ 364 * 86400, "12mo ago" }, { 365 * 86400, "1y ago" },
		{ 3 * 365 * 86400 + 5, "3y ago" },
	};
	double now = 1764172800;
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		format_relative_time(now, now - cases[i].ago, buf, sizeof(buf));
		tap_is_str(buf, cases[i].want, "relative time");
	}
	format_relative_time(now, NAN, buf, sizeof(buf));
	tap_is_str(buf, "just now", "relative time of NaN");
	format_relative_time(now, now - 3600, buf, 4);
	tap_is_str(buf, "1h ", "relative time cut to the buffer");
}

static void test_duration_and_bytes(void)
{
	static const struct { double seconds; const char *want; } durations[] = {
		{ 0, "0s" }, { -5, "0s" }, { 45.7, "45s" }, { 192, "3m 12s" },
		{ 7500, "2h 5m" }, { 3 * 86400 + 4 * 3600 + 59, "3d 4h" },
	};
	static const struct { double bytes; const char *want; } sizes[] = {
		{ 0, "0 B" }, { -1, "0 B" }, { 1023, "1023 B" }, { 1024, "1.0 KiB" },
		{ 5.1 * 1024, "5.1 KiB" }, { 3 * 1048576.0, "3.0 MiB" },
		{ 1.25 * 1073741824.0, "1.2 GiB" }, { 5 * 1099511627776.0, "5.0 TiB" },
		{ 2048 * 1099511627776.0, "2048.0 TiB" },
	};
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		format_duration(durations[i].seconds, buf, sizeof(buf));
		tap_is_str(buf, durations[i].want, "duration");
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		format_bytes(sizes[i].bytes, buf, sizeof(buf));
		tap_is_str(buf, sizes[i].want, "bytes");
	}
}

static void test_timestamp(void)
{
	char buf[32];

	setenv("TZ", "UTC", 1);
	tzset();
	format_timestamp(0, buf, sizeof(buf));
	tap_is_str(buf, "1970-01-01 00:00:00", "timestamp of the epoch");
	format_timestamp(1764172800.7, buf, sizeof(buf));
	tap_is_str(buf, "2025-11-26 16:00:00", "timestamp drops the fraction");
	format_timestamp(-1, buf, sizeof(buf));
	tap_is_str(buf, "?", "negative timestamp");
	format_timestamp(1e300, buf, sizeof(buf));
	tap_is_str(buf, "?", "absurd timestamp");
}

/* format_fit's result compared with want, freed. */
static void check_fit(const char *text, size_t width, const char *want, const char *name)
{
	char *got = format_fit(text, width);

	tap_is_str(got, want, name);
	free(got);
}

static void check_safe(const char *text, bool colours, const char *want, const char *name)
{
	char *got = format_terminal_safe(text, colours);

	tap_is_str(got, want, name);
	free(got);
}

static void test_fit_c_locale(void)
{
	tap_is_int(format_display_width("abc"), 3, "width of ASCII");
	tap_is_int(format_display_width("h\xc3\xa9llo"), 5, "width of UTF-8 in the C locale");
	tap_is_int(format_display_width("\033[31mred\033[0m"), 3, "escapes take no width");
	tap_is_int(format_display_width("\xff"), 1, "a bad byte takes one column");
	check_fit("hello world", 0, "hello world", "no limit");
	check_fit("hello world", 11, "hello world", "exact fit");
	check_fit("hello world", 8, "hello...", "cut with an ASCII ellipsis");
	check_fit("abcd", 2, "ab", "too narrow for an ellipsis");
	check_fit("a\tb\nc\rd", 0, "a b c d", "control characters become spaces");
	check_fit("\xff\xfe ok", 0, "?? ok", "invalid UTF-8 becomes '?'");
	check_fit("\xed\xa0\x80", 0, "???", "a UTF-16 surrogate is invalid");
	check_fit("\xc0\xaf", 0, "??", "an overlong encoding is invalid");
	check_fit("\033]0;title\007x \033[1mbold\033[0m", 0, "x bold", "escapes dropped");
	check_fit("", 5, "", "empty");
}

static void test_fit_utf8_locale(void)
{
	if (!setlocale(LC_CTYPE, "C.UTF-8")) {
		tap_ok(1, "# SKIP no C.UTF-8 locale");
		return;
	}
	tap_is_int(format_display_width("\xe6\x97\xa5\xe6\x9c\xac"), 4, "CJK is two columns each");
	check_fit("hello world", 8, "hello w\xe2\x80\xa6", "cut with a UTF-8 ellipsis");
	check_fit("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xa7\xe3\x81\x99", 5,
	          "\xe6\x97\xa5\xe6\x9c\xac\xe2\x80\xa6", "wide characters are not split");
	check_fit("caf\xc3\xa9", 4, "caf\xc3\xa9", "an accented letter is one column");
	check_fit("a\xc2\x9b" "2Jb", 0, "a 2Jb", "C1 control becomes a space");
	setlocale(LC_CTYPE, "C");
}

static void test_terminal_safe(void)
{
	check_safe("\033[31mred\033[0m\033[2J\r\n", true, "\033[31mred\033[0m\n",
	           "colours kept, clear screen and CR dropped");
	check_safe("\033[31mred\033[0m\033[2J\r\n", false, "red\n", "all escapes dropped");
	check_safe("a\033]8;;http://x\033\\link\033]8;;\033\\b", true, "alinkb",
	           "OSC hyperlinks dropped");
	check_safe("\033(Bx\033=y", true, "xy", "charset and keypad escapes dropped");
	check_safe("tab\there\x07\x08!", false, "tab\there!", "tab kept, BEL and BS dropped");
	check_safe("a\xc2\x9b" "31mb", true, "a31mb", "8-bit CSI dropped");
	check_safe("caf\xc3\xa9\n", false, "caf\xc3\xa9\n", "UTF-8 kept");
	check_safe("cut\033[", true, "cut", "an unfinished escape at the end");
	check_safe("cut\033", true, "cut", "a lone ESC at the end");
	check_safe("\033]0;never ends", true, "", "an unterminated OSC");
}

static void check_command_line(char *const argv[], const char *want, const char *name)
{
	char *got = format_command_line(argv);

	tap_is_str(got, want, name);
	free(got);
}

static void test_command_line(void)
{
	check_command_line((char *[]){ "ls", "-l", "/tmp", NULL }, "ls -l /tmp", "plain words");
	check_command_line((char *[]){ "echo", "a b", NULL }, "echo 'a b'", "a space is quoted");
	check_command_line((char *[]){ "echo", "it's", NULL }, "echo 'it'\\''s'",
	                   "a single quote is escaped");
	check_command_line((char *[]){ "x", "", NULL }, "x ''", "an empty argument");
	check_command_line((char *[]){ "env", "A=b,c:d@e%f+g", "$HOME", "*", NULL },
	                   "env A=b,c:d@e%f+g '$HOME' '*'", "shell characters are quoted");
	check_command_line((char *[]){ NULL }, "", "no arguments");
}

static void test_parse_long(void)
{
	long v = 0;

	tap_is_int(args_parse_long("42", 1, 1000, &v), 0, "42 parses");
	tap_is_int(v, 42, "42 is 42");
	tap_is_int(args_parse_long("-5", -10, 10, &v), 0, "a negative number in range");
	tap_is_int(v, -5, "-5 is -5");
	tap_is_int(args_parse_long("", 1, 10, &v), -EINVAL, "empty");
	tap_is_int(args_parse_long("4x", 1, 10, &v), -EINVAL, "trailing junk");
	tap_is_int(args_parse_long(" 4", 1, 10, &v), -EINVAL, "leading space");
	tap_is_int(args_parse_long("ten", 1, 10, &v), -EINVAL, "a word");
	tap_is_int(args_parse_long("0", 1, 10, &v), -ERANGE, "below the minimum");
	tap_is_int(args_parse_long("1001", 1, 1000, &v), -ERANGE, "above the maximum");
	tap_is_int(args_parse_long("99999999999999999999999", 1, 10, &v), -ERANGE, "overflow");
}

static void check_path(const char *path, const char *cwd, const char *want)
{
	char *got = args_absolute_path(path, cwd);

	tap_is_str(got, want, path);
	free(got);
}

static void test_absolute_path(void)
{
	check_path("log.txt", "/home/u", "/home/u/log.txt");
	check_path("./a//b/", "/x", "/x/a/b");
	check_path("/abs/./p", "/x", "/abs/p");
	check_path("../p", "/x/y", "/x/y/../p");
	check_path(".", "/x", "/x");
	check_path("/", "/x", "/");
	check_path("a", "/", "/a");
	check_path("//srv//log", "/x", "/srv/log");
}

int main(void)
{
	test_relative_time();
	test_duration_and_bytes();
	test_timestamp();
	test_fit_c_locale();
	test_fit_utf8_locale();
	test_terminal_safe();
	test_command_line();
	test_parse_long();
	test_absolute_path();
	return tap_done();
}
