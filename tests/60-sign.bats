#!/usr/bin/env bats
# edge-sign: minisign key pairs and signatures that minisign 0.11 accepts
# (and minisign's that we accept), RSA signatures that openssl accepts,
# passwords from a file, the environment and the terminal, manifest mode.
# sig_verify_file is driven through build/tests/test_sign (the unit test
# binary's `verify FILE PUBKEY` mode), as edge-verify calls it.

load test_helper

VERIFY="$TOP/build/tests/test_sign"

# typing LINE... -- CMD...: runs CMD on a new terminal and types each LINE
# after a prompt (a line ending in ':'). Prints what the terminal showed,
# prompts followed by '|'; exits with CMD's status.
PTY_PY='
import os, pty, sys
i = sys.argv.index("--")
lines, cmd = sys.argv[1:i], sys.argv[i + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out = b""
def more():
    global out
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        chunk = b""
    out += chunk
    return chunk
for line in lines:
    while not out.rstrip().endswith(b":") and more():
        pass
    os.write(fd, line.encode() + b"\n")
    out += b"|"
while more():
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
sys.exit(os.waitstatus_to_exitcode(status))
'
typing() {
	python3 -c "$PTY_PY" "$@"
}

# Keys shared by the tests. scrypt with minisign's parameters (opslimit 2^25,
# memlimit 1 GiB) costs about 7 s of CPU a derivation, so these four
# interop claims, which need the real parameters, are the only ones to use
# them, and a run derives three times (claim 3's key is made once):
#   1. edge-sign -G encrypts enc.key (here, the password from
#      $EDGE_SIGN_PASSWORD), checked in "-G with $EDGE_SIGN_PASSWORD ...";
#   2. minisign -S decrypts that key and signs with it (same test): our -G
#      writes keys minisign reads;
#   3. minisign -G encrypted menc.key (tests/fixtures/minisign: made once
#      by minisign and kept, as its README says);
#   4. edge-sign decrypts menc.key and signs with it, in "we accept
#      minisign's signatures": we read keys minisign writes.
# Everything else about encrypted keys (the password from --password-file,
# from the environment, from the terminal; a wrong one; minisign signing
# with a password key) uses quick.key (edge-sign's key) or mquick.key
# (minisign's), the same format with scrypt's smallest limits
# (tests/fixtures/cheap-key.py): edge-sign and minisign derive with the
# limits the key file names, so they go through the same code.
CHK_PY='
import base64, hashlib, runpy, sys
src, script = sys.argv[1], sys.argv[2]
lines = open(src).read().splitlines()
skb = bytearray(base64.b64decode(lines[1]))
skb[126:158] = hashlib.blake2b(bytes(skb[0:2] + skb[54:126]), digest_size=32).digest()
with open(src + ".chk", "w") as f:
    f.write(lines[0] + "\n" + base64.b64encode(bytes(skb)).decode() + "\n")
sys.argv = [script, src + ".chk"] + sys.argv[3:]
runpy.run_path(script, run_name="__main__")
'
setup_file() {
	if [ ! -x "$VERIFY" ]; then
		make -C "$TOP" -s build/tests/test_sign >&2 || return 1
	fi
	cd "$BATS_FILE_TMPDIR" || return 1
	# 1. an encrypted edge-sign key, its password from the environment; its
	# stderr and status are checked by a test
	EDGE_SIGN_PASSWORD='correct horse' "$TOP/bin/edge-sign" -G -k enc.key -p enc.pub 2> enc.G.err
	echo $? > enc.G.status
	"$TOP/bin/edge-sign" -q -G -W -k quick.plain -p quick.pub &&
		python3 "$TOP/tests/fixtures/cheap-key.py" quick.plain quick.key 'correct horse' &&
		rm quick.plain || return 1
	# 3. an encrypted minisign key, made by minisign -G (the fixture's README)
	cp "$TOP/tests/fixtures/minisign/menc.key" "$TOP/tests/fixtures/minisign/menc.pub" . &&
		chmod 600 menc.key || return 1
	# minisign's unencrypted key pair, and the same key encrypted cheaply.
	# minisign -G -W leaves the key's checksum zero (it checks it only when
	# it decrypts), so the checksum goes in first: BLAKE2b-256 of the
	# signature algorithm, the key id and the secret key, as minisign's
	# seckey_compute_chk; then cheap-key.py, in the same python
	minisign -G -W -p m.pub -s m.key >/dev/null &&
		python3 -c "$CHK_PY" m.key "$TOP/tests/fixtures/cheap-key.py" mquick.key 'minisign pw' || return 1
	manifest_json > manifest.src && rm core-site-0123456789ab.tar.zst site.tgz || return 1
	# RSA keys: PKCS#8, PKCS#1, encrypted PKCS#8, encrypted PKCS#1, public keys
	openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa8.pem
	openssl rsa -in rsa8.pem -traditional -out rsa1.pem 2>/dev/null
	openssl pkcs8 -topk8 -in rsa8.pem -v2 aes-256-cbc -passout pass:rsa-pw -out rsa8-enc.pem
	openssl rsa -in rsa8.pem -traditional -aes256 -passout pass:rsa-pw -out rsa1-enc.pem 2>/dev/null
	openssl pkey -in rsa8.pem -pubout -out rsa.pub.pem
	openssl rsa -in rsa8.pem -RSAPublicKey_out -out rsa1.pub.pem 2>/dev/null
	openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa-weak.pem
	chmod 600 ./*.pem
}

per_test_setup() {
	cp "$BATS_FILE_TMPDIR"/* .
	printf 'hello\n' > a.txt
}

# The helpers below run no process (a test calls them a dozen times, and a
# process costs 5-20 ms of CPU here).

# key_id PUBKEY: the key id in a minisign public key's comment (line 1)
key_id() {
	local l=""
	IFS= read -r l < "$1" || true
	case $l in
	"untrusted comment: minisign public key "*) printf '%s\n' "${l#untrusted comment: minisign public key }" ;;
	esac
}

# kdf KEY: the key derivation bytes of a minisign secret key (the first 6
# bytes of line 2, base64), in hex
kdf() {
	local l="" b64=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/ p out="" i v=0
	{ IFS= read -r l && IFS= read -r l; } < "$1" || true
	for ((i = 0; i < 8; i++)); do
		p=${b64%%"${l:i:1}"*}
		v=$(((v << 6) | ${#p}))
		if ((i % 4 == 3)); then
			printf -v out '%s%02x%02x%02x' "$out" $((v >> 16 & 255)) $((v >> 8 & 255)) $((v & 255))
			v=0
		fi
	done
	printf '%s\n' "$out"
}

# manifest_json: a manifest naming a bundle and a definition, with their
# digests (the files manifest writes); made once, by setup_file
manifest_json() {
	printf 'bundle bytes\n' > core-site-0123456789ab.tar.zst
	printf 'definition bytes\n' > site.tgz
	jq -n --arg bd "sha256:$(sha256sum core-site-0123456789ab.tar.zst | cut -d' ' -f1)" \
		--arg dd "sha256:$(sha256sum site.tgz | cut -d' ' -f1)" \
		'{apiVersion: "edge.manifest/v1", name: "site", x_kept: [1],
		  definition: {path: "site.tgz", digest: $dd, size: 17},
		  bundle: {path: "core-site-0123456789ab.tar.zst", digest: $bd, size: 13},
		  signatures: [{path: "other.minisig", for: "bundle", algorithm: "ed25519", keyId: "X"},
		               {path: "core-site-0123456789ab.tar.zst.minisig", for: "bundle", algorithm: "old"}]}'
}

# manifest: (re)writes the bundle and the definition, prints manifest_json's
manifest() {
	local l
	printf 'bundle bytes\n' > core-site-0123456789ab.tar.zst
	printf 'definition bytes\n' > site.tgz
	while IFS= read -r l; do printf '%s\n' "$l"; done < "$BATS_FILE_TMPDIR/manifest.src"
}

# --- key pairs -------------------------------------------------------------

@test "sign: -G -W writes a minisign key pair that minisign uses" {
	run --separate-stderr edge-sign -G -W -k edge.key
	assert_success
	[ -z "$output" ]
	id=$(key_id edge.key.pub)
	# 16 hex digits at most: minisign prints the id without leading zeros
	[[ "$id" =~ ^[1-9A-F][0-9A-F]{0,15}$ ]]
	assert_stderr_is "edge-sign: wrote edge.key and edge.key.pub (key ID $id); the secret key is not encrypted"
	[ "$(stat -c %a edge.key)" = 600 ]
	[ "$(stat -c %a edge.key.pub)" = 644 ]
	[ "$(sed -n 2p edge.key | base64 -d | wc -c)" -eq 158 ]
	[ "$(kdf edge.key)" = 456400004232 ] # "Ed", no KDF, "B2"
	[ "$(sed -n 2p edge.key.pub | base64 -d | wc -c)" -eq 42 ]
	# minisign signs with our secret key and verifies with our public key
	minisign -S -s edge.key -m a.txt -x a.minisign.sig >/dev/null
	minisign -Vm a.txt -x a.minisign.sig -p edge.key.pub
}

@test "sign: -G refuses to replace a key, --force replaces it" {
	edge-sign -q -G -W -k k -p k.pub
	cp k k.orig
	run --separate-stderr edge-sign -G -W -k k -p new.pub
	assert_failure 6
	assert_stderr_is "edge-sign: k: already exists (--force replaces it)"
	cmp k k.orig
	assert_no_file new.pub
	run --separate-stderr edge-sign -G -W -k new.key -p k.pub
	assert_failure 6
	assert_stderr_is "edge-sign: k.pub: already exists (--force replaces it)"
	assert_no_file new.key
	old=$(key_id k.pub)
	run --separate-stderr edge-sign -q -G -W -k k -p k.pub --force
	assert_success
	assert_stderr_empty
	[ "$(key_id k.pub)" != "$old" ]
	! cmp -s k k.orig || false
	[ "$(stat -c %a k)" = 600 ]
}

@test "sign: -G with \$EDGE_SIGN_PASSWORD encrypts the key; minisign signs with it" {
	# interop claims 1 and 2 (setup_file): the key our -G encrypted with
	# minisign's parameters, minisign decrypts
	[ "$(cat enc.G.status)" = 0 ]
	stderr=$(cat enc.G.err)
	assert_stderr_is "edge-sign: wrote enc.key and enc.pub (key ID $(key_id enc.pub))"
	[ "$(stat -c %a enc.key)" = 600 ]
	[ "$(kdf enc.key)" = 456453634232 ] # "Ed", "Sc" (scrypt), "B2"
	printf 'b\n' > b.txt
	echo 'correct horse' | minisign -S -s enc.key -m b.txt >/dev/null
	minisign -Vm b.txt -p enc.pub
	# -G takes its password from --password-file before the environment,
	# as signing does (the same function): an empty file is refused
	printf '\n' > empty.txt
	chmod 600 empty.txt
	EDGE_SIGN_PASSWORD='correct horse' run --separate-stderr edge-sign -G -k pw.key -p pw.pub --password-file empty.txt
	assert_failure 3
	assert_stderr_is "edge-sign: the password is empty: use -W for an unencrypted key"
	assert_no_file pw.key pw.pub
}

@test "sign: a wrong password exits 5 and writes nothing" {
	printf 'wrong\n' > pw.txt
	chmod 600 pw.txt
	[ "$(kdf quick.key)" = 456453634232 ]
	run --separate-stderr edge-sign -k quick.key --password-file pw.txt a.txt
	assert_failure 5
	assert_stderr_is "edge-sign: quick.key: wrong password"
	assert_no_file a.txt.minisig
	run --separate-stderr edge-sign -k rsa8-enc.pem --password-file pw.txt a.txt
	assert_failure 5
	assert_stderr_is "edge-sign: rsa8-enc.pem: wrong password"
	assert_no_file a.txt.sig
}

@test "sign: the password from --password-file or \$EDGE_SIGN_PASSWORD; edge-sign and minisign sign with an encrypted key" {
	# quick.key: an edge-sign -G key, encrypted with cheap limits (see setup_file)
	[ "$(kdf quick.key)" = 456453634232 ]
	printf 'correct horse\n' > pw.txt
	chmod 600 pw.txt
	run --separate-stderr edge-sign -k quick.key --password-file pw.txt a.txt
	assert_success
	assert_stderr_empty
	minisign -Vm a.txt -p quick.pub
	rm a.txt.minisig
	EDGE_SIGN_PASSWORD='correct horse' run --separate-stderr edge-sign -k quick.key a.txt
	assert_success
	assert_stderr_empty
	minisign -Vm a.txt -p quick.pub
	printf 'b\n' > b.txt
	echo 'correct horse' | minisign -S -s quick.key -m b.txt >/dev/null
	minisign -Vm b.txt -p quick.pub
}

@test "sign: passwords typed on the terminal; none to be had exits 5" {
	run typing 'correct horse' -- edge-sign -k quick.key a.txt
	assert_success
	# the prompt, then (on a terminal) the closing line; a quick run draws no progress line
	assert_output --regexp $'^Password for quick\\.key: \\|\nedge-sign: 1 file signed \\(ed25519\\) in [0-9.]+ s$'
	minisign -Vm a.txt -p quick.pub
	# -G asks twice
	run typing one two -- edge-sign -G -k new.key
	assert_failure 5
	assert_output $'Password for the new key new.key: |\nPassword (again): |\nedge-sign: the passwords do not match'
	assert_no_file new.key new.key.pub
	# a terminal on stdin is not a manifest
	run typing -- edge-sign -k enc.key
	assert_failure 2
	assert_output "edge-sign: stdin is a terminal, expected a manifest"
	# no terminal, no file, no environment
	run --separate-stderr setsid -w edge-sign -k enc.key a.txt < /dev/null
	assert_failure 5
	assert_stderr_is "edge-sign: enc.key: the key is encrypted and there is no password: use --password-file FILE or \$EDGE_SIGN_PASSWORD"
	run --separate-stderr setsid -w edge-sign -G -k new.key < /dev/null
	assert_failure 2
	assert_stderr_is "edge-sign: no password for the new key: use --password-file FILE, \$EDGE_SIGN_PASSWORD, a terminal, or -W for an unencrypted key"
	assert_no_file new.key new.key.pub
}

@test "sign: a password file readable by others warns; a secret key others may read is refused" {
	printf 'rsa-pw\n' > pw.txt
	chmod 644 pw.txt
	run --separate-stderr edge-sign -k rsa8-enc.pem --password-file pw.txt a.txt
	assert_success
	assert_stderr_is "edge-sign: warning: pw.txt: secret file is readable by others"
	rm a.txt.sig
	# as ssh does: exit 3 with what to run, before any password is asked for
	edge-sign -q -G -W -k k
	for mode in 644 640 604; do
		chmod $mode k
		run --separate-stderr edge-sign -k k a.txt
		assert_failure 3
		assert_output ""
		assert_stderr_is "edge-sign: k: secret key is accessible by others (mode 0$mode): run chmod 600 k"
		assert_no_file a.txt.minisig
	done
	cp rsa8-enc.pem open.pem
	chmod 644 open.pem
	run --separate-stderr setsid -w edge-sign -k open.pem a.txt < /dev/null
	assert_failure 3
	assert_stderr_is "edge-sign: open.pem: secret key is accessible by others (mode 0644): run chmod 600 open.pem"
	assert_no_file a.txt.sig
	chmod 600 k
	run --separate-stderr edge-sign -k k a.txt
	assert_success
	assert_stderr_empty
}

@test "sign: a FIFO as the key, the password file or a file to sign: exit 3 at once" {
	edge-sign -q -G -W -k k
	mkfifo fifo
	run --separate-stderr timeout 10 edge-sign -k fifo a.txt
	assert_failure 3
	assert_stderr_is "edge-sign: fifo: not a regular file"
	run --separate-stderr timeout 10 edge-sign -k k a.txt fifo
	assert_failure 3
	assert_stderr_is "edge-sign: fifo: not a regular file"
	run --separate-stderr timeout 10 edge-sign -k rsa8-enc.pem --password-file fifo a.txt
	assert_failure 3
	assert_stderr_is "edge-sign: fifo: not a regular file"
	run --separate-stderr timeout 10 edge-sign -k k --manifest fifo
	assert_failure 3
	assert_stderr_is "edge-sign: fifo: not a regular file"
}

# --- minisign signatures ---------------------------------------------------

@test "sign: minisign -Vm accepts our signatures: a file, an empty file, 20 MiB" {
	edge-sign -q -G -W -k k -p k.pub
	: > empty
	head -c 20971520 /dev/urandom > big.bin
	run --separate-stderr edge-sign -k k a.txt empty big.bin
	assert_success
	[ -z "$output" ]
	assert_stderr_empty
	local f
	for f in a.txt empty big.bin; do
		minisign -VHm "$f" -p k.pub -q # -H: prehashed ("ED")
	done
	[ "$(sed -n 2p a.txt.minisig | base64 -d | head -c 2)" = ED ]
	sha=$(sha256sum big.bin | cut -d' ' -f1)
	sed -n 3p big.bin.minisig | grep -qE "^trusted comment: timestamp:[0-9]+	file:big.bin	sha256:$sha	hashed\$"
	[ "$(wc -l < big.bin.minisig)" -eq 4 ]
	# our own check agrees
	run --separate-stderr "$VERIFY" verify big.bin k.pub
	assert_success
	assert_line --index 0 "algorithm: ed25519"
	assert_line --index 1 "key id: $(key_id k.pub)"
	assert_line --index 2 "sidecar: big.bin.minisig"
}

@test "sign: -t adds to the trusted comment; it must be one line" {
	edge-sign -q -G -W -k k -p k.pub
	run --separate-stderr edge-sign -k k -t 'site=edge-1 build 42' a.txt
	assert_success
	run minisign -Vm a.txt -p k.pub
	assert_success
	assert_line --index 1 --regexp $'^Trusted comment: timestamp:[0-9]+\tfile:a.txt\tsha256:[0-9a-f]{64}\thashed\tsite=edge-1 build 42$'
	run --separate-stderr edge-sign -k k -t $'two\nlines' a.txt
	assert_failure 2
	[ "${stderr_lines[0]}" = "edge-sign: -t: the trusted comment must be one line of at most 512 bytes" ]
}

@test "sign: we accept minisign's signatures: -W keys, password keys, legacy" {
	minisign -S -s m.key -m a.txt >/dev/null
	run --separate-stderr "$VERIFY" verify a.txt m.pub
	assert_success
	assert_line --index 0 "algorithm: ed25519"
	assert_line --index 1 "key id: $(key_id m.pub)"
	assert_line --index 3 --regexp $'^trusted comment: timestamp:[0-9]+\tfile:a.txt\thashed$'
	# legacy signatures cover the raw file
	printf 'legacy\n' > l.txt
	minisign -S -l -s m.key -m l.txt >/dev/null
	[ "$(sed -n 2p l.txt.minisig | base64 -d | head -c 2)" = Ed ]
	run --separate-stderr "$VERIFY" verify l.txt m.pub
	assert_success
	printf 'legacy!\n' > l.txt
	run --separate-stderr "$VERIFY" verify l.txt m.pub
	assert_failure 1
	assert_stderr_is "l.txt: signature does not verify with m.pub"
	# interop claim 4: a key minisign -G encrypted with its own parameters
	# (setup_file, claim 3), edge-sign decrypts and signs with; those
	# parameters are in the key: opslimit 2^25, memlimit 2^30
	[ "$(sed -n 2p menc.key | base64 -d | od -An -t u8 -j 38 -N 16 | xargs)" = "33554432 1073741824" ]
	MINI_PW='minisign pw'
	EDGE_SIGN_PASSWORD=$MINI_PW run --separate-stderr edge-sign -k menc.key a.txt
	assert_success
	assert_stderr_empty
	minisign -Vm a.txt -p menc.pub
	# minisign signs with a password-protected key (mquick.key: m.key
	# encrypted with cheap limits) and we accept the signature
	[ "$(kdf mquick.key)" = 456453634232 ]
	printf 'x\n' > x.txt
	echo "$MINI_PW" | minisign -S -s mquick.key -m x.txt >/dev/null
	run --separate-stderr "$VERIFY" verify x.txt m.pub
	assert_success
}

@test "sign: a tampered file or another key fails verification" {
	edge-sign -q -G -W -k k -p k.pub
	edge-sign -q -G -W -k other -p other.pub
	edge-sign -k k a.txt
	run --separate-stderr "$VERIFY" verify a.txt other.pub
	assert_failure 1
	assert_stderr_is "a.txt: signed by key ID $(key_id k.pub), not by key ID $(key_id other.pub)"
	printf 'hellO\n' > a.txt
	run --separate-stderr "$VERIFY" verify a.txt k.pub
	assert_failure 1
	assert_stderr_is "a.txt: signature does not verify with k.pub"
	run --separate-stderr "$VERIFY" verify b.txt k.pub
	assert_failure 6
	assert_stderr_is "b.txt: No such file or directory"
	printf 'b\n' > b.txt
	run --separate-stderr "$VERIFY" verify b.txt k.pub
	assert_failure 1
	assert_stderr_is "b.txt: no signature (b.txt.minisig or b.txt.sig)"
	sed -i 's/hashed/Hashed/' a.txt.minisig
	printf 'hello\n' > a.txt
	run --separate-stderr "$VERIFY" verify a.txt k.pub
	assert_failure 1
	assert_stderr_is "a.txt: signature does not verify with k.pub (the trusted comment was altered)"
}

# --- RSA ---------------------------------------------------------------------

@test "sign: RSA PKCS#8, PKCS#1 and encrypted keys give signatures openssl accepts" {
	printf 'rsa-pw\n' > pw.txt
	chmod 600 pw.txt
	local k
	for k in rsa8.pem rsa1.pem rsa8-enc.pem rsa1-enc.pem; do
		rm -f a.txt.sig
		run --separate-stderr edge-sign -k "$k" --password-file pw.txt a.txt
		assert_success
		assert_stderr_empty
		[ "$(stat -c %s a.txt.sig)" -eq 256 ]
		run openssl dgst -sha256 -verify rsa.pub.pem -signature a.txt.sig a.txt
		assert_success
		assert_output "Verified OK"
		run --separate-stderr "$VERIFY" verify a.txt rsa1.pub.pem
		assert_success
		assert_line --index 0 "algorithm: rsa-sha256"
		assert_line --index 1 "key id: "
	done
	# openssl's signatures verify with either form of public key
	printf 'b\n' > b.txt
	openssl dgst -sha256 -sign rsa8.pem -out b.txt.sig b.txt
	run --separate-stderr "$VERIFY" verify b.txt rsa.pub.pem
	assert_success
	printf 'B\n' > b.txt
	run --separate-stderr "$VERIFY" verify b.txt rsa1.pub.pem
	assert_failure 1
	assert_stderr_is "b.txt: signature does not verify with rsa1.pub.pem"
	# a signature that does not fit the key
	run --separate-stderr "$VERIFY" verify b.txt enc.pub
	assert_failure 3
	assert_stderr_is "b.txt.sig is an RSA signature but enc.pub is a minisign public key"
	run --separate-stderr edge-sign -k rsa-weak.pem a.txt
	assert_failure 3
	assert_stderr_is "edge-sign: rsa-weak.pem: a 1024-bit RSA key is too weak (at least 2048 bits)"
}

# --- manifest mode -------------------------------------------------------------

@test "sign: a manifest on stdin: bundle and definition signed, signatures set" {
	edge-sign -q -G -W -k k -p k.pub
	manifest > m.json
	run --separate-stderr edge-sign -k k < m.json
	assert_success
	assert_stderr_empty
	echo "$output" > out.json
	id=$(key_id k.pub)
	[ "$(jq -c .signatures out.json)" = "$(jq -nc --arg id "$id" '[
		{path: "other.minisig", for: "bundle", algorithm: "ed25519", keyId: "X"},
		{path: "core-site-0123456789ab.tar.zst.minisig", for: "bundle", algorithm: "ed25519", keyId: $id},
		{path: "site.tgz.minisig", for: "definition", algorithm: "ed25519", keyId: $id}]')" ]
	# everything else kept as it was
	[ "$(jq -S 'del(.signatures)' out.json)" = "$(jq -S 'del(.signatures)' m.json)" ]
	minisign -Vm core-site-0123456789ab.tar.zst -p k.pub -q
	minisign -Vm site.tgz -p k.pub -q
	# --manifest FILE, '-', and an RSA key (no keyId)
	run --separate-stderr edge-sign -k rsa8.pem --manifest m.json
	assert_success
	[ "$(echo "$output" | jq -c '.signatures[3]')" = '{"path":"site.tgz.sig","for":"definition","algorithm":"rsa-sha256"}' ]
	[ "$(echo "$output" | jq -c '.signatures[2]')" = '{"path":"core-site-0123456789ab.tar.zst.sig","for":"bundle","algorithm":"rsa-sha256"}' ]
	run --separate-stderr edge-sign -k rsa8.pem - < m.json
	assert_success
	openssl dgst -sha256 -verify rsa.pub.pem -signature site.tgz.sig site.tgz
}

@test "sign: a manifest given as FILE is signed as a manifest, not as a plain file" {
	# issue 10 item 3: "edge-sign -k KEY packed.json" signed the JSON text
	edge-sign -q -G -W -k k -p k.pub
	manifest > packed.json
	run --separate-stderr edge-sign -k k packed.json
	assert_success
	assert_stderr_empty
	assert_no_file packed.json.minisig
	[ "$(echo "$output" | jq -r '[.signatures[].path] | join(",")')" = other.minisig,core-site-0123456789ab.tar.zst.minisig,site.tgz.minisig ]
	minisign -Vm core-site-0123456789ab.tar.zst -p k.pub -q
	# its paths are relative to its directory
	mkdir sub
	(cd sub && edge-sign -k ../k ../packed.json > out.json)
	[ -f core-site-0123456789ab.tar.zst.minisig ]
	[ "$(jq -r '.signatures[1].path' sub/out.json)" = core-site-0123456789ab.tar.zst.minisig ]
	# with other files: refused, nothing signed
	rm core-site-0123456789ab.tar.zst.minisig
	run --separate-stderr edge-sign -k k site.tgz packed.json
	assert_failure 2
	assert_output ""
	[ "${stderr_lines[0]}" = "edge-sign: packed.json is a manifest: give it alone (or with --manifest), not with other files" ]
	assert_no_file core-site-0123456789ab.tar.zst.minisig
	# other JSON files are still plain files
	echo '{"apiVersion": "v1", "kind": "ConfigMap"}' > cm.json
	run --separate-stderr edge-sign -k k cm.json
	assert_success
	[ -f cm.json.minisig ]
}

@test "sign: manifest errors: nothing to sign, a digest that differs, a missing bundle, /dev/full" {
	edge-sign -q -G -W -k k -p k.pub
	echo '{"apiVersion": "edge.manifest/v1", "name": "x"}' > empty.json
	run --separate-stderr edge-sign -k k --manifest empty.json
	assert_failure 3
	assert_stderr_is "edge-sign: empty.json: nothing to sign (no bundle.path or definition.path)"
	manifest > m.json
	printf 'other bytes\n' > core-site-0123456789ab.tar.zst
	run --separate-stderr edge-sign -k k < m.json
	assert_failure 1
	assert_stderr_is "edge-sign: core-site-0123456789ab.tar.zst: the file is sha256:$(sha256sum core-site-0123456789ab.tar.zst | cut -d' ' -f1), the manifest says $(jq -r .bundle.digest m.json): not signed"
	[ -z "$output" ]
	assert_no_file core-site-0123456789ab.tar.zst.minisig
	rm core-site-0123456789ab.tar.zst
	run --separate-stderr edge-sign -k k < m.json
	assert_failure 6
	assert_stderr_is "edge-sign: core-site-0123456789ab.tar.zst: No such file or directory"
	manifest > m.json
	run --separate-stderr sh -c 'edge-sign -k k < m.json > /dev/full'
	assert_failure 6
	assert_stderr_is "edge-sign: write error on stdout: No space left on device"
	run --separate-stderr edge-sign -k k --manifest nothere.json
	assert_failure 3
	assert_stderr_is "edge-sign: --manifest: nothere.json: No such file or directory"
}

# --- usage and input errors ----------------------------------------------------

@test "sign: usage errors exit 2" {
	run --separate-stderr edge-sign a.txt
	assert_failure 2
	[ "${stderr_lines[0]}" = "edge-sign: -k KEY is required" ]
	[ "${stderr_lines[-1]}" = "try 'edge-sign --help'" ]
	run --separate-stderr edge-sign -k k -W a.txt
	assert_failure 2
	[ "${stderr_lines[0]}" = "edge-sign: -W is only for -G (making a key pair)" ]
	run --separate-stderr edge-sign -G -W -k k a.txt
	assert_failure 2
	[ "${stderr_lines[0]}" = "edge-sign: -G makes a key pair and signs nothing: unexpected argument 'a.txt'" ]
	run --separate-stderr edge-sign -k k --manifest m.json a.txt
	assert_failure 2
	[ "${stderr_lines[0]}" = "edge-sign: --manifest and FILE arguments cannot be combined" ]
	run --separate-stderr edge-sign -G -W -k k --password-file pw.txt
	assert_failure 2
	[ "${stderr_lines[0]}" = "edge-sign: -W and --password-file cannot be combined" ]
	run --separate-stderr edge-sign -k k --bogus
	assert_failure 2
	assert_no_file k k.pub
}

@test "sign: bad keys exit 3, unreadable files 6; signing stops at the first failure" {
	edge-sign -q -G -W -k k -p k.pub
	run --separate-stderr edge-sign -k nokey a.txt
	assert_failure 3
	assert_stderr_is "edge-sign: -k: nokey: No such file or directory"
	printf 'junk\n' > junk.key
	run --separate-stderr edge-sign -k junk.key a.txt
	assert_failure 3
	assert_stderr_is "edge-sign: junk.key: not a minisign secret key or a PEM private key"
	run --separate-stderr edge-sign -k k.pub a.txt
	assert_failure 3
	assert_stderr_is "edge-sign: k.pub: a minisign public key, expected a secret key"
	run --separate-stderr edge-sign -k rsa.pub.pem a.txt
	assert_failure 3
	assert_stderr_is "edge-sign: rsa.pub.pem: a PEM public key, expected a secret key"
	mkdir d
	run --separate-stderr edge-sign -k k d
	assert_failure 3
	assert_stderr_is "edge-sign: d: is a directory"
	printf 'c\n' > c.txt
	run --separate-stderr edge-sign -k k a.txt nofile c.txt
	assert_failure 6
	assert_stderr_is "edge-sign: nofile: No such file or directory"
	minisign -Vm a.txt -p k.pub -q
	assert_no_file c.txt.minisig nofile.minisig
}

@test "sign: --help and --version" {
	run --separate-stderr edge-sign --help
	assert_success
	assert_stderr_empty
	assert_line --index 0 "usage: edge-sign -k KEY [options] [FILE...]"
	run --separate-stderr edge-sign --version
	assert_success
	assert_output --regexp '^edge-sign [^ ]+$'
}
