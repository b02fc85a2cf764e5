/*
 * Helm charts from HTTP repositories (SPEC §4): a repository's index.yaml,
 * read once per run and shared by the pull workers, and a chart's .tgz,
 * checked against the index's digest, with its Chart.yaml. Credentials
 * (CRED_HELM) go only to the repository's own origin.
 */
#ifndef EDGE_HELM_H
#define EDGE_HELM_H

#include <jansson.h>
#include <pthread.h>
#include "creds.h"
#include "err.h"
#include "http.h"

#define HELM_CHART_MAX (64u << 20) /* the largest chart archive */
#define HELM_CHART_MAX_UNPACKED (256u << 20) /* what is read of it, decompressed, to find Chart.yaml */

struct helm_repos {
	struct cred_store *creds; /* may be NULL */
	pthread_mutex_t mu;
	json_t *indexes;          /* index.yaml URL -> parsed document */
};

void helm_repos_init(struct helm_repos *h, struct cred_store *creds);
void helm_repos_free(struct helm_repos *h);

/* A chart as downloaded: the caller frees it with helm_chart_free. */
struct helm_chart {
	char *url;             /* where it came from */
	struct http_resp resp; /* the .tgz in resp.body, resp.body_len bytes */
	char digest[72];       /* its sha256 */
	json_t *config;        /* its Chart.yaml as JSON (the Helm OCI config) */
};

/* Downloads chart name at version from the HTTP repository repo (index.yaml
 * from the cache, or fetched once), checks its digest against the index
 * (EDGE_EVERIFY) and its Chart.yaml's name (EDGE_EREMOTE). On failure c
 * holds nothing to free beyond what helm_chart_free frees. */
int helm_chart_fetch(struct helm_repos *h, struct http_client *http, const char *repo, const char *name,
		     const char *version, struct helm_chart *c, struct edge_err *err);
void helm_chart_free(struct helm_chart *c);

#endif
