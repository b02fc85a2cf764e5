/*
 * libcurl, loaded when first used (curl_lazy.c): the tools link no
 * libcurl, so one that never goes to the network never loads it.
 */
#ifndef EDGE_CURL_LAZY_H
#define EDGE_CURL_LAZY_H

/* NULL once libcurl is loaded (this loads it); else why it could not be,
 * in one line (dlerror's text). */
const char *curl_lazy_error(void);

#endif
