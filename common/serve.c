#include "serve.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader */
#include <zstd.h>

#include "bundle.h"
#include "delta.h"
#include "fsutil.h"
#include "jsonload.h"
#include "log.h"
#include "manifest.h"
#include "oci.h"
#include "push.h"
#include "ref.h"
#include "sha256.h"
#include "sign.h"
#include "store.h"
#include "verify.h"

#define READ_CHUNK (256u << 10)   /* bytes per response callback and per hash read */
#define ZBLOCK_MAX (128u << 10)   /* zstd's largest block */
#define MAX_DEPTH 4               /* index nesting followed */
#define TAGS_N_MAX 100000         /* largest n= accepted */
#define AUTH_CACHE 64             /* remembered good credentials */
#define LOG_URL_MAX 200           /* bytes of a URL in a log line */

/* --- htpasswd ------------------------------------------------------------------ */

struct htuser {
	char *name;
	char *hash; /* "$2y$…" */
};

struct serve_htpasswd {
	struct htuser *u;
	size_t n;
	char dummy[64];                 /* checked for unknown users: same work */
	unsigned char key[32];          /* keys the remembered-credentials hashes */
	unsigned char ok[AUTH_CACHE][32];
	size_t nok, next;
	pthread_mutex_t mu;
};

static int bcrypt_hash_valid(const char *h)
{
	size_t i;

	/* $2a$ / $2b$ / $2y$, two cost digits, $, 53 characters of bcrypt base64 */
	if (strlen(h) != 60 || h[0] != '$' || h[1] != '2' || strchr("aby", h[2]) == NULL || h[3] != '$' ||
	    !isdigit((unsigned char)h[4]) || !isdigit((unsigned char)h[5]) || h[6] != '$')
		return 0;
	for (i = 7; i < 60; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '.' && h[i] != '/')
			return 0;
	return 1;
}

int serve_htpasswd_load(const char *path, struct serve_htpasswd **out, struct edge_err *err)
{
	struct serve_htpasswd *h;
	char *data = NULL, *line, *save = NULL;
	size_t len, lineno = 0;

	*out = NULL;
	if (read_file_max(path, SERVE_HTPASSWD_MAX, &data, &len, err) != 0)
		return -1;
	h = xcalloc(1, sizeof(*h));
	pthread_mutex_init(&h->mu, NULL);
	for (line = strtok_r(data, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *colon;
		size_t l = strlen(line);
		lineno++;
		if (l > 0 && line[l - 1] == '\r')
			line[--l] = '\0';
		if (l == 0 || line[0] == '#')
			continue;
		colon = strchr(line, ':');
		if (colon == NULL || colon == line) {
			edge_errf(err, EDGE_EINPUT, "%s:%zu: expected USER:HASH", path, lineno);
			goto fail;
		}
		*colon = '\0';
		if (!bcrypt_hash_valid(colon + 1)) {
			edge_errf(err, EDGE_EINPUT, "%s:%zu: user %s: not a bcrypt hash (make it with htpasswd -B)", path,
				  lineno, line);
			goto fail;
		}
		{
			/* every request of that user (and, for the first entry,
			 * of unknown ones) costs 2^cost rounds: cost 31 took
			 * hours; htpasswd -C makes 4 to 17 */
			int cost = (colon[5] - '0') * 10 + (colon[6] - '0');
			if (cost < SERVE_BCRYPT_COST_MIN || cost > SERVE_BCRYPT_COST_MAX) {
				edge_errf(err, EDGE_EINPUT, "%s:%zu: user %s: bcrypt cost %d, not %d to %d (htpasswd -B -C)",
					  path, lineno, line, cost, SERVE_BCRYPT_COST_MIN, SERVE_BCRYPT_COST_MAX);
				goto fail;
			}
		}
		h->u = xrealloc(h->u, (h->n + 1) * sizeof(*h->u));
		h->u[h->n].name = xstrdup(line);
		h->u[h->n].hash = xstrdup(colon + 1);
		h->n++;
	}
	if (h->n == 0) {
		edge_errf(err, EDGE_EINPUT, "%s: no user", path);
		goto fail;
	}
	/* a hash of the same cost as the first entry, for unknown users */
	snprintf(h->dummy, sizeof(h->dummy), "%.7s%s", h->u[0].hash, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0");
	randombytes_buf(h->key, sizeof(h->key));
	sodium_memzero(data, len);
	free(data);
	*out = h;
	return 0;
fail:
	sodium_memzero(data, len);
	free(data);
	serve_htpasswd_free(h);
	return -1;
}

int serve_htpasswd_check(struct serve_htpasswd *h, const char *user, const char *password)
{
	struct crypt_data *cd;
	crypto_generichash_state st;
	unsigned char mac[32];
	const char *hash = h->dummy, *got;
	size_t i;
	int ok = 0, known = 0;

	crypto_generichash_init(&st, h->key, sizeof(h->key), sizeof(mac));
	crypto_generichash_update(&st, (const unsigned char *)user, strlen(user) + 1);
	crypto_generichash_update(&st, (const unsigned char *)password, strlen(password));
	crypto_generichash_final(&st, mac, sizeof(mac));
	pthread_mutex_lock(&h->mu);
	for (i = 0; i < h->nok; i++)
		ok |= sodium_memcmp(h->ok[i], mac, sizeof(mac)) == 0;
	pthread_mutex_unlock(&h->mu);
	if (ok)
		return 1;
	for (i = 0; i < h->n; i++)
		if (strcmp(h->u[i].name, user) == 0) {
			hash = h->u[i].hash;
			known = 1;
			break;
		}
	cd = xcalloc(1, sizeof(*cd));
	got = crypt_r(password, hash, cd);
	ok = known && got != NULL && got[0] != '*' && strlen(got) == strlen(hash) &&
	     sodium_memcmp(got, hash, strlen(hash)) == 0;
	sodium_memzero(cd, sizeof(*cd));
	free(cd);
	if (ok) {
		pthread_mutex_lock(&h->mu);
		memcpy(h->ok[h->next], mac, sizeof(mac));
		h->next = (h->next + 1) % AUTH_CACHE;
		if (h->nok < AUTH_CACHE)
			h->nok++;
		pthread_mutex_unlock(&h->mu);
	}
	return ok;
}

void serve_htpasswd_free(struct serve_htpasswd *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->n; i++) {
		free(h->u[i].name);
		free(h->u[i].hash);
	}
	free(h->u);
	pthread_mutex_destroy(&h->mu);
	sodium_memzero(h, sizeof(*h));
	free(h);
}

/* --- Range and Accept ------------------------------------------------------------ */

static int parse_u64(const char *s, size_t n, uint64_t *v)
{
	size_t i;

	if (n == 0 || n > 19)
		return -1;
	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return 0;
}

int serve_parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
	const char *dash;
	uint64_t a, b;

	if (h == NULL || strncmp(h, "bytes=", 6) != 0)
		return 0;
	h += 6;
	while (*h == ' ')
		h++;
	if (strchr(h, ',') != NULL || (dash = strchr(h, '-')) == NULL)
		return 0;
	if (dash == h) { /* bytes=-N: the last N bytes */
		if (parse_u64(dash + 1, strlen(dash + 1), &b) != 0)
			return 0;
		if (b == 0 || size == 0)
			return -1;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return 1;
	}
	if (parse_u64(h, (size_t)(dash - h), &a) != 0)
		return 0;
	if (dash[1] == '\0')
		b = UINT64_MAX;
	else if (parse_u64(dash + 1, strlen(dash + 1), &b) != 0 || b < a)
		return 0;
	if (a >= size)
		return -1;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return 1;
}

int serve_accepts(const char *accept, const char *mt)
{
	const char *p = accept;
	size_t ml = strlen(mt);

	if (accept == NULL)
		return 1;
	while (*p) {
		const char *e = p + strcspn(p, ",");
		const char *s = p, *t;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		t = s + strcspn(s, ";,");
		if (t > e)
			t = e;
		while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if (((size_t)(t - s) == ml && strncasecmp(s, mt, ml) == 0) || (t - s == 3 && strncmp(s, "*/*", 3) == 0))
			return 1;
		if (t - s > 2 && t[-1] == '*' && t[-2] == '/' && strncasecmp(s, mt, (size_t)(t - s) - 1) == 0)
			return 1;
		p = *e ? e + 1 : e;
	}
	return 0;
}

/* --- sources and the catalog ----------------------------------------------------- */

enum { FRAME_UNKNOWN = 0, FRAME_RAW = 1, FRAME_OTHER = 2 };

struct src {
	char *path;
	int is_store;
	uint64_t id;                 /* frame cache key: unique in the process */
	struct bundle_reader br;
	int have_br;
	_Atomic unsigned char *fkind;/* per frame: FRAME_* */
	uint32_t *fhdr;              /* raw frame: header bytes before the first block */
	struct store st;
	int have_st;
};

enum { BLOB_UNCHECKED, BLOB_CHECKING, BLOB_GOOD, BLOB_BAD };

struct blob {
	char digest[72];
	uint64_t size;
	struct src *src;
	uint64_t off;  /* bundle: the data's offset in the tar stream */
	int state;     /* BLOB_*, under catalog.mu */
};

