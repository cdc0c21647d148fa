/*
 * test_linebuf.c - line assembly and terminal rendering.
 *
 * Cases: tests/cases/framing/<case>/input (bytes), expected (a JSON array of
 * {"text", "raw"}), and optionally max_line (a number). Each case is fed
 * whole, split in two at every byte boundary, and one byte at a time; all
 * must give the expected lines. Then dr_render_line is checked directly,
 * and on random bytes for its promises (never longer than the input, no
 * control bytes left).
 */
#include <jansson.h>

#include "tap.h"
#include "detect_cases.h"

struct lines {
	json_t *got;   /* array of {text, raw} */
};

static void collect(void *ud, const dr_line *l)
{
	struct lines *c = ud;

	json_array_append_new(c->got, json_pack("{s:s%, s:s%}", "text", l->text, l->text_len,
	                                        "raw", l->raw, l->raw_len));
}

/* Feed data cut at the given offsets (ascending, within len). */
static json_t *frame(const char *data, size_t len, size_t max_line,
                     const size_t *cuts, size_t ncuts)
{
	struct lines c = { json_array() };
	dr_linebuf lb;
	size_t i, from = 0, to;

	dr_linebuf_init(&lb, max_line);
	for (i = 0; i <= ncuts; i++) {
		to = i < ncuts ? cuts[i] : len;
		dr_linebuf_feed(&lb, data + from, to - from, collect, &c);
		from = to;
	}
	dr_linebuf_flush(&lb, collect, &c);
	dr_linebuf_free(&lb);
	return c.got;
}

static bool same_lines(json_t *want, json_t *got, const char *how)
{
	char *w, *g;

	if (json_equal(want, got))
		return true;
	w = json_dumps(want, JSON_COMPACT);
	g = json_dumps(got, JSON_COMPACT);
	tap_diag("%s: want %s", how, w);
	tap_diag("%s: got  %s", how, g);
	free(w);
	free(g);
	return false;
}

static void run_case(const char *dir, const char *name)
{
	char *path, *input, *max;
	size_t len = 0, max_line = 0, k, *cuts;
	json_t *want = NULL, *got;
	json_error_t jerr = { .text = "out of memory" };
	bool ok;

	path = path_of(dir, name, "input");
	input = path ? read_file(path, &len) : NULL;
	free(path);
	path = path_of(dir, name, "expected");
	if (path)
		want = json_load_file(path, 0, &jerr);
	free(path);
	path = path_of(dir, name, "max_line");
	max = path ? read_file(path, NULL) : NULL;
	free(path);
	if (max)
		max_line = strtoul(max, NULL, 10);
	free(max);
	if (!input || !json_is_array(want)) {
		tap_ok(0, "framing/%s: input and expected readable", name);
		tap_diag("%s", input ? jerr.text : "no input");
		free(input);
		json_decref(want);
		return;
	}

	got = frame(input, len, max_line, NULL, 0);
	tap_ok(same_lines(want, got, "whole"), "framing/%s whole", name);
	json_decref(got);

	ok = true;
	for (k = 0; k <= len && ok; k++) {
		got = frame(input, len, max_line, &k, 1);
		ok = same_lines(want, got, "split");
		if (!ok)
			tap_diag("split at byte %zu", k);
		json_decref(got);
	}
	tap_ok(ok, "framing/%s split at every byte", name);

	cuts = malloc((len + 1) * sizeof(*cuts));
	for (k = 0; k < len; k++)
		cuts[k] = k + 1;
	got = frame(input, len, max_line, cuts, len ? len - 1 : 0);
	tap_ok(same_lines(want, got, "bytewise"), "framing/%s one byte at a time", name);
	json_decref(got);
	free(cuts);
	free(input);
	json_decref(want);
}

static void run_cases(const char *root)
{
	char *dir = path_of(root, "framing", NULL);
	char **names;
	size_t n = 0, i;

	names = dir ? list_cases(dir, &n) : NULL;
	if (tap_ok(n >= 10, "framing cases found in %s/framing (%zu)", root, n))
		for (i = 0; i < n; i++)
			run_case(dir, names[i]);
	free_list(names, n);
	free(dir);
}

