/*
 * paths.h - where doctor keeps its socket, data and config.
 *
 * Shared by doctord and the doctor command so both agree without talking.
 * Precedence, highest first: explicit argument, environment
 * (DOCTOR_SOCKET, DOCTOR_DATA_DIR, DOCTOR_CONFIG), XDG defaults.
 * All returned strings are newly allocated; the caller frees them.
 */
#ifndef DOCTOR_PATHS_H
#define DOCTOR_PATHS_H

/* $DOCTOR_SOCKET, else $XDG_RUNTIME_DIR/doctor/doctord.sock,
 * else /tmp/doctor-$UID/doctord.sock. NULL only when out of memory. */
char *paths_socket(void);

/* $DOCTOR_DATA_DIR, else $XDG_DATA_HOME/doctor, else ~/.local/share/doctor. */
char *paths_data_dir(void);

/* $DOCTOR_CONFIG, else $XDG_CONFIG_HOME/doctor/doctor.yaml,
 * else ~/.config/doctor/doctor.yaml (which may not exist). */
char *paths_config_file(void);

/* The user's home directory: $HOME, else the password database. Borrowed
 * (valid until the environment changes); NULL if neither knows. */
const char *paths_home_dir(void);

/* Directory part of path (newly allocated). */
char *paths_dirname(const char *path);

/* mkdir -p with the given mode for every directory created.
 * Returns 0 or a negative errno. */
int paths_mkdir_p(const char *path, unsigned mode);

#endif
