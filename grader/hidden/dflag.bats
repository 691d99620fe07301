#!/usr/bin/env bats
# -d: the cache's lookup delay. One worker serves requests one after
# another (a lower bound on time: load cannot make it fail); several
# workers overlap their delays (an upper bound, with a wide margin).

setup() {
	load 'common'
	hidden_setup
}

teardown() {
	hidden_teardown
}

# Four different paths, so that the four lookups rule 2 asks for are four
# delays of 200 ms whatever else a design shares between requests.
@test "-d efficacy: one worker with a 200 ms delay serves 4 requests one after another" {
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 1 -d 200000
	start_proxy -n 4 -t 4
	local start elapsed
	start=$(now_ms)
	verified -t 4 -r 4 -w "$(workload /files/size-4096.bin /files/size-4097.bin /files/size-825.bin /files/size-1.bin)"
	elapsed=$(ms_since "$start")
	if [ "$elapsed" -lt 780 ]; then
		echo "expected 4 requests to one worker delaying 200 ms each to take >= 800 ms, saw ${elapsed} ms: is -d applied to each request, and does -t 1 start exactly one worker?"
		return 1
	fi
}

@test "-d efficacy: workers overlap their delays under a mixed load" {
	start_cache -c "$IPCLAB_CONTENT/locals.txt" -t 4 -d 500000
	start_proxy -n 4 -t 8
	local start elapsed
	start=$(now_ms)
	verified -t 8 -r 8 -w "$(workload /files/size-0.bin /files/size-65537.bin /files/size-4097.bin \
		/files/size-1048577.bin /files/tiny/a.txt /files/size-825.bin /files/big/paraphrase.txt /files/size-1.bin)"
	elapsed=$(ms_since "$start")
	if [ "$elapsed" -ge "$(scaled 3000)" ]; then
		echo "expected 8 requests to 4 workers delaying 500 ms each to overlap (about 1000 ms, serial 4000 ms), saw ${elapsed} ms:" \
			"something serialises the requests (a lock held across a whole transfer, in the proxy or in the cache, or one worker at a time)"
		return 1
	fi
}