struct man {
	char digest[72];
	char *mt;
	char *data;
	size_t len;
};

struct tag {
	char *name;
	struct man *m;
};

struct repo {
	char *name;
	struct tag *tags;
	size_t ntags;
	char **digests; /* manifests and blobs reachable from the repository, sorted */
	size_t ndigests;
};

struct catalog {
	atomic_int refs;
	struct src *srcs;
	size_t nsrcs;
	struct blob *blobs; /* sorted by digest */
	size_t nblobs;
	struct man *mans;   /* sorted by digest */
	size_t nmans;
	struct repo *repos; /* sorted by name */
	size_t nrepos;
	size_t nimages, ncharts;
	struct serve_htpasswd *auth;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* --- the frame cache --------------------------------------------------------- */

struct fent {
	uint64_t src_id;
	size_t frame;
	unsigned char *data; /* NULL while loading */
	size_t len;
	int refs;
	int failed;
	uint64_t used;       /* LRU clock */
	struct fent *next;
};

#define FC_BUCKETS 1024

struct fcache {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fent *b[FC_BUCKETS];
	uint64_t bytes, cap, clock;
	size_t n;
};

struct serve {
	const struct serve_opts *o;
	struct MHD_Daemon *d;
	pthread_mutex_t cat_mu;
	struct catalog *cat;
	struct fcache fc;
	char *cert, *key;
	size_t certlen, keylen;
	atomic_uint_fast64_t next_src_id;
	int listen_fd;
};

static size_t fc_hash(uint64_t id, size_t frame)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ull) ^ (frame * 0xC2B2AE3D27D4EB4Full)) % FC_BUCKETS;
}

/* Drops unreferenced entries, least recently used first, until want more
 * bytes fit under the cap (or nothing more can go). Under fc->mu. */
static void fc_evict(struct fcache *fc, uint64_t want)
{
	while (fc->bytes + want > fc->cap) {
		struct fent **victim = NULL, **pp;
		size_t i;
		for (i = 0; i < FC_BUCKETS; i++)
			for (pp = &fc->b[i]; *pp != NULL; pp = &(*pp)->next)
				if ((*pp)->refs == 0 && (*pp)->data != NULL && (victim == NULL || (*pp)->used < (*victim)->used))
					victim = pp;
		if (victim == NULL)
			return;
		{
			struct fent *e = *victim;
			*victim = e->next;
			fc->bytes -= e->len;
			fc->n--;
			free(e->data);
			free(e);
		}
	}
}

static void fc_unlink(struct fcache *fc, struct fent *e)
{
	struct fent **pp = &fc->b[fc_hash(e->src_id, e->frame)];

	while (*pp != NULL && *pp != e)
		pp = &(*pp)->next;
	if (*pp == e) {
		*pp = e->next;
		fc->bytes -= e->len;
		fc->n--;
	}
}

/* One decompression context per thread, freed when the thread ends. */
static pthread_key_t dctx_key;
static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;

static void dctx_free(void *p)
{
	ZSTD_freeDCtx(p);
}

static void dctx_key_make(void)
{
	pthread_key_create(&dctx_key, dctx_free);
}

static ZSTD_DCtx *thread_dctx(void)
{
	ZSTD_DCtx *d;

	pthread_once(&dctx_once, dctx_key_make);
	if ((d = pthread_getspecific(dctx_key)) == NULL && (d = ZSTD_createDCtx()) != NULL)
		pthread_setspecific(dctx_key, d);
	return d;
}

/* Decompresses frame f of the bundle whole into a new buffer of exactly
 * its seek-table size. */
static int frame_decompress(struct src *s, size_t f, unsigned char **out, struct edge_err *err)
{
	const struct bundle_frame *fr = &s->br.frames[f];
	unsigned char *in = NULL, *buf = NULL;
	ZSTD_DCtx *d;
	size_t n;
	int64_t got;

	*out = NULL;
	if (fr->csize > ZSTD_compressBound((size_t)fr->dsize) + 64)
		return edge_errf(err, EDGE_EINPUT, "%s: frame %zu: %llu compressed bytes for %llu", s->path, f,
				 (unsigned long long)fr->csize, (unsigned long long)fr->dsize);
	in = xmalloc((size_t)fr->csize ? (size_t)fr->csize : 1);
	buf = xmalloc((size_t)fr->dsize ? (size_t)fr->dsize : 1);
	got = bundle_pread(&s->br, in, (size_t)fr->csize, fr->coff, err);
	if (got < 0)
		goto fail;
	if ((uint64_t)got != fr->csize) {
		edge_errf(err, EDGE_EVERIFY, "%s: truncated", s->path);
		goto fail;
	}
	if ((d = thread_dctx()) == NULL) {
		edge_errf(err, EDGE_EIO, "out of memory");
		goto fail;
	}
	n = ZSTD_decompressDCtx(d, buf, (size_t)fr->dsize, in, (size_t)fr->csize);
	if (ZSTD_isError(n) || n != fr->dsize) {
		edge_errf(err, EDGE_EVERIFY, "%s: frame %zu: %s", s->path, f,
			  ZSTD_isError(n) ? ZSTD_getErrorName(n) : "size differs from the seek table");
		goto fail;
	}
	free(in);
	*out = buf;
	return 0;
fail:
	free(in);
	free(buf);
	return -1;
}

/* The decompressed frame f of s, referenced: release with fc_put. */
static struct fent *fc_get(struct fcache *fc, struct src *s, size_t f, struct edge_err *err)
{
	size_t h = fc_hash(s->id, f);
	struct fent *e;
	unsigned char *data;

	pthread_mutex_lock(&fc->mu);
	for (;;) {
		for (e = fc->b[h]; e != NULL; e = e->next)
			if (e->src_id == s->id && e->frame == f)
				break;
		if (e == NULL)
			break;
		if (e->data != NULL) {
			e->refs++;
			e->used = ++fc->clock;
			pthread_mutex_unlock(&fc->mu);
			return e;
		}
		/* another thread is loading it */
		pthread_cond_wait(&fc->cv, &fc->mu);
	}
	e = xcalloc(1, sizeof(*e));
	e->src_id = s->id;
	e->frame = f;
	e->len = (size_t)s->br.frames[f].dsize;
	e->refs = 1;
	fc_evict(fc, e->len);
	e->next = fc->b[h];
	fc->b[h] = e;
	fc->bytes += e->len;
	fc->n++;
	pthread_mutex_unlock(&fc->mu);

	if (frame_decompress(s, f, &data, err) != 0) {
		pthread_mutex_lock(&fc->mu);
		fc_unlink(fc, e);
		pthread_cond_broadcast(&fc->cv);
		pthread_mutex_unlock(&fc->mu);
		free(e);
		return NULL;
	}
	pthread_mutex_lock(&fc->mu);
	e->data = data;
	e->used = ++fc->clock;
	pthread_cond_broadcast(&fc->cv);
	pthread_mutex_unlock(&fc->mu);
	return e;
}

static void fc_put(struct fcache *fc, struct fent *e)
{
	pthread_mutex_lock(&fc->mu);
	e->refs--;
	if (e->refs == 0 && fc->bytes > fc->cap)
		fc_evict(fc, 0);
	pthread_mutex_unlock(&fc->mu);
}

/* Forgets every frame of a source (it is being closed). */
static void fc_drop_src(struct fcache *fc, uint64_t id)
{
	size_t i;

	pthread_mutex_lock(&fc->mu);
	for (i = 0; i < FC_BUCKETS; i++) {
		struct fent **pp = &fc->b[i];
		while (*pp != NULL) {
			struct fent *e = *pp;
			if (e->src_id == id && e->refs == 0 && e->data != NULL) {
				*pp = e->next;
				fc->bytes -= e->len;
				fc->n--;
				free(e->data);
				free(e);
			} else {
				pp = &e->next;
			}
		}
	}
	pthread_mutex_unlock(&fc->mu);
}

/* --- reading blobs ------------------------------------------------------------ */

static uint32_t rd_le(const unsigned char *p, size_t n)
{
	uint32_t v = 0;

	while (n-- > 0)
		v = v << 8 | p[n];
	return v;
}

/* Is frame f a single frame of raw blocks of ZBLOCK_MAX bytes (the last one
 * shorter), as edge-pack writes already-compressed data? Then its bytes
 * are read in place. Decided once per frame, from its header and each
 * block header. */
