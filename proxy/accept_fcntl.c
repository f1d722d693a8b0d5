/*
 * libh2o's h2o_evloop_socket_create sets O_NONBLOCK on the descriptor it is
 * given, twice (fcntl F_SETFL), also when accept4 made it non-blocking
 * already. This fcntl, linked into the executable so that libh2o binds to
 * it (as h1_head_format.c), answers those two calls for the connection
 * server.c is handing over and passes every other call to glibc's fcntl.
 * Not in sanitizer builds: their runtimes may intercept fcntl themselves.
 */
#include "accept_fcntl.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)

/* The symbol names are spelled out: <fcntl.h> renames fcntl to fcntl64
 * when file offsets are 64-bit, and glibc's fcntl64 is its fcntl. */
int gantry_fcntl(int fd, int cmd, ...) __asm__("fcntl");
extern int glibc_fcntl(int fd, int cmd, ...) __asm__("fcntl64");

int gantry_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *); /* as glibc reads it: every command's argument fits a pointer */
    va_end(ap);
    if (cmd == F_SETFL && fd == accept_nonblocking_fd && fd >= 0 && (intptr_t)arg == O_NONBLOCK)
        return 0;
    return glibc_fcntl(fd, cmd, arg);
}

#endif
