#!/usr/bin/env bats
# edge-resolve: images and charts from cluster definitions, profiles, lists.

load test_helper
load lib/jqv

@test "resolve: the example definition lists its images and charts" {
	run --separate-stderr edge-resolve "$DEFINITION"
	assert_success
	assert_stderr_empty
	jqv "$output" '.images[].ref' '.charts[].ref' .apiVersion .name .platforms .definition.digest \
		.definition.size '.definition.profiles | map(.name) | join(",")'
	diff <(printf '%s\n' "${J[0]}") "$EXAMPLES/expected-refs.txt"
	diff <(printf '%s\n' "${J[1]}") "$EXAMPLES/expected-charts.txt"
	[ "${J[2]}" = edge.manifest/v1 ]
	[ "${J[3]}" = cluster-definition ]
	[ "${J[4]}" = '["linux/amd64"]' ]
	[ "${J[5]}" = "sha256:$(sha256sum "$DEFINITION" | cut -d' ' -f1)" ]
	[ "${J[6]}" = "$(stat -c %s "$DEFINITION")" ]
	[ "${J[7]}" = "edge-apps,edge-infra" ]
}

@test "resolve: one entry per ref, every source kept in from" {
	run --separate-stderr edge-resolve "$DEFINITION"
	assert_success
	jqv "$output" '[.images[] | select(.ref == "registry.k8s.io/pause:3.9")] | length' \
		'.images[] | select(.ref == "registry.k8s.io/pause:3.9") | [.from[].pack] | sort' \
		'.images[] | select(.ref == "docker.io/library/busybox:1.36") | [.from[].profile] | sort' \
		'.charts[] | select(.name == "cert-manager") | .from[0].field'
	[ "${J[0]}" = 1 ]
	[ "${J[1]}" = '["cni-calico","edge-k8s"]' ]
	[ "${J[2]}" = '["edge-apps","edge-infra"]' ]
	[ "${J[3]}" = pack.content.charts ]
}

@test "resolve: nested templates, dotted keys and container:// are resolved" {
	run --separate-stderr edge-resolve "$DEFINITION"
	assert_success
	jqv "$output" 'any(.images[]; .ref == "ttl.sh/ubuntu:kubeadm-1.29.5-v4.5.8-palette-demo")' \
		'any(.images[]; .ref == "us-docker.pkg.dev/palette-images/edge/stylus-linux-amd64:v4.5.8")'
	[ "${J[*]}" = "true true" ]
	! echo "$output" | grep -q 'container://' || false
	! echo "$output" | grep -q '{{' || false
}

@test "resolve: --var and --system override defaults" {
	run --separate-stderr edge-resolve --var app_registry=quay.io --system kubernetes.version=1.30.1 "$DEFINITION"
	assert_success
	assert_stderr_empty
	jqv "$output" 'any(.images[]; .ref == "quay.io/spectrocloud/hello-universe:1.3.0")' \
		'any(.images[]; .ref == "ttl.sh/ubuntu:kubeadm-1.30.1-v4.5.8-palette-demo")' \
		'any(.images[]; .ref == "ghcr.io/spectrocloud/hello-universe:1.3.0")'
	[ "${J[*]}" = "true true false" ]
}

@test "resolve: --var without '=' is a usage error" {
	run --separate-stderr edge-resolve --var novalue "$DEFINITION"
	assert_failure 2
	assert_output ""
	assert_stderr_contains "edge-resolve: --var: expected NAME=VALUE, got 'novalue'"
}

@test "resolve: --platform takes a list and repeats, normalised" {
	run --separate-stderr edge-resolve --platform linux/arm64,linux/x86_64 --platform linux/arm64/v8 "$DEFINITION"
	assert_success
	[ "$(echo "$output" | jq -c .platforms)" = '["linux/arm64","linux/amd64"]' ]
}

@test "resolve: a bad --platform is a usage error" {
	run --separate-stderr edge-resolve --platform linux "$DEFINITION"
	assert_failure 2
	assert_output ""
	assert_stderr_contains 'invalid platform "linux"'
}

