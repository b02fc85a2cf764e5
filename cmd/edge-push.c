/* edge-push: not implemented yet (see the open issues). */
#include <stdio.h>

#include "exit.h"

int main(void)
{
	fputs("edge-push: not implemented\n", stderr);
	return EDGE_EUSAGE;
}
