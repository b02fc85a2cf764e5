#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "jsonload.h"
#include "log.h"
#include "oci.h"

static int write_small(const char *path, const char *text, struct edge_err *err)
{
	return atomic_write_file(path, text, strlen(text), 0644, err);
}

int store_open(struct store *s, const char *dir, int create, int lock, struct edge_err *err)
{
	char *p = NULL;
	struct stat st;
	json_error_t je;

	memset(s, 0, sizeof(*s));
	s->lockfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	s->dir = xstrdup(dir);
	s->tmpdir = path_join(dir, ".tmp");
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		if (!create) {
			edge_errf(err, EDGE_EIO, "store %s: no such store", dir);
			goto fail;
		}
		if (mkdir_p(dir, 0755, err) != 0)
			goto fail;
	}
	p = path_join(dir, "blobs/sha256");
	if (create && mkdir_p(p, 0755, err) != 0)
		goto fail;
	free(p);
	p = NULL;
	if (create && mkdir_p(s->tmpdir, 0755, err) != 0)
		goto fail;
	if (lock) {
		p = path_join(dir, ".lock");
		s->lockfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (s->lockfd < 0) {
			edge_err_errno(err, "store %s: lock", dir);
			goto fail;
		}
		if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
			if (errno != EWOULDBLOCK) {
				edge_err_errno(err, "store %s: lock", dir);
				goto fail;
			}
			log_info("store %s is in use by another process, waiting", dir);
			if (flock(s->lockfd, LOCK_EX) != 0) {
				edge_err_errno(err, "store %s: lock", dir);
				goto fail;
			}
		}
		free(p);
		p = NULL;
	}
	p = path_join(dir, "oci-layout");
	if (stat(p, &st) != 0) {
		if (!create) {
			edge_errf(err, EDGE_EIO, "store %s: not an OCI image layout (no oci-layout)", dir);
			goto fail;
		}
		if (write_small(p, "{\"imageLayoutVersion\":\"1.0.0\"}", err) != 0)
			goto fail;
	}
	free(p);
	p = path_join(dir, "index.json");
	if (stat(p, &st) == 0) {
		char *text;
		size_t len;
		if (read_file_max(p, STORE_MAX_INDEX, &text, &len, err) != 0) {
			edge_err_prefix(err, "store %s", dir);
			goto fail;
		}
		s->index = json_loadb_bounded(text, len, JSON_REJECT_DUPLICATES, &je);
		free(text);
		if (s->index == NULL || !json_is_array(json_object_get(s->index, "manifests"))) {
			edge_errf(err, EDGE_EIO, "store %s: index.json is damaged: %s", dir,
				  s->index ? "no manifests list" : je.text);
			goto fail;
		}
		{
			/* every entry's digest, media type and size, before any is
			 * used (in a path, in a header) */
			char what[EDGE_ERR_MAX];
			snprintf(what, sizeof(what), "store %s: index.json is damaged", dir);
			if (oci_doc_check(s->index, NULL, EDGE_EIO, what, err) < 0)
				goto fail;
		}
	} else {
		s->index = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX, "manifests");
		s->index_dirty = 1; /* a layout needs its index.json, empty or not */
	}
	free(p);
	return 0;
fail:
	free(p);
	store_close(s);
	return -1;
}

void store_close(struct store *s)
{
	if (s->lockfd >= 0)
		close(s->lockfd);
	s->lockfd = -1;
	json_decref(s->index);
	s->index = NULL;
	json_decref(s->docs);
	s->docs = NULL;
	free(s->dir);
	free(s->tmpdir);
	s->dir = s->tmpdir = NULL;
	pthread_mutex_destroy(&s->mu);
}

char *store_blob_path(const struct store *s, const char *digest)
{
	if (!oci_digest_valid(digest))
		return NULL;
	return xasprintf("%s/blobs/sha256/%s", s->dir, digest + 7);
}

int store_has_blob(const struct store *s, const char *digest, int64_t size)
{
	char *p = store_blob_path(s, digest);
	struct stat st;
	int ok;

	if (p == NULL)
		return 0;
	ok = stat(p, &st) == 0 && S_ISREG(st.st_mode) && (size < 0 || st.st_size == size);
	free(p);
	return ok;
}

