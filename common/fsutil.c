#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define CLEANUP_SLOTS 256

static char *volatile g_cleanup[CLEANUP_SLOTS];
static pthread_mutex_t g_cleanup_lock = PTHREAD_MUTEX_INITIALIZER;

/* Creating, renaming or unregistering a temp file races with cleanup_run on
 * another thread: a worker that created a bundle part just after the signal
 * handler's sweep left the part behind when the process died (seen under
 * load: SIGTERM 50 ms into edge-pack --split). So those steps are critical
 * sections: cleanup_run first sets g_dying, then waits until no thread is
 * inside one (g_busy), then sweeps; a section that begins after g_dying is
 * set fails with EINTR and creates or renames nothing. A section blocks the
 * signals whose handlers sweep, in its own thread: a handler never runs
 * inside one, so it never waits for the thread it interrupted. t_busy tells
 * cleanup_unregister that its thread is already inside one (cleanup_hold). */
static int g_dying;
static int g_busy;
static _Thread_local int t_busy;

static int crit_enter(sigset_t *old)
{
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &block, old);
	__atomic_add_fetch(&g_busy, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&g_dying, __ATOMIC_SEQ_CST)) {
		__atomic_sub_fetch(&g_busy, 1, __ATOMIC_SEQ_CST);
		pthread_sigmask(SIG_SETMASK, old, NULL);
		errno = EINTR;
		return -1;
	}
	t_busy++;
	return 0;
}

static void crit_leave(const sigset_t *old)
{
	t_busy--;
	__atomic_sub_fetch(&g_busy, 1, __ATOMIC_SEQ_CST);
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		edge_oom();
	return p;
}

#define HUGE_PAGE (2u << 20)

/* n itself below a huge page, else rounded up to whole huge pages. */
static size_t stream_size(size_t n)
{
	return n < HUGE_PAGE ? n : (n + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
}

void *xmalloc_stream(size_t n)
{
	void *p;
	size_t len = stream_size(n);

	if (len < HUGE_PAGE)
		return xmalloc(n);
	if (posix_memalign(&p, HUGE_PAGE, len) != 0)
		edge_oom();
	/* only advice: without THP (or with it off) the pages are small ones */
	(void)madvise(p, len, MADV_HUGEPAGE);
	return p;
}

void *xregrow_stream(void *p, size_t *cap, size_t need)
{
	if (p != NULL && *cap >= need)
		return p;
	free(p);
	/* grown to a whole number of huge pages, so that the next frames
	 * a little larger fit */
	*cap = stream_size(need);
	return xmalloc_stream(*cap);
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		edge_oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		edge_oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (d == NULL)
		edge_oom();
	return d;
}

char *xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);

	if (d == NULL)
		edge_oom();
	return d;
}

