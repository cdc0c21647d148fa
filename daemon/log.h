/*
 * log.h - doctord's log: levelled, timestamped lines to stderr or a file.
 *
 * One process-wide sink. Messages must never contain secrets; callers log
 * ids, sizes and paths, not payloads.
 */
#ifndef DOCTOR_LOG_H
#define DOCTOR_LOG_H

#include "config.h"

/* Send log lines to path (appended, created 0600) instead of stderr.
 * Returns 0 or a negative errno. */
int log_open_file(const char *path);
void log_set_level(int level);
int log_get_level(void);
void log_close(void);

__attribute__((format(printf, 2, 3)))
void log_msg(int level, const char *fmt, ...);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