@test "resolve: a manifest on stdin (as edge-fetchdef prints it)" {
	cp "$DEFINITION" site.tgz
	jq -n --arg d "sha256:$(sha256sum site.tgz | cut -d' ' -f1)" \
		'{apiVersion: "edge.manifest/v1", name: "site", extra: {kept: true},
		  definition: {path: "site.tgz", digest: $d, size: 1, profiles: [{uid: "65c90a1b2c3d4e5f60718293"}]}}' > in.json
	run --separate-stderr edge-resolve < in.json
	assert_success
	assert_stderr_empty
	jqv "$output" .name .extra.kept '.images | length' .definition.size
	[ "${J[0]}" = site ]
	[ "${J[1]}" = true ]
	[ "${J[2]}" = "$(wc -l < "$EXAMPLES/expected-refs.txt")" ]
	[ "${J[3]}" = "$(stat -c %s site.tgz)" ]
}

@test "resolve: a later manifest keeps its entries; new ones are merged in (issue 10 item 2)" {
	printf 'nginx:1.25\n' > a.txt
	printf 'busybox:1.36\nnginx:1.25\n' > b.txt
	# made from lists only: it used to come out with "images": []
	edge-resolve --images a.txt < /dev/null > a.json
	run --separate-stderr edge-resolve < a.json
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -c '.images')" = "$(jq -c .images a.json)" ]
	run --separate-stderr bash -c 'edge-resolve --images a.txt < /dev/null | edge-resolve --images b.txt'
	assert_success
	assert_stderr_empty
	jqv "$output" '[.images[].ref]' '.images[1].from'
	[ "${J[0]}" = '["docker.io/library/busybox:1.36","docker.io/library/nginx:1.25"]' ]
	[ "${J[1]}" = '[{"list":"a.txt","line":1},{"list":"b.txt","line":2}]' ]
	# a pulled and packed manifest: pulled fields stay; the same definition again changes nothing
	cp "$DEFINITION" site.tgz
	edge-resolve site.tgz |
		jq '.images[0].digest = "sha256:" + ("a" * 64) | .store = "store"
		    | .bundle = {path: "core-site-0123456789ab.tar.zst"} | .signatures = [] | .pushed = []' > packed.json
	run --separate-stderr edge-resolve < packed.json
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -S .)" = "$(jq -S . packed.json)" ]
	# new entries: bundle, signatures and pushed no longer hold them, and go with a warning
	printf 'quay.io/walk/one:1\nquay.io/walk/two:1\n' > c.txt
	run --separate-stderr edge-resolve --images c.txt < packed.json
	assert_success
	assert_stderr_is "edge-resolve: warning: dropped bundle, signatures, pushed: the manifest gained 2 entries they do not hold (run edge-pull and edge-pack again)"
	jqv -f packed.json '.images | length' '.images[0].ref'
	local n=${J[0]} r=${J[1]}
	jqv "$output" '[has("bundle"), has("signatures"), has("pushed"), .store]' '.images | length' \
		".images[] | select(.ref == \"$r\") | .digest"
	[ "${J[0]}" = '[false,false,false,"store"]' ]
	[ "${J[1]}" = $((n + 2)) ]
	[ "${J[2]}" = "sha256:$(printf 'a%.0s' $(seq 64))" ]
	# a chart without ref is carried under the ref it makes
	jq -n '{apiVersion: "edge.manifest/v1", charts: [{name: "demo", version: "0.1.0", repo: "oci://ghcr.io/x/charts"}]}' > c.json
	run --separate-stderr edge-resolve < c.json
	assert_success
	[ "$(echo "$output" | jq -r '.charts[0].ref')" = ghcr.io/x/charts/demo:0.1.0 ]
	jq -n '{apiVersion: "edge.manifest/v1", charts: [{name: "demo", version: "0.1.0"}]}' > c2.json
	run --separate-stderr edge-resolve < c2.json
	assert_failure 3
	assert_stderr_is "edge-resolve: manifest: charts[0]: neither ref nor repo, name and version"
}

