#include "platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

static int token_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= 32)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

int platform_parse(const char *s, struct platform *p, struct edge_err *err)
{
	const char *a, *b;
	size_t n;

	memset(p, 0, sizeof(*p));
	a = strchr(s, '/');
	if (a == NULL || !token_ok(s, (size_t)(a - s)))
		goto bad;
	memcpy(p->os, s, (size_t)(a - s));
	a++;
	b = strchr(a, '/');
	n = b ? (size_t)(b - a) : strlen(a);
	if (!token_ok(a, n))
		goto bad;
	memcpy(p->arch, a, n);
	if (b != NULL) {
		b++;
		if (!token_ok(b, strlen(b)) || strchr(b, '/') != NULL)
			goto bad;
		memcpy(p->variant, b, strlen(b));
	}
	if (strcmp(p->arch, "x86_64") == 0 || strcmp(p->arch, "x86-64") == 0)
		strcpy(p->arch, "amd64");
	else if (strcmp(p->arch, "aarch64") == 0)
		strcpy(p->arch, "arm64");
	else if (strcmp(p->arch, "armhf") == 0) {
		strcpy(p->arch, "arm");
		if (!p->variant[0])
			strcpy(p->variant, "v7");
	} else if (strcmp(p->arch, "armel") == 0) {
		strcpy(p->arch, "arm");
		if (!p->variant[0])
			strcpy(p->variant, "v6");
	}
	if (strcmp(p->arch, "arm64") == 0 && strcmp(p->variant, "v8") == 0)
		p->variant[0] = '\0';
	return 0;
bad:
	return edge_errf(err, EDGE_EINPUT, "invalid platform \"%s\": expected os/arch[/variant] such as linux/amd64", s);
}

void platform_format(const struct platform *p, char *buf, size_t len)
{
	if (p->variant[0])
		snprintf(buf, len, "%s/%s/%s", p->os, p->arch, p->variant);
	else
		snprintf(buf, len, "%s/%s", p->os, p->arch);
}

int platform_match(const struct platform *want, const char *os, const char *arch,
		   const char *variant)
{
	struct platform have;
	char buf[200];
	struct edge_err err;

	if (os == NULL || arch == NULL)
		return 0;
	if (variant && variant[0])
		snprintf(buf, sizeof(buf), "%s/%s/%s", os, arch, variant);
	else
		snprintf(buf, sizeof(buf), "%s/%s", os, arch);
	if (platform_parse(buf, &have, &err) != 0)
		return 0;
	if (strcmp(want->os, have.os) != 0 || strcmp(want->arch, have.arch) != 0)
		return 0;
	if (want->variant[0] == '\0')
		return 1;
	return strcmp(want->variant, have.variant) == 0;
}

int platform_list_add(struct platform **v, size_t *n, const char *list, struct edge_err *err)
{
	char *copy = xstrdup(list), *item, *save = NULL;
	int rc = 0;

	for (item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
		struct platform p;
		char *end;
		size_t k;
		int dup = 0;
		while (*item == ' ' || *item == '\t')
			item++;
		end = item + strlen(item);
		while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (platform_parse(item, &p, err) != 0) {
			rc = -1;
			break;
		}
		for (k = 0; k < *n; k++)
			dup |= strcmp((*v)[k].os, p.os) == 0 && strcmp((*v)[k].arch, p.arch) == 0 &&
			       strcmp((*v)[k].variant, p.variant) == 0;
		if (dup)
			continue;
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		(*v)[(*n)++] = p;
	}
	free(copy);
	return rc;
}
