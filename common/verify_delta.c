/* edge-verify --base: the blobs a verified delta left out, against what
 * the bases given list (delta.h). */
#include "verify.h"

#include <string.h>

#include "delta.h"
#include "log.h"
#include "manifest.h"

/* The digest bundles gives for name, or NULL. */
static const char *bundle_digest(json_t *bundles, const char *name)
{
	json_t *e;
	size_t i;

	json_array_foreach(bundles, i, e)
		if (name != NULL && strcmp(manifest_str(e, "name") ? manifest_str(e, "name") : "", name) == 0)
			return manifest_str(e, "digest");
	return NULL;
}

int verify_delta_bases(json_t *omitted, json_t *bundles, const struct delta_base *b, const char *path,
		       struct edge_err *err)
{
	json_t *e;
	size_t i;

	/* a base of the same name but other content: the site may still hold
	 * every blob, which is what is checked next */
	json_array_foreach(b->bundles, i, e) {
		const char *name = manifest_str(e, "name"), *have = manifest_str(e, "digest");
		const char *want = bundle_digest(bundles, name);
		if (want != NULL && have != NULL && strcmp(want, have) != 0)
			log_warn("%s: base %s has digest %s, the delta was made against %s", path, name, have, want);
	}
	json_array_foreach(omitted, i, e) {
		const char *d = manifest_str(e, "digest"), *image = manifest_str(e, "image");
		const char *base = manifest_str(e, "base");
		json_int_t want = json_integer_value(json_object_get(e, "size"));
		int64_t have = delta_base_lookup(b, d ? d : "", NULL, NULL);
		if (have < 0)
			return edge_errf(err, EDGE_EVERIFY, "%s: blob %s, which %s needs, is in none of the bases given (the delta leaves it to %s)",
					 path, d ? d : "?", image ? image : "?", base ? base : "?");
		if (have != (int64_t)want)
			return edge_errf(err, EDGE_EVERIFY, "%s: blob %s, which %s needs, has %lld bytes in the bases given, the delta (base %s) says %lld",
					 path, d ? d : "?", image ? image : "?", (long long)have, base ? base : "?", (long long)want);
	}
	log_verbose("%s: the %zu blob%s the delta leaves out %s listed in the bases given", path, json_array_size(omitted),
		    json_array_size(omitted) == 1 ? "" : "s", json_array_size(omitted) == 1 ? "is" : "are");
	return 0;
}
