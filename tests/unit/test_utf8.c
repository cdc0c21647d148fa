/*
 * test_utf8.c - checking and repairing UTF-8 (common/utf8.c): what jansson
 * accepts is valid, and a repaired string always is.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "utf8.h"

static void check_valid(const char *s, size_t len, bool want, const char *name)
{
	tap_ok(utf8_valid(s, len) == want, "%s: %s", want ? "valid" : "invalid", name);
}

static void check_repair(const char *s, size_t len, const char *want, const char *name)
{
	size_t out_len = 0;
	char *out = utf8_repair(s, len, &out_len);

	tap_is_str(out, want, name);
	tap_ok(out && out_len == strlen(want) && utf8_valid(out, out_len),
	       "%s: its length, and valid", name);
	free(out);
}

int main(void)
{
	check_valid("", 0, true, "empty");
	check_valid("plain ascii", 11, true, "ASCII");
	check_valid("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80", 14, true, "2, 3 and 4 bytes");
	check_valid("a\0b", 3, true, "a NUL byte");
	check_valid("caf\xe9", 4, false, "Latin-1");
	check_valid("\xc3", 1, false, "cut short");
	check_valid("\xc0\xaf", 2, false, "overlong");
	check_valid("\xe0\x80\xaf", 3, false, "overlong, 3 bytes");
	check_valid("\xed\xa0\x80", 3, false, "a surrogate");
	check_valid("\xf4\x90\x80\x80", 4, false, "above U+10FFFF");
	check_valid("\x80", 1, false, "a lone continuation byte");
	check_valid("\xf0\x9f\x98", 3, false, "a 4-byte sequence cut short");

	check_repair("caf\xe9.md", 7, "caf\xef\xbf\xbd.md", "a bad byte becomes U+FFFD");
	check_repair("\xff\xfe", 2, "\xef\xbf\xbd\xef\xbf\xbd", "each bad byte on its own");
	check_repair("ok \xc3\xa9", 5, "ok \xc3\xa9", "valid text is kept");
	check_repair("\xe4\xb8", 2, "\xef\xbf\xbd\xef\xbf\xbd", "a cut sequence, byte by byte");
	check_repair("", 0, "", "empty");
	return tap_done();
}
