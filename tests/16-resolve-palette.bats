#!/usr/bin/env bats
# edge-resolve on profiles in the shape of real public Palette material
# (tests/fixtures/palette/, sources in README.md "Test fixtures").

load test_helper

FIX="$TOP/tests/fixtures/palette"

# packs FILE: the profile's packs, values as given, for jq edits
# setvalues FILE PACK-INDEX VALUES-FILE > OUT
setvalues() {
	jq --argjson i "$2" --rawfile v "$3" '.spec.template.packs[$i].values = $v' "$1"
}

@test "palette: kubernetes.version is the k8s pack's version, not its tag (docs BYOOS)" {
	run --separate-stderr edge-resolve "$FIX/byoos-docs.json"
	assert_success
	assert_stderr_empty
	# tag 1.27.x, version 1.27.2: the docs' provider image is k3s-1.27.2-…
	echo "$output" | jq -e '.images[] | select(.ref == "docker.io/spectrocloud/opensuse-leap:k3s-1.27.2-v4.4.12-palette-learn")'
	! echo "$output" | grep -q '1\.27\.x' || false
}

@test "palette: a tag that is a full version is used when the version is not" {
	jq '.spec.template.packs[1].version = "1.27" | .spec.template.packs[1].tag = "1.27.3"' "$FIX/byoos-docs.json" > p.json
	run --separate-stderr edge-resolve p.json
	assert_success
	echo "$output" | jq -e '.images[] | select(.ref == "docker.io/spectrocloud/opensuse-leap:k3s-1.27.3-v4.4.12-palette-learn")'
}

@test "palette: no full Kubernetes version asks for --system (AWS export shape)" {
	jq '.spec.template.packs[1].version = "1.33.x" | .spec.template.packs[1].tag = "1.33.x"' "$FIX/byoos-docs.json" > p.json
	run --separate-stderr edge-resolve p.json
	assert_failure 3
	assert_output ""
	assert_stderr_is 'edge-resolve: profile byoos: pack edge-native-byoi: pack.content.images[0].image: {{.spectro.system.kubernetes.version}}: pack edge-k3s (layer k8s) has version "1.33.x" and tag "1.33.x", neither a full version: set it with --system kubernetes.version=VERSION'
	run --separate-stderr edge-resolve --system kubernetes.version=1.33.9 p.json
	assert_success
	echo "$output" | jq -e '.images[] | select(.ref == "docker.io/spectrocloud/opensuse-leap:k3s-1.33.9-v4.4.12-palette-learn")'
}

@test "palette: a macro whose }} is on the next line keeps later macros protected" {
	# the fixture's system.uri ends in "customTag\n    }}" and a later
	# unquoted "image: {{ … }}" follows it
	jq -r '.spec.template.packs[0].values' "$FIX/byoos-docs.json" | grep -q '^    }}"$'
	run --separate-stderr edge-resolve "$FIX/byoos-docs.json"
	assert_success
	echo "$output" | jq -e '.images[] | select(.ref == "us-docker.pkg.dev/palette-images/edge/stylus-linux-amd64:v4.4.12")'
	[ "$(echo "$output" | jq '.images | length')" = 3 ]
}

@test "palette: a {{ with no close nearby is left to YAML" {
	printf 'note: "{{ not a macro"\nother: x\npack:\n  content:\n    images:\n      - image: {{ .spectro.var.r | default "quay.io" }}/a:1\n' > v.yaml
	profile p1 add-on app addon "$(cat v.yaml)" > p1.json
	run --separate-stderr edge-resolve p1.json
	assert_success
	[ "$(echo "$output" | jq -r '.images[].ref')" = quay.io/a:1 ]
}

@test "palette: a chart repository without a scheme is https (pack-central coder)" {
	run --separate-stderr edge-resolve "$FIX/pack-central-charts.json"
	assert_success
	assert_stderr_is 'edge-resolve: warning: profile pack-central: pack coder-chart: pack.content.charts[0]: chart repository "helm.coder.com/v2" has no scheme: assuming https://helm.coder.com/v2'
	[ "$(echo "$output" | jq -c '.charts[] | select(.name == "coder") | [.repo, .ref]')" = '["https://helm.coder.com/v2","helm.coder.com/v2/coder:2.23.3"]' ]
}

