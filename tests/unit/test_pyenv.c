/*
 * test_pyenv.c - py_env_* against fake interpreter layouts built in a
 * temporary directory (venv with and without system site packages, conda,
 * pyenv-style prefix, Debian-style system python, egg-info, RECORD-only
 * and broken distributions), then against this machine's /usr/bin/python3.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "paths.h"
#include "pyenv.h"
#include "tap.h"

static char root[64];

/* root + "/" + rel, in a static ring so a check can use several at once. */
static const char *at(const char *rel)
{
	static char ring[8][1024];
	static int next;
	char *s = ring[next++ % 8];

	snprintf(s, sizeof(ring[0]), "%s/%s", root, rel);
	return s;
}

/* Write a file (and its directories) under root; len -1: strlen. */
static void put(const char *rel, const char *data, long len)
{
	const char *path = at(rel);
	char *dir = paths_dirname(path);
	FILE *f;

	if (!dir || paths_mkdir_p(dir, 0755) < 0) {
		fprintf(stderr, "mkdir %s failed\n", path);
		exit(99);
	}
	free(dir);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len < 0 ? strlen(data) : (size_t)len, f) !=
	    (len < 0 ? strlen(data) : (size_t)len) || fclose(f)) {
		fprintf(stderr, "write %s failed\n", path);
		exit(99);
	}
	chmod(path, 0755);
}

static void mkdirs(const char *rel)
{
	if (paths_mkdir_p(at(rel), 0755) < 0)
		exit(99);
}

static void link_to(const char *target, const char *rel)
{
	if (symlink(target, at(rel)) < 0) {
		perror("symlink");
		exit(99);
	}
}

/* A dist-info with METADATA and top_level.txt under site (relative). */
static void put_dist(const char *site, const char *entry, const char *name,
                     const char *version, const char *top)
{
	char rel[512], meta[512];

	snprintf(rel, sizeof(rel), "%s/%s/METADATA", site, entry);
	snprintf(meta, sizeof(meta),
	         "Metadata-Version: 2.1\nName: %s\nVersion: %s\n\nName: body\n",
	         name, version);
	put(rel, meta, -1);
	if (top) {
		snprintf(rel, sizeof(rel), "%s/%s/top_level.txt", site, entry);
		put(rel, top, -1);
	}
}

/* The "name" of every distribution, joined by spaces. */
static void dist_names(json_t *dists, char *buf, size_t cap)
{
	size_t i, o = 0;
	json_t *d;

	buf[0] = '\0';
	json_array_foreach(dists, i, d) {
		o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, "%s%s=%s",
		                      i ? " " : "",
		                      json_string_value(json_object_get(d, "name")),
		                      json_string_value(json_object_get(d, "version")) ?: "?");
	}
}

static json_t *find_dist(json_t *dists, const char *name)
{
	size_t i;
	json_t *d;

	json_array_foreach(dists, i, d) {
		if (!strcmp(json_string_value(json_object_get(d, "name")), name))
			return d;
	}
	return NULL;
}

/* The top_level modules of dist d joined by spaces. */
static void top_level_of(json_t *d, char *buf, size_t cap)
{
	size_t i, o = 0;
	json_t *m;

	buf[0] = '\0';
	json_array_foreach(json_object_get(d, "top_level"), i, m)
		o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, "%s%s",
		                      i ? " " : "", json_string_value(m));
}

/* Check the owner of module: want_dist NULL means -ENOENT. */
static void check_owner(const py_env *env, const char *module,
                        const char *want_dist, const char *want_version)
{
	char *dist = NULL, *version = NULL, name[128];
	int rc = py_env_module_owner(env, module, &dist, &version);

	snprintf(name, sizeof(name), "owner of %s", module);
	if (!want_dist) {
		tap_is_int(rc, -ENOENT, name);
	} else {
		tap_is_int(rc, 0, name);
		snprintf(name, sizeof(name), "owner of %s: distribution", module);
		tap_is_str(dist, want_dist, name);
		snprintf(name, sizeof(name), "owner of %s: version", module);
		tap_is_str(version, want_version, name);
	}
	free(dist);
	free(version);
}

/* Site dirs joined by spaces, with root replaced by "R". */
static void site_list(const py_env *env, char *buf, size_t cap)
{
	size_t i, o = 0, rl = strlen(root);

	buf[0] = '\0';
	for (i = 0; i < env->nsite; i++) {
		const char *d = env->site_dirs[i];

		if (!strncmp(d, root, rl))
			o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, "%sR%s",
			                      i ? " " : "", d + rl);
		else
			o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, "%s%s",
			                      i ? " " : "", d);
	}
}

