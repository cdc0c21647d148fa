/*
 * server.h - doctord's listening socket.
 *
 * Either takes the socket systemd passes (socket activation, LISTEN_FDS) or
 * binds its own: the directory is created 0700, the socket is 0600, a lock
 * file beside it (flock) makes sure one daemon serves one path; a socket left
 * by a dead daemon is replaced, a live one is not.
 */
#ifndef DOCTOR_SERVER_H
#define DOCTOR_SERVER_H

#include "doctord.h"

/* Start listening on d->socket_path. Returns 0, -EADDRINUSE when another
 * daemon serves the path (a message has been logged), or another negative
 * errno. */
int server_listen(struct doctord *d);
/* Stop accepting; remove the socket (unless systemd owns it). */
void server_close(struct doctord *d);

#endif
