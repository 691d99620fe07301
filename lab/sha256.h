/*
 * sha256.h: SHA-256 (FIPS 180-4), fed incrementally.
 *
 * The tools hash each body as it arrives, so a file is checked against the
 * manifest without ever being held whole in memory.
 *
 *	sha256_ctx c;
 *	sha256_init(&c);
 *	sha256_update(&c, chunk, n);	(any number of times, any sizes)
 *	sha256_final(&c, digest);
 */
#ifndef SHA256_H
#define SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_LEN 64

typedef struct {
	uint32_t h[8];		/* the running hash state */
	uint64_t nbytes;	/* message length so far */
	uint8_t block[64];	/* bytes waiting for a full block */
	size_t used;		/* how many of block[] hold data */
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
void sha256_final(sha256_ctx *c, uint8_t digest[SHA256_DIGEST_LEN]);

/* Writes 64 lowercase hex digits and a NUL into hex. */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_LEN],
		char hex[SHA256_HEX_LEN + 1]);

/* Parses 64 hex digits (either case). Returns 0, or -1 if not hex. */
int sha256_parse_hex(const char *hex, uint8_t digest[SHA256_DIGEST_LEN]);

#endif