static void render_is(const char *in, const char *want, const char *name)
{
	size_t n = strlen(in);
	char *out = malloc(n + 1);

	dr_render_line(in, n, out);
	tap_is_str(out, want, name);
	free(out);
}

static void test_render(void)
{
	render_is("plain", "plain", "plain text is kept");
	render_is("\033[1;31mred\033[0m", "red", "SGR colours removed");
	render_is("50%\r100%", "100%", "a redraw keeps its last state");
	render_is("Downloading 50%\rDone", "Doneloading 50%",
	          "a shorter redraw leaves the rest, as on a terminal");
	render_is("Downloading 50%\r\033[KDone", "Done", "erase to end of line");
	render_is("abc\b\bX", "aXc", "backspace moves back one cell");
	render_is("\b\bok", "ok", "backspace at the start stays there");
	render_is("h\xc3\xa9llo\rHE", "HEllo", "a UTF-8 character is one cell");
	render_is("\xc3\xa9\bx", "x", "backspace over a UTF-8 character");
	render_is("abcdef\033[3G\033[KXY", "abXY", "cursor to a column, erase, write");
	render_is("abc\033[2D\033[1CZ", "abZ", "cursor back and forward");
	render_is("abc\033[2KX", "   X", "erase the whole line keeps the column");
	render_is("\033]0;title\007$ ls", "$ ls", "OSC ended by BEL removed");
	render_is("\033]8;;http://x\033\\link\033]8;;\033\\", "link", "OSC 8 hyperlink removed");
	render_is("\033(Bx\0337\0338", "x", "two-byte escapes removed");
	render_is("a\007b\tc\177", "ab\tc", "controls dropped, tab kept");
	render_is("unterminated \033]0;title", "unterminated ", "an open OSC runs to the end");
	render_is("esc at end \033", "esc at end ", "a lone ESC at the end");
	render_is("\033[?25lhidden cursor\033[?25h", "hidden cursor", "private CSI removed");
}

/* Random bytes rich in escapes and controls: the rendering is never
 * longer than the input and holds no ESC, CR, BS or other controls. */
static void test_render_random(void)
{
	static const char alphabet[] = "ab\033[;0123K\r\b\n\t]\007\\G\xc3\xa9\xe2\x82\xac\x80";
	unsigned seed = 12345;
	char in[200], out[201];
	size_t n, i, r, bad = 0;

	for (r = 0; r < 20000; r++) {
		n = next_rand(&seed) % sizeof(in);
		for (i = 0; i < n; i++)
			in[i] = alphabet[next_rand(&seed) % (sizeof(alphabet) - 1)];
		size_t got = dr_render_line(in, n, out);
		if (got > n || out[got] != '\0')
			bad++;
		for (i = 0; i < got; i++)
			if ((unsigned char)out[i] < 0x20 && out[i] != '\t')
				bad++;
	}
	tap_is_int(bad, 0, "20000 random lines render within bounds, no controls left");
}

static void count_line(void *ud, const dr_line *l)
{
	size_t *sizes = ud;

	sizes[sizes[0] + 1] = l->raw_len;
	sizes[0]++;
}

static void test_default_max(void)
{
	size_t sizes[8] = { 0 };
	char *big = malloc(70001);
	dr_linebuf lb;

	memset(big, 'a', 70000);
	big[70000] = '\n';
	tap_is_int(dr_linebuf_init(&lb, 0), 0, "init");
	dr_linebuf_feed(&lb, big, 70001, count_line, sizes);
	dr_linebuf_flush(&lb, count_line, sizes);
	tap_is_int(sizes[0], 2, "a 70000-byte line is cut in two by the 64 KiB default");
	tap_is_int(sizes[1], 65536, "first piece is 64 KiB");
	tap_is_int(sizes[2], 70000 - 65536, "second piece is the rest");
	dr_linebuf_free(&lb);
	free(big);
}

int main(int argc, char **argv)
{
	const char *root = cases_root(argc, argv);

	if (tap_ok(root != NULL, "cases folder given (DOCTOR_CASES or argv[1])"))
		run_cases(root);
	test_render();
	test_render_random();
	test_default_max();
	return tap_done();
}