@test "palette: oci repos: ORG/…/NAME is the chart (spegel), ORG/NAME holds it (kai-scheduler)" {
	run --separate-stderr edge-resolve "$FIX/pack-central-charts.json"
	assert_success
	[ "$(echo "$output" | jq -r '.charts[] | select(.name == "spegel") | .ref')" = ghcr.io/spegel-org/helm-charts/spegel:v0.0.30 ]
	[ "$(echo "$output" | jq -r '.charts[] | select(.name == "kai-scheduler") | .ref')" = ghcr.io/nvidia/kai-scheduler/kai-scheduler:v0.10.0 ]
	# the same rule for --charts lists
	printf 'oci://ghcr.io/spegel-org/helm-charts/spegel spegel v0.0.30\n' > charts.txt
	run --separate-stderr edge-resolve --charts charts.txt < /dev/null
	assert_success
	[ "$(echo "$output" | jq -r '.charts[0].ref')" = ghcr.io/spegel-org/helm-charts/spegel:v0.0.30 ]
}

@test "palette: helm packs and infra packs that list nothing are named (terraform, CanvOS)" {
	run --separate-stderr edge-resolve "$FIX/terraform-helm-pack.json"
	assert_success
	assert_stderr_is 'edge-resolve: warning: profile apps: pack nginx-ingress: a helm pack that lists no pack.content.images or charts: list them in its values, or give them with --images and --charts'
	[ "$(echo "$output" | jq -r '.images[].ref')" = ghcr.io/spectrocloud/hello-universe:1.3.0 ]
	run --separate-stderr edge-resolve "$FIX/canvos-two-node.json"
	assert_success
	assert_stderr_contains 'edge-resolve: warning: profile two-node: pack cni-custom: a cni pack that lists no pack.content.images or charts: list them in its values, or give them with --images and --charts'
	assert_stderr_contains 'edge-resolve: warning: profile two-node: pack edge-k3s: a k8s pack that lists no pack.content.images or charts'
	! grep -q 'pack edge-native-byoi: a os pack' <<< "$stderr" || false
}

@test "palette: an agent image missing from pack.content.images is named with the line to add (CanvOS)" {
	run --separate-stderr edge-resolve "$FIX/canvos-two-node.json"
	assert_success
	assert_stderr_contains 'edge-resolve: warning: profile two-node: pack edge-native-byoi: stylusPackage image ttl.sh/stylus-linux-amd64:v0.0.0-4b2c1f0 is not in pack.content.images, and an airgapped host needs it: add "- image: ttl.sh/stylus-linux-amd64:v0.0.0-4b2c1f0" there, or give it with --images'
	! grep -q 'options.system.uri image' <<< "$stderr" || false
	# given with --images, it is in the bundle and nothing is said
	echo ttl.sh/stylus-linux-amd64:v0.0.0-4b2c1f0 > agent.txt
	run --separate-stderr edge-resolve --images agent.txt "$FIX/canvos-two-node.json"
	assert_success
	! grep -q 'stylusPackage' <<< "$stderr" || false
	echo "$output" | jq -e '.images[] | select(.ref == "ttl.sh/stylus-linux-amd64:v0.0.0-4b2c1f0")'
}

@test "palette: AlwaysPullImages warns only when enabled and not disabled (K3s cluster.config text)" {
	run --separate-stderr edge-resolve "$FIX/canvos-two-node.json"
	assert_success
	assert_stderr_contains 'edge-resolve: warning: profile two-node: pack edge-k3s: enable-admission-plugins includes AlwaysPullImages'
	# the docs' remedy: the disable list names it
	jq '.spec.template.packs[1].values |= sub("disable-admission-plugins=AlwaysAdmit"; "disable-admission-plugins=AlwaysAdmit,AlwaysPullImages")' "$FIX/canvos-two-node.json" > p.json
	run --separate-stderr edge-resolve p.json
	assert_success
	! grep -q AlwaysPullImages <<< "$stderr" || false
	# a plugin whose name only starts with it is another plugin
	jq '.spec.template.packs[1].values |= sub("AlwaysPullImages,"; "AlwaysPullImagesX,")' "$FIX/canvos-two-node.json" > q.json
	run --separate-stderr edge-resolve q.json
	! grep -q AlwaysPullImages <<< "$stderr" || false
	# the kubeadm map shape, disabled in a list
	profile infra cluster k8s k8s 'cluster:
  config:
    clusterConfiguration:
      apiServer:
        extraArgs:
          enable-admission-plugins: AlwaysPullImages,NamespaceLifecycle
          disable-admission-plugins: [AlwaysPullImages]
pack:
  content:
    images:
      - image: registry.k8s.io/pause:3.9' > k.json
	run --separate-stderr edge-resolve k.json
	assert_success
	assert_stderr_empty
}

