/*
 * test_signature.c - grouping errors into incidents.
 *
 * Cases: tests/cases/signature/<case>/{a,b,expected}: a and b are outputs
 * (or a.json / b.json, a structured report {ename, evalue, traceback} as
 * the IPython hook sends it), each giving exactly one error; expected says
 * whether the two are the "same" incident or "different". Then
 * dr_normalize_message is checked directly.
 */
#include <jansson.h>

#include "tap.h"
#include "detect_cases.h"

/* The one error in dir/name/<side> or <side>.json; NULL (with a failed
 * check) if there is not exactly one. */
static dr_error *error_of(const char *dir, const char *name, const char *side)
{
	char file[16], *path, *data;
	size_t len = 0;
	struct detected d;
	dr_error *e = NULL;

	snprintf(file, sizeof(file), "%s.json", side);
	path = path_of(dir, name, file);
	data = path ? read_file(path, &len) : NULL;
	if (data) {
		json_t *j = json_loads(data, 0, NULL), *tb = json_object_get(j, "traceback");
		const char **lines = calloc(json_array_size(tb) + 1, sizeof(*lines));
		size_t i;

		for (i = 0; i < json_array_size(tb); i++)
			lines[i] = json_string_value(json_array_get(tb, i));
		e = dr_error_from_structured(json_string_value(json_object_get(j, "ename")),
		                             json_string_value(json_object_get(j, "evalue")),
		                             lines, json_array_size(tb));
		free(lines);
		json_decref(j);
	} else {
		free(path);
		path = path_of(dir, name, side);
		data = path ? read_file(path, &len) : NULL;
		if (data && detect_output(data, len, 0, &d) == 0 && d.n == 1) {
			e = d.v[0];
			d.n = 0;
		} else if (data) {
			tap_diag("%s/%s: %zu errors, want 1", name, side, d.n);
		}
		if (data)
			detected_free(&d);
	}
	free(path);
	free(data);
	return e;
}

static void run_case(const char *dir, const char *name)
{
	char *path = path_of(dir, name, "expected"), *want = path ? read_file(path, NULL) : NULL;
	dr_error *a = error_of(dir, name, "a"), *b = error_of(dir, name, "b");
	char sa[17], sb[17];
	bool same;

	if (!want || !a || !b || (strncmp(want, "same", 4) != 0 && strncmp(want, "different", 9) != 0)) {
		tap_ok(0, "signature/%s: a, b and expected usable", name);
	} else {
		dr_signature(a, sa);
		dr_signature(b, sb);
		same = strcmp(sa, sb) == 0;
		if (!tap_ok(same == (want[0] == 's'), "signature/%s: %s", name, same ? "same" : "different"))
			tap_diag("a %s (%s: %s), b %s (%s: %s)", sa, a->exception, a->message,
			         sb, b->exception, b->message);
		tap_ok(strlen(sa) == 16 && strspn(sa, "0123456789abcdef") == 16,
		       "signature/%s: 16 lowercase hex digits", name);
	}
	dr_error_free(a);
	dr_error_free(b);
	free(want);
	free(path);
}

static void run_cases(const char *root)
{
	char *dir = path_of(root, "signature", NULL);
	char **names;
	size_t n = 0, i;

	names = dir ? list_cases(dir, &n) : NULL;
	if (tap_ok(n >= 12, "signature cases found in %s/signature (%zu)", root, n))
		for (i = 0; i < n; i++)
			run_case(dir, names[i]);
	free_list(names, n);
	free(dir);
}

static void norm_is(const char *in, const char *want)
{
	char *got = dr_normalize_message(in);

	tap_is_str(got, want, in);
	free(got);
}

static void test_normalize(void)
{
	norm_is("", "");
	norm_is("No module named 'cv2'", "No module named 'cv2'");
	norm_is("<Session object at 0x7f3b2c1d0a90>", "<Session object at <addr>>");
	norm_is("request 6f1c2a9e-8b7d-4c3e-9f10-2a3b4c5d6e7f failed",
	        "request <uuid> failed");
	norm_is("at 2024-05-01T12:00:00.123Z", "at <time>");
	norm_is("at 2024-05-01T12:00:00+02:00 sharp", "at <time> sharp");
	norm_is("2024/05/01 10:00:00 listen", "<time> listen");
	norm_is("since 2024-05-01", "since <time>");
	norm_is("12:00:00,123 ERROR", "<time> ERROR");
	norm_is("ip=192.168.1.20)", "ip=<ip>)");
	norm_is("connect to [::1]:8080", "connect to [<ip>]:<n>");
	norm_is("fe80::1ff:fe23:4567:890a down", "<ip> down");
	norm_is("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "<ip>");
	norm_is("Tried to allocate 2.00 GiB", "Tried to allocate <n> GiB");
	norm_is("[Errno 111] Connection refused", "[Errno <n>] Connection refused");
	norm_is("pid=48213, line 12", "pid=<n>, line <n>");
	norm_is("x86_64 utf8 3.5GB v2 _1", "x86_64 utf8 3.5GB v2 _1");
	norm_is("ray::f() and std::vector", "ray::f() and std::vector");
	norm_is("version 1.2.3.4.5", "version <n>");
	norm_is("256.1.1.1", "<n>");
	norm_is("0x", "0x");
	norm_is("caf\xc3\xa9 42", "caf\xc3\xa9 <n>");
}

int main(int argc, char **argv)
{
	const char *root = cases_root(argc, argv);

	dr_registry_add_builtins();
	if (tap_ok(root != NULL, "cases folder given (DOCTOR_CASES or argv[1])"))
		run_cases(root);
	test_normalize();
	dr_registry_clear();
	return tap_done();
}
