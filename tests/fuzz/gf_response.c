/*
 * gf_response.c: libFuzzer target for the client's side of a response:
 * gfp_parse_response (lab/gfproto.c) and the reading loop around it in
 * lab/gfclient.c, which trusts nothing a server sends.
 *
 * The input is the server's whole byte stream. It is written into one end
 * of a socketpair, which is then closed, and gfclient.c's read_response()
 * reads the other end as it would a TCP connection. The loop is static,
 * so this file includes gfclient.c itself rather than widening the
 * client's public interface for a test.
 *
 * Checked: never more body bytes are delivered than the header declared;
 * an OK result means exactly the declared bytes arrived, and they are the
 * bytes that followed the header; a stream without a complete header is
 * MALFORMED; statuses other than OK carry no body.
 */
#include <assert.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../../lab/gfclient.c"

/* Bounded by the socket buffer: a larger input would block the write. */
#define MAX_INPUT 16384

struct sink {
	const uint8_t *expect;	/* the body as the server sent it */
	size_t expect_len;
	size_t got;
};

static int collect(const void *data, size_t len, void *arg)
{
	struct sink *s = arg;

	assert(s->got + len <= s->expect_len);
	assert(memcmp(data, s->expect + s->got, len) == 0);
	s->got += len;
	return 0;
}

static void check(const uint8_t *data, size_t size, int r,
		  const gfc_response_t *resp, const struct sink *s)
{
	gfstatus_t status;
	size_t len = 0, hdrlen = 0;
	int whole = gfp_parse_response((const char *)data, size, &status, &len,
				       &hdrlen);

	assert(s->got == resp->received_len);
	assert(resp->received_len <= resp->declared_len);
	if (whole != GFP_DONE) {
		assert(r == -1 && resp->result == GFC_MALFORMED);
		return;
	}
	assert(hdrlen <= GF_MAX_RESPONSE_HEADER);
	if (status != GF_OK) {
		assert(r == 0 && resp->received_len == 0);
		assert(resp->result == result_of(status));
		return;
	}
	assert(resp->declared_len == len);
	if (size - hdrlen >= len)
		assert(r == 0 && resp->result == GFC_OK && s->got == len);
	else
		assert(r == -1 && resp->result == GFC_SHORT_BODY &&
		       s->got == size - hdrlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[CHUNK];
	gfc_response_t resp = { 0 };
	struct sink s = { .expect = data };
	gfstatus_t status;
	size_t len = 0, hdrlen = 0;
	int sv[2], r;

	if (size > MAX_INPUT)
		return 0;
	if (gfp_parse_response((const char *)data, size, &status, &len,
			       &hdrlen) == GFP_DONE) {
		s.expect = data + hdrlen;
		s.expect_len = size - hdrlen;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	if (size > 0 && gfnet_send_within(sv[1], data, size, 1000) < 0)
		abort();
	close(sv[1]);
	r = read_response(sv[0], 1000, collect, &s, &resp, buf);
	close(sv[0]);
	check(data, size, r, &resp, &s);
	return 0;
}
