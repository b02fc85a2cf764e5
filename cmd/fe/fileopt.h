/*
 * Files that options name, checked as the options are read: a file that
 * cannot be read is reported with the option that named it
 * ("edge-sign: -k: /x/key: No such file or directory"), not later as a bare
 * "open /x/key: …" the user has to map back to the command line. Part of
 * the front end: prints and exits.
 */
#ifndef EDGE_FILEOPT_H
#define EDGE_FILEOPT_H

/* Returns when path ("-": stdin, always fine) can be opened for reading;
 * else prints "edge-X: OPT: PATH: reason" and exits with code (the tool's
 * class for that file: EDGE_EINPUT for a key or list, EDGE_EIO for a file
 * it only serves). */
void cli_need_input(const char *opt, const char *path, int code);

#endif