static int frame_kind(struct src *s, size_t f)
{
	const struct bundle_frame *fr = &s->br.frames[f];
	unsigned char h[ZSTD_FRAMEHEADERSIZE_MAX], bh[3];
	ZSTD_frameHeader fh;
	size_t hl, got;
	uint64_t cpos, dpos = 0, cend = fr->coff + fr->csize;
	struct edge_err e;
	int kind = atomic_load(&s->fkind[f]);

	if (kind != FRAME_UNKNOWN)
		return kind;
	kind = FRAME_OTHER;
	got = fr->csize < sizeof(h) ? (size_t)fr->csize : sizeof(h);
	if (got < 9 || bundle_pread(&s->br, h, got, fr->coff, &e) != (ssize_t)got)
		goto out;
	/* zstd reads the header; a dictionary ID field (even of 0) or no
	 * content size leaves the frame to the decoder */
	if (ZSTD_getFrameHeader(&fh, h, got) != 0 || fh.frameType != ZSTD_frame || (h[4] & 0x03) != 0 ||
	    fh.dictID != 0 || fh.frameContentSize != fr->dsize)
		goto out;
	hl = fh.headerSize;
	if (hl > fr->csize)
		goto out;
	cpos = fr->coff + hl;
	for (;;) {
		uint32_t v, bs;
		if (cpos + 3 > cend || bundle_pread(&s->br, bh, 3, cpos, &e) != 3)
			goto out;
		v = rd_le(bh, 3);
		bs = v >> 3;
		if (((v >> 1) & 3) != 0) /* not a raw block */
			goto out;
		if ((v & 1) ? bs > ZBLOCK_MAX : bs != ZBLOCK_MAX)
			goto out;
		cpos += 3 + (uint64_t)bs;
		dpos += bs;
		if (dpos > fr->dsize || cpos > cend)
			goto out;
		if (v & 1)
			break;
	}
	if (dpos != fr->dsize || cpos + (fh.checksumFlag ? 4 : 0) != cend)
		goto out;
	s->fhdr[f] = hl;
	kind = FRAME_RAW;
out:
	atomic_store(&s->fkind[f], (unsigned char)kind);
	return kind;
}

/* Reads n bytes of blob b from position pos (pos + n <= size) into buf:
 * a store's blob through fd, a bundle's through the seek table. */
static int blob_pread(struct serve *sv, const struct blob *b, int fd, uint64_t pos, void *buf, size_t n,
		      struct edge_err *err)
{
	struct src *s = b->src;
	size_t done = 0;

	if (s->is_store) {
		while (done < n) {
			ssize_t k = pread(fd, (char *)buf + done, n - done, (off_t)(pos + done));
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return edge_err_errno(err, "read %s: blob %s", s->path, b->digest);
			if (k == 0)
				return edge_errf(err, EDGE_EVERIFY, "%s: blob %s is shorter than %llu bytes", s->path, b->digest,
						 (unsigned long long)b->size);
			done += (size_t)k;
		}
		return 0;
	}
	while (done < n) {
		uint64_t abs = b->off + pos + done;
		size_t f = bundle_frame_at(&s->br, abs);
		const struct bundle_frame *fr = &s->br.frames[f];
		uint64_t k = abs - fr->doff;
		size_t m = n - done;

		if (abs >= fr->doff + fr->dsize)
			return edge_errf(err, EDGE_EVERIFY, "%s: blob %s lies past the last frame", s->path, b->digest);
		if (m > fr->dsize - k)
			m = (size_t)(fr->dsize - k);
		if (frame_kind(s, f) == FRAME_RAW) {
			uint64_t blk = k / ZBLOCK_MAX, in = k % ZBLOCK_MAX;
			int64_t got;
			if (m > ZBLOCK_MAX - in)
				m = (size_t)(ZBLOCK_MAX - in);
			got = bundle_pread(&s->br, (char *)buf + done, m,
					   fr->coff + s->fhdr[f] + blk * (ZBLOCK_MAX + 3) + 3 + in, err);
			if (got < 0)
				return -1;
			if ((size_t)got != m)
				return edge_errf(err, EDGE_EVERIFY, "%s: truncated", s->path);
		} else {
			struct fent *e = fc_get(&sv->fc, s, f, err);
			if (e == NULL)
				return -1;
			memcpy((char *)buf + done, e->data + k, m);
			fc_put(&sv->fc, e);
		}
		done += m;
	}
	return 0;
}

static int blob_open_fd(const struct blob *b, struct edge_err *err)
{
	char *p;
	int fd;

	if (!b->src->is_store)
		return -1;
	p = store_blob_path(&b->src->st, b->digest);
	fd = p ? open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
	if (fd < 0)
		edge_err_errno(err, "open %s", p ? p : b->digest);
	free(p);
	return fd;
}