@test "resolve: a manifest file's definition.path is relative to the manifest's directory (issue 10 item 4)" {
	mkdir d sub
	cp "$DEFINITION" d/site.tgz
	jq -n '{apiVersion: "edge.manifest/v1", name: "site", definition: {path: "site.tgz"}}' > d/in.json
	cd sub
	run --separate-stderr edge-resolve ../d/in.json
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -r .definition.path)" = site.tgz ] # as the manifest gave it
	[ "$(echo "$output" | jq '.images | length')" = "$(wc -l < "$EXAMPLES/expected-refs.txt")" ]
}

@test "resolve: a definition whose digest differs from the manifest's fails verification" {
	cp "$DEFINITION" site.tgz
	jq -n '{apiVersion: "edge.manifest/v1", definition: {path: "site.tgz", digest: ("sha256:" + ("0" * 64))}}' > in.json
	run --separate-stderr edge-resolve < in.json
	assert_failure 1
	assert_output ""
	assert_stderr_contains "edge-resolve: site.tgz: digest sha256:"
	assert_stderr_contains "does not match the manifest's sha256:0000"
}

@test "resolve: a requested profile missing from the definition is a warning" {
	cp "$DEFINITION" site.tgz
	jq -n '{apiVersion: "edge.manifest/v1", definition: {path: "site.tgz", profiles: [{uid: "nosuchprofile"}]}}' > in.json
	run --separate-stderr edge-resolve < in.json
	assert_success
	assert_stderr_is "edge-resolve: warning: profile nosuchprofile was requested but is not in the cluster definition"
}

@test "resolve: a profile JSON is read directly" {
	tar -xzf "$DEFINITION" spc/edge-apps.json
	run --separate-stderr edge-resolve spc/edge-apps.json
	assert_success
	assert_stderr_empty
	echo "$output" | jq -e '.images[] | select(.ref == "ghcr.io/spectrocloud/hello-universe:1.3.0")'
	echo "$output" | jq -e '.charts[] | select(.ref == "charts.jetstack.io/cert-manager:1.11.0")'
	[ "$(echo "$output" | jq 'has("definition")')" = false ]
}

@test "resolve: the output is the same on every run" {
	edge-resolve "$DEFINITION" > a.json
	edge-resolve "$DEFINITION" > b.json
	cmp a.json b.json
}

@test "resolve: --images reads a plain list with comments" {
	printf '# extra images\nnginx:1.25\n\n  quay.io/foo/bar@sha256:%s  # pinned\nlocalhost:5000/x/y\n' "$(printf 'a%.0s' $(seq 64))" > images.txt
	run --separate-stderr edge-resolve --images images.txt
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -r '.images[].ref' | tr '\n' ' ')" = "docker.io/library/nginx:1.25 localhost:5000/x/y:latest quay.io/foo/bar@sha256:$(printf 'a%.0s' $(seq 64)) " ]
	[ "$(echo "$output" | jq -c '.images[0].from')" = '[{"list":"images.txt","line":2}]' ]
	[ "$(echo "$output" | jq -r .name)" = edge ]
}

@test "resolve: --images reads the skopeo-sync YAML shape" {
	cat > sync.yaml <<-'Y'
	quay.io:
	  images:
	    jetstack/cert-manager-controller: [v1.11.0, v1.12.0]
	docker.io:
	  images:
	    nginx:
	      - "1.25"
	Y
	run --separate-stderr edge-resolve --images sync.yaml
	assert_success
	[ "$(echo "$output" | jq -r '.images[].ref' | tr '\n' ' ')" = "docker.io/library/nginx:1.25 quay.io/jetstack/cert-manager-controller:v1.11.0 quay.io/jetstack/cert-manager-controller:v1.12.0 " ]
}

@test "resolve: --images merges with the definition's images" {
	echo registry.k8s.io/pause:3.9 > images.txt
	run --separate-stderr edge-resolve --images images.txt "$DEFINITION"
	assert_success
	[ "$(echo "$output" | jq '.images[] | select(.ref == "registry.k8s.io/pause:3.9") | .from | length')" = 3 ]
}

