# Shared by the edge-serve suites (85-serve, 86-serve-delta). Load after
# test_helper.

# serve ARGS...: starts edge-serve on a free loopback port with ARGS;
# exports SERVE=127.0.0.1:PORT, SERVE_PID, SERVE_LOG.
serve() {
	start_server serve "$BATS_TEST_TMPDIR/serve.port" \
		edge-serve --listen 127.0.0.1:0 --port-file "$BATS_TEST_TMPDIR/serve.port" "$@" || return 1
	SERVE="127.0.0.1:$PORT"
	SERVE_PID=${SERVER_PIDS[-1]}
	SERVE_LOG="$BATS_TEST_TMPDIR/serve.log"
	export SERVE SERVE_PID SERVE_LOG
}