/* Hashes the whole blob through the path that serves it. */
static int blob_hash(struct serve *sv, const struct blob *b, struct edge_err *err)
{
	struct sha256 h;
	unsigned char raw[32];
	char got[72];
	unsigned char *buf;
	uint64_t pos = 0;
	int fd = -1, rc = -1;

	if (b->src->is_store && (fd = blob_open_fd(b, err)) < 0)
		return -1;
	if (sha256_init(&h) != 0) {
		if (fd >= 0)
			close(fd);
		return edge_errf(err, EDGE_EIO, "out of memory");
	}
	buf = xmalloc(READ_CHUNK);
	while (pos < b->size) {
		size_t n = b->size - pos < READ_CHUNK ? (size_t)(b->size - pos) : READ_CHUNK;
		if (blob_pread(sv, b, fd, pos, buf, n, err) != 0) {
			sha256_discard(&h);
			goto out;
		}
		sha256_update(&h, buf, n);
		pos += n;
	}
	if (b->src->is_store) {
		struct stat st;
		if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != b->size) {
			sha256_discard(&h);
			edge_errf(err, EDGE_EVERIFY, "%s: blob %s does not have %llu bytes", b->src->path, b->digest,
				  (unsigned long long)b->size);
			goto out;
		}
	}
	sha256_final(&h, raw);
	sha256_digest_format(got, raw);
	if (strcmp(got, b->digest) != 0) {
		edge_errf(err, EDGE_EVERIFY, "%s: blob %s is corrupt (content has %s)", b->src->path, b->digest, got);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The blob has been hashed and matches: hashes it now when nobody has
 * (others asking meanwhile wait for the answer). 0 good, -1 corrupt. */
static int blob_ensure(struct serve *sv, struct catalog *cat, struct blob *b)
{
	struct edge_err e = {0};
	int st;

	pthread_mutex_lock(&cat->mu);
	while (b->state == BLOB_CHECKING)
		pthread_cond_wait(&cat->cv, &cat->mu);
	st = b->state;
	if (st == BLOB_UNCHECKED)
		b->state = BLOB_CHECKING;
	pthread_mutex_unlock(&cat->mu);
	if (st == BLOB_GOOD)
		return 0;
	if (st == BLOB_BAD)
		return -1;
	st = blob_hash(sv, b, &e) == 0 ? BLOB_GOOD : BLOB_BAD;
	if (st == BLOB_BAD)
		log_error("%s: refused from now on", e.msg);
	pthread_mutex_lock(&cat->mu);
	b->state = st;
	pthread_cond_broadcast(&cat->cv);
	pthread_mutex_unlock(&cat->mu);
	return st == BLOB_GOOD ? 0 : -1;
}

/* --- building the catalog ----------------------------------------------------- */

struct builder {
	struct serve *sv;
	struct catalog *cat;
	json_t *blob_ix;  /* digest -> index in cat->blobs */
	json_t *man_ix;   /* digest -> index in cat->mans */
	json_t *repos;    /* name -> {"tags": {tag: digest}, "digests": {digest: true}} */
	json_t *omitted;  /* digest -> "DELTA BASE": what the deltas served left out, for errors */
	size_t blob_cap, man_cap;
};

static struct blob *find_blob_b(struct builder *bd, const char *digest)
{
	json_t *ix = json_object_get(bd->blob_ix, digest);

	return ix ? &bd->cat->blobs[json_integer_value(ix)] : NULL;
}

static struct blob *add_blob(struct builder *bd, const char *digest, uint64_t size, struct src *s, uint64_t off)
{
	struct blob *b;

	if ((b = find_blob_b(bd, digest)) != NULL)
		return b; /* the first source that has it serves it */
	if (bd->cat->blobs == NULL || bd->cat->nblobs == bd->blob_cap) {
		bd->blob_cap = bd->blob_cap ? bd->blob_cap * 2 : 256;
		bd->cat->blobs = xrealloc(bd->cat->blobs, bd->blob_cap * sizeof(*bd->cat->blobs));
	}
	b = &bd->cat->blobs[bd->cat->nblobs];
	memset(b, 0, sizeof(*b));
	snprintf(b->digest, sizeof(b->digest), "%s", digest);
	b->size = size;
	b->src = s;
	b->off = off;
	json_object_set_new(bd->blob_ix, digest, json_integer((json_int_t)bd->cat->nblobs));
	bd->cat->nblobs++;
	return b;
}

/* A blob a manifest names: from a bundle's list, else the first store
 * that has it. NULL when none holds it. */
static struct blob *lookup_blob(struct builder *bd, const char *digest)
{
	struct blob *b = find_blob_b(bd, digest);
	size_t i;

	if (b != NULL)
		return b;
	for (i = 0; i < bd->cat->nsrcs; i++) {
		struct src *s = &bd->cat->srcs[i];
		char *p;
		struct stat st;
		if (!s->is_store)
			continue;
		p = store_blob_path(&s->st, digest);
		if (p != NULL && lstat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			free(p);
			return add_blob(bd, digest, (uint64_t)st.st_size, s, 0);
		}
		free(p);
	}
	return NULL;
}

static void repo_add_digest(json_t *repo, const char *digest)
{
	json_object_set_new(json_object_get(repo, "digests"), digest, json_true());
}

static json_t *repo_get(struct builder *bd, const char *name)
{
	json_t *r = json_object_get(bd->repos, name);

	if (r == NULL) {
		r = json_pack("{s:{}, s:{}}", "tags", "digests");
		json_object_set_new(bd->repos, name, r);
	}
	return r;
}

static int read_manifest_bytes(struct builder *bd, const char *who, const char *digest, char **data, size_t *len,
			       struct edge_err *err)
{
	struct blob *b = lookup_blob(bd, digest);
	char got[72];
	int fd = -1;

	*data = NULL;
	if (b == NULL)
		return edge_errf(err, EDGE_EVERIFY, "%s: manifest %s is in none of the bundles or stores served", who, digest);
	if (b->size > STORE_MAX_MANIFEST)
		return edge_errf(err, EDGE_EINPUT, "%s: manifest %s is larger than %u bytes", who, digest,
				 STORE_MAX_MANIFEST);
	if (b->src->is_store && (fd = blob_open_fd(b, err)) < 0)
		return -1;
	*data = xmalloc((size_t)b->size + 1);
	if (blob_pread(bd->sv, b, fd, 0, *data, (size_t)b->size, err) != 0) {
		if (fd >= 0)
			close(fd);
		free(*data);
		*data = NULL;
		return edge_err_prefix(err, "%s", who);
	}
	if (fd >= 0)
		close(fd);
	(*data)[b->size] = '\0';
	*len = (size_t)b->size;
	sha256_digest_buf(*data, *len, got);
	if (strcmp(got, digest) != 0) {
		free(*data);
		*data = NULL;
		return edge_errf(err, EDGE_EVERIFY, "%s: %s: manifest %s is corrupt (content has %s)", who, b->src->path,
				 digest, got);
	}
	return 0;
}

static int need_blob(struct builder *bd, json_t *repo, const char *who, json_t *desc, struct edge_err *err)
{
	const char *d = json_string_value(json_object_get(desc, "digest"));
	json_t *sz = json_object_get(desc, "size");
	struct blob *b;

	if (d == NULL || !sha256_digest_valid(d) || !json_is_integer(sz) || json_integer_value(sz) < 0)
		return edge_errf(err, EDGE_EINPUT, "%s: a descriptor without a valid sha256 digest and size", who);
	if ((b = lookup_blob(bd, d)) == NULL) {
		json_t *om = json_object_get(bd->omitted, d);
		if (json_object_get(desc, "urls") != NULL)
			return 0; /* a foreign layer: clients fetch it from its URLs */
		if (om != NULL)
			return edge_errf(err, EDGE_EVERIFY, "%s: blob %s is left out of the delta bundle: serve its base %s too",
					 who, d, json_string_value(json_object_get(om, "base")));
		return edge_errf(err, EDGE_EVERIFY,
				 "%s: blob %s is in none of the bundles or stores served (a delta bundle needs its base)", who, d);
	}
	if (b->size != (uint64_t)json_integer_value(sz))
		return edge_errf(err, EDGE_EVERIFY, "%s: blob %s has %llu bytes, its descriptor says %lld", who, d,
				 (unsigned long long)b->size, (long long)json_integer_value(sz));
	repo_add_digest(repo, d);
	return 0;
}

/* Loads (once) the manifest or index digest and marks it and everything
 * below it reachable from repo. */
static struct man *walk(struct builder *bd, json_t *repo, const char *who, const char *digest, int depth,
			struct edge_err *err)
{
	json_t *ix = json_object_get(bd->man_ix, digest), *doc = NULL, *d;
	struct man *m;
	const char *mt;
	size_t i;

	if (!sha256_digest_valid(digest)) {
		edge_errf(err, EDGE_EINPUT, "%s: invalid manifest digest \"%s\"", who, digest);
		return NULL;
	}
	if (depth > MAX_DEPTH) {
		edge_errf(err, EDGE_EINPUT, "%s: indexes nested deeper than %d", who, MAX_DEPTH);
		return NULL;
	}
	if (ix != NULL) {
		m = &bd->cat->mans[json_integer_value(ix)];
	} else {
		char *data;
		size_t len = 0;
		if (read_manifest_bytes(bd, who, digest, &data, &len, err) != 0)
			return NULL;
		doc = json_loadb_bounded(data, len, JSON_REJECT_DUPLICATES, NULL);
		mt = doc ? manifest_media_type(doc) : "";
		if (!media_type_is_index(mt) && !media_type_is_manifest(mt)) {
			free(data);
			json_decref(doc);
			edge_errf(err, EDGE_EINPUT, "%s: manifest %s: unsupported media type \"%s\"", who, digest, mt);
			return NULL;
		}
		if (bd->cat->nmans == bd->man_cap) {
			bd->man_cap = bd->man_cap ? bd->man_cap * 2 : 64;
			bd->cat->mans = xrealloc(bd->cat->mans, bd->man_cap * sizeof(*bd->cat->mans));
		}
		m = &bd->cat->mans[bd->cat->nmans];
		snprintf(m->digest, sizeof(m->digest), "%s", digest);
		m->mt = xstrdup(mt);
		m->data = data;
		m->len = len;
		json_object_set_new(bd->man_ix, digest, json_integer((json_int_t)bd->cat->nmans));
		bd->cat->nmans++;
	}
	if (json_is_true(json_object_get(json_object_get(repo, "digests"), digest)))
		goto done; /* already walked for this repository */
	repo_add_digest(repo, digest);
	if (doc == NULL)
		doc = json_loadb_bounded(m->data, m->len, 0, NULL);
	mt = m->mt;
	if (media_type_is_index(mt)) {
		json_array_foreach(json_object_get(doc, "manifests"), i, d) {
			const char *cd = json_string_value(json_object_get(d, "digest"));
			size_t mi;
			if (cd == NULL) {
				edge_errf(err, EDGE_EINPUT, "%s: index %s: manifests[%zu] has no digest", who, digest, i);
				goto fail;
			}
			/* walk may grow the array: keep the index, not the pointer */
			mi = (size_t)(m - bd->cat->mans);
			if (walk(bd, repo, who, cd, depth + 1, err) == NULL)
				goto fail;
			m = &bd->cat->mans[mi];
		}
	} else {
		if (json_object_get(doc, "config") != NULL && need_blob(bd, repo, who, json_object_get(doc, "config"), err) != 0)
			goto fail;
		json_array_foreach(json_object_get(doc, "layers"), i, d)
			if (need_blob(bd, repo, who, d, err) != 0)
				goto fail;
	}
done:
	json_decref(doc);
	return m;
fail:
	json_decref(doc);
	return NULL;
}

/* The name edge-push would give ref under the prefix: the prefix rule of
 * push_target, under a placeholder registry "localhost" whose path is the
 * served repository. */
static int served_ref(const char *prefix, const char *ref, struct edge_ref *r, struct edge_err *err)
{
	struct push_opts po;
	char *reg, *t;
	int rc;

	memset(&po, 0, sizeof(po));
	reg = prefix && *prefix ? xasprintf("localhost/%s", prefix) : xstrdup("localhost");
	po.registry = reg;
	t = push_target(&po, ref, err);
	free(reg);
	if (t == NULL)
		return -1;
	rc = ref_parse(t, r, err);
	free(t);
	return rc;
}

/* One image or chart: its name, tag (or digest) and everything below. */
static int add_entry(struct builder *bd, const char *ref, const char *digest, int is_chart, struct edge_err *err)
{
	struct edge_ref r;
	json_t *repo;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	if (served_ref(bd->sv->o->prefix, ref, &r, err) != 0)
		goto out;
	repo = repo_get(bd, r.path);
	if (walk(bd, repo, ref, digest, 0, err) == NULL)
		goto out;
	if (r.tag != NULL) {
		json_t *tags = json_object_get(repo, "tags");
		const char *had = json_string_value(json_object_get(tags, r.tag));
		if (had != NULL && strcmp(had, digest) != 0)
			log_warn("%s:%s: served as %s (%s names another manifest, %s)", r.path, r.tag, had, ref, digest);
		else
			json_object_set_new(tags, r.tag, json_string(digest));
	} else if (r.digest != NULL && strcmp(r.digest, digest) != 0) {
		log_warn("%s: the stored index holds only the pulled platforms: it is served as %s@%s", ref, r.path, digest);
	}
	if (is_chart)
		bd->cat->ncharts++;
	else
		bd->cat->nimages++;
	rc = 0;
out:
	ref_free(&r);
	return rc;
}

/* Checks a bundle's signature and structure and lists its blobs; its
 * manifest (bundle.json without blobs) in *manifest. */
static int open_bundle(struct builder *bd, struct src *s, json_t **manifest, struct edge_err *err)
{
	const struct serve_opts *o = bd->sv->o;
	char *buf = NULL;
	size_t len = 0, i;
	json_t *m = NULL, *b;
	struct manifest_iter it;
	int rc = -1;

	if (o->pubkey != NULL) {
		struct sig_info info;
		char *sc = sig_find_sidecar(s->path);
		if (sc == NULL)
			return edge_errf(err, EDGE_EVERIFY, "%s: no signature (%s.minisig or %s.sig)", s->path, s->path, s->path);
		free(sc);
		if (sig_verify_file(s->path, o->pubkey, &info, err) != 0)
			return -1;
		log_verbose("%s: good %s signature%s%s", s->path, info.algorithm, info.key_id[0] ? " by key " : "",
			    info.key_id);
	} else {
		char *sc = sig_find_sidecar(s->path);
		if (sc != NULL)
			log_warn("%s: signature %s not checked: no public key (-p)", s->path, sc);
		free(sc);
	}
	if (bundle_reader_open(&s->br, s->path, err) != 0)
		return -1;
	s->have_br = 1;
	if (s->br.frames == NULL || s->br.nframes == 0)
		return edge_errf(err, EDGE_EINPUT, "%s: no seek table: not a bundle made by edge-pack", s->path);
	for (i = 0; i < s->br.nframes; i++)
		if (s->br.frames[i].dsize > SERVE_FRAME_MAX)
			return edge_errf(err, EDGE_EINPUT, "%s: frame %zu holds %llu bytes (at most %u)", s->path, i,
					 (unsigned long long)s->br.frames[i].dsize, SERVE_FRAME_MAX);
	s->fkind = xcalloc(s->br.nframes, sizeof(*s->fkind));
	s->fhdr = xcalloc(s->br.nframes, sizeof(*s->fhdr));
	if (bundle_read_entry(&s->br, "bundle.json", VERIFY_MAX_JSON_ENTRY, &buf, &len, err) != 0)
		return -1;
	if ((m = manifest_parse(buf, len, s->path, err)) == NULL)
		goto out;
	if (!json_is_array(json_object_get(m, "blobs"))) {
		edge_errf(err, EDGE_EINPUT, "%s: bundle.json has no blobs list", s->path);
		goto out;
	}
	json_array_foreach(json_object_get(m, "blobs"), i, b) {
		const char *d = json_string_value(json_object_get(b, "digest"));
		json_t *sz = json_object_get(b, "size");
		char name[100];
		uint64_t off, esz;
		if (d == NULL || !sha256_digest_valid(d) || !json_is_integer(sz) || json_integer_value(sz) < 0) {
			edge_errf(err, EDGE_EINPUT, "%s: bundle.json: blobs[%zu]: expected a sha256 digest and a size", s->path, i);
			goto out;
		}
		snprintf(name, sizeof(name), "blobs/sha256/%s", d + 7);
		if (bundle_entry(&s->br, name, &off, &esz, err) != 0) {
			edge_err_prefix(err, "bundle.json lists %s", d);
			goto out;
		}
		if (esz != (uint64_t)json_integer_value(sz)) {
			edge_errf(err, EDGE_EVERIFY, "%s: blob %s has %llu bytes, bundle.json says %lld", s->path, d,
				  (unsigned long long)esz, (long long)json_integer_value(sz));
			goto out;
		}
		add_blob(bd, d, esz, s, off);
	}
	if (json_object_get(m, "base") != NULL) {
		/* a delta: what it left out must come from another source */
		json_t *e;
		if (delta_base_check(json_object_get(m, "base"), s->path, err) != 0)
			goto out;
		json_array_foreach(json_object_get(json_object_get(m, "base"), "omitted"), i, e)
			json_object_set(bd->omitted, json_string_value(json_object_get(e, "digest")), e);
	}
	/* the entries are added once every source's blobs are known (a delta's
	 * base may come later on the command line) */
	json_object_del(m, "blobs");
	for (manifest_iter_init(&it, m); manifest_iter_next(&it);)
		if (manifest_entry_digest(it.entry) == NULL) {
			edge_errf(err, EDGE_EINPUT, "%s: %s[%zu]: %s has no digest", s->path, it.list, it.index,
				  manifest_entry_ref(it.entry) ? manifest_entry_ref(it.entry) : "?");
			goto out;
		}
	*manifest = m;
	m = NULL;
	rc = 0;
out:
	free(buf);
	json_decref(m);
	return rc;
}

static int cmp_blob(const void *a, const void *b)
{
	return strcmp(((const struct blob *)a)->digest, ((const struct blob *)b)->digest);
}

static int cmp_man(const void *a, const void *b)
{
	return strcmp(((const struct man *)a)->digest, ((const struct man *)b)->digest);
}

static int cmp_repo(const void *a, const void *b)
{
	return strcmp(((const struct repo *)a)->name, ((const struct repo *)b)->name);
}

static int cmp_tag(const void *a, const void *b)
{
	return strcmp(((const struct tag *)a)->name, ((const struct tag *)b)->name);
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct man *find_man(struct catalog *c, const char *digest)
{
	struct man key = {0};

	if (c->nmans == 0)
		return NULL;
	snprintf(key.digest, sizeof(key.digest), "%s", digest);
	return bsearch(&key, c->mans, c->nmans, sizeof(*c->mans), cmp_man);
}

static struct blob *find_blob(struct catalog *c, const char *digest)
{
	struct blob key = {0};

	if (c->nblobs == 0)
		return NULL;
	snprintf(key.digest, sizeof(key.digest), "%s", digest);
	return bsearch(&key, c->blobs, c->nblobs, sizeof(*c->blobs), cmp_blob);
}

static struct repo *find_repo(struct catalog *c, const char *name)
{
	struct repo key = {0};

	key.name = (char *)name;
	return bsearch(&key, c->repos, c->nrepos, sizeof(*c->repos), cmp_repo);
}

static int repo_has(const struct repo *r, const char *digest)
{
	return bsearch(&digest, r->digests, r->ndigests, sizeof(*r->digests), cmp_strp) != NULL;
}

/* The builder's maps into sorted arrays, for lock-free lookups. */
static void freeze(struct builder *bd)
{
	struct catalog *c = bd->cat;
	const char *name, *k;
	json_t *r, *v;
	size_t i = 0;

	if (c->nblobs > 0)
		qsort(c->blobs, c->nblobs, sizeof(*c->blobs), cmp_blob);
	if (c->nmans > 0)
		qsort(c->mans, c->nmans, sizeof(*c->mans), cmp_man);
	c->nrepos = json_object_size(bd->repos);
	c->repos = xcalloc(c->nrepos ? c->nrepos : 1, sizeof(*c->repos));
	json_object_foreach(bd->repos, name, r) {
		struct repo *rp = &c->repos[i++];
		size_t j = 0;
		rp->name = xstrdup(name);
		rp->ntags = json_object_size(json_object_get(r, "tags"));
		rp->tags = xcalloc(rp->ntags ? rp->ntags : 1, sizeof(*rp->tags));
		json_object_foreach(json_object_get(r, "tags"), k, v) {
			rp->tags[j].name = xstrdup(k);
			rp->tags[j].m = find_man(c, json_string_value(v));
			j++;
		}
		qsort(rp->tags, rp->ntags, sizeof(*rp->tags), cmp_tag);
		rp->ndigests = json_object_size(json_object_get(r, "digests"));
		rp->digests = xcalloc(rp->ndigests ? rp->ndigests : 1, sizeof(*rp->digests));
		j = 0;
		json_object_foreach(json_object_get(r, "digests"), k, v)
			rp->digests[j++] = xstrdup(k);
		qsort(rp->digests, rp->ndigests, sizeof(*rp->digests), cmp_strp);
	}
	qsort(c->repos, c->nrepos, sizeof(*c->repos), cmp_repo);
}

static void catalog_free(struct serve *sv, struct catalog *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->nsrcs; i++) {
		struct src *s = &c->srcs[i];
		if (s->have_br) {
			fc_drop_src(&sv->fc, s->id);
			bundle_reader_close(&s->br);
		}
		if (s->have_st)
			store_close(&s->st);
		free(s->fkind);
		free(s->fhdr);
		free(s->path);
	}
	free(c->srcs);
	free(c->blobs);
	for (i = 0; i < c->nmans; i++) {
		free(c->mans[i].mt);
		free(c->mans[i].data);
	}
	free(c->mans);
	for (i = 0; i < c->nrepos; i++) {
		for (j = 0; j < c->repos[i].ntags; j++)
			free(c->repos[i].tags[j].name);
		for (j = 0; j < c->repos[i].ndigests; j++)
			free(c->repos[i].digests[j]);
		free(c->repos[i].tags);
		free(c->repos[i].digests);
		free(c->repos[i].name);
	}
	free(c->repos);
	serve_htpasswd_free(c->auth);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

static void catalog_unref(struct serve *sv, struct catalog *c)
{
	if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1)
		catalog_free(sv, c);
}

static struct catalog *catalog_ref(struct serve *sv)
{
	struct catalog *c;

	pthread_mutex_lock(&sv->cat_mu);
	c = sv->cat;
	atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&sv->cat_mu);
	return c;
}

