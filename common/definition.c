#include "definition.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "sha256.h"

static int has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

static const char *type_name(mode_t t)
{
	switch (t) {
	case AE_IFLNK: return "a symbolic link";
	case AE_IFCHR: return "a character device";
	case AE_IFBLK: return "a block device";
	case AE_IFIFO: return "a FIFO";
	case AE_IFSOCK: return "a socket";
	default: return "not a regular file";
	}
}

int definition_read(const char *path, struct definition *d, struct edge_err *err)
{
	struct archive *a = NULL;
	struct archive_entry *e;
	unsigned char magic[2];
	uint64_t total = 0, json_total = 0;
	size_t entries = 0;
	int fd, r, rc = -1;

	memset(d, 0, sizeof(*d));
	if (sha256_digest_file(path, d->digest, &d->size, err) != 0)
		return -1;
	if ((fd = open_input(path, NULL, err)) < 0)
		return -1;
	r = (int)read(fd, magic, 2);
	close(fd);
	if (r != 2 || magic[0] != 0x1f || magic[1] != 0x8b)
		return edge_errf(err, EDGE_EINPUT, "%s: not a gzip-compressed tar archive%s", path,
				 d->size == 0 ? " (empty file)" : "");
	a = archive_read_new();
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		edge_errf(err, EDGE_EINPUT, "%s: not a valid tar.gz: %s", path, archive_error_string(a));
		goto out;
	}
	for (;;) {
		const char *name;
		mode_t type;
		int64_t size;

		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			edge_errf(err, EDGE_EINPUT, "%s: not a valid tar.gz: %s", path,
				  archive_error_string(a) ? archive_error_string(a) : "read error");
			goto out;
		}
		if (++entries > DEFINITION_MAX_ENTRIES) {
			edge_errf(err, EDGE_EINPUT, "%s: more than %d entries", path, DEFINITION_MAX_ENTRIES);
			goto out;
		}
		name = archive_entry_pathname(e);
		if (name == NULL || !path_safe_relative(name, 0)) {
			edge_errf(err, EDGE_EINPUT, "%s: entry \"%s\" escapes the archive root", path,
				  name ? name : "");
			goto out;
		}
		type = archive_entry_filetype(e);
		if (archive_entry_hardlink(e) != NULL) {
			edge_errf(err, EDGE_EINPUT, "%s: entry \"%s\" is a hard link", path, name);
			goto out;
		}
		if (type == AE_IFDIR)
			continue;
		if (type != AE_IFREG) {
			edge_errf(err, EDGE_EINPUT, "%s: entry \"%s\" is %s", path, name, type_name(type));
			goto out;
		}
		size = archive_entry_size(e);
		if (has_suffix(name, ".json")) {
			struct def_file *f;
			size_t got = 0;
			if (size < 0 || (uint64_t)size > DEFINITION_MAX_JSON) {
				edge_errf(err, EDGE_EINPUT, "%s: entry \"%s\" is larger than %u bytes", path, name,
					  DEFINITION_MAX_JSON);
				goto out;
			}
			if (json_total + (uint64_t)size > DEFINITION_MAX_JSON_TOTAL) {
				edge_errf(err, EDGE_EINPUT, "%s: its .json entries hold more than %u bytes", path,
					  DEFINITION_MAX_JSON_TOTAL);
				goto out;
			}
			json_total += (uint64_t)size;
			d->files = xrealloc(d->files, (d->nfiles + 1) * sizeof(*d->files));
			f = &d->files[d->nfiles++];
			f->name = xstrdup(name);
			f->data = xmalloc((size_t)size + 1);
			f->len = (size_t)size;
			while (got < (size_t)size) {
				la_ssize_t n = archive_read_data(a, f->data + got, (size_t)size - got);
				if (n <= 0) {
					edge_errf(err, EDGE_EINPUT, "%s: entry \"%s\": %s", path, name,
						  n < 0 ? archive_error_string(a) : "truncated");
					goto out;
				}
				got += (size_t)n;
			}
			f->data[size] = '\0';
			total += (uint64_t)size;
		} else {
			char buf[65536];
			la_ssize_t n;
			d->other = xrealloc(d->other, (d->nother + 1) * sizeof(*d->other));
			d->other[d->nother++] = xstrdup(name);
			/* read through, so that corruption anywhere is detected */
			while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
				total += (uint64_t)n;
				if (total > DEFINITION_MAX_TOTAL)
					break;
			}
			if (n < 0) {
				edge_errf(err, EDGE_EINPUT, "%s: entry \"%s\": %s", path, name, archive_error_string(a));
				goto out;
			}
		}
		if (total > DEFINITION_MAX_TOTAL) {
			edge_errf(err, EDGE_EINPUT, "%s: more than %llu bytes once decompressed", path,
				  (unsigned long long)DEFINITION_MAX_TOTAL);
			goto out;
		}
	}
	if (d->nfiles == 0 && d->nother == 0) {
		edge_errf(err, EDGE_EINPUT, "%s: the archive holds no files", path);
		goto out;
	}
	rc = 0;
out:
	archive_read_free(a);
	if (rc != 0)
		definition_free(d);
	return rc;
}

void definition_free(struct definition *d)
{
	size_t i;

	for (i = 0; i < d->nfiles; i++) {
		free(d->files[i].name);
		free(d->files[i].data);
	}
	for (i = 0; i < d->nother; i++)
		free(d->other[i]);
	free(d->files);
	free(d->other);
	d->files = NULL;
	d->other = NULL;
	d->nfiles = d->nother = 0;
}
