/*
 * test_sha256.c: checks lab/sha256.c against the FIPS 180-4 example
 * vectors, fed whole and in awkward pieces. Exits 0 when all pass.
 */
#include <stdio.h>
#include <string.h>

#include "sha256.h"

static int failures;

static void hash_in_pieces(const char *msg, size_t len, size_t piece,
			   char hex[SHA256_HEX_LEN + 1])
{
	sha256_ctx c;
	uint8_t d[SHA256_DIGEST_LEN];

	sha256_init(&c);
	for (size_t off = 0; off < len; off += piece)
		sha256_update(&c, msg + off, len - off < piece ? len - off : piece);
	sha256_final(&c, d);
	sha256_hex(d, hex);
}

static void check(const char *name, const char *msg, const char *want)
{
	static const size_t pieces[] = { 1, 3, 55, 56, 63, 64, 65, 1000 };
	char hex[SHA256_HEX_LEN + 1];
	size_t len = strlen(msg);

	hash_in_pieces(msg, len, len ? len : 1, hex);
	if (strcmp(hex, want) != 0) {
		printf("FAIL %s whole: got %s want %s\n", name, hex, want);
		failures++;
	}
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		hash_in_pieces(msg, len, pieces[i], hex);
		if (strcmp(hex, want) != 0) {
			printf("FAIL %s in pieces of %zu: got %s\n", name,
			       pieces[i], hex);
			failures++;
		}
	}
}

static void check_million_a(void)
{
	static char chunk[1000];
	const char *want =
		"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
	sha256_ctx c;
	uint8_t d[SHA256_DIGEST_LEN];
	char hex[SHA256_HEX_LEN + 1];

	memset(chunk, 'a', sizeof(chunk));
	sha256_init(&c);
	for (int i = 0; i < 1000; i++)
		sha256_update(&c, chunk, sizeof(chunk));
	sha256_final(&c, d);
	sha256_hex(d, hex);
	if (strcmp(hex, want) != 0) {
		printf("FAIL million a: got %s\n", hex);
		failures++;
	}
}

static void check_parse_hex(void)
{
	const char *hex =
		"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
	uint8_t d[SHA256_DIGEST_LEN];
	char back[SHA256_HEX_LEN + 1];

	if (sha256_parse_hex(hex, d) != 0) {
		printf("FAIL parse_hex rejected valid hex\n");
		failures++;
		return;
	}
	sha256_hex(d, back);
	if (strcasecmp(back, hex) != 0) {
		printf("FAIL parse_hex round trip: %s\n", back);
		failures++;
	}
	if (sha256_parse_hex("zz", d) == 0 || sha256_parse_hex("ab", d) == 0) {
		printf("FAIL parse_hex accepted bad or short hex\n");
		failures++;
	}
}

int main(void)
{
	check("empty", "",
	      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check("abc", "abc",
	      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check("448-bit", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	check("896-bit",
	      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	      "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
	check_million_a();
	check_parse_hex();
	if (failures == 0)
		printf("sha256: all vectors pass\n");
	return failures != 0;
}