/* --verify full: every blob hashed, on o->threads threads. */
struct hash_job {
	struct serve *sv;
	struct catalog *cat;
	atomic_size_t next;
	atomic_int failed;
	pthread_mutex_t mu;
	struct edge_err first;
};

static void *hash_worker(void *arg)
{
	struct hash_job *j = arg;
	size_t i;

	while ((i = atomic_fetch_add(&j->next, 1)) < j->cat->nblobs) {
		struct blob *b = &j->cat->blobs[i];
		struct edge_err e = {0};
		if (blob_hash(j->sv, b, &e) != 0) {
			b->state = BLOB_BAD;
			log_error("%s", e.msg);
			pthread_mutex_lock(&j->mu);
			if (atomic_fetch_add(&j->failed, 1) == 0)
				j->first = e;
			pthread_mutex_unlock(&j->mu);
		} else {
			b->state = BLOB_GOOD;
		}
	}
	return NULL;
}

static int verify_all(struct serve *sv, struct catalog *cat, struct edge_err *err)
{
	struct hash_job j;
	pthread_t th[64];
	size_t n = sv->o->threads > 0 ? (size_t)sv->o->threads : 1, i, started = 0;
	long long t0 = mono_ms();
	uint64_t bytes = 0;

	if (n > 64)
		n = 64;
	memset(&j, 0, sizeof(j));
	j.sv = sv;
	j.cat = cat;
	pthread_mutex_init(&j.mu, NULL);
	for (i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, hash_worker, &j) == 0)
			started++;
	if (started == 0)
		hash_worker(&j);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&j.mu);
	for (i = 0; i < cat->nblobs; i++)
		bytes += cat->blobs[i].size;
	if (j.failed > 1)
		return edge_errf(err, EDGE_EVERIFY, "%d of %zu blobs are corrupt", (int)j.failed, cat->nblobs);
	if (j.failed == 1) {
		*err = j.first;
		return -1;
	}
	log_verbose("%zu blobs (%.1f MiB) hashed in %.1f s", cat->nblobs, (double)bytes / (1 << 20),
		    (double)(mono_ms() - t0) / 1000);
	return 0;
}

