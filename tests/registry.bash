# Registry helpers for the BATS suites: real registries (CNCF distribution,
# Debian's docker-registry), a real token server and a fault-injecting proxy,
# all on 127.0.0.1 only. Load after test_helper:
#
#   load test_helper
#   load registry
#
#   registry_start MODE [NAME]  MODE: plain | basic | token | tls, or tls+basic,
#                               tls+token; +h1 (with tls): HTTP/1.1 only, no
#                               HTTP/2 offered. Exports REGISTRY=127.0.0.1:PORT and
#                               more (below); the registry is killed by
#                               stop_servers (test_helper's teardown).
#   seed_images REGISTRY [IMAGE...]
#                               pushes the test images (all, or the ones named:
#                               base app1 app2 multi big chart v2s2) with skopeo.
#   fault_proxy_start MODE [ARG...]
#                               fault-proxy.py in front of $REGISTRY (plain
#                               mode); exports PROXY=127.0.0.1:PORT, PROXY_LOG.
#   test_images                 makes (once per machine) the cached OCI layout
#                               and exports TEST_IMAGES_DIR, TEST_LAYOUT, TEST_REFS.
#   test_image_digest REF       digest of a pushed ref from $TEST_REFS
#                               (test/base:1, test/base:1#layer0,
#                               test/multi:1@linux/arm64/v8, ...); test_image_size.
#   test_image_table            the same as arrays TEST_DIGEST[REF], TEST_SIZE[REF]
#                               (no process; for per_test_setup).
#   registry_skopeo_args REGISTRY [src|dest]
#                               skopeo flags for the registry (creds, TLS), one
#                               per line: mapfile -t a < <(registry_skopeo_args …)
#   registry_curl_args REGISTRY curl flags likewise (basic creds, --cacert).
#   registry_digests REGISTRY REF...
#                               sha256 of the manifest served for each REF, one
#                               line each ("missing STATUS" when not there).
#   registry_token SCOPE [REGISTRY]
#                               a bearer token for edgeuser from the token server.
#   site_setup_file PULL_OPTION...
#                               registries src and dst, a store pulled from src
#                               and its bundle, for setup_file (80-push, 85-serve).
#
# What registry_start MODE [NAME] exports (NAME defaults to "registry"; with a
# NAME, the REGISTRY* ones also as ${NAME^^}_REGISTRY, ${NAME^^}_REGISTRY_URL, …,
# NAME upper-cased with - as _; the last registry started owns the plain names):
#   REGISTRY          127.0.0.1:PORT
#   REGISTRY_URL      http://127.0.0.1:PORT (https:// with tls)
#   REGISTRY_USER     edgeuser                    (basic, token)
#   REGISTRY_PASS     a random password           (basic, token)
#   REGISTRY_PASS_FILE  a file holding it (one line)  (basic, token)
#   REGISTRY_CA       the CA certificate (PEM)    (tls)
#   REGISTRY_CERT_DIR a directory with ca.crt, for skopeo --cert-dir (tls)
#   REGISTRY_MODE     the MODE
#   REGISTRY_DIR      config, certificates and logs (registry.log)
#   REGISTRY_STORAGE  the storage root ($REGISTRY_DATA if set, else a directory
#                     on tmpfs, removed when the registry stops; NAME-data
#                     where there is no /dev/shm)
#   TOKEN_SERVER (127.0.0.1:PORT), TOKEN_REALM, TOKEN_LOG (one JSON line per
#   token request), TOKEN_CA (the registry's rootcertbundle)      (token)
# Inputs: REGISTRY_DATA (storage root to use, e.g. one seeded before),
# TOKEN_ANON_PULL (token mode: repository prefix anonymous users may pull),
# TOKEN_EXPIRES (token lifetime in seconds, default 300), BIG_LAYER_MB (size of
# the "big" image's layer, default 8; set it for the whole test or file: every
# helper reads it), REGISTRY_LIFETIME (seconds a registry may live, default 3600;
# it also stops when the shell that started it goes away).
#
# Registries started in setup_file work too: stop them with stop_servers in
# teardown_file.

REGISTRY_SERVERS_DIR="$TOP/tests/servers"
TEST_IMAGES_ROOT="$TOP/build/test-images"
REGISTRY_SERVICE=edge-test-registry
REGISTRY_ISSUER=edge-test-issuer

# _reg_dirs: sets reg_tmp, the per-test (or, in setup_file, per-file)
# scratch directory, and reg_statedir, where registry_start leaves what
# seed_images and friends need to know about a registry (one file per
# HOST:PORT, readable from any test of the run). Variables, not a command
# substitution: on this machine a fork of the test's shell costs some 20 ms
# of CPU, and the helpers below ran several a call.
_reg_dirs() {
	reg_tmp=${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:?no bats temp dir}}
	reg_statedir="${BATS_RUN_TMPDIR:-$reg_tmp}/registries"
}

