/*
 * paths.h - where doctor keeps its socket, data, config and plugins.
 *
 * Shared by doctord and the doctor command so both agree without talking.
 * Precedence, highest first: explicit argument, environment
 * (DOCTOR_SOCKET, DOCTOR_DATA_DIR, DOCTOR_CONFIG, DOCTOR_PLUGIN_PATH),
 * XDG defaults.
 * All returned strings are newly allocated; the caller frees them.
 */
#ifndef DOCTOR_PATHS_H
#define DOCTOR_PATHS_H

#include <stddef.h>

/* $(sysconfdir), passed by the build; the system plugin folder is
 * DOCTOR_SYSCONFDIR "/doctor/plugins". */
#ifndef DOCTOR_SYSCONFDIR
#define DOCTOR_SYSCONFDIR "/etc"
#endif

/* $DOCTOR_SOCKET, else $XDG_RUNTIME_DIR/doctor/doctord.sock,
 * else /tmp/doctor-$UID/doctord.sock. NULL only when out of memory. */
char *paths_socket(void);

/* $DOCTOR_DATA_DIR, else $XDG_DATA_HOME/doctor, else ~/.local/share/doctor. */
char *paths_data_dir(void);

/* $DOCTOR_CONFIG, else $XDG_CONFIG_HOME/doctor/doctor.yaml,
 * else ~/.config/doctor/doctor.yaml (which may not exist). */
char *paths_config_file(void);

/* The folders plugins are loaded from, in order (a later plugin of the same
 * name replaces an earlier one):
 *   shipped_dir (the compile-time $(datadir)/doctor/plugins; NULL: none),
 *   DOCTOR_SYSCONFDIR/doctor/plugins,
 *   $XDG_CONFIG_HOME/doctor/plugins, else ~/.config/doctor/plugins,
 *   then the nextra folders of extra (plugins.dirs).
 * $DOCTOR_PLUGIN_PATH, colon-separated, replaces the first three when set
 * and non-empty (empty components are skipped): tests and running from a
 * build tree use it. Folders are not checked for existence.
 * Returns a newly allocated, NULL-terminated array of *n newly allocated
 * strings (free with paths_free_list), or NULL (*n = 0) when out of memory. */
char **paths_plugin_dirs(const char *shipped_dir, const char *const *extra,
                         size_t nextra, size_t *n);

/* Free n strings of list and list itself. NULL is fine. */
void paths_free_list(char **list, size_t n);

/* The user's home directory: $HOME, else the password database. Borrowed
 * (valid until the environment changes); NULL if neither knows. */
const char *paths_home_dir(void);

/* Directory part of path (newly allocated). */
char *paths_dirname(const char *path);

/* mkdir -p with the given mode for every directory created.
 * Returns 0 or a negative errno. */
int paths_mkdir_p(const char *path, unsigned mode);

#endif
