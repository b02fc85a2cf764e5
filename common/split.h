/*
 * Splitting option values: "LEFT=RIGHT" pairs and "A,B, C" lists. Plain
 * string helpers the front end and the engines share (push's --mapping).
 */
#ifndef EDGE_SPLIT_H
#define EDGE_SPLIT_H

#include <stddef.h>

/* Splits "LEFT=RIGHT" at the first '='; both sides must be non-empty.
 * Returns 0 with malloc'd *left and *right (the caller frees both), or -1
 * (nothing allocated). */
int split_pair(const char *arg, char **left, char **right);

/* Splits "A,B, C" into trimmed items: a malloc'd array of *n malloc'd
 * strings; free it with split_list_free. */
char **split_list(const char *s, size_t *n);
void split_list_free(char **v, size_t n);

#endif
