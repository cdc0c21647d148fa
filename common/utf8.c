/*
 * utf8.c - checking and repairing UTF-8 (see utf8.h).
 */
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

size_t utf8_sequence_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

bool utf8_valid(const char *s, size_t len)
{
	size_t i = 0, k;

	while (i < len) {
		k = utf8_sequence_len((const unsigned char *)s + i, len - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

char *utf8_repair(const char *s, size_t len, size_t *out_len)
{
	size_t i = 0, o = 0, k;
	char *out;

	if (len > (((size_t)-1) - 1) / 3)
		return NULL;
	out = malloc(len * 3 + 1);      /* each bad byte becomes 3 bytes */
	if (!out)
		return NULL;
	while (i < len) {
		k = utf8_sequence_len((const unsigned char *)s + i, len - i);
		if (k) {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	return out;
}