@test "resolve: an invalid reference in a list names the file and line" {
	printf 'nginx:1.25\nquay.io/Foo/bar:1\n' > images.txt
	run --separate-stderr edge-resolve --images images.txt
	assert_failure 3
	assert_output ""
	assert_stderr_is 'edge-resolve: images.txt:2: invalid reference "quay.io/Foo/bar:1": repository name must be lowercase'
}

@test "resolve: a reference pinned with sha512 is refused: edge checks sha256 pins only" {
	pin="sha512:$(printf 'ab%.0s' $(seq 64))"
	printf 'nginx:1.25\nquay.io/foo/bar@%s\n' "$pin" > images.txt
	run --separate-stderr edge-resolve --images images.txt < /dev/null
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-resolve: images.txt:2: invalid reference \"quay.io/foo/bar@$pin\": sha512 digests cannot be checked (pin the image by its sha256 digest)"
	# a sha256 pin is kept as it is
	printf 'quay.io/foo/bar@sha256:%s\n' "$(printf 'ab%.0s' $(seq 32))" > images.txt
	run --separate-stderr edge-resolve --images images.txt < /dev/null
	assert_success
	[ "$(echo "$output" | jq -r '.images[0].ref')" = "quay.io/foo/bar@sha256:$(printf 'ab%.0s' $(seq 32))" ]
}

@test "resolve: --charts reads REPO NAME VERSION lines and YAML" {
	printf '# charts\nhttps://charts.jetstack.io cert-manager 1.11.0\noci://ghcr.io/x/charts app 1.0.0+build.1\n' > charts.txt
	printf 'charts:\n  - repo: https://Charts.Example.com/helm/\n    name: demo\n    version: "2.0"\n' > charts.yaml
	run --separate-stderr edge-resolve --charts charts.txt --charts charts.yaml
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -r '.charts[].ref' | tr '\n' ' ')" = "charts.example.com/helm/demo:2.0 charts.jetstack.io/cert-manager:1.11.0 ghcr.io/x/charts/app:1.0.0_build.1 " ]
	[ "$(echo "$output" | jq -r '.charts[] | select(.name == "app") | .version')" = 1.0.0+build.1 ]
}

@test "resolve: a bad chart line is invalid input" {
	printf 'https://charts.jetstack.io cert-manager\n' > charts.txt
	run --separate-stderr edge-resolve --charts charts.txt
	assert_failure 3
	assert_stderr_is 'edge-resolve: charts.txt:1: expected "REPO NAME VERSION"'
	printf 'ftp://x.example.com a 1.0\n' > charts.txt
	run --separate-stderr edge-resolve --charts charts.txt
	assert_failure 3
	assert_stderr_contains 'expected an https://, http:// or oci:// URL'
}

@test "resolve: malformed JSON on stdin" {
	run --separate-stderr edge-resolve <<< '{"apiVersion": "edge.manifest/v1",'
	assert_failure 3
	assert_output ""
	assert_stderr_contains "edge-resolve: stdin:2:0: string or '}' expected near end of file"
}

@test "resolve: a wrong apiVersion is refused" {
	run --separate-stderr edge-resolve <<< '{"apiVersion": "edge.manifest/v0"}'
	assert_failure 3
	assert_output ""
	assert_stderr_is 'edge-resolve: stdin: apiVersion: expected "edge.manifest/v1", got edge.manifest/v0'
}

@test "resolve: empty stdin is refused" {
	run --separate-stderr edge-resolve < /dev/null
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-resolve: stdin: empty input, expected a manifest"
}

@test "resolve: a bad field in the manifest is named by its JSON path" {
	run --separate-stderr edge-resolve <<< '{"apiVersion": "edge.manifest/v1", "images": [{"ref": "nginx"}, {"ref": "Bad/Name"}]}'
	assert_failure 3
	assert_stderr_is 'edge-resolve: stdin: images[1].ref: invalid reference "Bad/Name": repository name must be lowercase'
}

