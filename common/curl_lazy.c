/*
 * libcurl, loaded when a tool first uses it.
 *
 * libcurl and the libraries it needs (about thirty here: TLS, Kerberos,
 * LDAP, SSH, IDN, RTMP...) cost a process 15-20 ms of CPU at start-up, in
 * the dynamic loader and their constructors, before main() runs. That was
 * a fifth of an edge-verify of a 90 MB bundle, and every run of edge-verify
 * or edge-serve paid it though neither touches the network unless asked
 * (--registry, never for edge-serve's bundles). So no tool links libcurl:
 * this file defines the libcurl functions http.c calls, and the first call
 * opens libcurl.so.4 (the soname of libcurl 7.16 and later) with dlopen and
 * forwards to it. The header, its types and its compile-time type checks
 * are libcurl's own; only the binding happens later. The tools do not
 * export these symbols (they are not in the dynamic symbol table), so
 * libcurl's calls to its own functions stay inside libcurl.
 *
 * When libcurl cannot be loaded, curl_global_init fails and
 * curl_lazy_error() says why (dlerror's text); http.c puts that in its
 * message. The other functions then return their "failed" value and never
 * reach a null pointer.
 */
#define CURL_DISABLE_TYPECHECK 1 /* the functions below are defined, not called through the macros */
#include "curl_lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* curl_url_get's handle became const in libcurl 8: the header's
 * declaration is renamed away and this file declares its own (the same
 * call either way). */
#define curl_url_get edge_curl_url_get_as_declared
#include <curl/curl.h>
#undef curl_url_get
CURLUcode curl_url_get(const CURLU *u, CURLUPart what, char **part, unsigned int flags);

#define LIBCURL_SONAME "libcurl.so.4"

typedef void (*curl_fn)(void); /* any function pointer an option takes */