/* Reads every source and builds a new catalog. */
static struct catalog *catalog_load(struct serve *sv, struct edge_err *err)
{
	const struct serve_opts *o = sv->o;
	struct builder bd;
	struct catalog *c = xcalloc(1, sizeof(*c));
	json_t **mans = xcalloc(o->nsources ? o->nsources : 1, sizeof(*mans));
	size_t i, k;
	json_t *e;
	struct manifest_iter it;

	atomic_init(&c->refs, 1);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	memset(&bd, 0, sizeof(bd));
	bd.sv = sv;
	bd.cat = c;
	bd.blob_ix = json_object();
	bd.man_ix = json_object();
	bd.repos = json_object();
	bd.omitted = json_object();
	if (o->htpasswd != NULL && serve_htpasswd_load(o->htpasswd, &c->auth, err) != 0)
		goto fail;
	c->srcs = xcalloc(o->nsources ? o->nsources : 1, sizeof(*c->srcs));
	c->nsrcs = o->nsources;
	for (i = 0; i < o->nsources; i++) {
		struct src *s = &c->srcs[i];
		s->path = xstrdup(o->sources[i].path);
		s->is_store = o->sources[i].is_store;
		s->id = atomic_fetch_add(&sv->next_src_id, 1);
		if (s->is_store) {
			if (store_open(&s->st, s->path, 0, 0, err) != 0)
				goto fail;
			s->have_st = 1;
		} else if (open_bundle(&bd, s, &mans[i], err) != 0) {
			goto fail;
		}
	}
	for (i = 0; i < o->nsources; i++) {
		struct src *s = &c->srcs[i];
		if (s->is_store) {
			json_array_foreach(json_object_get(s->st.index, "manifests"), k, e) {
				const char *ref = json_string_value(json_object_get(json_object_get(e, "annotations"),
										      ANNOT_REF_NAME));
				const char *d = json_string_value(json_object_get(e, "digest"));
				if (ref == NULL || d == NULL)
					continue;
				if (add_entry(&bd, ref, d, 0, err) != 0) {
					edge_err_prefix(err, "store %s", s->path);
					goto fail;
				}
			}
			continue;
		}
		for (manifest_iter_init(&it, mans[i]); manifest_iter_next(&it);)
			if (add_entry(&bd, manifest_entry_ref(it.entry), manifest_entry_digest(it.entry),
				      it.kind == MANIFEST_CHART, err) != 0) {
				edge_err_prefix(err, "%s", s->path);
				goto fail;
			}
	}
	freeze(&bd);
	if (o->verify_full && verify_all(sv, c, err) != 0)
		goto fail;
	goto out;
fail:
	catalog_free(sv, c);
	c = NULL;
out:
	for (i = 0; i < o->nsources; i++)
		json_decref(mans[i]);
	free(mans);
	json_decref(bd.blob_ix);
	json_decref(bd.man_ix);
	json_decref(bd.repos);
	json_decref(bd.omitted);
	return c;
}

/* --- HTTP ------------------------------------------------------------------------- */

struct req {
	long long t0;
	int status;
	uint64_t bytes;
	int answered;
	char method[8];
	char url[LOG_URL_MAX + 1];
	struct catalog *cat;
};

/* What a blob response reads from. */
struct bresp {
	struct serve *sv;
	struct catalog *cat; /* referenced */
	struct blob *b;
	uint64_t first;      /* the range's first byte */
	struct req *rq;
};

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req *rq = xcalloc(1, sizeof(*rq));
	size_t i;

	(void)cls;
	(void)c;
	rq->t0 = mono_ms();
	/* the URL goes into log lines: printable bytes only */
	for (i = 0; i < LOG_URL_MAX && uri[i]; i++)
		rq->url[i] = (uri[i] > 0x20 && uri[i] < 0x7f) ? uri[i] : '?';
	rq->url[i] = '\0';
	return rq;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct serve *sv = cls;
	struct req *rq = *con_cls;

	(void)c;
	if (rq == NULL)
		return;
	if (edge_log_verbosity() >= 1 && rq->answered)
		log_verbose("%s %s %d %" PRIu64 " %lldms%s", rq->method, rq->url, rq->status, rq->bytes, mono_ms() - rq->t0,
			    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (cut short)");
	catalog_unref(sv, rq->cat);
	free(rq);
	*con_cls = NULL;
}

static void common_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Docker-Distribution-API-Version", "registry/2.0");
}

static enum MHD_Result queue(struct MHD_Connection *c, struct req *rq, int status, struct MHD_Response *r)
{
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	common_headers(r);
	rq->status = status;
	ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static struct MHD_Response *json_response(json_t *j, size_t *len)
{
	char *text = json_dumps(j, JSON_COMPACT);
	struct MHD_Response *r;
	size_t l = text ? strlen(text) : 0;

	json_decref(j);
	if (text == NULL)
		return NULL;
	r = MHD_create_response_from_buffer(l, text, MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
		free(text);
	else
		MHD_add_response_header(r, "Content-Type", "application/json");
	if (len)
		*len = l;
	return r;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, struct req *rq, int status, json_t *j)
{
	size_t len = 0;
	struct MHD_Response *r = json_response(j, &len);

	if (strcmp(rq->method, "HEAD") != 0)
		rq->bytes = len;
	return queue(c, rq, status, r);
}

/* An OCI error body: {"errors":[{"code","message","detail"}]}. */
static json_t *oci_error(const char *code, const char *message, const char *detail)
{
	json_t *j = json_pack("{s:[{s:s, s:s, s:s?}]}", "errors", "code", code, "message", message, "detail", detail);

	/* a detail from the URL that is not UTF-8 is left out */
	return j ? j : json_pack("{s:[{s:s, s:s}]}", "errors", "code", code, "message", message);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, struct req *rq, int status, const char *code,
				   const char *message, const char *detail)
{
	return reply_json(c, rq, status, oci_error(code, message, detail));
}

static enum MHD_Result reply_unauthorized(struct MHD_Connection *c, struct req *rq)
{
	size_t len = 0;
	struct MHD_Response *r = json_response(oci_error("UNAUTHORIZED", "authentication required", NULL), &len);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	common_headers(r);
	rq->status = 401;
	rq->bytes = strcmp(rq->method, "HEAD") != 0 ? len : 0;
	ret = MHD_queue_basic_auth_fail_response(c, "edge-serve", r);
	MHD_destroy_response(r);
	return ret;
}

static int authorized(struct MHD_Connection *c, struct catalog *cat)
{
	char *user, *pass = NULL;
	int ok;

	if (cat->auth == NULL)
		return 1;
	user = MHD_basic_auth_get_username_password(c, &pass);
	ok = user != NULL && pass != NULL && serve_htpasswd_check(cat->auth, user, pass);
	if (pass != NULL) {
		sodium_memzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user != NULL)
		MHD_free(user);
	return ok;
}

/* n= and last= of a list; -1 when n is not a number */
static int page_args(struct MHD_Connection *c, long *n, const char **last)
{
	const char *ns = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "n");
	uint64_t v;

	*n = -1;
	*last = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "last");
	if (ns != NULL) {
		if (parse_u64(ns, strlen(ns), &v) != 0 || v > TAGS_N_MAX)
			return -1;
		*n = (long)v;
	}
	return 0;
}

/* Answers a page of names (sorted) as {key: [...]} (+ name), with a Link
 * to the next page when the list was cut. */
