/*
 * plugins_log.h - the one logging hook of the plugin host.
 *
 * The host does not know where log lines go: the daemon defines
 * plugins_log() on top of its log module (log_msg), `doctor plugin test`
 * and the unit tests define their own. level is one of LOG_ERROR,
 * LOG_WARN, LOG_INFO, LOG_DEBUG of config.h.
 */
#ifndef DOCTOR_PLUGINS_LOG_H
#define DOCTOR_PLUGINS_LOG_H

#include "config.h"

__attribute__((format(printf, 2, 3)))
void plugins_log(int level, const char *fmt, ...);

#endif
