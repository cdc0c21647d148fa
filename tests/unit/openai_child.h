/*
 * openai_child.h - the local OpenAI-compatible test server
 * (tests/servers/openai_server.py) run as a child process of a unit test:
 * started on a free loopback port, its requests logged to a file, stopped
 * and reaped at exit (and told to die with the test should it crash).
 */
#ifndef DOCTOR_TEST_OPENAI_CHILD_H
#define DOCTOR_TEST_OPENAI_CHILD_H

#include <jansson.h>
#include <stddef.h>

/* Start python3 $DOCTOR_SRCDIR/tests/servers/openai_server.py in a
 * temporary folder of its own and wait for its "PORT n". 0, or -1 after a
 * "Bail out!" line saying why. Registers openai_child_stop with atexit. */
int openai_child_start(void);
/* SIGTERM, up to 5 s, then SIGKILL; always reaped; the folder removed. */
void openai_child_stop(void);

/* "http://127.0.0.1:<port>/v1" (borrowed), and the port. */
const char *openai_child_url(void);
int openai_child_port(void);

/* A loopback TCP port nothing listens on (bound, read, closed): for a
 * refused connection. 0 if none could be had. */
int openai_child_free_port(void);

/* Every request logged so far, as a JSON array (new reference), each
 * {"path", "headers", "body"}; how many there are. */
json_t *openai_child_log(void);
size_t openai_child_log_count(void);

#endif
