/*
 * test_structured.c - errors reported already parsed (the IPython hook's
 * ename, evalue and traceback) and the JSON view of errors.
 */
#include <jansson.h>

#include "tap.h"
#include "detect_cases.h"

#define ESC "\033"
#define DASHES ESC "[0;31m---------------------------------------------------------------------------" ESC "[0m"

/* IPython 8's structured traceback of `import cv2` in cell 1, as the
 * kernel sends it (entries joined with "\n" for display). */
static const char *const ipy8_stb[] = {
	DASHES,
	ESC "[0;31mModuleNotFoundError" ESC "[0m                       Traceback (most recent call last)",
	"Cell " ESC "[0;32mIn[1], line 1" ESC "[0m\n" ESC "[0;32m----> 1" ESC "[0m "
	ESC "[38;5;28;01mimport" ESC "[39;00m " ESC "[38;5;21;01mcv2" ESC "[39;00m\n",
	ESC "[0;31mModuleNotFoundError" ESC "[0m: No module named 'cv2'",
};

static void test_ipython8(void)
{
	dr_error *e = dr_error_from_structured("ModuleNotFoundError", "No module named 'cv2'",
	                                       ipy8_stb, 4);

	if (!tap_ok(e != NULL, "an IPython 8 report gives an error"))
		return;
	tap_is_str(e->detector, "python.structured", "detector");
	tap_is_str(e->exception, "ModuleNotFoundError", "exception as given");
	tap_is_str(e->message, "No module named 'cv2'", "message as given");
	tap_is_int(e->nframes, 1, "one frame");
	if (e->nframes == 1) {
		tap_is_str(e->frames[0].file, "Cell In[1]", "frame file");
		tap_is_int(e->frames[0].line, 1, "frame line");
		tap_is_str(e->frames[0].func, "<module>", "frame function");
		tap_ok(!e->frames[0].library, "a cell is user code");
	}
	tap_ok(strchr(e->text, '\033') == NULL, "text has no ANSI");
	tap_ok(strstr(e->text, "----> 1 import cv2") != NULL, "text is the rendered traceback");
	tap_ok(strchr(e->raw, '\033') != NULL, "raw keeps the colours");
	dr_error_free(e);
}

/* The same error parsed from the notebook's text has the same signature. */
static void test_same_signature_as_text(void)
{
	char text[2048] = "", sa[17], sb[17];
	struct detected d;
	dr_error *s;
	size_t i;

	for (i = 0; i < 4; i++) {
		strcat(text, ipy8_stb[i]);
		strcat(text, "\n");
	}
	s = dr_error_from_structured("ModuleNotFoundError", "No module named 'cv2'", ipy8_stb, 4);
	detect_output(text, strlen(text), 3, &d);
	if (tap_ok(s && d.n == 1, "structured and text both give one error")) {
		dr_signature(s, sa);
		dr_signature(d.v[0], sb);
		tap_is_str(sa, sb, "same signature from the hook and from the text");
	}
	dr_error_free(s);
	detected_free(&d);
}

/* traceback.format_exception() output: strings ending in "\n", a chain. */
static void test_format_exception_list(void)
{
	static const char *const tb[] = {
		"Traceback (most recent call last):\n",
		"  File \"/srv/a.py\", line 3, in <module>\n    d['k']\n",
		"KeyError: 'k'\n",
		"\nDuring handling of the above exception, another exception occurred:\n\n",
		"Traceback (most recent call last):\n",
		"  File \"/srv/a.py\", line 5, in <module>\n    raise ValueError('no k')\n",
		"ValueError: no k\n",
	};
	dr_error *e = dr_error_from_structured("ValueError", "no k", tb, 7);

	if (!tap_ok(e != NULL, "a format_exception list gives an error"))
		return;
	tap_is_int(e->nframes, 1, "frames of the last traceback only");
	if (e->nframes == 1)
		tap_is_int(e->frames[0].line, 5, "the last traceback's frame");
	tap_is_int(e->nchain, 1, "the earlier exception is in the chain");
	if (e->nchain == 1)
		tap_is_str(e->chain[0], "KeyError: 'k'", "chain entry");
	dr_error_free(e);
}

/* Frames without the final exception line still count. */
static void test_frames_only(void)
{
	static const char *const tb[] = {
		"Traceback (most recent call last):",
		"  File \"/srv/a.py\", line 3, in <module>",
		"    main()",
		"  File \"/usr/lib/python3.11/json/decoder.py\", line 355, in raw_decode",
	};
	dr_error *e = dr_error_from_structured("JSONDecodeError", "Expecting value", tb, 4);

	if (!tap_ok(e != NULL, "frames without an exception line give an error"))
		return;
	tap_is_int(e->nframes, 2, "both frames read");
	if (e->nframes == 2) {
		tap_is_str(e->frames[1].file, "/usr/lib/python3.11/json/decoder.py", "second frame");
		tap_ok(e->frames[1].library, "the standard library is library");
	}
	dr_error_free(e);
}

static void test_empty_and_null(void)
{
	dr_error *e = dr_error_from_structured(NULL, NULL, NULL, 0);
	json_t *j;

	if (!tap_ok(e != NULL, "no traceback at all still gives an error"))
		return;
	tap_is_str(e->exception, "", "missing ename is empty");
	tap_is_str(e->message, "", "missing evalue is empty");
	tap_is_int(e->nframes, 0, "no frames");
	tap_is_str(e->text, "", "no text");
	j = dr_error_to_json(e);
	tap_ok(j && json_is_array(json_object_get(j, "frames")) &&
	       json_is_null(json_object_get(j, "extra")), "JSON view has frames [] and extra null");
	json_decref(j);
	dr_error_free(e);
}

static void test_json_view(void)
{
	static const char *const tb[] = {
		"Traceback (most recent call last):",
		"  File \"/srv/x.py\", line 1",
		"    bad(",
		"SyntaxError: '(' was never closed",
	};
	dr_error *e = dr_error_from_structured("SyntaxError", "bad \xff byte", tb, 4);
	json_t *j = e ? dr_error_to_json(e) : NULL, *f;

	if (!tap_ok(j != NULL, "JSON view of an error with invalid UTF-8"))
		goto out;
	tap_is_str(json_string_value(json_object_get(j, "message")), "bad \xef\xbf\xbd byte",
	           "invalid UTF-8 becomes U+FFFD");
	tap_is_str(json_string_value(json_object_get(j, "detector")), "python.structured", "detector");
	f = json_array_get(json_object_get(j, "frames"), 0);
	tap_ok(f && json_is_null(json_object_get(f, "function")), "a frame without function has null");
	tap_is_int(json_integer_value(json_object_get(f, "line")), 1, "frame line");
	tap_ok(json_is_false(json_object_get(f, "library")), "frame library flag");
	tap_ok(json_is_array(json_object_get(j, "chain")), "chain is an array");
out:
	json_decref(j);
	dr_error_free(e);
}

int main(void)
{
	dr_registry_add_builtins();
	test_ipython8();
	test_same_signature_as_text();
	test_format_exception_list();
	test_frames_only();
	test_empty_and_null();
	test_json_view();
	dr_registry_clear();
	return tap_done();
}
