/*
 * proxy.h: the proxy process's life, the same in every variant.
 *
 * proxy_run() reads the flags (cmdline.h), blocks the stop signals, makes
 * the pool (pool_create, in the variant's webproxy.c), serves GETFILE
 * clients with handle_with_cache() until SIGINT or SIGTERM, then stops the
 * pool (pool_stop), joins every thread and only then removes the pool
 * (pool_destroy). A variant's webproxy.c is its pool and a main that calls
 * this.
 */
#ifndef PROXY_H
#define PROXY_H

/* Returns the process's exit status: 0 after a stop by a signal, 1 if it
 * could not start or its GETFILE server failed. */
int proxy_run(int argc, char **argv);

#endif
