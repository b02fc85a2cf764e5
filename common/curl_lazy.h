/*
 * libcurl, loaded when first used (curl_lazy.c): the tools link no
 * libcurl, so one that never goes to the network never loads it.
 */
#ifndef EDGE_CURL_LAZY_H
#define EDGE_CURL_LAZY_H

/* NULL once libcurl is loaded (this loads it); else why it could not be,
 * in one line (dlerror's text). */
const char *curl_lazy_error(void);

/* Whether the loaded libcurl has the multi functions http.c uses for
 * HTTP/2 multiplexing (curl_multi_poll and curl_multi_wakeup: 7.68 and
 * later); 0 also when libcurl cannot be loaded. */
int curl_lazy_has_multi(void);

#endif