static struct {
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	CURLSH *(*share_init)(void);
	CURLSHcode (*share_setopt)(CURLSH *, CURLSHoption, ...);
	CURLSHcode (*share_cleanup)(CURLSH *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLU *(*url)(void);
	void (*url_cleanup)(CURLU *);
	CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
	CURLUcode (*url_get)(const CURLU *, CURLUPart, char **, unsigned int); /* either constness */
	void (*curl_free)(void *);
	/* the multi interface, for HTTP/2 multiplexing (http.c): optional,
	 * a libcurl older than 7.68 (no curl_multi_poll/wakeup) goes without */
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned int, int, int *);
	CURLMcode (*multi_wakeup)(CURLM *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	const char *(*multi_strerror)(CURLMcode);
	CURLcode (*easy_pause)(CURL *, int);
} lib;

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_ok;
static int lib_multi_ok;
static char lib_error[256];

/* dlsym into a function pointer: POSIX guarantees the representation
 * (dlsym's own rationale); the memcpy keeps ISO C's object/function pointer
 * distinction out of the way. */
static int sym(void *h, const char *name, void *fp, size_t fpsize)
{
	void *p = dlsym(h, name);

	if (p == NULL) {
		snprintf(lib_error, sizeof(lib_error), "%s has no %s", LIBCURL_SONAME, name);
		return -1;
	}
	memcpy(fp, &p, fpsize);
	return 0;
}

#define SYM(field, name) sym(h, name, &lib.field, sizeof(lib.field))

static void load(void)
{
	void *h = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	const char *e;

	if (h == NULL) {
		e = dlerror();
		snprintf(lib_error, sizeof(lib_error), "%s", e ? e : "cannot load " LIBCURL_SONAME);
		return;
	}
	if (SYM(global_init, "curl_global_init") || SYM(global_cleanup, "curl_global_cleanup") ||
	    SYM(easy_init, "curl_easy_init") || SYM(easy_cleanup, "curl_easy_cleanup") ||
	    SYM(easy_reset, "curl_easy_reset") || SYM(easy_perform, "curl_easy_perform") ||
	    SYM(easy_setopt, "curl_easy_setopt") || SYM(easy_getinfo, "curl_easy_getinfo") ||
	    SYM(easy_strerror, "curl_easy_strerror") || SYM(share_init, "curl_share_init") ||
	    SYM(share_setopt, "curl_share_setopt") || SYM(share_cleanup, "curl_share_cleanup") ||
	    SYM(slist_append, "curl_slist_append") || SYM(slist_free_all, "curl_slist_free_all") ||
	    SYM(url, "curl_url") || SYM(url_cleanup, "curl_url_cleanup") || SYM(url_set, "curl_url_set") ||
	    SYM(url_get, "curl_url_get") || SYM(curl_free, "curl_free")) {
		dlclose(h);
		memset(&lib, 0, sizeof(lib));
		return;
	}
	lib_ok = 1; /* never closed: libcurl stays until the process ends */
	lib_multi_ok = !(SYM(multi_init, "curl_multi_init") || SYM(multi_cleanup, "curl_multi_cleanup") ||
	                 SYM(multi_setopt, "curl_multi_setopt") ||
	                 SYM(multi_add_handle, "curl_multi_add_handle") ||
	                 SYM(multi_remove_handle, "curl_multi_remove_handle") ||
	                 SYM(multi_perform, "curl_multi_perform") || SYM(multi_poll, "curl_multi_poll") ||
	                 SYM(multi_wakeup, "curl_multi_wakeup") ||
	                 SYM(multi_info_read, "curl_multi_info_read") ||
	                 SYM(multi_strerror, "curl_multi_strerror") ||
	                 SYM(easy_pause, "curl_easy_pause"));
	lib_error[0] = '\0'; /* a missing multi function is no load error */
}

static int loaded(void)
{
	pthread_once(&lib_once, load);
	return lib_ok;
}

const char *curl_lazy_error(void)
{
	return loaded() ? NULL : lib_error;
}

int curl_lazy_has_multi(void)
{
	return loaded() && lib_multi_ok;
}

CURLcode curl_global_init(long flags)
{
	return loaded() ? lib.global_init(flags) : CURLE_FAILED_INIT;
}

void curl_global_cleanup(void)
{
	if (loaded())
		lib.global_cleanup();
}

CURL *curl_easy_init(void)
{
	return loaded() ? lib.easy_init() : NULL;
}

void curl_easy_cleanup(CURL *c)
{
	if (c != NULL && loaded())
		lib.easy_cleanup(c);
}

void curl_easy_reset(CURL *c)
{
	if (c != NULL && loaded())
		lib.easy_reset(c);
}

CURLcode curl_easy_perform(CURL *c)
{
	return loaded() ? lib.easy_perform(c) : CURLE_FAILED_INIT;
}

/* rc = fn(h, opt, the one argument in ap), read with the type that
 * opt's number range gives (curl.h's CURLOPTTYPE_*), as libcurl itself
 * reads it: the easy and the multi options number their types alike. */
#define FORWARD_OPT(rc, fn, h, opt, ap)                                   \
	do {                                                              \
		if ((opt) < CURLOPTTYPE_OBJECTPOINT)                      \
			(rc) = fn(h, opt, va_arg(ap, long));              \
		else if ((opt) < CURLOPTTYPE_FUNCTIONPOINT)               \
			(rc) = fn(h, opt, va_arg(ap, void *));            \
		else if ((opt) < CURLOPTTYPE_OFF_T)                       \
			(rc) = fn(h, opt, va_arg(ap, curl_fn));           \
		else if ((opt) < CURLOPTTYPE_BLOB)                        \
			(rc) = fn(h, opt, va_arg(ap, curl_off_t));        \
		else                                                      \
			(rc) = fn(h, opt, va_arg(ap, void *));            \
	} while (0)

CURLcode curl_easy_setopt(CURL *c, CURLoption opt, ...)
{
	va_list ap;
	CURLcode rc;

	if (!loaded())
		return CURLE_FAILED_INIT;
	va_start(ap, opt);
	FORWARD_OPT(rc, lib.easy_setopt, c, opt, ap);
	va_end(ap);
	return rc;
}

/* Every CURLINFO_* takes a pointer to where the answer goes. */
CURLcode curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
	va_list ap;
	void *p;

	if (!loaded())
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	p = va_arg(ap, void *);
	va_end(ap);
	return lib.easy_getinfo(c, info, p);
}

const char *curl_easy_strerror(CURLcode rc)
{
	return loaded() ? lib.easy_strerror(rc) : lib_error;
}