@test "resolve: a missing file and a directory are invalid input" {
	run --separate-stderr edge-resolve nosuch.tgz
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-resolve: open nosuch.tgz: No such file or directory"
	mkdir adir
	run --separate-stderr edge-resolve adir
	assert_failure 3
	assert_stderr_is "edge-resolve: adir: is a directory"
}

@test "resolve: a FIFO as a definition, a profile or a list: exit 3 at once" {
	mkfifo fifo
	run --separate-stderr timeout 10 edge-resolve fifo < /dev/null
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-resolve: fifo: not a regular file"
	run --separate-stderr timeout 10 edge-resolve --images fifo < /dev/null
	assert_failure 3
	assert_stderr_is "edge-resolve: fifo: not a regular file"
	run --separate-stderr timeout 10 edge-resolve --charts fifo < /dev/null
	assert_failure 3
	assert_stderr_is "edge-resolve: fifo: not a regular file"
}

@test "resolve: a gzip file that is not a tar is invalid input" {
	echo hello | gzip > bad.tgz
	run --separate-stderr edge-resolve bad.tgz
	assert_failure 3
	assert_output ""
	assert_stderr_contains "edge-resolve: bad.tgz: not a valid tar.gz"
}

@test "resolve: a definition with a ../ entry is refused" {
	python3 - <<-'P'
	import io, tarfile
	with tarfile.open("evil.tgz", "w:gz") as t:
	    data = b'{"metadata":{"name":"x"},"spec":{"template":{"packs":[]}}}'
	    i = tarfile.TarInfo("spc/../../evil.json"); i.size = len(data)
	    t.addfile(i, io.BytesIO(data))
	P
	run --separate-stderr edge-resolve evil.tgz
	assert_failure 3
	assert_output ""
	assert_stderr_is 'edge-resolve: evil.tgz: entry "spc/../../evil.json" escapes the archive root'
	[ ! -e ../evil.json ]
}

@test "resolve: a definition with an absolute path or a symlink is refused" {
	python3 - <<-'P'
	import io, tarfile
	with tarfile.open("abs.tgz", "w:gz") as t:
	    i = tarfile.TarInfo("/etc/evil.json"); i.size = 2
	    t.addfile(i, io.BytesIO(b"{}"))
	with tarfile.open("link.tgz", "w:gz") as t:
	    i = tarfile.TarInfo("spc/link.json"); i.type = tarfile.SYMTYPE; i.linkname = "/etc/passwd"
	    t.addfile(i)
	P
	run --separate-stderr edge-resolve abs.tgz
	assert_failure 3
	assert_stderr_is 'edge-resolve: abs.tgz: entry "/etc/evil.json" escapes the archive root'
	run --separate-stderr edge-resolve link.tgz
	assert_failure 3
	assert_stderr_is 'edge-resolve: link.tgz: entry "spc/link.json" is a symbolic link'
}

@test "resolve: an unknown template variable names the profile and pack" {
	profile p1 cluster os1 os 'pack:
  content:
    images:
      - image: "{{ .spectro.var.nosuch }}/x:1"' > p1.json
	run --separate-stderr edge-resolve p1.json
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-resolve: profile p1: pack os1: pack.content.images[0].image: unknown template variable .spectro.var.nosuch"
}

@test "resolve: a required variable without a default asks for --var" {
	profile p1 add-on app addon 'pack:
  content:
    images:
      - image: "{{.spectro.var.reg}}/x:1"' '[{"name": "reg", "required": true}]' > p1.json
	run --separate-stderr edge-resolve p1.json
	assert_failure 3
	assert_stderr_is "edge-resolve: profile p1: pack app: pack.content.images[0].image: profile variable reg has no default value: set it with --var reg=VALUE"
	run --separate-stderr edge-resolve --var reg=quay.io p1.json
	assert_success
	[ "$(echo "$output" | jq -r '.images[0].ref')" = quay.io/x:1 ]
}

