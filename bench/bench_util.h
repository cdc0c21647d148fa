/*
 * bench_util.h - what the benchmarks (bench/ingest, bench/rule_latency)
 * share: errors and clocks, signals, child processes that never outlive the
 * bench, the temporary directory, Unix socket peers with a read buffer,
 * JSON-RPC replies, and starting and stopping a doctord with no user
 * configuration.
 *
 * Functions returning int return 0 or a negative errno, and have already
 * printed why on stderr (prefixed with bench_name) when they fail.
 */
#ifndef DOCTOR_BENCH_UTIL_H
#define DOCTOR_BENCH_UTIL_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#define IO_TIMEOUT_MS 60000             /* no progress this long: the peer is stuck */
#define START_TIMEOUT_MS 10000          /* until a child listens */
#define STOP_TIMEOUT_MS 10000           /* from SIGTERM until the child exits */
#define IDLE_TIMEOUT_MS 2000            /* until doctord waits in epoll */
#define MAX_CHILDREN 4
/* Path buffers, nested so every "%s/name" provably fits: sockets need short
 * paths anyway (sun_path is 108 bytes). */
#define TMP_LEN 128             /* the temporary directory */
#define DIR_LEN 192             /* a run's directory in it */
#define PATH_LEN 256            /* a file in a run's directory */

/* A client connection with a buffer of what the peer sent; in is owned.
 * filled_at: when the latest read() brought bytes (CLOCK_MONOTONIC s). */
struct peer {
	int fd;
	char *in;
	size_t inlen, incap, consumed;
	bool eof;
	double filled_at;
};

extern volatile sig_atomic_t interrupted;      /* the signal that stopped us */
extern const char *bench_name;                 /* prefix of every message */

/* ---- helpers */
__attribute__((format(printf, 2, 3)))
int fail(int rc, const char *fmt, ...);        /* prints, returns rc */
double now(void);                              /* CLOCK_MONOTONIC, seconds */
void sleep_ms(long ms);
void install_signals(void);
int compare_doubles(const void *a, const void *b);     /* for qsort */
int parse_count(const char *opt, const char *text, unsigned min, unsigned max,
                unsigned *out);

/* ---- processes: every child is tracked and killed by children_kill */
int spawn(const char *path, char *const argv[], const char *config_home,
          const char *plugin_path, pid_t *out);
void children_kill(void);
int child_wait_exit(pid_t pid, const char *what, long timeout_ms);
int wait_listening(pid_t pid, const char *what, const char *path);
void wait_idle(pid_t pid);
int rss_kib(pid_t pid, long *kib);
int daemon_start(const char *doctord, const char *dir, const char *plugin_path, pid_t *pid);
int daemon_stop(pid_t pid);                    /* SIGTERM; it must exit 0 */

/* ---- temporary directory: $TMPDIR/doctor-bench.XXXXXX */
int make_tmpdir(char out[TMP_LEN]);
void remove_tree(const char *dir);

/* ---- sockets */
int unix_address(const char *path, struct sockaddr_un *sa);
int peer_connect(struct peer *c, const char *path);
void peer_close(struct peer *c);
int peer_wait(struct peer *c, short events, short *revents);
int peer_fill(struct peer *c);
int peer_send(struct peer *c, const char *data, size_t len);
int peer_read_line(struct peer *c, char **line);
int peer_drain(struct peer *c);

/* ---- JSON-RPC */
int rpc_await(struct peer *c, json_int_t want_id, const char *want_method, json_t **out);

#endif
