/* Exit codes shared by every edge tool (SPEC §2). */
#ifndef EDGE_EXIT_H
#define EDGE_EXIT_H

enum edge_exit {
	EDGE_OK = 0,      /* success */
	EDGE_EVERIFY = 1, /* verification failed: digest, size, signature, missing image */
	EDGE_EUSAGE = 2,  /* usage error: unknown flag, missing argument */
	EDGE_EINPUT = 3,  /* invalid input: manifest, definition, profile, list, key, credentials */
	EDGE_EREMOTE = 4, /* remote failure after retries: network, TLS, registry, Palette API */
	EDGE_EAUTH = 5,   /* authentication or authorization refused, bad key password */
	EDGE_EIO = 6,     /* local I/O failure: disk full, permission denied, missing store */
};

#endif
