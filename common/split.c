#include "split.h"

#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

int split_pair(const char *arg, char **left, char **right)
{
	const char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg || eq[1] == '\0')
		return -1;
	*left = xstrndup(arg, (size_t)(eq - arg));
	*right = xstrdup(eq + 1);
	return 0;
}

char **split_list(const char *s, size_t *n)
{
	char **v = NULL;
	size_t count = 0;
	const char *p = s;

	for (;;) {
		const char *end = strchr(p, ',');
		const char *a = p, *b = end ? end : p + strlen(p);
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		v = xrealloc(v, (count + 1) * sizeof(*v));
		v[count] = xmalloc((size_t)(b - a) + 1);
		memcpy(v[count], a, (size_t)(b - a));
		v[count][b - a] = '\0';
		count++;
		if (end == NULL)
			break;
		p = end + 1;
	}
	*n = count;
	return v;
}

void split_list_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