@test "resolve: unquoted macros, pipes and a typo are tolerated" {
	profile p1 add-on app addon 'pack:
  content:
    images:
      - image: {{ .spectro.var.reg | default "Quay.IO" | lower }}/a/b:1
      - iamge: busybox
      - image: "{{ .spectro.pack.app.options.system.tag | lower }}"
options:
  system.tag: Alpine:3.19' > p1.json
	run --separate-stderr edge-resolve p1.json
	assert_success
	assert_stderr_is "edge-resolve: warning: profile p1: pack app: pack.content.images[1]: key 'iamge' read as 'image'"
	[ "$(echo "$output" | jq -r '.images[].ref' | tr '\n' ' ')" = "docker.io/library/alpine:3.19 docker.io/library/busybox:latest quay.io/a/b:1 " ]
}

@test "resolve: two infrastructure profiles are refused" {
	profile infra1 cluster os1 os 'pack: {}' > a.json
	profile infra2 infra os2 os 'pack: {}' > b.json
	mkdef two.tgz a.json b.json
	run --separate-stderr edge-resolve two.tgz
	assert_failure 3
	assert_output ""
	assert_stderr_is "edge-resolve: profiles infra1 and infra2 are both infrastructure profiles: a cluster definition takes at most one"
}

@test "resolve: a pack in two profiles is refused" {
	profile infra cluster shared os 'pack: {}' > a.json
	profile apps add-on shared addon 'pack: {}' > b.json
	mkdef dup.tgz a.json b.json
	run --separate-stderr edge-resolve dup.tgz
	assert_failure 3
	assert_stderr_is "edge-resolve: pack shared is in profiles infra and apps: a pack may be in only one profile"
}

@test "resolve: invalid image references are refused" {
	local bad
	for bad in 'quay.io/Upper/case:1' 'nginx:-badtag' '""' 'a//b'; do
		profile p1 add-on app addon "pack:
  content:
    images:
      - image: $bad" > p1.json
		run --separate-stderr edge-resolve p1.json
		assert_failure 3
		assert_output ""
		assert_stderr_contains "edge-resolve: profile p1: pack app: pack.content.images[0].image:"
	done
}

@test "resolve: AlwaysPullImages in the Kubernetes pack is a warning" {
	profile infra cluster k8s k8s 'cluster:
  config:
    clusterConfiguration:
      apiServer:
        extraArgs:
          enable-admission-plugins: AlwaysPullImages,NamespaceLifecycle,NodeRestriction
pack:
  content:
    images:
      - image: registry.k8s.io/pause:3.9' > k.json
	run --separate-stderr edge-resolve k.json
	assert_success
	assert_stderr_is "edge-resolve: warning: profile infra: pack k8s: enable-admission-plugins includes AlwaysPullImages, which breaks sites served from a content bundle or external registry"
	run --separate-stderr edge-resolve -q k.json
	assert_success
	assert_stderr_empty
}

@test "resolve: bad pack values YAML names the profile and pack" {
	profile p1 add-on app addon 'pack:
  content: [unclosed' > p1.json
	run --separate-stderr edge-resolve p1.json
	assert_failure 3
	assert_stderr_contains "edge-resolve: profile p1: pack app: values: line "
}

@test "resolve: a JSON file that is no profile is refused" {
	echo '{"hello": "world"}' > x.json
	run --separate-stderr edge-resolve x.json
	assert_failure 3
	assert_stderr_is "edge-resolve: x.json: neither a manifest nor a cluster profile (no spec.template.packs)"
}

@test "resolve: unknown option and --help" {
	run --separate-stderr edge-resolve --bogus
	assert_failure 2
	assert_output ""
	assert_stderr_contains "try 'edge-resolve --help'"
	run --separate-stderr edge-resolve --help
	assert_success
	assert_output --partial "usage: edge-resolve"
	assert_stderr_empty
	run --separate-stderr edge-resolve --version
	assert_success
	assert_output --regexp '^edge-resolve [0-9a-z.-]+'
}

@test "resolve: a write error on stdout is reported" {
	run --separate-stderr sh -c 'edge-resolve "$DEFINITION" > /dev/full'
	assert_failure 6
	assert_stderr_contains "edge-resolve: write error on stdout"
}