# Runs "$@" and kills it when the shell $1 goes away or after $2 seconds;
# SIGTERM stops both. The registry has no idle timeout of its own. tail
# --pid watches the shell without starting a process a poll (a sleep every
# 0.2 s, in every registry's supervisor, cost more CPU than some suites).
# $3, when not empty, is a directory removed once "$@" has exited (the
# registry's storage on tmpfs, see _reg_storage_dir).
# shellcheck disable=SC2016
_REG_SUPERVISOR='
parent=$1 lifetime=$2 scratch=$3
shift 3
"$@" &
pid=$!
timeout "$lifetime" tail --pid="$parent" -f /dev/null &
watch=$!
trap "kill \$pid \$watch 2>/dev/null; wait \$pid 2>/dev/null; [ -z \"\$scratch\" ] || rm -rf \"\$scratch\"; exit 0" TERM INT HUP
wait -n "$pid" "$watch"
kill "$pid" "$watch" 2>/dev/null
wait "$pid"
rc=$?
[ -z "$scratch" ] || rm -rf "$scratch"
exit $rc
'

# _reg_storage_dir NAME: a new, empty storage root for a registry, on tmpfs
# (/dev/shm) where there is one, else NAME-data in the scratch directory.
# docker-registry fsyncs every blob and link file it writes (eatmydata
# cannot stop a Go program's system calls): on this machine's disk a push
# of the test bundle cost the registry twice the CPU, and three times the
# time, that it costs on tmpfs. The registry's supervisor removes a tmpfs
# root when the registry stops.
_reg_storage_dir() {
	local d
	if [ -d /dev/shm ] && [ -w /dev/shm ] &&
		d=$(mktemp -d /dev/shm/edge-test-registry.XXXXXXXX 2>/dev/null); then
		echo "$d"
		return 0
	fi
	local reg_tmp reg_statedir
	_reg_dirs
	d="$reg_tmp/$1-data"
	mkdir -p "$d" && echo "$d"
}

# _reg_make_certs DIR: a CA (ca.pem, ca.key), a server certificate for 127.0.0.1 and
# localhost (server.pem, server.key) and certs.d/ca.crt for skopeo.
_reg_make_certs() {
	local d=$1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$d/ca.key" -out "$d/ca.pem" -days 3 -subj /CN=edge-test-ca \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null || return 1
	printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
		'basicConstraints=critical,CA:FALSE' \
		'keyUsage=critical,digitalSignature,keyEncipherment' \
		'extendedKeyUsage=serverAuth' >"$d/server.ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$d/server.key" -subj /CN=127.0.0.1 -out "$d/server.csr" 2>/dev/null &&
		openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
			-CAcreateserial -days 3 -extfile "$d/server.ext" -out "$d/server.pem" 2>/dev/null ||
		return 1
	mkdir -p "$d/certs.d" && cp "$d/ca.pem" "$d/certs.d/ca.crt"
}

# _reg_make_token_certs DIR: an RSA key (token.key) and its certificate signed by
# the CA (token.pem) for the token server; the registry trusts ca.pem.
_reg_make_token_certs() {
	local d=$1
	printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
		'keyUsage=critical,digitalSignature' >"$d/token.ext"
	openssl req -new -newkey rsa:2048 -nodes -keyout "$d/token.key" \
		-subj /CN=edge-test-token-signer -out "$d/token.csr" 2>/dev/null &&
		openssl x509 -req -in "$d/token.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
			-CAcreateserial -days 3 -extfile "$d/token.ext" -out "$d/token.pem" 2>/dev/null
}

# _reg_cert_cache NAME: sets cdir to a directory holding what both of the
# above make (ca.*, server.*, certs.d/, token.*), made once per machine for
# each registry NAME and made anew once a day (the certificates last three):
# five openssl runs a TLS or token registry, an RSA key among them, cost
# more than some of the tests that start one. Registries of different
# NAMEs, the ones a test runs side by side, keep CAs of their own.
_reg_cert_cache() {
	local name=$1 made tmp root="$TEST_IMAGES_ROOT/certs"
	cdir="$root/$name"
	if [ -s "$cdir/made" ] && read -r made <"$cdir/made" && ((EPOCHSECONDS - made < 86400)); then
		return 0
	fi
	mkdir -p "$root" || return 1
	{
		flock 7 || return 1
		if [ -s "$cdir/made" ] && read -r made <"$cdir/made" && ((EPOCHSECONDS - made < 86400)); then
			return 0
		fi
		tmp=$(mktemp -d "$root/.new.XXXXXX") || return 1
		if ! _reg_make_certs "$tmp" || ! _reg_make_token_certs "$tmp"; then
			rm -rf "$tmp"
			return 1
		fi
		echo "$EPOCHSECONDS" >"$tmp/made"
		rm -rf "$cdir"
		mv "$tmp" "$cdir"
	} 7>"$root/.lock"
}

# _reg_certs DIR [NAME]: _reg_make_certs's files in DIR, copied from NAME's
# cached set when NAME is given (made here if the copy fails: a set being
# renewed by another suite at that moment).
_reg_certs() {
	local d=$1 cdir
	[ -s "$d/ca.pem" ] && return 0
	if [ -n "${2:-}" ] && _reg_cert_cache "$2" && cp -r "$cdir/." "$d/" 2>/dev/null &&
		[ -s "$d/ca.pem" ] && [ -s "$d/token.pem" ]; then
		return 0
	fi
	rm -f "$d"/token.*
	_reg_make_certs "$d"
}