static void build_base(void)
{
	put("base/bin/python3.11", "#!fake\n", -1);
	put("base/lib/python3.11/os.py", "", -1);
	put("base/lib/python3.11/EXTERNALLY-MANAGED", "[externally-managed]\n", -1);
	put_dist("base/lib/python3.11/site-packages", "basepkg-1.0.dist-info",
	         "basepkg", "1.0", "basepkg\n");
	put_dist("base/lib/python3.11/site-packages", "Shared_Thing-1.0.dist-info",
	         "Shared_Thing", "1.0", "shared_thing\n");
	put_dist("home/.local/lib/python3.11/site-packages", "userpkg-0.1.dist-info",
	         "userpkg", "0.1", "userpkg\n");
}

static void build_venv_dists(const char *sp)
{
	char rel[512], *huge;
	static const char record[] =
		"shared_thing/__init__.py,sha256=abc,10\n"
		"shared_thing/core.py,,\n"
		"six.py,sha256=x,1\r\n"
		"_speedups.cpython-311-x86_64-linux-gnu.so,,\n"
		"\"quoted/x,y.py\",,\n"
		"../../bin/shared-tool,,\n"
		"shared.thing-2.0.dist-info/METADATA,,\n"
		"shared.thing-2.0.data/scripts/x,,\n"
		"__pycache__/six.cpython-311.pyc,,\n"
		"notes.txt,,\n"
		"\n";

	put_dist(sp, "requests-2.31.0.dist-info", "requests", "2.31.0", "requests\n");
	put_dist(sp, "shared.thing-2.0.dist-info", "shared.thing", "2.0", NULL);
	snprintf(rel, sizeof(rel), "%s/shared.thing-2.0.dist-info/RECORD", sp);
	put(rel, record, -1);
	/* garbage METADATA: name and version come from the entry name */
	snprintf(rel, sizeof(rel), "%s/Broken-0.3.dist-info/METADATA", sp);
	put(rel, "Name: \xc3\x28\n\xff\xfe\x00garbage", 19);
	snprintf(rel, sizeof(rel), "%s/legacy-1.2-py3.11.egg-info/PKG-INFO", sp);
	put(rel, "Metadata-Version: 1.0\r\nName: legacy\r\nVersion: 1.2\r\n", -1);
	snprintf(rel, sizeof(rel), "%s/legacy-1.2-py3.11.egg-info/top_level.txt", sp);
	put(rel, "legacy\n\n  legacy_ext  \nnot/a/module\n", -1);
	snprintf(rel, sizeof(rel), "%s/oldfile-0.9.egg-info", sp);
	put(rel, "Metadata-Version: 1.1\nName: OldFile\nVersion: 0.9\n", -1);
	snprintf(rel, sizeof(rel), "%s/junk.dist-info", sp);
	put(rel, "not a directory", -1);
	/* a METADATA far beyond the read cap, without any header */
	huge = malloc(2 << 20);
	if (!huge)
		exit(99);
	memset(huge, 'x', 2 << 20);
	snprintf(rel, sizeof(rel), "%s/huge-1.0.dist-info/METADATA", sp);
	put(rel, huge, 2 << 20);
	free(huge);
	snprintf(rel, sizeof(rel), "%s/nometa-4.dist-info/top_level.txt", sp);
	put(rel, "nometa\n", -1);
	/* a FIFO where METADATA should be must not hang the reader */
	snprintf(rel, sizeof(rel), "%s/nometa-4.dist-info/METADATA", sp);
	if (mkfifo(at(rel), 0644) < 0)
		exit(99);
}

static void build_venv(const char *dir, bool system_site)
{
	char rel[256], cfg[512];

	snprintf(cfg, sizeof(cfg),
	         "home = %s\ninclude-system-site-packages = %s\nversion = 3.11.4\n",
	         at("base/bin"), system_site ? "true" : "false");
	snprintf(rel, sizeof(rel), "%s/pyvenv.cfg", dir);
	put(rel, cfg, -1);
	snprintf(rel, sizeof(rel), "%s/bin", dir);
	mkdirs(rel);
	snprintf(rel, sizeof(rel), "%s/bin/python", dir);
	link_to(at("base/bin/python3.11"), rel);
	snprintf(rel, sizeof(rel), "%s/lib/python3.11/site-packages", dir);
	build_venv_dists(rel);
	snprintf(rel, sizeof(rel), "%s/lib64", dir);
	link_to("lib", rel);
}