int blob_writer_open(struct blob_writer *w, struct store *s, const char *digest, int64_t size,
		     int resume, struct edge_err *err)
{
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->slot = -1;
	w->s = s;
	w->expect = size;
	if (!oci_digest_valid(digest))
		return edge_errf(err, EDGE_EINPUT, "unsupported digest \"%s\" (only sha256)", digest);
	snprintf(w->digest, sizeof(w->digest), "%s", digest);
	/* a resumable download has one partial file per digest (the caller
	 * makes sure only one writer uses it); other writes use unique names */
	for (int attempt = 0; attempt < 2; attempt++) {
		free(w->tmp);
		if (resume) {
			w->tmp = xasprintf("%s/%s.partial", s->tmpdir, digest + 7);
			w->fd = open(w->tmp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		} else {
			/* the name is registered before the file exists (cleanup_create) */
			char *prefix = xasprintf("%s/%s.", s->tmpdir, digest + 7);
			w->tmp = NULL;
			w->fd = cleanup_create(prefix, &w->tmp, &w->slot);
			if (w->fd < 0)
				w->tmp = prefix;
			else
				free(prefix);
		}
		if (w->fd >= 0 || errno != ENOENT || attempt > 0 || mkdir_p(s->tmpdir, 0755, err) != 0)
			break;
	}
	if (w->fd < 0) {
		edge_err_errno(err, "create %s", w->tmp);
		free(w->tmp);
		w->tmp = NULL;
		return -1;
	}
	sha256_init(&w->h);
	if (resume) {
		char buf[1 << 16];
		ssize_t n;
		while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
			sha256_update(&w->h, buf, (size_t)n);
			w->offset += n;
		}
		if (n < 0 || (size >= 0 && w->offset > size)) {
			if (blob_writer_restart(w, err) != 0) {
				blob_writer_abort(w, 0);
				return -1;
			}
		}
	}
	return 0;
}

/* A failed write or sync names the blob and the store: on a full disk it
 * is the first failure, and the one to report. A full disk (or a file size
 * limit) also means the partial file is not kept for a resume. */
static int writer_failed(struct blob_writer *w, struct edge_err *err)
{
	if (errno == ENOSPC || errno == EDQUOT || errno == EFBIG)
		w->full = 1;
	return edge_err_errno(err, "store %s: write blob %s", w->s->dir, w->digest);
}

int blob_writer_write(struct blob_writer *w, const void *data, size_t len, struct edge_err *err)
{
	if (w->expect >= 0 && w->offset + (int64_t)len > w->expect)
		return edge_errf(err, EDGE_EVERIFY, "blob %s: more data than its size %lld", w->digest,
				 (long long)w->expect);
	if (write_all(w->fd, data, len) != 0)
		return writer_failed(w, err);
	sha256_update(&w->h, data, len);
	w->offset += (int64_t)len;
	return 0;
}

int blob_writer_restart(struct blob_writer *w, struct edge_err *err)
{
	if (ftruncate(w->fd, 0) != 0 || lseek(w->fd, 0, SEEK_SET) != 0)
		return edge_err_errno(err, "truncate %s", w->tmp);
	sha256_discard(&w->h);
	sha256_init(&w->h);
	w->offset = 0;
	return 0;
}

int blob_writer_commit(struct blob_writer *w, struct edge_err *err)
{
	unsigned char d[32];
	char got[72];
	char *final = NULL;
	int rc = -1;

	sha256_final(&w->h, d);
	sha256_digest_format(got, d);
	if (w->expect >= 0 && w->offset != w->expect) {
		edge_errf(err, EDGE_EVERIFY, "blob %s: size %lld, expected %lld", w->digest, (long long)w->offset,
			  (long long)w->expect);
		goto out;
	}
	if (strcmp(got, w->digest) != 0) {
		edge_errf(err, EDGE_EVERIFY, "blob %s: digest mismatch (got %s)", w->digest, got);
		goto out;
	}
	if (fsync(w->fd) != 0) {
		writer_failed(w, err);
		goto out;
	}
	final = store_blob_path(w->s, w->digest);
	if (rename(w->tmp, final) != 0) {
		if (errno == ENOENT) {
			char *dir = path_join(w->s->dir, "blobs/sha256");
			int ok = mkdir_p(dir, 0755, err) == 0 && rename(w->tmp, final) == 0;
			free(dir);
			if (ok)
				goto renamed;
		}
		edge_err_errno(err, "rename %s", final);
		goto out;
	}
renamed:
	rc = 0;
out:
	close(w->fd);
	w->fd = -1;
	if (rc != 0)
		unlink(w->tmp);
	cleanup_unregister(w->slot);
	w->slot = -1;
	free(final);
	free(w->tmp);
	w->tmp = NULL;
	return rc;
}

void blob_writer_abort(struct blob_writer *w, int keep)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	if (w->h.md != NULL)
		sha256_discard(&w->h);
	if (w->tmp != NULL && (!keep || w->full))
		unlink(w->tmp);
	cleanup_unregister(w->slot);
	w->slot = -1;
	free(w->tmp);
	w->tmp = NULL;
}

int store_put_blob(struct store *s, const void *data, size_t len, const char *want, char out[72],
		   struct edge_err *err)
{
	struct blob_writer w;
	char digest[72];

	sha256_digest_buf(data, len, digest);
	if (want != NULL && strcmp(want, digest) != 0)
		return edge_errf(err, EDGE_EVERIFY, "content of %s has digest %s", want, digest);
	if (out != NULL)
		memcpy(out, digest, 72);
	if (store_has_blob(s, digest, (int64_t)len))
		return 0;
	if (blob_writer_open(&w, s, digest, (int64_t)len, 0, err) != 0)
		return -1;
	if (blob_writer_write(&w, data, len, err) != 0) {
		blob_writer_abort(&w, 0);
		return -1;
	}
	return blob_writer_commit(&w, err);
}

