# An airgap build as make targets: each stage's output is a file, so make
# reruns only what changed and a failed stage leaves the earlier ones alone.
#
#   make -f airgap.mk bundle PROJECT=… PROFILES=A,B   (connected side)
#   make -f airgap.mk deploy REGISTRY=10.10.254.254:8000/spectro-images  (site)
#
# The API key comes from $EDGE_API_KEY; the signing key's password from
# $EDGE_SIGN_PASSWORD (or use a key made with edge-sign -G -W).

NAME      ?= site
PROJECT   ?=
PROFILES  ?=
PLATFORM  ?= linux/amd64
STORE     ?= store
KEY       ?= edge.key
PUBKEY    ?= edge.pub
REGISTRY  ?=

.PHONY: bundle deploy clean
.DELETE_ON_ERROR:

bundle: $(NAME).signed.json

$(NAME).def.json:
	edge-fetchdef --project-id $(PROJECT) --profile-ids $(PROFILES) --name $(NAME) -o $(NAME).tgz > $@

$(NAME).resolved.json: $(NAME).def.json
	edge-resolve --platform $(PLATFORM) $< > $@

$(NAME).pulled.json: $(NAME).resolved.json
	edge-pull --store $(STORE) $< > $@

$(NAME).packed.json: $(NAME).pulled.json
	edge-pack --name $(NAME) $< > $@

$(NAME).signed.json: $(NAME).packed.json $(KEY)
	edge-sign -k $(KEY) < $< > $@

$(KEY):
	edge-sign -G -k $(KEY) -p $(PUBKEY)

# site side: the bundle, its .minisig and $(PUBKEY) were carried across
deploy: $(NAME).pushed.json
	edge-verify --registry $(REGISTRY) $< > /dev/null

$(NAME).pushed.json: $(NAME).signed.json
	edge-verify -p $(PUBKEY) --require-signature $$(jq -r .bundle.path $<) \
		| edge-push --registry $(REGISTRY) > $@

clean:
	rm -f $(NAME).def.json $(NAME).resolved.json $(NAME).pulled.json $(NAME).packed.json \
		$(NAME).signed.json $(NAME).pushed.json