CURLSH *curl_share_init(void)
{
	return loaded() ? lib.share_init() : NULL;
}

/* The share options http.c sets: what to share (an int, as libcurl reads
 * it), the lock callbacks, their user data. */
CURLSHcode curl_share_setopt(CURLSH *s, CURLSHoption opt, ...)
{
	va_list ap;
	CURLSHcode rc;

	if (!loaded())
		return CURLSHE_NOT_BUILT_IN;
	va_start(ap, opt);
	switch (opt) {
	case CURLSHOPT_SHARE:
	case CURLSHOPT_UNSHARE: {
		int v = va_arg(ap, int);
		rc = lib.share_setopt(s, opt, v);
		break;
	}
	case CURLSHOPT_LOCKFUNC:
	case CURLSHOPT_UNLOCKFUNC: {
		curl_fn v = va_arg(ap, curl_fn);
		rc = lib.share_setopt(s, opt, v);
		break;
	}
	case CURLSHOPT_USERDATA: {
		void *v = va_arg(ap, void *);
		rc = lib.share_setopt(s, opt, v);
		break;
	}
	default:
		rc = CURLSHE_BAD_OPTION;
		break;
	}
	va_end(ap);
	return rc;
}

CURLSHcode curl_share_cleanup(CURLSH *s)
{
	return loaded() ? lib.share_cleanup(s) : CURLSHE_INVALID;
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s)
{
	return loaded() ? lib.slist_append(l, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *l)
{
	if (l != NULL && loaded())
		lib.slist_free_all(l);
}

CURLU *curl_url(void)
{
	return loaded() ? lib.url() : NULL;
}

void curl_url_cleanup(CURLU *u)
{
	if (u != NULL && loaded())
		lib.url_cleanup(u);
}

CURLUcode curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
	return loaded() ? lib.url_set(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

CURLUcode curl_url_get(const CURLU *u, CURLUPart what, char **part, unsigned int flags)
{
	return loaded() ? lib.url_get(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

void curl_free(void *p)
{
	if (p != NULL && loaded())
		lib.curl_free(p);
}

/* The multi functions: each returns its "failed" value when libcurl or its
 * multi interface is missing (curl_lazy_has_multi() tells beforehand). */
#define MULTI_OK() (loaded() && lib_multi_ok)

CURLM *curl_multi_init(void)
{
	return MULTI_OK() ? lib.multi_init() : NULL;
}

CURLMcode curl_multi_cleanup(CURLM *m)
{
	return MULTI_OK() ? lib.multi_cleanup(m) : CURLM_BAD_HANDLE;
}

/* The options http.c sets are longs (CURLMOPT_PIPELINING); the ranges
 * are those of curl_easy_setopt (no multi option is a blob). */
CURLMcode curl_multi_setopt(CURLM *m, CURLMoption opt, ...)
{
	va_list ap;
	CURLMcode rc;

	if (!MULTI_OK())
		return CURLM_BAD_HANDLE;
	va_start(ap, opt);
	FORWARD_OPT(rc, lib.multi_setopt, m, opt, ap);
	va_end(ap);
	return rc;
}

CURLMcode curl_multi_add_handle(CURLM *m, CURL *c)
{
	return MULTI_OK() ? lib.multi_add_handle(m, c) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *c)
{
	return MULTI_OK() ? lib.multi_remove_handle(m, c) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_perform(CURLM *m, int *running)
{
	return MULTI_OK() ? lib.multi_perform(m, running) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd *fds, unsigned int nfds, int timeout_ms, int *ret)
{
	return MULTI_OK() ? lib.multi_poll(m, fds, nfds, timeout_ms, ret) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_wakeup(CURLM *m)
{
	return MULTI_OK() ? lib.multi_wakeup(m) : CURLM_BAD_HANDLE;
}

CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
	return MULTI_OK() ? lib.multi_info_read(m, left) : NULL;
}

CURLcode curl_easy_pause(CURL *c, int bitmask)
{
	return MULTI_OK() ? lib.easy_pause(c, bitmask) : CURLE_FAILED_INIT;
}

const char *curl_multi_strerror(CURLMcode rc)
{
	return MULTI_OK() ? lib.multi_strerror(rc) : lib_error;
}
