/*
 * plugin_test.h - `doctor plugin test FILE CASES`: run a plugin against
 * a folder of cases the way the daemon would, printing TAP.
 * docs/plugins.md describes the cases.
 */
#ifndef DOCTOR_PLUGIN_TEST_H
#define DOCTOR_PLUGIN_TEST_H

#include <stdio.h>

/* Run every case folder of cases_dir (sorted by name) against the plugin
 * file; TAP on tap_out. Returns 0 when every case passed, 1 when one
 * failed (the command's exit status), or a negative errno when nothing
 * could run (no cases, the plugin does not load): then a "Bail out!"
 * line says why. */
int plugin_test_run(const char *plugin_file, const char *cases_dir, FILE *tap_out);

#endif