void strbuf_add(struct strbuf *b, const char *s, size_t n)
{
	size_t cap;

	if (n > SIZE_MAX - b->len - 1)
		edge_oom(); /* b->len + n + 1 would wrap */
	if (b->p == NULL || b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void strbuf_adds(struct strbuf *b, const char *s)
{
	strbuf_add(b, s, strlen(s));
}

void strbuf_addc(struct strbuf *b, char c)
{
	strbuf_add(b, &c, 1);
}

char *strbuf_take(struct strbuf *b)
{
	char *s;

	if (b->p == NULL)
		strbuf_add(b, "", 0);
	s = b->p;
	b->p = NULL;
	b->len = b->cap = 0;
	return s;
}

void strbuf_free(struct strbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		edge_oom();
	return s;
}

char *path_join(const char *dir, const char *name)
{
	size_t dl = strlen(dir);

	if (dl == 0)
		return xstrdup(name);
	if (dir[dl - 1] == '/')
		return xasprintf("%s%s", dir, name);
	return xasprintf("%s/%s", dir, name);
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int cleanup_register(const char *path)
{
	int i, slot = -1;
	char *copy = xstrdup(path);

	pthread_mutex_lock(&g_cleanup_lock);
	for (i = 0; i < CLEANUP_SLOTS; i++) {
		if (g_cleanup[i] == NULL) {
			g_cleanup[i] = copy;
			slot = i;
			break;
		}
	}
	pthread_mutex_unlock(&g_cleanup_lock);
	if (slot < 0)
		free(copy);
	return slot;
}

void cleanup_unregister(int slot)
{
	char *p;
	sigset_t old;
	int own = t_busy == 0; /* not inside one of this thread's sections */

	if (slot < 0 || slot >= CLEANUP_SLOTS)
		return;
	/* dying: the handler may be reading the name; it stays (and leaks).
	 * Inside this thread's cleanup_hold the handler waits for us instead. */
	if (own && crit_enter(&old) != 0)
		return;
	pthread_mutex_lock(&g_cleanup_lock);
	p = g_cleanup[slot];
	g_cleanup[slot] = NULL;
	pthread_mutex_unlock(&g_cleanup_lock);
	if (own)
		crit_leave(&old);
	free(p);
}

static _Thread_local sigset_t t_held_mask;

int cleanup_hold(void)
{
	return crit_enter(&t_held_mask);
}

void cleanup_release(void)
{
	crit_leave(&t_held_mask);
}

void cleanup_run(void)
{
	int i;
	struct timespec ms = {0, 1000000};

	__atomic_store_n(&g_dying, 1, __ATOMIC_SEQ_CST);
	/* the other threads' sections take microseconds; bounded (2 s) all the
	 * same, so that a stuck file system cannot keep a signal from ending
	 * the process */
	for (i = 0; i < 2000 && __atomic_load_n(&g_busy, __ATOMIC_SEQ_CST) > 0; i++)
		nanosleep(&ms, NULL);
	for (i = 0; i < CLEANUP_SLOTS; i++) {
		char *p = g_cleanup[i];
		if (p != NULL)
			unlink(p);
	}
}

int cleanup_create(const char *prefix, char **path, int *slot)
{
	static unsigned long counter;
	int tries, fd, e = EEXIST;
	sigset_t old;

	for (tries = 0; tries < 100; tries++) {
		unsigned long long v;
		if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
			/* no entropy yet: O_EXCL still keeps the name unique */
			v = (unsigned long long)getpid() << 24 ^ (unsigned long long)time(NULL) ^
			    __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) * 0x9e3779b97f4a7c15ull;
		*path = xasprintf("%s%012llx", prefix, v & 0xffffffffffffull);
		if (crit_enter(&old) != 0) {
			e = EINTR;
			free(*path);
			*path = NULL;
			*slot = -1;
			break;
		}
		*slot = cleanup_register(*path);
		fd = open(*path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		crit_leave(&old);
		if (fd >= 0)
			return fd;
		e = errno;
		cleanup_unregister(*slot);
		*slot = -1;
		free(*path);
		*path = NULL;
		if (e != EEXIST)
			break;
	}
	errno = e;
	return -1;
}

static int fsync_dir_of(const char *path)
{
	char *copy = xstrdup(path);
	int fd, rc = 0;

	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
			rc = -1;
		close(fd);
	}
	free(copy);
	return rc;
}

int atomic_open(struct atomic_file *af, const char *path, mode_t mode, struct edge_err *err)
{
	char *copy, *dir, *base;

	af->fd = -1;
	af->slot = -1;
	af->path = xstrdup(path);
	copy = xstrdup(path);
	base = strrchr(copy, '/');
	if (base != NULL) {
		*base++ = '\0';
		dir = copy[0] ? copy : "/";
	} else {
		base = copy;
		dir = ".";
	}
	{
		char *prefix = xasprintf("%s/.%s.tmp-", dir, base);
		int e;
		af->fd = cleanup_create(prefix, &af->tmp_path, &af->slot);
		e = errno;
		free(prefix);
		errno = e;
	}
	free(copy);
	if (af->fd < 0) {
		edge_err_errno(err, "create %s", path);
		free(af->path);
		af->path = NULL;
		return -1;
	}
	if (fchmod(af->fd, mode) != 0) {
		edge_err_errno(err, "chmod %s", af->tmp_path);
		atomic_abort(af);
		return -1;
	}
	return 0;
}

static void atomic_free(struct atomic_file *af)
{
	cleanup_unregister(af->slot);
	af->slot = -1;
	free(af->tmp_path);
	free(af->path);
	af->tmp_path = af->path = NULL;
}

int atomic_commit(struct atomic_file *af, struct edge_err *err)
{
	int rc = -1;
	sigset_t old;

	if (af->fd < 0 || af->tmp_path == NULL)
		return edge_errf(err, EDGE_EIO, "commit: file not open");
	if (fsync(af->fd) != 0) {
		edge_err_errno(err, "write %s", af->path);
		goto fail;
	}
	if (close(af->fd) != 0) {
		af->fd = -1;
		edge_err_errno(err, "write %s", af->path);
		goto fail;
	}
	af->fd = -1;
	/* a signal's sweep has begun or begins after this: the temp file is
	 * either renamed before it or removed by it, never both missed */
	if (crit_enter(&old) != 0) {
		edge_err_errno(err, "rename to %s", af->path);
		goto fail;
	}
	if (rename(af->tmp_path, af->path) != 0) {
		edge_err_errno(err, "rename to %s", af->path);
		crit_leave(&old);
		goto fail;
	}
	crit_leave(&old);
	fsync_dir_of(af->path);
	rc = 0;
	atomic_free(af);
	return rc;
fail:
	atomic_abort(af);
	return rc;
}

void atomic_abort(struct atomic_file *af)
{
	if (af->fd >= 0) {
		close(af->fd);
		af->fd = -1;
	}
	if (af->tmp_path != NULL)
		unlink(af->tmp_path);
	atomic_free(af);
}

int atomic_write_file(const char *path, const void *data, size_t len, mode_t mode,
		      struct edge_err *err)
{
	struct atomic_file af;

	if (atomic_open(&af, path, mode, err) != 0)
		return -1;
	if (write_all(af.fd, data, len) != 0) {
		edge_err_errno(err, "write %s", path);
		atomic_abort(&af);
		return -1;
	}
	return atomic_commit(&af, err);
}

/* The error for a file of the wrong kind (st says what it is). */
static int not_regular(const char *path, const struct stat *st, struct edge_err *err)
{
	if (S_ISDIR(st->st_mode))
		return edge_errf(err, EDGE_EINPUT, "%s: is a directory", path);
	return edge_errf(err, EDGE_EINPUT, "%s: not a regular file", path);
}

int open_input(const char *path, struct stat *st, struct edge_err *err)
{
	struct stat pre, post;
	int fd, flags, saved;

	/* a device is not even opened (opening some has effects); what stat
	 * cannot see (it fails, or the file changes next) the open will */
	if (stat(path, &pre) == 0 && !S_ISREG(pre.st_mode))
		return not_regular(path, &pre, err);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		goto fail_errno;
	if (fstat(fd, &post) != 0)
		goto fail_errno;
	if (!S_ISREG(post.st_mode)) {
		close(fd);
		return not_regular(path, &post, err);
	}
	if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
		goto fail_errno;
	if (st != NULL)
		*st = post;
	return fd;
fail_errno:
	saved = errno;
	if (fd >= 0)
		close(fd);
	errno = saved;
	edge_err_errno(err, "open %s", path);
	errno = saved;
	return -1;
}

int read_file_max(const char *path, size_t max, char **data, size_t *len, struct edge_err *err)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0, cap;
	int fd;

	*data = NULL;
	*len = 0;
	if ((fd = open_input(path, &st, err)) < 0)
		return -1;
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return edge_errf(err, EDGE_EINPUT, "read %s: file too large (over %zu bytes)", path, max);
	}
	cap = (size_t)st.st_size + 1;
	buf = xmalloc(cap);
	for (;;) {
		ssize_t r;
		if (n + 1 >= cap) {
			/* the file grew since fstat */
			if (cap > max + 1) {
				free(buf);
				close(fd);
				return edge_errf(err, EDGE_EINPUT, "read %s: file too large (over %zu bytes)", path, max);
			}
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			edge_err_errno(err, "read %s", path);
			free(buf);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > max) {
		free(buf);
		return edge_errf(err, EDGE_EINPUT, "read %s: file too large (over %zu bytes)", path, max);
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

int read_fd_max(int fd, const char *name, size_t max, char **data, size_t *len, struct edge_err *err)
{
	size_t cap = 65536, n = 0;
	char *buf = xmalloc(cap + 1);

	for (;;) {
		ssize_t r;
		if (n == cap) {
			if (cap > max) {
				free(buf);
				return edge_errf(err, EDGE_EINPUT, "%s: larger than %zu bytes", name, max);
			}
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return edge_err_errno(err, "read %s", name);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		free(buf);
		return edge_errf(err, EDGE_EINPUT, "%s: larger than %zu bytes", name, max);
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

int mkdir_p(const char *path, mode_t mode, struct edge_err *err)
{
	char *copy = xstrdup(path), *p;
	int rc = 0;

	for (p = copy + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(copy, mode) != 0 && errno != EEXIST) {
				rc = edge_err_errno(err, "create directory %s", copy);
				break;
			}
			*p = saved;
			if (saved == '\0')
				break;
		}
	}
	if (rc == 0) {
		struct stat st;
		if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			rc = edge_errf(err, EDGE_EIO, "create directory %s: not a directory", path);
	}
	free(copy);
	return rc;
}

int path_safe_relative(const char *p, int canonical)
{
	const char *s = p;

	if (p[0] == '\0' || p[0] == '/')
		return 0;
	while (*s) {
		size_t l = strcspn(s, "/");
		if (l == 2 && s[0] == '.' && s[1] == '.')
			return 0;
		if (canonical && (l == 0 || (l == 1 && s[0] == '.')))
			return 0;
		s += l;
		if (*s == '/')
			s++;
	}
	return 1;
}