static void test_venv_isolated(void)
{
	char buf[2048];
	py_env *env = NULL;
	json_t *dists = NULL, *d;
	int rc;

	rc = py_env_probe(at("venv/bin/python"), &env);
	if (!tap_ok(rc == 0 && env, "venv: probe (rc %d)", rc))
		return;
	tap_is_str(env->python, at("venv/bin/python"), "venv: python as given");
	tap_is_str(env->virtualenv, at("venv"), "venv: root found without resolving the symlink");
	tap_is_str(env->prefix, at("venv"), "venv: prefix is the venv");
	tap_is_str(env->version, "3.11", "venv: version");
	tap_ok(!env->conda, "venv: not conda");
	tap_ok(!env->externally_managed, "venv: not externally managed (PEP 668 ignores it in a venv)");
	site_list(env, buf, sizeof(buf));
	tap_is_str(buf, "R/venv/lib/python3.11/site-packages",
	           "venv: only its own site-packages (lib64 symlink deduplicated)");
	rc = py_env_distributions(env, &dists);
	tap_is_int(rc, 0, "venv: distributions");
	dist_names(dists, buf, sizeof(buf));
	tap_is_str(buf, "Broken=0.3 huge=1.0 legacy=1.2 nometa=4 OldFile=0.9 "
	           "requests=2.31.0 shared.thing=2.0",
	           "venv: distributions from dist-info, egg-info dir and file; junk skipped");
	d = find_dist(dists, "shared.thing");
	top_level_of(d, buf, sizeof(buf));
	tap_is_str(buf, "shared_thing six _speedups quoted",
	           "RECORD-only: top-level names from RECORD paths");
	d = find_dist(dists, "legacy");
	top_level_of(d, buf, sizeof(buf));
	tap_is_str(buf, "legacy legacy_ext",
	           "egg-info: top_level.txt lines, blank and path lines skipped");
	d = find_dist(dists, "requests");
	tap_is_str(d ? json_string_value(json_object_get(d, "location")) : NULL,
	           at("venv/lib/python3.11/site-packages"), "location is the site dir");
	check_owner(env, "six", "shared.thing", "2.0");
	check_owner(env, "requests.adapters", "requests", "2.31.0");
	check_owner(env, "legacy_ext", "legacy", "1.2");
	check_owner(env, "basepkg", NULL, NULL);
	check_owner(env, "nope", NULL, NULL);
	json_decref(dists);
	py_env_free(env);
}

static void test_venv_system_site(void)
{
	char buf[2048];
	py_env *env = NULL;
	json_t *dists = NULL;
	int rc;

	rc = py_env_probe(at("venvs/bin/python"), &env);
	if (!tap_ok(rc == 0 && env, "venv+system: probe (rc %d)", rc))
		return;
	site_list(env, buf, sizeof(buf));
	tap_is_str(buf, "R/venvs/lib/python3.11/site-packages "
	           "R/home/.local/lib/python3.11/site-packages "
	           "R/base/lib/python3.11/site-packages",
	           "venv+system: venv, user site, then base site-packages");
	rc = py_env_distributions(env, &dists);
	tap_is_int(rc, 0, "venv+system: distributions");
	tap_ok(find_dist(dists, "shared.thing") && !find_dist(dists, "Shared_Thing"),
	       "venv+system: the venv's shared.thing shadows the base's Shared_Thing");
	tap_ok(find_dist(dists, "userpkg") && find_dist(dists, "basepkg"),
	       "venv+system: user and base distributions listed");
	check_owner(env, "basepkg", "basepkg", "1.0");
	check_owner(env, "shared_thing", "shared.thing", "2.0");
	json_decref(dists);
	py_env_free(env);
}

/* A venv whose cfg alone tells the version (virtualenv's version_info),
 * with an unreadable-as-text python and no home. */
static void test_venv_cfg_version(void)
{
	py_env *env = NULL;
	int rc;

	put("venv2/pyvenv.cfg", "version_info = 3.12.1.final.0\r\nbogus line\n= x\n", -1);
	put("venv2/bin/python", "\x7f" "ELF", -1);
	rc = py_env_probe(at("venv2/bin/python"), &env);
	if (!tap_ok(rc == 0 && env, "venv2: probe (rc %d)", rc))
		return;
	tap_is_str(env->version, "3.12", "venv2: version from version_info");
	tap_is_int(env->nsite, 0, "venv2: no site dirs exist, none listed");
	py_env_free(env);
}