# _reg_token_certs DIR: the token key and certificate in DIR (copied with
# the cached set, else made with DIR's CA).
_reg_token_certs() {
	[ -s "$1/token.pem" ] && [ -s "$1/token.key" ] && return 0
	_reg_make_token_certs "$1"
}

# registry_start MODE [NAME]: see the top of this file.
registry_start() {
	local mode=${1:?registry_start MODE [NAME]} name=${2:-registry}
	local auth=none tls=0 h1=0 part dir data port scheme=http pass=""
	local var tport="" scratch=""
	local IFS_save=$IFS
	IFS=+
	for part in $mode; do
		case $part in
		plain) ;;
		basic | token) auth=$part ;;
		tls) tls=1 ;;
		h1) h1=1 ;;
		*)
			IFS=$IFS_save
			echo "registry_start: unknown mode '$part'" >&2
			return 2
			;;
		esac
	done
	IFS=$IFS_save
	local reg_tmp reg_statedir
	_reg_dirs
	dir="$reg_tmp/$name"
	mkdir -p "$dir" || return 1

	if [ "$tls" = 1 ] || [ "$auth" = token ]; then
		_reg_certs "$dir" "$name" || {
			echo "registry_start: openssl failed" >&2
			return 1
		}
	fi
	if [ "$auth" != none ]; then
		# 96 random bits from getrandom(2) without a process
		printf -v pass '%08x%08x%08x' "$SRANDOM" "$SRANDOM" "$SRANDOM"
		(umask 077 && echo "$pass" >"$dir/password")
	fi
	if [ "$auth" = basic ]; then
		# bcrypt's lowest cost: the registry checks the password at every
		# request (a push makes some sixty)
		htpasswd -Bbn -C 4 edgeuser "$pass" >"$dir/auth.htpasswd" 2>/dev/null || return 1
	fi
	if [ "$auth" = token ]; then
		_reg_token_certs "$dir" || {
			echo "registry_start: openssl failed (token key)" >&2
			return 1
		}
		local -a targs=(--key "$dir/token.key" --cert "$dir/token.pem"
			--issuer "$REGISTRY_ISSUER" --password-file "$dir/password" --log "$dir/token.log"
			--expires "${TOKEN_EXPIRES:-300}" --port-file "$dir/token.port")
		if [ -n "${TOKEN_ANON_PULL:-}" ]; then
			targs+=(--anonymous-pull "$TOKEN_ANON_PULL")
		fi
		start_server "$name-token" "$dir/token.port" \
			python3 "$REGISTRY_SERVERS_DIR/token-server.py" "${targs[@]}" || return 1
		tport=$PORT
	fi
	if [ "$tls" = 1 ]; then
		scheme=https
	fi

	if [ -n "${REGISTRY_DATA:-}" ]; then
		data=$REGISTRY_DATA
		mkdir -p "$data" || return 1
	else
		# made last: nothing below fails before the supervisor owns it
		data=$(_reg_storage_dir "$name") || return 1
		case $data in
		/dev/shm/*) scratch=$data ;;
		esac
	fi

	# port 0: docker-registry binds a free port and logs it ("listening on
	# 127.0.0.1:PORT", at level info), after which it accepts connections
	{
		echo "version: 0.1"
		echo "log:"
		echo "  level: info"
		echo "  accesslog:"
		echo "    disabled: true"
		echo "storage:"
		echo "  filesystem:"
		echo "    rootdirectory: $data"
		echo "  delete:"
		echo "    enabled: true"
		echo "  maintenance:"
		echo "    uploadpurging:"
		echo "      enabled: false"
		echo "http:"
		echo "  addr: 127.0.0.1:0"
		echo "  secret: edge-test-secret-$name"
		if [ "$tls" = 1 ]; then
			echo "  tls:"
			echo "    certificate: $dir/server.pem"
			echo "    key: $dir/server.key"
		fi
		if [ "$h1" = 1 ]; then
			# distribution offers h2 over TLS (ALPN) unless told not to
			echo "  http2:"
			echo "    disabled: true"
		fi
		case $auth in
		basic)
			echo "auth:"
			echo "  htpasswd:"
			echo "    realm: edge-test-registry"
			echo "    path: $dir/auth.htpasswd"
			;;
		token)
			echo "auth:"
			echo "  token:"
			echo "    realm: http://127.0.0.1:$tport/token"
			echo "    service: $REGISTRY_SERVICE"
			echo "    issuer: $REGISTRY_ISSUER"
			echo "    rootcertbundle: $dir/ca.pem"
			;;
		esac
	} >"$dir/config.yml"
	# a clean environment: distribution reads REGISTRY_* variables as
	# configuration overrides, and ours are not meant for it. GOMAXPROCS=1:
	# on a machine the suites keep busy, Go's idle threads spinning for work
	# cost more CPU than a test registry's parallelism gains.
	start_server "$dir/registry" log env -i PATH="$PATH" GOMAXPROCS=1 bash -c "$_REG_SUPERVISOR" supervise "$$" \
		"${REGISTRY_LIFETIME:-3600}" "$scratch" docker-registry serve "$dir/config.yml" || return 1
	port=$PORT

	REGISTRY="127.0.0.1:$port"
	REGISTRY_URL="$scheme://$REGISTRY"
	REGISTRY_MODE=$mode
	REGISTRY_DIR=$dir
	REGISTRY_STORAGE=$data
	REGISTRY_USER=""
	REGISTRY_PASS=""
	REGISTRY_PASS_FILE=""
	REGISTRY_CA=""
	REGISTRY_CERT_DIR=""
	if [ "$auth" != none ]; then
		REGISTRY_USER=edgeuser
		REGISTRY_PASS=$pass
		REGISTRY_PASS_FILE="$dir/password"
	fi
	if [ "$tls" = 1 ]; then
		REGISTRY_CA="$dir/ca.pem"
		REGISTRY_CERT_DIR="$dir/certs.d"
	fi
	export REGISTRY REGISTRY_URL REGISTRY_MODE REGISTRY_DIR REGISTRY_STORAGE \
		REGISTRY_USER REGISTRY_PASS REGISTRY_PASS_FILE REGISTRY_CA REGISTRY_CERT_DIR
	if [ "$auth" = token ]; then
		TOKEN_SERVER="127.0.0.1:$tport"
		TOKEN_REALM="http://$TOKEN_SERVER/token"
		TOKEN_LOG="$dir/token.log"
		TOKEN_CA="$dir/ca.pem"
		export TOKEN_SERVER TOKEN_REALM TOKEN_LOG TOKEN_CA
	fi
	if [ -n "${2:-}" ]; then
		var=${name^^}
		var=${var//-/_}
		var=${var//[^A-Z0-9_]/}
		for part in "" _URL _USER _PASS _PASS_FILE _CA _CERT_DIR _MODE _DIR _STORAGE; do
			local v="REGISTRY$part"
			export "${var}_REGISTRY$part=${!v}"
		done
	fi
	[ -d "$reg_statedir" ] || mkdir -p "$reg_statedir" || return 1
	{
		echo "reg_scheme=$scheme"
		echo "reg_tls=$tls"
		echo "reg_auth=$auth"
		echo "reg_user=$REGISTRY_USER"
		echo "reg_pass=$REGISTRY_PASS"
		echo "reg_ca=$REGISTRY_CA"
		echo "reg_certdir=$REGISTRY_CERT_DIR"
		echo "reg_token=${tport:+127.0.0.1:$tport}"
		echo "reg_storage=$data"
	} >"$reg_statedir/$REGISTRY.env"
}

# registry_stop: stops every server this test started (registries included).
registry_stop() {
	stop_servers
}

# _reg_info REGISTRY: sets reg_scheme reg_tls reg_auth reg_user reg_pass
# reg_ca reg_certdir reg_token reg_storage (a registry not started here is
# plain HTTP, its storage unknown).
_reg_info() {
	local f
	reg_scheme=http reg_tls=0 reg_auth=none reg_user="" reg_pass="" reg_ca=""
	reg_certdir="" reg_token="" reg_storage=""
	local reg_tmp reg_statedir
	_reg_dirs
	f="$reg_statedir/$1.env"
	if [ -f "$f" ]; then
		# shellcheck disable=SC1090
		. "$f"
	fi
}

# registry_skopeo_args REGISTRY [src|dest]: skopeo flags, one per line.
registry_skopeo_args() {
	local reg=${1:?} p=${2:-}
	local reg_scheme reg_tls reg_auth reg_user reg_pass reg_ca reg_certdir reg_token reg_storage
	[ -n "$p" ] && p="$p-"
	_reg_info "$reg"
	if [ "$reg_tls" = 1 ]; then
		echo "--${p}cert-dir=$reg_certdir"
	else
		echo "--${p}tls-verify=false"
	fi
	if [ "$reg_auth" != none ]; then
		echo "--${p}creds=$reg_user:$reg_pass"
	else
		echo "--${p}no-creds"
	fi
}

# registry_curl_args REGISTRY: curl flags (CA, basic credentials), one per line.
registry_curl_args() {
	# shellcheck disable=SC2034 # _reg_info sets them all
	local reg_scheme reg_tls reg_auth reg_user reg_pass reg_ca reg_certdir reg_token reg_storage
	_reg_info "${1:?}"
	if [ "$reg_tls" = 1 ]; then
		echo "--cacert"
		echo "$reg_ca"
	fi
	if [ "$reg_auth" = basic ]; then
		echo "-u"
		echo "$reg_user:$reg_pass"
	fi
}

# registry_token SCOPE [REGISTRY]: prints a token for edgeuser (token mode).
registry_token() {
	local scope=${1:?} reg=${2:-$REGISTRY}
	# shellcheck disable=SC2034 # _reg_info sets them all
	local reg_scheme reg_tls reg_auth reg_user reg_pass reg_ca reg_certdir reg_token reg_storage
	_reg_info "$reg"
	[ -n "$reg_token" ] || {
		echo "registry_token: $reg has no token server" >&2
		return 1
	}
	curl -sf -u "$reg_user:$reg_pass" -G "http://$reg_token/token" \
		--data-urlencode "service=$REGISTRY_SERVICE" --data-urlencode "scope=$scope" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

# registry_digests REGISTRY REF...: for each REF (HOST:PORT/REPO:TAG or
# HOST:PORT/REPO@DIGEST), one line: sha256:HEX of the manifest the registry
# serves for it (GET, the Accept types skopeo sends), or "missing HTTP-STATUS".
# A token registry: one python process for them all, speaking the token flow
# (a bearer token from the realm its 401 names, per scope), where a skopeo
# inspect --raw per ref cost ten times the CPU. Any other: one curl for them
# all (scheme, CA, basic credentials) and one sha256sum, a third of python's
# CPU (python3 alone takes some 70 ms to start and import on this VM).
# shellcheck disable=SC2016
_REG_DIGESTS_PY='
# http.client and urllib import ssl and email: a tenth of a second a start.
# A GET over a socket (ssl only for https) is all this needs.
import base64, hashlib, json, re, socket, sys
scheme, ca, user, password = sys.argv[1:5]
ctx = None
if scheme == "https":
    import ssl
    ctx = ssl.create_default_context(cafile=ca or None)
basic = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode() if user else None
accept = ", ".join(["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.docker.distribution.manifest.v2+json"])
def get(url, auth):
    m = re.match(r"(https?)://([^/:]+):?(\d*)(/.*)", url)
    https, host, port, path = m.group(1) == "https", m.group(2), int(m.group(3) or 0), m.group(4)
    port = port or (443 if https else 80)
    sock = socket.create_connection((host, port), timeout=60)
    if https:
        sock = ctx.wrap_socket(sock, server_hostname=host)
    head = "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: %s\r\nConnection: close\r\n" % (path, host, port, accept)
    if auth:
        head += "Authorization: %s\r\n" % auth
    sock.sendall((head + "\r\n").encode())
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    top, _, body = data.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out = b""
        while True:
            size, _, body = body.partition(b"\r\n")
            n = int(size.split(b";")[0], 16)
            if n == 0:
                break
            out, body = out + body[:n], body[n + 2:]
        body = out
    elif "content-length" in headers:
        body = body[:int(headers["content-length"])]
    return int(lines[0].split()[1]), body, headers
tokens = {}
for ref in sys.argv[5:]:
    host, _, rest = ref.partition("/")
    if "@" in rest:
        repo, _, what = rest.partition("@")
    else:
        repo, _, what = rest.rpartition(":")
    url = "%s://%s/v2/%s/manifests/%s" % (scheme, host, repo, what)
    status, body, headers = get(url, tokens.get(repo, basic))
    challenge = headers.get("www-authenticate", "") if status == 401 else ""
    if challenge.startswith("Bearer ") and user:
        p = dict(re.findall(r"(\w+)=\"([^\"]*)\"", challenge))
        q = "&".join("%s=%s" % (k, re.sub(r"[^A-Za-z0-9._~-]", lambda c: "%%%02X" % ord(c.group()), p[k]))
                     for k in ("service", "scope") if k in p)
        s, b, _ = get(p["realm"] + "?" + q, basic)
        if s == 200:
            tokens[repo] = "Bearer " + json.loads(b)["token"]
            status, body, headers = get(url, tokens[repo])
    print("sha256:" + hashlib.sha256(body).hexdigest() if status == 200 else "missing %d" % status)
'
registry_digests() {
	local reg=${1:?registry_digests REGISTRY REF...}
	local reg_scheme reg_tls reg_auth reg_user reg_pass reg_ca reg_certdir reg_token reg_storage
	local reg_tmp reg_statedir ref rest repo what f i n=0 line
	shift
	_reg_info "$reg"
	if [ "$reg_auth" = token ]; then
		python3 -c "$_REG_DIGESTS_PY" "$reg_scheme" "$reg_ca" "$reg_user" "$reg_pass" "$@"
		return
	fi
	_reg_dirs
	f="$reg_tmp/.registry-digests"
	local -a args=(-s -g -H "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json" -w '%{http_code}\n')
	local -a codes sums files=()
	if [ "$reg_tls" = 1 ]; then args+=(--cacert "$reg_ca"); fi
	if [ "$reg_auth" = basic ]; then args+=(-u "$reg_user:$reg_pass"); fi
	for ref in "$@"; do
		rest=${ref#*/}
		if [[ $rest == *@* ]]; then
			repo=${rest%%@*} what=${rest#*@}
		else
			repo=${rest%:*} what=${rest##*:}
		fi
		args+=(-o "$f.$n" "$reg_scheme://${ref%%/*}/v2/$repo/manifests/$what")
		n=$((n + 1))
	done
	curl "${args[@]}" >"$f.codes"
	mapfile -t codes <"$f.codes"
	[ "${#codes[@]}" = "$n" ] || { echo "registry_digests: curl gave ${#codes[@]} of $n statuses" >&2; return 1; }
	for ((i = 0; i < n; i++)); do
		if [ "${codes[i]}" = 200 ]; then files+=("$f.$i"); fi
	done
	if [ ${#files[@]} -gt 0 ]; then
		sha256sum "${files[@]}" >"$f.sums" || return 1
		mapfile -t sums <"$f.sums"
	fi
	n=0
	for ((i = 0; i < ${#codes[@]}; i++)); do
		if [ "${codes[i]}" = 200 ]; then
			line=${sums[n]}
			echo "sha256:${line%% *}"
			n=$((n + 1))
		else
			echo "missing $((10#${codes[i]}))"
		fi
	done
}

# test_images: makes the test image set once per machine (per BIG_LAYER_MB) under
# build/test-images/ and exports TEST_IMAGES_DIR, TEST_LAYOUT (the OCI layout:
# tags base app1 app2 multi big chart) and TEST_REFS (refs.txt: one line per
# pushed manifest and blob, "KIND REF DIGEST SIZE MEDIATYPE").
test_images() {
	local mb=${BIG_LAYER_MB:-8} dir stamp tmp v2 script="$TOP/tests/fixtures/make-images.py"
	if [ "$mb" = 8 ]; then
		dir=$TEST_IMAGES_ROOT
	else
		dir="$TEST_IMAGES_ROOT/big-$mb"
	fi
	TEST_IMAGES_DIR=$dir
	TEST_LAYOUT="$dir/layout"
	TEST_REFS="$dir/refs.txt"
	export TEST_IMAGES_DIR TEST_LAYOUT TEST_REFS
	# checked once per file (setup_file exports it): test_image_digest calls
	# this for every digest, and skopeo --version costs a tenth of a second
	if [ "${TEST_IMAGES_CHECKED:-}" = "$dir" ] && [ -s "$TEST_REFS" ]; then
		return 0
	fi
	stamp="$(sha256sum <"$script" | cut -c1-16) big=$mb $(skopeo --version)"
	if [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ] && [ -s "$TEST_IMAGES_ROOT/policy.json" ]; then
		export TEST_IMAGES_CHECKED=$dir
		return 0
	fi
	mkdir -p "$dir" || return 1
	{
		flock 9 || return 1
		if [ ! -s "$TEST_IMAGES_ROOT/policy.json" ]; then
			echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$TEST_IMAGES_ROOT/policy.json.tmp" &&
				mv "$TEST_IMAGES_ROOT/policy.json.tmp" "$TEST_IMAGES_ROOT/policy.json"
		fi
		if [ "$(cat "$dir/stamp" 2>/dev/null)" != "$stamp" ]; then
			tmp=$(mktemp -d "$TEST_IMAGES_ROOT/.new.XXXXXX") || return 1
			if ! BIG_LAYER_MB=$mb python3 "$script" --refs "$tmp/refs.txt" "$tmp/layout" ||
				! skopeo --policy "$TEST_IMAGES_ROOT/policy.json" copy -q --format v2s2 \
					"oci:$tmp/layout:base" "dir:$tmp/v2s2" 2>"$tmp/err"; then
				cat "$tmp/err" >&2 2>/dev/null
				rm -rf "$tmp"
				echo "test_images: could not make the test images" >&2
				return 1
			fi
			v2=$(sha256sum <"$tmp/v2s2/manifest.json" | cut -d' ' -f1)
			if ! python3 -c '
import json, os, sys
path, digest = sys.argv[1], sys.argv[2]
m = json.load(open(path))
print("manifest test/v2s2:1 %s %d %s" % (digest, os.path.getsize(path), m["mediaType"]))
print("blob test/v2s2:1#config %s %d %s" % (m["config"]["digest"], m["config"]["size"],
                                           m["config"]["mediaType"]))
for i, l in enumerate(m["layers"]):
    print("blob test/v2s2:1#layer%d %s %d %s" % (i, l["digest"], l["size"], l["mediaType"]))
' "$tmp/v2s2/manifest.json" "sha256:$v2" >>"$tmp/refs.txt"; then
				rm -rf "$tmp"
				return 1
			fi
			rm -f "$dir/stamp"
			rm -rf "$dir/layout" "$dir/v2s2" "$dir/refs.txt"
			mv "$tmp/layout" "$tmp/v2s2" "$tmp/refs.txt" "$dir/" &&
				echo "$stamp" >"$dir/stamp"
			rm -rf "$tmp"
		fi
	} 9>"$TEST_IMAGES_ROOT/.lock"
	[ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ] && [ -s "$TEST_IMAGES_ROOT/policy.json" ] &&
		export TEST_IMAGES_CHECKED=$dir
}

# test_image_digest REF, test_image_size REF: from $TEST_REFS.
test_image_digest() {
	test_images && awk -v r="$1" '$2 == r { print $3; exit }' "$TEST_REFS"
}
test_image_size() {
	test_images && awk -v r="$1" '$2 == r { print $4; exit }' "$TEST_REFS"
}

# test_image_table: TEST_DIGEST and TEST_SIZE, associative arrays of
# $TEST_REFS by REF, for per_test_setup: the tests read ${TEST_DIGEST[REF]}
# where a $(test_image_digest REF) forked the test's shell and ran an awk
# (some 40 ms of CPU a look-up on this machine).
test_image_table() {
	local ref digest size
	test_images || return 1
	declare -gA TEST_DIGEST=() TEST_SIZE=()
	while read -r _ ref digest size _; do
		TEST_DIGEST[$ref]=$digest
		# shellcheck disable=SC2034 # the tests read it
		TEST_SIZE[$ref]=$size
	done <"$TEST_REFS"
	[ ${#TEST_DIGEST[@]} -gt 20 ] || { echo "test_image_table: ${#TEST_DIGEST[@]} refs in $TEST_REFS" >&2; return 1; }
}

# pulled_digest_table FILE N: DIGEST, an associative array of the REF<TAB>DIGEST
# lines of FILE (a pulled manifest's entries, written once in setup_file),
# for per_test_setup; fails unless it holds N. digest_of REPO:TAG reads it
# for $SRC/REPO:TAG, where a $(...) look-up forked the test's shell and ran
# an awk (30 ms each).
pulled_digest_table() {
	local r d
	declare -gA DIGEST=()
	while IFS=$'\t' read -r r d; do
		DIGEST[$r]=$d
	done <"$1"
	[ ${#DIGEST[@]} = "$2" ] || { echo "$1: ${#DIGEST[@]} entries, expected $2" >&2; return 1; }
}

# digest_of REPO:TAG: the pulled manifest's digest for $SRC/REPO:TAG
# (pulled_digest_table)
digest_of() {
	echo "${DIGEST["$SRC/$1"]}"
}

# _reg_seed_src IMAGE: sets src, dst and all for IMAGE (skopeo's source, the
# repository:tag under test/, --all for the index); repos: its repository dirs.
_reg_seed_src() {
	all="" repos=""
	case $1 in
	base | app1 | app2 | big) src="oci:$TEST_LAYOUT:$1" dst="test/$1:1" ;;
	multi) src="oci:$TEST_LAYOUT:multi" dst="test/multi:1" all=--all ;;
	chart) src="oci:$TEST_LAYOUT:chart" dst="test/charts/demo:0.1.0" ;;
	v2s2) src="dir:$TEST_IMAGES_DIR/v2s2" dst="test/v2s2:1" ;;
	*)
		echo "seed_images: unknown image '$1'" >&2
		return 2
		;;
	esac
	repos=${dst%:*}
}

# _reg_seed_skopeo REGISTRY IMAGE...: pushes the images with skopeo.
_reg_seed_skopeo() {
	local reg=$1 img src dst all repos reg_tmp reg_statedir
	shift
	_reg_dirs
	local -a args
	mapfile -t args < <(registry_skopeo_args "$reg" dest)
	for img in "$@"; do
		_reg_seed_src "$img" || return
		# shellcheck disable=SC2086 # $all: empty or --all
		if ! skopeo --policy "$TEST_IMAGES_ROOT/policy.json" copy -q --retry-times 2 \
			$all "${args[@]}" "$src" "docker://$reg/$dst" 2>"$reg_tmp/seed.err"; then
			echo "seed_images: pushing $img to $reg failed:" >&2
			cat "$reg_tmp/seed.err" >&2
			return 1
		fi
	done
}

# _reg_seed_cache: sets SEED_STORAGE to a registry storage root into which
# skopeo pushed every test image, made once per machine (per test image set)
# under $TEST_IMAGES_DIR/registry-storage. Seeding every registry with skopeo
# cost seven skopeo runs, and the registry hashing every blob, per registry:
# the filesystem driver's layout does not depend on the registry's auth or
# TLS mode, so one seeded storage serves them all.
_reg_seed_cache() {
	local dir=$TEST_IMAGES_DIR stamp tmp
	SEED_STORAGE="$dir/registry-storage"
	# checked once per file, as test_images is (setup_file exports it)
	[ "${SEED_CHECKED:-}" = "$dir" ] && [ -d "$SEED_STORAGE" ] && return 0
	stamp="$(cat "$dir/stamp") $(docker-registry --version 2>&1 | head -1)"
	if [ "$(cat "$dir/seed-stamp" 2>/dev/null)" = "$stamp" ]; then
		export SEED_CHECKED=$dir
		return 0
	fi
	{
		flock 8 || return 1
		[ "$(cat "$dir/seed-stamp" 2>/dev/null)" = "$stamp" ] && return 0
		tmp=$(mktemp -d "$dir/.seed.XXXXXX") || return 1
		# a registry of its own, stopped again; the subshell keeps this
		# file's servers and REGISTRY* variables as they were
		if ! (
			# shellcheck disable=SC2034 # start_server and stop_servers use it
			SERVER_PIDS=()
			REGISTRY_DATA="$tmp/data" registry_start plain seed-cache >/dev/null &&
				_reg_seed_skopeo "$REGISTRY" base app1 app2 multi big chart v2s2
			rc=$?
			stop_servers
			exit $rc
		); then
			rm -rf "$tmp"
			echo "seed_images: could not make the seeded registry storage" >&2
			return 1
		fi
		rm -f "$dir/seed-stamp"
		rm -rf "$SEED_STORAGE"
		mv "$tmp/data" "$SEED_STORAGE" && echo "$stamp" >"$dir/seed-stamp"
		rm -rf "$tmp"
	} 8>"$dir/.seed-lock"
	[ "$(cat "$dir/seed-stamp" 2>/dev/null)" = "$stamp" ] && export SEED_CHECKED=$dir
}

# seed_images REGISTRY [IMAGE...]: puts the test images (default: all) into
# REGISTRY as test/base:1 test/app1:1 test/app2:1 test/multi:1 (the index and
# its three platforms) test/big:1 test/charts/demo:0.1.0 test/v2s2:1.
# A registry started by registry_start gets a private copy of the seeded
# storage's repositories and blobs (cp -r, not links: the registry rewrites
# its link files); the filesystem driver reads its storage at each request,
# so a running registry serves them at once. Anything else (the fault proxy),
# or SEED_SKOPEO=1, gets the images pushed by skopeo.
seed_images() {
	local reg=${1:?seed_images REGISTRY [IMAGE...]} img src dst all repos r v2
	local reg_scheme reg_tls reg_auth reg_user reg_pass reg_ca reg_certdir reg_token reg_storage=""
	shift
	test_images || return 1
	local -a imgs=("$@")
	[ ${#imgs[@]} -gt 0 ] || imgs=(base app1 app2 multi big chart v2s2)
	_reg_info "$reg"
	if [ -n "${SEED_SKOPEO:-}" ] || [ -z "$reg_storage" ]; then
		_reg_seed_skopeo "$reg" "${imgs[@]}"
		return
	fi
	_reg_seed_cache || return 1
	v2="$reg_storage/docker/registry/v2"
	local -a paths=(blobs)
	for img in "${imgs[@]}"; do
		_reg_seed_src "$img" || return
		for r in $repos; do paths+=("repositories/$r"); done
	done
	# one cp for all (--parents: DIR/blobs, DIR/repositories/test/base, ...,
	# merged into what is there)
	mkdir -p "$v2" && (cd "$SEED_STORAGE/docker/registry/v2" && exec cp -r --parents "${paths[@]}" "$v2/")
}

# fault_proxy_start MODE [ARG...]: tests/servers/fault-proxy.py --mode MODE in
# front of $REGISTRY (a plain-HTTP registry); more ARGs go to the proxy
# (--every N, --match REGEX, --min-size N). Exports PROXY=127.0.0.1:PORT,
# PROXY_URL and PROXY_LOG (one JSON line per request); with foreign-location
# also PROXY_FOREIGN=127.0.0.1:PORT, the listener upload Locations name.
fault_proxy_start() {
	local mode=${1:?fault_proxy_start MODE [ARG...]} d
	shift
	local reg_tmp reg_statedir
	_reg_dirs
	d=$reg_tmp
	PROXY_LOG="$d/fault-proxy.log"
	start_server fault-proxy "$d/fault-proxy.port" \
		python3 "$REGISTRY_SERVERS_DIR/fault-proxy.py" --upstream "http://${REGISTRY:?no registry}" \
		--port-file "$d/fault-proxy.port" --log "$PROXY_LOG" --mode "$mode" "$@" || return 1
	PROXY="127.0.0.1:${PORT%% *}"
	PROXY_URL="http://$PROXY"
	PROXY_FOREIGN="127.0.0.1:${PORT##* }"
	export PROXY PROXY_URL PROXY_LOG PROXY_FOREIGN
	# seed_images and skopeo flags: the proxy speaks plain HTTP without auth
	{ [ -d "$reg_statedir" ] || mkdir -p "$reg_statedir"; } &&
		printf '%s\n' reg_scheme=http reg_tls=0 reg_auth=none >"$reg_statedir/$PROXY.env"
}

# site_setup_file PULL_OPTION...: setup_file of the suites that push or serve
# what a site receives. Starts registries src (every test image seeded) and
# dst (empty), exported as SRC and DST; every test image and the chart are
# pulled from SRC with edge-pull PULL_OPTION... into the file's store and
# packed into a bundle. Exports, as absolute paths: STORE, PULLED (edge-pull's
# manifest), PACKED (edge-pack's) and BUNDLE.
site_setup_file() {
	local w=$BATS_FILE_TMPDIR t
	registry_start plain src || return 1
	seed_images "$REGISTRY" || return 1
	export SRC="$REGISTRY"
	registry_start plain dst || return 1
	export DST="$REGISTRY"
	test_images || return 1
	: >"$w/images.txt"
	for t in base:1 app1:1 app2:1 multi:1 big:1 v2s2:1; do echo "$SRC/test/$t" >>"$w/images.txt"; done
	echo "oci://$SRC/test/charts demo 0.1.0" >"$w/charts.txt"
	edge-resolve --name site --images "$w/images.txt" --charts "$w/charts.txt" </dev/null |
		edge-pull -q --plain-http "$@" --store "$w/store" >"$w/pulled.json" || return 1
	edge-pack -q -o "$w/site.tar.zst" "$w/pulled.json" >"$w/packed.json" || return 1
	export STORE="$w/store" PULLED="$w/pulled.json" PACKED="$w/packed.json" BUNDLE="$w/site.tar.zst"
}
