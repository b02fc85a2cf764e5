/* edge-pull: not implemented yet (see the open issues). */
#include <stdio.h>

#include "exit.h"

int main(void)
{
	fputs("edge-pull: not implemented\n", stderr);
	return EDGE_EUSAGE;
}
