/*
 * Files written atomically (SPEC §2): a temp file in the target's directory,
 * fsync, rename, fsync of the directory. Temp files are registered so that a
 * SIGINT/SIGTERM removes them (cli_init installs the handler).
 */
#ifndef EDGE_FSUTIL_H
#define EDGE_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "err.h"

struct atomic_file {
	int fd;         /* open for writing, -1 when closed */
	char *tmp_path; /* owned */
	char *path;     /* owned: final name */
	int slot;       /* cleanup registry slot, -1 if none */
};

/* Creates a temp file beside path (mode applied at commit). On success the
 * caller writes to af->fd and then calls atomic_commit or atomic_abort. */
int atomic_open(struct atomic_file *af, const char *path, mode_t mode, struct edge_err *err);
/* fsync, close, rename to the final name, fsync the directory. Frees af.
 * On failure the temp file is removed. */
int atomic_commit(struct atomic_file *af, struct edge_err *err);
/* Closes and removes the temp file; frees af. Safe to call twice. */
void atomic_abort(struct atomic_file *af);

/* Writes len bytes of data to path atomically. */
int atomic_write_file(const char *path, const void *data, size_t len, mode_t mode,
		      struct edge_err *err);

/* write(2) until done, retrying on EINTR. Returns 0 or -1 (errno set). */
int write_all(int fd, const void *buf, size_t len);

/* Registers a path to unlink if the program is interrupted; returns a slot
 * (or -1 when the table is full: the file is then simply not cleaned up). */
int cleanup_register(const char *path);
void cleanup_unregister(int slot);
/* Removes every registered path (async-signal-safe). Other threads are
 * kept from creating, renaming or unregistering a temp file while it runs:
 * it waits (2 s at most) for those already doing so, and after it has begun
 * they fail with EINTR. */
void cleanup_run(void);
/* A section a signal's cleanup_run waits for, so that several
 * registrations can be dropped as one (after the last file of a set is
 * committed): -1 with EINTR when cleanup_run has begun (drop nothing then),
 * else 0 and cleanup_release must follow. */
int cleanup_hold(void);
void cleanup_release(void);
/* Creates a new file prefix + 12 random hex digits (O_EXCL, mode 0600,
 * close-on-exec) whose name is registered for cleanup before the file
 * exists, so that a signal between the two leaves nothing behind (with
 * mkstemp and then cleanup_register, a SIGTERM in between left the file).
 * Returns the descriptor, with *path (malloc'd) and *slot set; -1 with
 * errno on failure (nothing left, *path NULL). */
int cleanup_create(const char *prefix, char **path, int *slot);

/* Opens path to read it as input (a bundle, part, manifest, key, signature,
 * definition, list, credentials or store file): a regular file only. The
 * open cannot block, so a FIFO or a device named as input is refused at once
 * instead of hanging the tool: it is checked with stat before it is opened,
 * opened O_NONBLOCK (cleared again), and checked again with fstat. Returns
 * the descriptor (O_CLOEXEC; st, when not NULL, holds its fstat), or -1 with
 * err: EDGE_EINPUT "PATH: is a directory" / "PATH: not a regular file", or
 * EDGE_EIO "open PATH: REASON" from errno, which is then left as the failing
 * call set it (a caller may word the error its own way). */
int open_input(const char *path, struct stat *st, struct edge_err *err);

/* Reads a whole regular file of at most max bytes into a malloc'd,
 * NUL-terminated buffer. Errors name the file (EDGE_EIO, or EDGE_EINPUT when
 * it is too large or not a regular file: open_input). */
int read_file_max(const char *path, size_t max, char **data, size_t *len, struct edge_err *err);

/* Reads fd to its end, at most max bytes, into a malloc'd NUL-terminated
 * buffer. name is used in errors. */
int read_fd_max(int fd, const char *name, size_t max, char **data, size_t *len, struct edge_err *err);

/* mkdir -p; mode for created directories. */
int mkdir_p(const char *path, mode_t mode, struct edge_err *err);

/* Joins a directory and a name into a malloc'd path. */
char *path_join(const char *dir, const char *name);

/* Milliseconds of the monotonic clock (for timeouts, backoff, progress). */
long long mono_ms(void);

/* Duplicates a string; aborts on out-of-memory (a tool cannot go on). */
char *xstrdup(const char *s);
/* The first n bytes of s (fewer if s ends first); aborts on out-of-memory. */
char *xstrndup(const char *s, size_t n);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* A large buffer that streams data (a frame, a read chunk), freed with
 * free(): aligned to 2 MiB and offered to the kernel for transparent huge
 * pages, so that filling it the first time costs one page fault per 2 MiB,
 * not one per 4 KiB (on some virtual machines a fault costs 30 us, and a
 * short run's time went mostly to faulting its buffers in). Smaller
 * requests are plain xmalloc. */
void *xmalloc_stream(size_t n);
/* A buffer of *cap bytes (p, or NULL) that must hold need: p itself when
 * it does, else a new xmalloc_stream one of at least need bytes (*cap is
 * updated, p freed). The content is not kept: for buffers that are
 * overwritten (a frame read, a frame decompressed). */
void *xregrow_stream(void *p, size_t *cap, size_t need);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 1 when p is a relative path that stays below its root: not empty, not
 * absolute, no ".." segment. canonical: also no "." segment and no "//" (as
 * edge-pack writes entry names). */
int path_safe_relative(const char *p, int canonical);
/* A growable string: {0} is empty; p is NUL-terminated once anything was
 * added. Growth aborts on out-of-memory, as the x* allocators. */
struct strbuf {
	char *p;
	size_t len, cap;
};

/* Appends the n bytes at s (n may be 0: the buffer then exists, ""). */
void strbuf_add(struct strbuf *b, const char *s, size_t n);
void strbuf_adds(struct strbuf *b, const char *s);
void strbuf_addc(struct strbuf *b, char c);
/* The string, malloc'd, for the caller to free ("" when nothing was
 * added); b is empty again. */
char *strbuf_take(struct strbuf *b);
/* Frees the string; b is empty again. */
void strbuf_free(struct strbuf *b);

#endif