int store_read_blob(const struct store *s, const char *digest, size_t max, char **data, size_t *len,
		    struct edge_err *err)
{
	char *p = store_blob_path(s, digest);
	char got[72];

	if (p == NULL)
		return edge_errf(err, EDGE_EINPUT, "unsupported digest \"%s\"", digest);
	if (read_file_max(p, max, data, len, err) != 0) {
		free(p);
		return -1;
	}
	free(p);
	sha256_digest_buf(*data, *len, got);
	if (strcmp(got, digest) != 0) {
		free(*data);
		*data = NULL;
		return edge_errf(err, EDGE_EVERIFY, "store %s: blob %s is corrupt (content has digest %s)", s->dir,
				 digest, got);
	}
	return 0;
}

json_t *store_read_json(struct store *s, const char *digest, struct edge_err *err)
{
	char *data;
	size_t len;
	json_t *doc = NULL;

	pthread_mutex_lock(&s->mu);
	if (s->docs != NULL)
		doc = json_incref(json_object_get(s->docs, digest));
	pthread_mutex_unlock(&s->mu);
	if (doc != NULL)
		return doc;
	if (store_read_blob(s, digest, STORE_MAX_MANIFEST, &data, &len, err) != 0)
		return NULL;
	doc = json_loadb_bounded(data, len, 0, NULL);
	free(data);
	if (!json_is_object(doc)) {
		json_decref(doc);
		edge_errf(err, EDGE_EINPUT, "manifest %s is not JSON", digest);
		return NULL;
	}
	pthread_mutex_lock(&s->mu);
	if (s->docs != NULL)
		json_object_set(s->docs, digest, doc);
	pthread_mutex_unlock(&s->mu);
	return doc;
}

void store_cache_docs(struct store *s, int on)
{
	pthread_mutex_lock(&s->mu);
	if (on && s->docs == NULL)
		s->docs = json_object();
	if (!on) {
		json_decref(s->docs);
		s->docs = NULL;
	}
	pthread_mutex_unlock(&s->mu);
}

json_t *store_index_find(struct store *s, const char *ref)
{
	json_t *list = json_object_get(s->index, "manifests"), *d, *hit = NULL;
	size_t i;

	pthread_mutex_lock(&s->mu);
	json_array_foreach(list, i, d) {
		const char *n = json_string_value(json_object_get(json_object_get(d, "annotations"), ANNOT_REF_NAME));
		if (n != NULL && strcmp(n, ref) == 0) {
			hit = d;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return hit;
}

void store_index_set(struct store *s, const char *ref, json_t *desc)
{
	json_t *list = json_object_get(s->index, "manifests"), *d;
	size_t i;

	pthread_mutex_lock(&s->mu);
	json_array_foreach(list, i, d) {
		const char *n = json_string_value(json_object_get(json_object_get(d, "annotations"), ANNOT_REF_NAME));
		if (n != NULL && strcmp(n, ref) == 0) {
			s->index_dirty |= !json_equal(d, desc);
			json_array_set_new(list, i, desc);
			pthread_mutex_unlock(&s->mu);
			return;
		}
	}
	json_array_append_new(list, desc);
	s->index_dirty = 1;
	pthread_mutex_unlock(&s->mu);
}

static int cmp_desc(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	const char *nx = json_string_value(json_object_get(json_object_get(x, "annotations"), ANNOT_REF_NAME));
	const char *ny = json_string_value(json_object_get(json_object_get(y, "annotations"), ANNOT_REF_NAME));

	return strcmp(nx ? nx : "", ny ? ny : "");
}

char *store_json_text(json_t *j, size_t *len)
{
	char *t = json_dumps(j, JSON_COMPACT);

	if (t == NULL)
		edge_oom();
	if (len)
		*len = strlen(t);
	return t;
}

int store_index_write(struct store *s, struct edge_err *err)
{
	json_t *list = json_object_get(s->index, "manifests");
	size_t n = json_array_size(list), i;
	json_t **v = xcalloc(n ? n : 1, sizeof(*v));
	char *path, *text;
	int rc;

	pthread_mutex_lock(&s->mu);
	if (!s->index_dirty) {
		/* nothing new: index.json stays as it is (and a full disk
		 * cannot fail a write that need not happen) */
		pthread_mutex_unlock(&s->mu);
		free(v);
		return 0;
	}
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(list, i));
	qsort(v, n, sizeof(*v), cmp_desc);
	json_array_clear(list);
	for (i = 0; i < n; i++)
		json_array_append_new(list, v[i]);
	free(v);
	text = json_dumps(s->index, JSON_INDENT(2));
	pthread_mutex_unlock(&s->mu);
	if (text == NULL)
		edge_oom();
	path = path_join(s->dir, "index.json");
	{
		size_t l = strlen(text);
		text = xrealloc(text, l + 2);
		text[l] = '\n';
		text[l + 1] = '\0';
	}
	rc = write_small(path, text, err);
	free(path);
	free(text);
	return rc;
}
