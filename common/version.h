/*
 * The version string (git describe at build time). It lives in one
 * generated object, build/version.o, so that a new commit relinks the tools
 * instead of recompiling every file.
 */
#ifndef EDGE_VERSION_H
#define EDGE_VERSION_H

extern const char edge_version[];

#endif