static enum MHD_Result reply_page(struct MHD_Connection *c, struct req *rq, const char *path, const char *key,
				  const char *name, char *const *names, size_t count, size_t stride)
{
	long n;
	const char *last;
	size_t i = 0, taken = 0;
	json_t *list = json_array(), *body;
	struct MHD_Response *r;
	size_t len = 0;
	char *link = NULL;

	if (page_args(c, &n, &last) != 0) {
		json_decref(list);
		return reply_error(c, rq, 400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested", NULL);
	}
#define NAME_AT(k) (*(char *const *)((const char *)names + (k) * stride))
	if (last != NULL)
		while (i < count && strcmp(NAME_AT(i), last) <= 0)
			i++;
	for (; i < count && (n < 0 || (long)taken < n); i++, taken++)
		json_array_append_new(list, json_string(NAME_AT(i)));
	if (i < count && taken > 0) {
		char *esc = NULL;
		const char *lastname = NAME_AT(i - 1);
		size_t k, m = 0;
		esc = xmalloc(strlen(lastname) * 3 + 1);
		for (k = 0; lastname[k]; k++) {
			unsigned char ch = (unsigned char)lastname[k];
			if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~')
				esc[m++] = (char)ch;
			else
				m += (size_t)sprintf(esc + m, "%%%02X", ch);
		}
		esc[m] = '\0';
		link = xasprintf("<%s?n=%ld&last=%s>; rel=\"next\"", path, n, esc);
		free(esc);
	}
#undef NAME_AT
	body = name ? json_pack("{s:s, s:o}", "name", name, key, list) : json_pack("{s:o}", key, list);
	r = json_response(body, &len);
	if (r != NULL && link != NULL)
		MHD_add_response_header(r, "Link", link);
	free(link);
	if (strcmp(rq->method, "HEAD") != 0)
		rq->bytes = len;
	return queue(c, rq, 200, r);
}

static ssize_t blob_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct bresp *br = cls;
	struct edge_err e = {0};
	uint64_t at = br->first + pos;

	if (at >= br->b->size)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (max > br->b->size - at)
		max = (size_t)(br->b->size - at);
	if (max > READ_CHUNK)
		max = READ_CHUNK;
	if (blob_pread(br->sv, br->b, -1, at, buf, max, &e) != 0) {
		log_error("%s", e.msg);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	br->rq->bytes += max;
	return (ssize_t)max;
}

static void blob_reader_free(void *cls)
{
	struct bresp *br = cls;

	catalog_unref(br->sv, br->cat);
	free(br);
}

static enum MHD_Result serve_blob(struct serve *sv, struct MHD_Connection *c, struct req *rq, struct repo *rp,
				  const char *digest)
{
	struct catalog *cat = rq->cat;
	struct man *m;
	struct blob *b;
	struct MHD_Response *r = NULL;
	uint64_t first = 0, last = 0, len;
	int head = strcmp(rq->method, "HEAD") == 0, rng = 0, status = 200;
	char crange[80];

	if (!ref_valid_digest(digest))
		return reply_error(c, rq, 400, "DIGEST_INVALID", "provided digest did not match uploaded content", digest);
	if (!repo_has(rp, digest))
		return reply_error(c, rq, 404, "BLOB_UNKNOWN", "blob unknown to registry", digest);
	b = find_blob(cat, digest);
	m = b == NULL ? find_man(cat, digest) : NULL;
	if (b == NULL && m == NULL)
		return reply_error(c, rq, 404, "BLOB_UNKNOWN", "blob unknown to registry", digest);
	/* b or m is set here (both NULL returned above) */
	len = b != NULL ? b->size : m->len; // cppcheck-suppress nullPointerRedundantCheck
	rng = serve_parse_range(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range"), len, &first, &last);
	if (rng < 0) {
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		snprintf(crange, sizeof(crange), "bytes */%" PRIu64, len);
		if (r != NULL)
			MHD_add_response_header(r, "Content-Range", crange);
		return queue(c, rq, 416, r);
	}
	if (rng == 0) {
		first = 0;
		last = len ? len - 1 : 0;
	} else {
		status = 206;
	}
	if (b != NULL) {
		int st;
		pthread_mutex_lock(&cat->mu);
		st = b->state;
		pthread_mutex_unlock(&cat->mu);
		if (st == BLOB_BAD || (!head && blob_ensure(sv, cat, b) != 0))
			return reply_error(c, rq, 500, "BLOB_UNKNOWN", "blob is corrupt in the bundle: refused", digest);
	}
	if (len == 0) {
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	} else if (m != NULL) {
		r = MHD_create_response_from_buffer((size_t)(last - first + 1), m->data + first, MHD_RESPMEM_PERSISTENT);
	} else if (b->src->is_store) {
		/* sendfile from the store's file (HEAD too: its length) */
		struct edge_err e = {0};
		int fd = blob_open_fd(b, &e);
		if (fd < 0) {
			log_error("%s", e.msg);
			return reply_error(c, rq, 500, "BLOB_UNKNOWN", "blob cannot be read", digest);
		}
		r = MHD_create_response_from_fd_at_offset64(last - first + 1, fd, first);
		if (r == NULL)
			close(fd);
	} else {
		struct bresp *br = xcalloc(1, sizeof(*br));
		br->sv = sv;
		br->cat = cat;
		atomic_fetch_add(&cat->refs, 1);
		br->b = b;
		br->first = first;
		br->rq = rq;
		r = MHD_create_response_from_callback(last - first + 1, READ_CHUNK, blob_reader, br, blob_reader_free);
		if (r == NULL)
			blob_reader_free(br);
	}
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/octet-stream");
	MHD_add_response_header(r, "Docker-Content-Digest", digest);
	MHD_add_response_header(r, "Accept-Ranges", "bytes");
	snprintf(crange, sizeof(crange), "\"%s\"", digest);
	MHD_add_response_header(r, "ETag", crange);
	if (status == 206) {
		snprintf(crange, sizeof(crange), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last, len);
		MHD_add_response_header(r, "Content-Range", crange);
	}
	if (m != NULL && !head)
		rq->bytes = len ? last - first + 1 : 0;
	return queue(c, rq, status, r);
}

/* Every Accept header of the request, joined. */
struct accept_acc {
	char buf[2048];
	size_t len;
	int seen;
};

static enum MHD_Result accept_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct accept_acc *a = cls;
	size_t l;

	(void)kind;
	if (strcasecmp(key, "Accept") != 0 || value == NULL)
		return MHD_YES;
	a->seen = 1;
	l = strlen(value);
	if (a->len + l + 2 < sizeof(a->buf)) {
		if (a->len)
			a->buf[a->len++] = ',';
		memcpy(a->buf + a->len, value, l + 1);
		a->len += l;
	} else {
		/* too many to keep: accept anything rather than refuse wrongly */
		snprintf(a->buf, sizeof(a->buf), "*/*");
		a->len = 3;
	}
	return MHD_YES;
}

static enum MHD_Result serve_manifest(struct MHD_Connection *c, struct req *rq, struct repo *rp, const char *ref)
{
	struct man *m = NULL;
	struct MHD_Response *r;
	struct accept_acc acc;
	char etag[80];

	if (strchr(ref, ':') != NULL) {
		if (repo_has(rp, ref))
			m = find_man(rq->cat, ref);
	} else {
		struct tag key = {0}, *t;
		key.name = (char *)ref;
		t = bsearch(&key, rp->tags, rp->ntags, sizeof(*rp->tags), cmp_tag);
		m = t ? t->m : NULL;
		if (m != NULL) {
			/* by tag, the client must take the stored type (a digest
			 * names exact bytes: those are served whatever it asks) */
			memset(&acc, 0, sizeof(acc));
			MHD_get_connection_values(c, MHD_HEADER_KIND, accept_iter, &acc);
			if (acc.seen && !serve_accepts(acc.buf, m->mt)) {
				char *msg = xasprintf("manifest is %s, which the request does not accept", m->mt);
				enum MHD_Result ret = reply_error(c, rq, 404, "MANIFEST_UNKNOWN", msg, ref);
				free(msg);
				return ret;
			}
		}
	}
	if (m == NULL)
		return reply_error(c, rq, 404, "MANIFEST_UNKNOWN", "manifest unknown", ref);
	r = MHD_create_response_from_buffer(m->len, m->data, MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", m->mt);
	MHD_add_response_header(r, "Docker-Content-Digest", m->digest);
	snprintf(etag, sizeof(etag), "\"%s\"", m->digest);
	MHD_add_response_header(r, "ETag", etag);
	if (strcmp(rq->method, "HEAD") != 0)
		rq->bytes = m->len;
	return queue(c, rq, 200, r);
}

/* Splits /v2/NAME/KIND/REST at the last "/KIND/": NAME in *name (malloc'd). */
static const char *split_at(const char *path, const char *kind, char **name)
{
	const char *p = NULL, *q = path;
	size_t kl = strlen(kind);

	while ((q = strstr(q, kind)) != NULL) {
		p = q;
		q++;
	}
	if (p == NULL || p == path)
		return NULL;
	*name = strndup(path, (size_t)(p - path));
	return p + kl;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct serve *sv = cls;
	struct req *rq = *con_cls;
	const char *p, *rest;
	char *name = NULL;
	struct repo *rp;
	enum MHD_Result ret;

	(void)version;
	(void)upload_data;
	if (rq == NULL)
		return MHD_NO;
	if (rq->answered) {
		*upload_data_size = 0; /* a body we do not read */
		return MHD_YES;
	}
	rq->answered = 1;
	snprintf(rq->method, sizeof(rq->method), "%s", method);
	rq->cat = catalog_ref(sv);
	if (!authorized(c, rq->cat))
		return reply_unauthorized(c, rq);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		struct MHD_Response *r =
			json_response(oci_error("UNSUPPORTED", "this registry is read-only", method), &rq->bytes);
		if (r != NULL)
			MHD_add_response_header(r, "Allow", "GET, HEAD");
		return queue(c, rq, 405, r);
	}
	if (strncmp(url, "/v2", 3) != 0 || (url[3] != '/' && url[3] != '\0'))
		return reply_error(c, rq, 404, "NAME_UNKNOWN", "not a registry API path", NULL);
	p = url[3] ? url + 4 : url + 3;
	if (*p == '\0')
		return reply_json(c, rq, 200, json_object());
	if (strcmp(p, "_catalog") == 0)
		return reply_page(c, rq, "/v2/_catalog", "repositories", NULL, &rq->cat->repos[0].name, rq->cat->nrepos,
				  sizeof(struct repo));
	if ((rest = split_at(p, "/tags/", &name)) != NULL && strcmp(rest, "list") == 0) {
		if ((rp = find_repo(rq->cat, name)) == NULL) {
			ret = reply_error(c, rq, 404, "NAME_UNKNOWN", "repository name not known to registry", name);
		} else {
			char *path = xasprintf("/v2/%s/tags/list", name);
			ret = reply_page(c, rq, path, "tags", name, &rp->tags[0].name, rp->ntags, sizeof(struct tag));
			free(path);
		}
		free(name);
		return ret;
	}
	free(name);
	name = NULL;
	if ((rest = split_at(p, "/manifests/", &name)) != NULL && *rest != '\0') {
		if ((rp = find_repo(rq->cat, name)) == NULL)
			ret = reply_error(c, rq, 404, "NAME_UNKNOWN", "repository name not known to registry", name);
		else
			ret = serve_manifest(c, rq, rp, rest);
		free(name);
		return ret;
	}
	free(name);
	name = NULL;
	if ((rest = split_at(p, "/blobs/", &name)) != NULL && *rest != '\0') {
		if ((rp = find_repo(rq->cat, name)) == NULL)
			ret = reply_error(c, rq, 404, "NAME_UNKNOWN", "repository name not known to registry", name);
		else if (strncmp(rest, "uploads", 7) == 0 && (rest[7] == '/' || rest[7] == '\0'))
			ret = reply_error(c, rq, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", NULL);
		else
			ret = serve_blob(sv, c, rq, rp, rest);
		free(name);
		return ret;
	}
	free(name);
	return reply_error(c, rq, 404, "NAME_UNKNOWN", "not a registry API path", NULL);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t l;

	(void)cls;
	if (edge_log_verbosity() < 2)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	l = strlen(line);
	while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r'))
		line[--l] = '\0';
	log_debug("http: %s", line);
}

/* --- start, reload, stop ---------------------------------------------------------- */

/* Opens the listening socket for ADDR:PORT, [V6]:PORT or :PORT. */
static int listen_on(const char *spec, unsigned *port, int *family, struct edge_err *err)
{
	char host[256], *colon;
	const char *h, *ps;
	struct addrinfo hints, *ai = NULL;
	int fd = -1, one = 1, gai;
	struct sockaddr_storage ss = {0};
	socklen_t sl = sizeof(ss);
	uint64_t pv;

	if (strlen(spec) >= sizeof(host))
		return edge_errf(err, EDGE_EUSAGE, "--listen: expected ADDR:PORT, got '%s'", spec);
	snprintf(host, sizeof(host), "%s", spec);
	if (host[0] == '[') {
		char *close_b = strchr(host, ']');
		if (close_b == NULL || close_b[1] != ':')
			return edge_errf(err, EDGE_EUSAGE, "--listen: expected [ADDR]:PORT, got '%s'", spec);
		*close_b = '\0';
		h = host + 1;
		ps = close_b + 2;
	} else {
		if ((colon = strrchr(host, ':')) == NULL)
			return edge_errf(err, EDGE_EUSAGE, "--listen: expected ADDR:PORT, got '%s'", spec);
		*colon = '\0';
		h = host[0] ? host : "0.0.0.0";
		ps = colon + 1;
	}
	if (parse_u64(ps, strlen(ps), &pv) != 0 || pv > 65535)
		return edge_errf(err, EDGE_EUSAGE, "--listen: bad port in '%s'", spec);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((gai = getaddrinfo(h, ps, &hints, &ai)) != 0)
		return edge_errf(err, EDGE_EUSAGE, "--listen %s: %s", spec, gai_strerror(gai));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		edge_err_errno(err, "listen %s", spec);
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 512) != 0) {
		edge_err_errno(err, "listen %s", spec);
		goto fail;
	}
	*family = ai->ai_family;
	freeaddrinfo(ai);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		close(fd);
		return edge_err_errno(err, "listen %s", spec);
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 s6;
		memcpy(&s6, &ss, sizeof(s6));
		*port = ntohs(s6.sin6_port);
	} else {
		struct sockaddr_in s4;
		memcpy(&s4, &ss, sizeof(s4));
		*port = ntohs(s4.sin_port);
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return -1;
}