@test "palette: an undefined macro is empty outside refs, an error in a ref" {
	profile p1 add-on app addon 'pack:
  content:
    images:
      - image: "{{ .spectro.macro.prefix }}busybox:1.36"
      - image: "quay.io/x/y:{{ .spectro.var.tag }}"' > p1.json
	run --separate-stderr edge-resolve p1.json
	assert_failure 3
	assert_stderr_is 'edge-resolve: profile p1: pack app: pack.content.images[1].image: unknown template variable .spectro.var.tag'
	run --separate-stderr edge-resolve -v --var tag=1 p1.json
	assert_success
	assert_stderr_contains 'profile p1: pack app: pack.content.images[0].image: macro .spectro.macro.prefix has no value: expanded to ""'
	[ "$(echo "$output" | jq -r '.images[].ref' | tr '\n' ' ')" = "docker.io/library/busybox:1.36 quay.io/x/y:1 " ]
	run --separate-stderr edge-resolve --var tag=1 p1.json
	assert_success
	assert_stderr_empty
	# chart fields: empty is an error naming the macro
	profile p2 add-on app addon 'pack:
  content:
    charts:
      - repo: "{{ .spectro.var.helmrepo }}"
        name: x
        version: 1.0.0' > p2.json
	run --separate-stderr edge-resolve p2.json
	assert_failure 3
	assert_stderr_is 'edge-resolve: profile p2: pack app: pack.content.charts[0].repo: unknown template variable .spectro.var.helmrepo'
}

@test "palette: user macros (--macro) and Sprig functions" {
	profile p1 add-on app addon 'pack:
  content:
    images:
      - image: "{{ .spectro.macro.registry }}/{{ printf \"%s-%s\" \"app\" (\"x\") }}:1"' > bad.json
	run --separate-stderr edge-resolve --macro registry=quay.io bad.json
	assert_failure 3
	assert_stderr_contains 'unsupported template action'
	profile p1 add-on app addon 'pack:
  content:
    images:
      - image: "{{ .spectro.macro.registry | trimSuffix \"/\" }}/{{ printf \"%s-%s\" \"app\" .spectro.macro.flavor | trunc 8 }}:{{ .spectro.system.kubernetes.version | default \"1.30.1\" | split \".\" | join \"-\" }}"
      - image: "{{ ternary \"ghcr.io\" \"docker.io\" (hasPrefix \"gh\" \"ghcr\") }}/a:1"' > p1.json
	run --separate-stderr edge-resolve --macro registry=quay.io/ --macro flavor=edge-large p1.json
	assert_failure 3
	assert_stderr_contains 'unsupported template action'
	profile p1 add-on app addon 'pack:
  content:
    images:
      - image: "{{ .spectro.macro.registry | trimSuffix \"/\" }}/{{ printf \"%s-%s\" \"app\" .spectro.macro.flavor | trunc 8 }}:{{ .spectro.system.kubernetes.version | default \"1.30.1\" | split \".\" | join \"-\" }}"
      - image: "{{ .spectro.macro.flavor | hasPrefix \"edge\" | ternary \"ghcr.io\" \"docker.io\" }}/a:{{ coalesce .spectro.macro.none \"2\" }}"' > p1.json
	run --separate-stderr edge-resolve --macro registry=quay.io/ --macro flavor=edge-large p1.json
	assert_success
	assert_stderr_empty
	[ "$(echo "$output" | jq -r '.images[].ref' | tr '\n' ' ')" = "ghcr.io/a:2 quay.io/app-edge:1-30-1 " ]
	run --separate-stderr edge-resolve --macro registry=quay.io p1.json --macro noequals
	assert_failure 2
	assert_stderr_contains "edge-resolve: --macro: expected NAME=VALUE, got 'noequals'"
	profile p1 add-on app addon 'pack:
  content:
    images:
      - image: "{{ .spectro.macro.x | toYaml }}"' > p1.json
	run --separate-stderr edge-resolve p1.json
	assert_failure 3
	assert_stderr_is 'edge-resolve: profile p1: pack app: pack.content.images[0].image: unknown template function "toYaml"'
}

@test "palette: values with several YAML documents: the first is read, with one warning" {
	profile p1 add-on app addon 'pack:
  content:
    images:
      - image: busybox:1.36
---
pack:
  content:
    images:
      - image: nginx:1.25
---
other: 1' > p1.json
	run --separate-stderr edge-resolve p1.json
	assert_success
	assert_stderr_is 'edge-resolve: warning: profile p1: pack app: values hold several YAML documents (---): only the first is read'
	[ "$(echo "$output" | jq -r '.images[].ref')" = docker.io/library/busybox:1.36 ]
	# a leading --- is one document
	profile p1 add-on app addon '---
pack: {content: {images: [{image: busybox:1.36}]}}' > p1.json
	run --separate-stderr edge-resolve p1.json
	assert_success
	assert_stderr_empty
}
