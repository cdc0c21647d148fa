/*
 * detect_internal.h - what the files of the detect library share and the
 * rest of the daemon does not see: the built-in detectors' ops (registered
 * by registry.c, reused by structured.c) and helpers to build errors.
 */
#ifndef DOCTOR_DETECT_INTERNAL_H
#define DOCTOR_DETECT_INTERNAL_H

#include <stddef.h>

#include "detect.h"

/* python_traceback.c */
extern const dr_detector_ops dr__python_traceback_ops;
/* shell_errors.c */
extern const dr_detector_ops dr__shell_command_not_found_ops;
extern const dr_detector_ops dr__shell_permission_denied_ops;
extern const dr_detector_ops dr__shell_no_space_ops;
extern const dr_detector_ops dr__shell_address_in_use_ops;

/* error.c: a new error with copies of the given strings (message may be
 * NULL for ""), no frames, chain, text or extra. NULL on out of memory. */
dr_error *dr__error_new(const char *detector, const char *exception,
                        const char *message);
/* Copy n bytes into a new NUL-terminated string; NULL on out of memory. */
char *dr__strndup(const char *s, size_t n);

#endif