int serve_start(const struct serve_opts *o, struct serve **out, unsigned *port, struct edge_err *err)
{
	struct serve *sv = xcalloc(1, sizeof(*sv));
	struct MHD_OptionItem opts[16];
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	int n = 0, family = AF_INET;
	sigset_t block, old;

	*out = NULL;
	sv->o = o;
	sv->listen_fd = -1;
	atomic_init(&sv->next_src_id, 1);
	pthread_mutex_init(&sv->cat_mu, NULL);
	pthread_mutex_init(&sv->fc.mu, NULL);
	pthread_cond_init(&sv->fc.cv, NULL);
	sv->fc.cap = o->cache_size;
	if (sodium_init() < 0) {
		edge_errf(err, EDGE_EIO, "libsodium: cannot initialise");
		goto fail;
	}
	if (o->tls_cert != NULL) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			edge_errf(err, EDGE_EUSAGE, "--tls-cert: this libmicrohttpd has no TLS support");
			goto fail;
		}
		if (read_file_max(o->tls_cert, SERVE_TLS_FILE_MAX, &sv->cert, &sv->certlen, err) != 0 ||
		    read_file_max(o->tls_key, SERVE_TLS_FILE_MAX, &sv->key, &sv->keylen, err) != 0)
			goto fail;
	}
	if ((sv->cat = catalog_load(sv, err)) == NULL)
		goto fail;
	if ((sv->listen_fd = listen_on(o->listen ? o->listen : SERVE_DEFAULT_LISTEN, port, &family, err)) < 0)
		goto fail;
	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL))
		flags |= MHD_USE_EPOLL;
	else
		flags |= MHD_USE_POLL;
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (sv->cert != NULL)
		flags |= MHD_USE_TLS;
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, sv->listen_fd, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, o->threads > 0 ? o->threads : 1, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, SERVE_TIMEOUT_S, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, 1000, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_done, sv};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL};
	if (sv->cert != NULL) {
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, sv->cert};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, sv->key};
	}
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	/* the server's threads leave the signals to the main thread */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	sv->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, sv, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (sv->d == NULL) {
		edge_errf(err, sv->cert ? EDGE_EINPUT : EDGE_EIO, "%s: cannot start the HTTP server%s", o->listen ? o->listen : SERVE_DEFAULT_LISTEN,
			  sv->cert ? " (is the TLS certificate or key unusable, or do they not match?)" : "");
		goto fail;
	}
	*out = sv;
	return 0;
fail:
	serve_stop(sv);
	return -1;
}

int serve_reload(struct serve *sv, struct edge_err *err)
{
	struct catalog *c = catalog_load(sv, err), *old;

	if (c == NULL)
		return -1;
	pthread_mutex_lock(&sv->cat_mu);
	old = sv->cat;
	sv->cat = c;
	pthread_mutex_unlock(&sv->cat_mu);
	catalog_unref(sv, old);
	return 0;
}

void serve_stop(struct serve *sv)
{
	size_t i;

	if (sv == NULL)
		return;
	if (sv->d != NULL)
		MHD_stop_daemon(sv->d);
	if (sv->listen_fd >= 0)
		close(sv->listen_fd);
	catalog_unref(sv, sv->cat);
	for (i = 0; i < FC_BUCKETS; i++)
		while (sv->fc.b[i] != NULL) {
			struct fent *e = sv->fc.b[i];
			sv->fc.b[i] = e->next;
			free(e->data);
			free(e);
		}
	if (sv->key != NULL)
		sodium_memzero(sv->key, sv->keylen);
	free(sv->key);
	free(sv->cert);
	pthread_mutex_destroy(&sv->cat_mu);
	pthread_mutex_destroy(&sv->fc.mu);
	pthread_cond_destroy(&sv->fc.cv);
	free(sv);
}

void serve_counts(struct serve *sv, size_t *images, size_t *charts, size_t *repos, size_t *blobs)
{
	struct catalog *c = catalog_ref(sv);

	*images = c->nimages;
	*charts = c->ncharts;
	*repos = c->nrepos;
	*blobs = c->nblobs;
	catalog_unref(sv, c);
}