static void test_base_prefix(void)
{
	char buf[2048];
	py_env *env = NULL;
	int rc;

	rc = py_env_probe(at("base/bin/python3.11"), &env);
	if (!tap_ok(rc == 0 && env, "base: probe (rc %d)", rc))
		return;
	tap_is_str(env->prefix, at("base"), "base: prefix");
	tap_ok(env->virtualenv == NULL, "base: not a venv");
	tap_is_str(env->version, "3.11", "base: version from the file name");
	tap_ok(env->externally_managed, "base: EXTERNALLY-MANAGED seen");
	site_list(env, buf, sizeof(buf));
	tap_is_str(buf, "R/home/.local/lib/python3.11/site-packages "
	           "R/base/lib/python3.11/site-packages", "base: user site then site-packages");
	py_env_free(env);
}

static void test_pyenv_style(void)
{
	char buf[2048];
	py_env *env = NULL;
	json_t *j;
	int rc;

	put("pyenv/versions/3.10.2/bin/python3.10", "", -1);
	link_to("python3.10", "pyenv/versions/3.10.2/bin/python3");
	put_dist("pyenv/versions/3.10.2/lib/python3.10/site-packages",
	         "numpy-1.26.0.dist-info", "numpy", "1.26.0", "numpy\n");
	mkdirs("localbin");
	link_to(at("pyenv/versions/3.10.2/bin/python3"), "localbin/python3");
	rc = py_env_probe(at("localbin/python3"), &env);
	if (!tap_ok(rc == 0 && env, "pyenv: probe via a symlink (rc %d)", rc))
		return;
	tap_is_str(env->prefix, at("pyenv/versions/3.10.2"), "pyenv: prefix of the real interpreter");
	tap_is_str(env->version, "3.10", "pyenv: version from the symlink target");
	site_list(env, buf, sizeof(buf));
	tap_is_str(buf, "R/pyenv/versions/3.10.2/lib/python3.10/site-packages",
	           "pyenv: its site-packages (no user site for 3.10 exists)");
	check_owner(env, "numpy", "numpy", "1.26.0");
	j = py_env_to_json(env);
	tap_ok(j && json_is_null(json_object_get(j, "virtualenv")) &&
	       json_is_false(json_object_get(j, "conda")) &&
	       !strcmp(json_string_value(json_object_get(j, "version")) ?: "", "3.10") &&
	       json_array_size(json_object_get(j, "site_dirs")) == 1,
	       "pyenv: to_json");
	json_decref(j);
	py_env_free(env);
}

static void test_conda(void)
{
	py_env *env = NULL;
	int rc;

	put("conda/bin/python", "", -1);
	put("conda/conda-meta/history", "", -1);
	put_dist("conda/lib/python3.9/site-packages", "scipy-1.11.dist-info",
	         "scipy", "1.11", "scipy\n");
	rc = py_env_probe(at("conda/bin/python"), &env);
	if (!tap_ok(rc == 0 && env, "conda: probe (rc %d)", rc))
		return;
	tap_ok(env->conda, "conda: conda-meta seen");
	tap_is_str(env->version, "3.9", "conda: version from the one lib/python3.X");
	tap_ok(env->nsite == 1 && strstr(env->site_dirs[0], "conda/lib/python3.9/site-packages"),
	       "conda: its site-packages");
	check_owner(env, "scipy", "scipy", "1.11");
	py_env_free(env);
}

