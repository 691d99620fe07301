/*
 * gfmanifest.h: a SHA-256 manifest, the expected content of each path.
 *
 * The file is what sha256sum writes: "<64 hex digits>  <path>" per line
 * (" *" instead of two spaces is accepted too). Paths are matched exactly
 * as they are requested, so they start with '/'.
 */
#ifndef GFMANIFEST_H
#define GFMANIFEST_H

#include <stdint.h>

#include "sha256.h"

typedef struct gfmanifest gfmanifest_t;

/* Returns NULL and prints "file:line: what is wrong" on a bad file. */
gfmanifest_t *gfmanifest_load(const char *file);

/* Returns the digest listed for path, or NULL if path is not listed.
 * Safe to call from many threads at once (the manifest is read-only). */
const uint8_t *gfmanifest_find(const gfmanifest_t *m, const char *path);

void gfmanifest_free(gfmanifest_t *m);

#endif
