/* Internals shared by bundle_write.c and bundle_read.c (not for other
 * modules). */
#ifndef EDGE_BUNDLE_INT_H
#define EDGE_BUNDLE_INT_H

/* The directory part of path, with its trailing '/', or "" (malloc'd):
 * parts live next to their descriptor. */
char *bundle_dir_of(const char *path);

#endif