static void test_debian(void)
{
	char buf[2048];
	py_env *env = NULL;
	json_t *dists = NULL;
	int rc;

	put("deb/usr/bin/python3.11", "", -1);
	link_to("python3.11", "deb/usr/bin/python3");
	put("deb/usr/lib/python3.11/os.py", "", -1);
	put("deb/usr/lib/python3.11/EXTERNALLY-MANAGED", "[externally-managed]\n", -1);
	mkdirs("deb/usr/lib/python3.11/dist-packages");
	mkdirs("deb/usr/lib/python3.11/site-packages");
	put("deb/usr/lib/python3/dist-packages/Pygments-2.14.0.egg-info/PKG-INFO",
	    "Metadata-Version: 2.1\nName: Pygments\nVersion: 2.14.0\n", -1);
	put("deb/usr/lib/python3/dist-packages/Pygments-2.14.0.egg-info/top_level.txt",
	    "pygments\n", -1);
	put_dist("deb/usr/local/lib/python3.11/dist-packages", "pygments-2.17.2.dist-info",
	         "Pygments", "2.17.2", "pygments\n");
	rc = py_env_probe(at("deb/usr/bin/python3"), &env);
	if (!tap_ok(rc == 0 && env, "debian: probe (rc %d)", rc))
		return;
	tap_is_str(env->prefix, at("deb/usr"), "debian: prefix");
	tap_is_str(env->version, "3.11", "debian: version through python3 -> python3.11");
	tap_ok(env->externally_managed, "debian: externally managed");
	site_list(env, buf, sizeof(buf));
	tap_is_str(buf, "R/home/.local/lib/python3.11/site-packages "
	           "R/deb/usr/local/lib/python3.11/dist-packages "
	           "R/deb/usr/lib/python3/dist-packages "
	           "R/deb/usr/lib/python3.11/dist-packages",
	           "debian: user site, local, python3 and python3.X dist-packages");
	rc = py_env_distributions(env, &dists);
	dist_names(dists, buf, sizeof(buf));
	tap_ok(rc == 0 && strstr(buf, "Pygments=2.17.2") && !strstr(buf, "2.14.0"),
	       "debian: pip's /usr/local copy shadows the apt one (%s)", buf);
	json_decref(dists);
	py_env_free(env);
}

static void test_errors_and_path(void)
{
	py_env *env = (py_env *)1;
	char *saved = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	int rc;

	tap_is_int(py_env_probe(at("nowhere/bin/python"), &env), -ENOENT, "missing interpreter: -ENOENT");
	tap_ok(env == NULL, "missing interpreter: *out cleared");
	tap_is_int(py_env_probe(at("base/bin"), &env), -EISDIR, "a directory: -EISDIR");
	tap_is_int(py_env_probe("", &env), -EINVAL, "empty path: -EINVAL");
	setenv("PATH", at("base/bin"), 1);
	rc = py_env_probe("python3.11", &env);
	tap_ok(rc == 0 && env && !strcmp(env->prefix, at("base")) &&
	       !strcmp(env->python, "python3.11"), "bare name found in PATH");
	py_env_free(env);
	tap_is_int(py_env_probe("python2.7", &env), -ENOENT, "bare name not in PATH: -ENOENT");
	if (saved)
		setenv("PATH", saved, 1);
	free(saved);
}

static void test_normalize(void)
{
	static const char *const cases[][2] = {
		{ "Foo_Bar.baz", "foo-bar-baz" }, { "requests", "requests" },
		{ "A--_.b", "a-b" }, { "", "" }, { "zope.interface", "zope-interface" },
	};
	size_t i;
	char *n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = py_normalize_name(cases[i][0]);
		tap_is_str(n, cases[i][1], cases[i][0]);
		free(n);
	}
}

/* This machine's Debian python: read, never run. */
static void test_real_python(void)
{
	py_env *env = NULL;
	json_t *dists = NULL;
	bool dist_packages = false;
	size_t i;
	int rc;

	if (access("/usr/bin/python3", X_OK) != 0) {
		tap_ok(1, "# SKIP /usr/bin/python3 absent");
		return;
	}
	rc = py_env_probe("/usr/bin/python3", &env);
	if (!tap_ok(rc == 0 && env, "real: probe /usr/bin/python3 (rc %d)", rc))
		return;
	tap_is_str(env->version, "3.11", "real: version 3.11");
	tap_is_str(env->prefix, "/usr", "real: prefix /usr");
	for (i = 0; i < env->nsite; i++) {
		tap_diag("site dir %s", env->site_dirs[i]);
		dist_packages |= strstr(env->site_dirs[i], "dist-packages") != NULL;
	}
	tap_ok(dist_packages, "real: a dist-packages dir");
	rc = py_env_distributions(env, &dists);
	tap_ok(rc == 0 && json_array_size(dists) > 0,
	       "real: %zu distributions read", json_array_size(dists));
	json_decref(dists);
	py_env_free(env);
}

int main(void)
{
	char cmd[128];

	strcpy(root, "/tmp/test_pyenv.XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 99;
	}
	setenv("HOME", at("home"), 1);
	build_base();
	build_venv("venv", false);
	build_venv("venvs", true);

	test_venv_isolated();
	test_venv_system_site();
	test_venv_cfg_version();
	test_base_prefix();
	test_pyenv_style();
	test_conda();
	test_debian();
	test_errors_and_path();
	test_normalize();
	test_real_python();

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", root);
	return tap_done();
}
